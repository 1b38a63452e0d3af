import { lakehouseError, isLakehouseError } from '../core/errors.js';
import { readTableMetadata, writeTableMetadata, type TableMetadata } from '../iceberg/metadata.js';
import { checkRequirements } from '../iceberg/requirements.js';
import { applyUpdates } from '../iceberg/updates.js';
import type { FileIO } from '../storage/fileio.js';
import {
  applyViewUpdates, checkViewRequirements, readViewMetadata, writeViewMetadata, type ViewMetadata,
} from '../iceberg/view-metadata.js';
import type { Catalog, CommitRequest, LoadedTable, LoadedView, TableChange, ViewCommitRequest } from './catalog.js';
import { identToString } from './catalog.js';
import { nextMetadataLocation, useGzip } from './metadata-files.js';
import { loadMetadata, rememberMetadata } from './metadata-cache.js';
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
    return `${this.defaultNamespaceLocation(ident.namespace)}/${ident.name}`;
  }

  defaultNamespaceLocation(namespace: Namespace): string {
    return `${this.warehouse}/${namespace.join('.')}.db`;
  }

  async createTable(ident: TableIdent, metadata: TableMetadata): Promise<LoadedTable> {
    if (!(await this.store.namespaceExists(ident.namespace))) {
      throw lakehouseError('NO_SUCH_NAMESPACE', `namespace does not exist: ${ident.namespace.join('.')}`);
    }
    if (await this.store.getTable(ident)) throw lakehouseError('ALREADY_EXISTS', `table already exists: ${identToString(ident)}`);
    // One warehouse per storage location: a namespace's `location` property (any supported
    // storage) replaces the warehouse as the root of its tables' default locations.
    if (metadata.location === this.defaultTableLocation(ident)) {
      const root = (await this.store.loadNamespace(ident.namespace)).location;
      if (root) metadata = { ...metadata, location: `${root.replace(/\/+$/, '')}/${ident.name}` };
    }
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
    const metadata = await loadMetadata(this.io, rec.metadataLocation);
    return { ident, metadataLocation: rec.metadataLocation, metadata, io: this.io };
  }

  async tableExists(ident: TableIdent): Promise<boolean> {
    return (await this.store.getTable(ident)) !== null;
  }

  async commitTable(ident: TableIdent, request: CommitRequest): Promise<LoadedTable> {
    if (request.requirements.some((r) => r.type === 'assert-create')) {
      // A create transaction (REST stage-create): the table must not exist yet.
      const rec = await this.store.getTable(ident);
      if (!rec) return this.#createFromUpdates(ident, request);
      checkRequirements((await this.loadTable(ident)).metadata, request.requirements);
    }
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
    rememberMetadata(location, next);
    return { ident, metadataLocation: location, metadata: next, io: this.io };
  }

  async #createFromUpdates(ident: TableIdent, request: CommitRequest): Promise<LoadedTable> {
    checkRequirements(null, request.requirements);
    const md = applyUpdates(null, request.updates, { nowMs: Date.now() });
    if (!md.location) md.location = this.defaultTableLocation(ident);
    if (md.schemas.length === 0) throw lakehouseError('VALIDATION_FAILED', 'Cannot create a table without a schema');
    try {
      return await this.createTable(ident, md);
    } catch (e) {
      // Lost a race with another create: the requirement failed.
      if (isLakehouseError(e, 'ALREADY_EXISTS')) throw lakehouseError('COMMIT_FAILED', `Requirement failed: table already exists: ${identToString(ident)}`);
      throw e;
    }
  }

  async commitTransaction(changes: TableChange[]): Promise<LoadedTable[]> {
    const seen = new Set<string>();
    for (const c of changes) {
      const key = JSON.stringify([c.ident.namespace, c.ident.name]);
      if (seen.has(key)) throw lakehouseError('BAD_REQUEST', `Invalid transaction: ${identToString(c.ident)} appears more than once`);
      seen.add(key);
      if (c.requirements.some((r) => r.type === 'assert-create')) {
        throw lakehouseError('UNSUPPORTED_OPERATION', `Creating tables in a multi-table transaction is not supported: ${identToString(c.ident)}`);
      }
    }
    // 1. Check every requirement and build every new metadata (nothing written yet).
    const planned: { base: LoadedTable; next: TableMetadata; location: string }[] = [];
    for (const c of changes) {
      const base = await this.loadTable(c.ident);
      checkRequirements(base.metadata, c.requirements);
      const next = applyUpdates(base.metadata, c.updates, { metadataLocation: base.metadataLocation, nowMs: Date.now() });
      planned.push({ base, next, location: nextMetadataLocation(next.location, base.metadataLocation, useGzip(next.properties)) });
    }
    // 2. Write all new metadata files.
    const written: string[] = [];
    const cleanup = () => Promise.all(written.map((l) => this.io.delete(l).catch(() => undefined)));
    try {
      for (const p of planned) {
        await this.io.writeIfAbsent(p.location, writeTableMetadata(p.next, useGzip(p.next.properties)));
        written.push(p.location);
      }
    } catch (e) {
      await cleanup();
      throw e;
    }
    // 3. One atomic swap of every pointer.
    let swapped: boolean;
    try {
      swapped = await this.store.swapMany(planned.map((p) => ({ ident: p.base.ident, expected: p.base.metadataLocation, next: p.location })));
    } catch (e) {
      throw lakehouseError('COMMIT_STATE_UNKNOWN', `transaction outcome unknown: ${(e as Error).message}`, {}, e);
    }
    if (!swapped) {
      await cleanup();
      throw lakehouseError('COMMIT_FAILED', 'concurrent commit: a table in the transaction changed since it was loaded');
    }
    return planned.map((p) => ({ ident: p.base.ident, metadataLocation: p.location, metadata: p.next, io: this.io }));
  }

  async registerTable(ident: TableIdent, metadataLocation: string, overwrite = false): Promise<LoadedTable> {
    if (!(await this.store.namespaceExists(ident.namespace))) {
      throw lakehouseError('NO_SUCH_NAMESPACE', `namespace does not exist: ${ident.namespace.join('.')}`);
    }
    let bytes: Uint8Array;
    try {
      bytes = await this.io.read(metadataLocation);
    } catch (e) {
      if (isLakehouseError(e, 'FILE_NOT_FOUND') || isLakehouseError(e, 'NOT_FOUND')) {
        throw lakehouseError('BAD_REQUEST', `metadata file does not exist: ${metadataLocation}`);
      }
      throw e;
    }
    const metadata = readTableMetadata(bytes, metadataLocation);
    const existing = await this.store.getTable(ident);
    if (existing && overwrite) {
      if (!(await this.store.swapMetadataLocation(ident, existing.metadataLocation, metadataLocation))) {
        throw lakehouseError('COMMIT_FAILED', `concurrent commit to ${identToString(ident)} while registering`);
      }
    } else {
      if (existing) throw lakehouseError('ALREADY_EXISTS', `table already exists: ${identToString(ident)}`);
      await this.store.createTable(ident, metadataLocation);
    }
    return { ident, metadataLocation, metadata, io: this.io };
  }

  updateNamespaceProperties(namespace: Namespace, removals: string[], updates: Record<string, string>) {
    return this.store.updateNamespaceProperties(namespace, removals, updates);
  }

  // ------------------------------------------------------------------------------------ views

  listViews(namespace: Namespace, page?: PageRequest): Promise<Page<TableIdent>> {
    return this.store.listTables(namespace, page, 'view');
  }

  async createView(ident: TableIdent, metadata: ViewMetadata): Promise<LoadedView> {
    if (!(await this.store.namespaceExists(ident.namespace))) {
      throw lakehouseError('NO_SUCH_NAMESPACE', `namespace does not exist: ${ident.namespace.join('.')}`);
    }
    if ((await this.store.getTable(ident, 'view')) || (await this.store.getTable(ident, 'table'))) {
      throw lakehouseError('ALREADY_EXISTS', `table or view already exists: ${identToString(ident)}`);
    }
    const location = nextMetadataLocation(metadata.location, null);
    await this.io.writeIfAbsent(location, writeViewMetadata(metadata));
    try {
      await this.store.createTable(ident, location, 'view');
    } catch (e) {
      await this.io.delete(location).catch(() => undefined);
      throw e;
    }
    return { ident, metadataLocation: location, metadata };
  }

  async loadView(ident: TableIdent): Promise<LoadedView> {
    const rec = await this.store.getTable(ident, 'view');
    if (!rec) throw lakehouseError('NO_SUCH_VIEW', `view does not exist: ${identToString(ident)}`);
    return { ident, metadataLocation: rec.metadataLocation, metadata: readViewMetadata(await this.io.read(rec.metadataLocation), rec.metadataLocation) };
  }

  async viewExists(ident: TableIdent): Promise<boolean> {
    return (await this.store.getTable(ident, 'view')) !== null;
  }

  async commitView(ident: TableIdent, request: ViewCommitRequest): Promise<LoadedView> {
    const base = await this.loadView(ident);
    checkViewRequirements(base.metadata, request.requirements);
    const next = applyViewUpdates(base.metadata, request.updates);
    const location = nextMetadataLocation(next.location, base.metadataLocation);
    await this.io.writeIfAbsent(location, writeViewMetadata(next));
    let swapped: boolean;
    try {
      swapped = await this.store.swapMetadataLocation(ident, base.metadataLocation, location, 'view');
    } catch (e) {
      throw lakehouseError('COMMIT_STATE_UNKNOWN', `commit outcome unknown for view ${identToString(ident)}: ${(e as Error).message}`, {}, e);
    }
    if (!swapped) {
      await this.io.delete(location).catch(() => undefined);
      throw lakehouseError('COMMIT_FAILED', `concurrent commit to view ${identToString(ident)}`);
    }
    return { ident, metadataLocation: location, metadata: next };
  }

  async dropView(ident: TableIdent): Promise<void> {
    await this.store.dropTable(ident, 'view');
  }

  renameView(from: TableIdent, to: TableIdent): Promise<void> {
    return this.store.renameTable(from, to, 'view');
  }

  async registerView(ident: TableIdent, metadataLocation: string): Promise<LoadedView> {
    if (!(await this.store.namespaceExists(ident.namespace))) {
      throw lakehouseError('NO_SUCH_NAMESPACE', `namespace does not exist: ${ident.namespace.join('.')}`);
    }
    const metadata = readViewMetadata(await this.io.read(metadataLocation), metadataLocation);
    await this.store.createTable(ident, metadataLocation, 'view');
    return { ident, metadataLocation, metadata };
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
