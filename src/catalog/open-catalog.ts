import { ResolvingFileIO, type StorageConfig } from '../storage/registry.js';
import { openCatalogStore } from './open-store.js';
import { SqlCatalog } from './sql-catalog.js';

export interface OpenSqlCatalogOptions {
  /** `sqlite:<path>`, a `.db` path, or `postgres://…`. */
  storeUrl: string;
  warehouse: string;
  name?: string;
  storage?: StorageConfig;
}

/** Opens (and migrates) the catalog store and returns an SQL catalog over the warehouse. */
export async function openSqlCatalog(opts: OpenSqlCatalogOptions): Promise<SqlCatalog> {
  const store = await openCatalogStore(opts.storeUrl, { catalogName: opts.name });
  await store.migrate();
  // Resolving by scheme: a namespace or table may live on another storage than the warehouse.
  return new SqlCatalog({ name: opts.name, store, warehouse: opts.warehouse, io: new ResolvingFileIO(opts.storage) });
}
