import { lakehouseError, isLakehouseError } from '../core/errors.js';
import { readTableMetadata, writeTableMetadata, type TableMetadata } from '../iceberg/metadata.js';
import { checkRequirements } from '../iceberg/requirements.js';
import { applyUpdates } from '../iceberg/updates.js';
import type { FileIO } from '../storage/fileio.js';
import type { Catalog, CommitRequest, LoadedTable } from './catalog.js';
import { identToString } from './catalog.js';
import { nextMetadataLocation, useGzip } from './metadata-files.js';
import type { CatalogStore, Namespace, Page, PageRequest, TableIdent } from './store.js';

export interface SqlCatalogOptions {
  name?: string;
  store: CatalogStore;
  /** Root location for new tables (`/abs/path`, `file:///…`, `s3://bucket/prefix`). */
  warehouse: string;
  io: FileIO;
}

/**
 * The SQL catalog (PyIceberg's `SqlCatalog` design): the store keeps, per table, the location of
 * its current metadata file; a commit writes a new metadata file and then swaps the pointer with
 * `UPDATE … WHERE metadata_location = :expected`. A crash before the swap leaves only an
 * unreferenced file; the table still points at the previous, complete metadata.
 */
export class SqlCatalog implements Catalog {
  readonly name: string;
  readonly store: CatalogStore;
  readonly io: FileIO;
  readonly warehouse: string;

  constructor(opts: SqlCatalogOptions) {
    this.name = opts.name ?? 'lakehouse';
    this.store = opts.store;
    this.io = opts.io;
    this.warehouse = opts.warehouse.replace(/\/+$/, '');
  }

  createNamespace(namespace: Namespace, properties: Record<string, string> = {}): Promise<void> {
    return this.store.createNamespace(namespace, properties);
  }
  listNamespaces(parent: Namespace = [], page?: PageRequest): Promise<Page<Namespace>> {
    return this.store.listNamespaces(parent, page);
  }
  loadNamespace(namespace: Namespace): Promise<Record<string, string>> {
    return this.store.loadNamespace(namespace);
  }
  dropNamespace(namespace: Namespace): Promise<void> {
    return this.store.dropNamespace(namespace);
  }
  listTables(namespace: Namespace, page?: PageRequest): Promise<Page<TableIdent>> {
    return this.store.listTables(namespace, page);
  }

  defaultTableLocation(ident: TableIdent): string {
    return `${this.warehouse}/${ident.namespace.join('.')}.db/${ident.name}`;
  }

  async createTable(ident: TableIdent, metadata: TableMetadata): Promise<LoadedTable> {
    if (!(await this.store.namespaceExists(ident.namespace))) {
      throw lakehouseError('NO_SUCH_NAMESPACE', `namespace does not exist: ${ident.namespace.join('.')}`);
    }
    if (await this.store.getTable(ident)) throw lakehouseError('ALREADY_EXISTS', `table already exists: ${identToString(ident)}`);
    const location = nextMetadataLocation(metadata.location, null, useGzip(metadata.properties));
    await this.io.writeIfAbsent(location, writeTableMetadata(metadata, useGzip(metadata.properties)));
    try {
      await this.store.createTable(ident, location);
    } catch (e) {
      await this.io.delete(location).catch(() => undefined);
      throw e;
    }
    return { ident, metadataLocation: location, metadata, io: this.io };
  }

  async loadTable(ident: TableIdent): Promise<LoadedTable> {
    const rec = await this.store.getTable(ident);
    if (!rec) throw lakehouseError('NO_SUCH_TABLE', `table does not exist: ${identToString(ident)}`);
    const metadata = readTableMetadata(await this.io.read(rec.metadataLocation), rec.metadataLocation);
    return { ident, metadataLocation: rec.metadataLocation, metadata, io: this.io };
  }

  async tableExists(ident: TableIdent): Promise<boolean> {
    return (await this.store.getTable(ident)) !== null;
  }

  async commitTable(ident: TableIdent, request: CommitRequest): Promise<LoadedTable> {
    const base = await this.loadTable(ident);
    checkRequirements(base.metadata, request.requirements);
    const next = applyUpdates(base.metadata, request.updates, { metadataLocation: base.metadataLocation, nowMs: Date.now() });
    const gzip = useGzip(next.properties);
    const location = nextMetadataLocation(next.location, base.metadataLocation, gzip);
    await this.io.writeIfAbsent(location, writeTableMetadata(next, gzip));
    let swapped: boolean;
    try {
      swapped = await this.store.swapMetadataLocation(ident, base.metadataLocation, location);
    } catch (e) {
      // The swap may or may not have happened: never delete the new file in that case.
      throw lakehouseError('COMMIT_STATE_UNKNOWN', `commit outcome unknown for ${identToString(ident)}: ${(e as Error).message}`, {}, e);
    }
    if (!swapped) {
      await this.io.delete(location).catch(() => undefined);
      throw lakehouseError('COMMIT_FAILED', `concurrent commit to ${identToString(ident)}: metadata changed since ${base.metadataLocation}`);
    }
    return { ident, metadataLocation: location, metadata: next, io: this.io };
  }

  async dropTable(ident: TableIdent, purge = false): Promise<void> {
    let loaded: LoadedTable | null = null;
    if (purge) loaded = await this.loadTable(ident).catch((e) => (isLakehouseError(e, 'NO_SUCH_TABLE') ? null : Promise.reject(e)));
    await this.store.dropTable(ident);
    if (purge && loaded) {
      const files = await this.io.list(loaded.metadata.location).catch(() => []);
      for (const f of files) await this.io.delete(f.location);
    }
  }

  renameTable(from: TableIdent, to: TableIdent): Promise<void> {
    return this.store.renameTable(from, to);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
