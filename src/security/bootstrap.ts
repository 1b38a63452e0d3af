import type { FastifyBaseLogger } from 'fastify';
import { isLakehouseError } from '../core/errors.js';
import { PRIVILEGES } from './model.js';
import { ADMIN_ROLE, type SecurityStore } from './store.js';

export const ADMIN = ADMIN_ROLE;

/**
 * First start with an empty security store: principal `admin` in role `admin` (every privilege
 * on the catalog) with one API key, printed once to `out` and never again (only its hash is
 * kept). With several processes starting at once, the one that creates the principal wins; the
 * others find it and print nothing.
 */
export async function bootstrapSecurity(store: SecurityStore, out: { write(text: string): unknown }, log?: FastifyBaseLogger): Promise<boolean> {
  if ((await store.countPrincipals()) > 0) return false;
  try {
    await store.createPrincipal(ADMIN, 'user');
  } catch (e) {
    if (isLakehouseError(e, 'ALREADY_EXISTS')) return false;
    throw e;
  }
  try {
    await store.createRole(ADMIN, 'Administrators: every privilege on the catalog');
  } catch (e) {
    if (!isLakehouseError(e, 'ALREADY_EXISTS')) throw e;
  }
  await store.addMember(ADMIN, ADMIN);
  for (const privilege of PRIVILEGES) {
    await store.createGrant({ granteeType: 'role', grantee: ADMIN, privilege, securable: { type: 'catalog' } });
  }
  const key = await store.createApiKey(ADMIN, { description: 'initial admin key (created at first start)' });
  out.write(
    '\n*** lakehouse: first start with an empty security store. Created principal "admin" (role "admin", every privilege)\n' +
      '*** and its API key. It is shown ONLY THIS ONCE and cannot be recovered; store it now:\n' +
      `***   Authorization: Bearer ${key.key}\n` +
      `***   Iceberg REST (Spark/PyIceberg): credential=${key.credential}\n\n`,
  );
  log?.warn({ apiKeyId: key.id }, 'security bootstrap: initial admin API key created and printed to stderr once');
  return true;
}
