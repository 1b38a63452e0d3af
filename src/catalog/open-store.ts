/**
 * Opens the catalog store named by a URL:
 *   sqlite:<path>, sqlite://<path>, sqlite::memory:, a bare path ending .db/.sqlite/.sqlite3,
 *   postgres://… or postgresql://…
 * The store is not migrated unless `migrate: true`; call `store.migrate()` (idempotent).
 */
import { Kysely } from 'kysely';
import { lakehouseError } from '../core/errors.js';
import { SqlCatalogStore, DEFAULT_CATALOG_NAME } from './sql/sql-store.js';
import type { CatalogDatabase } from './sql/schema.js';
import { createSqliteDialect } from './sqlite/dialect.js';
import { createPostgresDialect } from './postgres/dialect.js';

export { SqlCatalogStore, DEFAULT_CATALOG_NAME };

export interface OpenCatalogStoreOptions {
  /** Scopes every row; several warehouses can share one database. Default 'lakehouse'. */
  catalogName?: string;
  /** Run migrations before returning. Default false. */
  migrate?: boolean;
  /** SQLite: how long to wait on a locked database before failing. Default 30 s. */
  busyTimeoutMs?: number;
  /** PostgreSQL: pool size. Default 10. */
  maxConnections?: number;
}

export type CatalogUrl =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string };

export function parseCatalogUrl(url: string): CatalogUrl {
  const u = url.trim();
  if (/^postgres(ql)?:\/\//i.test(u)) return { kind: 'postgres', url: u };
  if (/^sqlite:/i.test(u)) {
    let path = u.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') throw lakehouseError('BAD_REQUEST', `Catalog URL has no SQLite path: ${url}`);
    return { kind: 'sqlite', path: path === ':memory:' ? ':memory:' : path };
  }
  if (/\.(db|sqlite|sqlite3)$/i.test(u) && !/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) return { kind: 'sqlite', path: u };
  throw lakehouseError(
    'BAD_REQUEST',
    `Unsupported catalog URL: ${url} (expected sqlite:<path>, sqlite::memory:, <path>.db, or postgres://…)`,
  );
}

export async function openCatalogStore(url: string, options: OpenCatalogStoreOptions = {}): Promise<SqlCatalogStore> {
  const target = parseCatalogUrl(url);
  let store: SqlCatalogStore;
  if (target.kind === 'sqlite') {
    const { dialect, serializeWrites } = createSqliteDialect(target.path, { busyTimeoutMs: options.busyTimeoutMs });
    store = new SqlCatalogStore({
      db: new Kysely<CatalogDatabase>({ dialect }),
      kind: 'sqlite',
      catalogName: options.catalogName,
      serializeWrites,
    });
  } else {
    const { dialect } = createPostgresDialect(target.url, { maxConnections: options.maxConnections });
    store = new SqlCatalogStore({
      db: new Kysely<CatalogDatabase>({ dialect }),
      kind: 'postgres',
      catalogName: options.catalogName,
    });
  }
  if (options.migrate) {
    try {
      await store.migrate();
    } catch (e) {
      await store.close().catch(() => {});
      throw e;
    }
  }
  return store;
}
