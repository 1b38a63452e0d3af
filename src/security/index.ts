/**
 * Entry points for the rest of the service. The SQL engine calls `effectivePolicy` per table it
 * reads (masks, row filters, visible columns for the calling principal); routes learn their caller
 * with `securityOf(app).authOf(req)`.
 */
import type { Catalog } from '../catalog/catalog.js';
import { Authorizer, type EffectivePolicy, type TableIdentLike } from './authz.js';
import type { AuthContext } from './model.js';
import { SecurityStore } from './store.js';
import { sqlStoreOf } from '../catalog/sql-store-of.js';

export { Authorizer, type EffectivePolicy } from './authz.js';
export { securityOf, auditColumns, auditResource, requestAuth, type SecurityOptions, type SecurityRuntime } from './http.js';
export type { AuthContext, ColumnMask, RowFilter, Privilege } from './model.js';

const authorizers = new WeakMap<object, Authorizer>();

/** The authorizer over a SQL catalog's store (null for catalogs without one). */
export function authorizerFor(catalog: Catalog): Authorizer | null {
  const store = sqlStoreOf(catalog);
  if (!store) return null;
  let a = authorizers.get(store);
  if (!a) authorizers.set(store, (a = new Authorizer(new SecurityStore(store.db as never, store.catalogName))));
  return a;
}

/** What `principal` may see of `table`: visible columns, masks and row filters (null without a SQL store). */
export async function effectivePolicy(catalog: Catalog, principal: string | AuthContext, table: TableIdentLike): Promise<EffectivePolicy | null> {
  return (await authorizerFor(catalog)?.effectivePolicy(principal, table)) ?? null;
}
