import type { Kysely } from 'kysely';

/**
 * The database behind a catalog that keeps its tables in SQL (a SqlCatalog over SQLite or
 * PostgreSQL), for the modules that keep their own tables beside the catalog's (scheduler, alerts,
 * quality baselines, query history, security, own API). Other catalogs (Hadoop, REST) have none.
 *
 * The returned object is the catalog's store itself, so callers may key caches by it (or by its
 * `db`). Wrappers that pass property reads through (the metrics proxy) are seen through.
 */
export interface SqlStoreRef {
  readonly db: Kysely<any>;
  readonly catalogName: string;
}

export function sqlStoreOf(catalog: unknown): SqlStoreRef | null {
  const store = (catalog as { store?: Partial<SqlStoreRef> } | null | undefined)?.store;
  if (!store?.db || typeof store.catalogName !== 'string' || store.catalogName === '') return null;
  return store as SqlStoreRef;
}
