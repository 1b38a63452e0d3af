import type { Catalog } from '../catalog/catalog.js';
import { sqlStoreOf } from '../catalog/sql-store-of.js';
import { lakehouseError } from '../core/errors.js';
import { AuditLog } from './audit.js';
import { authorizerFor } from './index.js';
import { resourceText, type AuthContext, type Privilege } from './model.js';

/**
 * Background work (scheduled jobs, ingestion jobs) runs as the principal that created it: each
 * run first checks that its owner still holds the privilege the work needs on its table (INSERT
 * to ingest, MODIFY for maintenance), so revoking a grant stops the owner's jobs too. A refusal
 * is audited (action `job.run`, outcome `denied`) and fails the run with FORBIDDEN.
 *
 * Jobs without an owner (created before owners were recorded, or on a service without
 * authentication) and catalogs without a security store run unchecked, as before.
 */
const audits = new WeakMap<object, AuditLog>();

export interface JobAccess {
  /** Who the job runs as (null: no owner recorded). */
  owner: string | null;
  privilege: Privilege;
  table: { namespace: string[]; name: string };
  /** What the job is, for the error and the audit record (e.g. `schedule 3f…`). */
  job: string;
}

export async function checkJobAccess(catalog: Catalog, access: JobAccess): Promise<void> {
  if (!access.owner) return;
  const authz = authorizerFor(catalog);
  if (!authz) return;
  const roles = await authz.store.rolesOf(access.owner);
  const resource = { namespace: access.table.namespace, table: access.table.name };
  if (await authz.allowed({ principal: access.owner, roles, method: 'token' }, access.privilege, resource)) return;
  const name = [...access.table.namespace, access.table.name].join('.');
  const message = `${access.job} runs as '${access.owner}', who lacks ${access.privilege} on ${name}`;
  const store = sqlStoreOf(catalog);
  if (store) {
    let audit = audits.get(store);
    if (!audit) audits.set(store, (audit = new AuditLog(store.db, store.catalogName)));
    await audit.append({ principal: access.owner, action: 'job.run', resource: resourceText(resource), outcome: 'denied', status: 403, detail: message });
  }
  throw lakehouseError('FORBIDDEN', message);
}

/** The auth context a job runs its SQL as (undefined without an owner or a security store: unchecked). */
export async function jobPrincipal(catalog: Catalog, owner: string | null): Promise<AuthContext | undefined> {
  const authz = owner ? authorizerFor(catalog) : null;
  if (!owner || !authz) return undefined;
  return { principal: owner, roles: await authz.store.rolesOf(owner), method: 'token' };
}
