import type { FastifyRequest } from 'fastify';
import type { TableIdent } from '../../catalog/store.js';
import { requestAuth, securityOf } from '../../security/http.js';
import type { RestContext } from './common.js';
import type { StorageCredential, VendedAccess } from './credentials.js';

/**
 * Which vended credentials a caller gets for a table. The route rules (src/security/rules.ts)
 * have already admitted the caller with SELECT (or CREATE for createTable) and refused principals
 * held to column masks, row filters or a column subset: raw storage keys would bypass those, so
 * such principals never reach here. A caller that may also write the table (INSERT or MODIFY on
 * it, or the table was just created by it) gets read-write keys; everyone else read-only ones.
 */
export async function vendedAccess(req: FastifyRequest, id: TableIdent, creating: boolean): Promise<{ principal: string; access: VendedAccess }> {
  const auth = requestAuth(req);
  const authz = securityOf(req.server)?.authz;
  // No security installed (embedded use, tests): the service itself is the only caller.
  if (!auth || !authz) return { principal: auth?.principal ?? 'anonymous', access: 'write' };
  if (creating) return { principal: auth.principal, access: 'write' };
  const resource = { namespace: id.namespace, table: id.name };
  const writes = (await authz.allowed(auth, 'INSERT', resource)) || (await authz.allowed(auth, 'MODIFY', resource));
  return { principal: auth.principal, access: writes ? 'write' : 'read' };
}

/** The storage credentials for a table location, or [] when nothing is vended (no vendor, not on S3). */
export async function storageCredentialsFor(
  req: FastifyRequest,
  ctx: RestContext,
  id: TableIdent,
  location: string,
  creating = false,
): Promise<StorageCredential[]> {
  if (!ctx.vendor) return [];
  const { principal, access } = await vendedAccess(req, id, creating);
  const cred = await ctx.vendor.vend(location, access, principal);
  return cred ? [cred] : [];
}
