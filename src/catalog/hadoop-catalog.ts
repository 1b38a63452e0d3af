import * as fsp from 'node:fs/promises';
import { isLakehouseError, lakehouseError } from '../core/errors.js';
import { readTableMetadata, writeTableMetadata, type TableMetadata } from '../iceberg/metadata.js';
import { checkRequirements } from '../iceberg/requirements.js';
import { applyUpdates } from '../iceberg/updates.js';
import type { FileIO } from '../storage/fileio.js';
import { LocalFileIO, localPathOf } from '../storage/local.js';
import { fileIOFor, ResolvingFileIO, storageKindOf, type StorageConfig } from '../storage/registry.js';
import { hadoopVersionFile, metadataVersion, probeNewerVersions, readVersionHint, VERSION_HINT_FILE } from '../table/locate.js';
import type { Catalog, CommitRequest, LoadedTable } from './catalog.js';
import { identToString } from './catalog.js';
import { useGzip } from './metadata-files.js';
import type { Namespace, Page, PageRequest, TableIdent } from './store.js';

export interface HadoopCatalogOptions {
  name?: string;
  /** Warehouse root (`/abs/path`, `file:///…`, `s3://bucket/prefix`, `webhdfs://…`). */
  warehouse: string;
  io: FileIO;
}

/**
 * Hidden marker file that makes a namespace directory exist on storage without directories
 * (object stores), and holds the namespace's properties as a JSON object. It is written on every
 * backend so properties survive; on local storage a plain directory (e.g. made by Java's
 * HadoopCatalog) is a namespace too.
 */
export const NAMESPACE_MARKER = '.namespace';

/** Java's `write.metadata.delete-after-commit.enabled`: delete metadata files that fall out of the metadata log. */
const DELETE_AFTER_COMMIT = 'write.metadata.delete-after-commit.enabled';

const HADOOP_VERSION_RE = /^v(\d+)(?:\.gz)?\.metadata\.json(?:\.gz)?$/;

function join(...parts: string[]): string {
  return parts.reduce((a, b) => `${a.replace(/\/+$/, '')}/${b.replace(/^\/+/, '')}`);
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function checkName(kind: string, name: string): void {
  if (typeof name !== 'string' || name === '' || name.includes('/') || name.startsWith('.')) {
    throw lakehouseError('VALIDATION_FAILED', `invalid ${kind} name ${JSON.stringify(name)}: must be non-empty, without '/' and not start with '.'`);
  }
}

function encodeToken(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeToken(token: string): string {
  const key = Buffer.from(token, 'base64url').toString('utf8');
  if (key.length === 0 || encodeToken(key) !== token) throw lakehouseError('BAD_REQUEST', `Invalid page token: ${token}`);
  return key;
}

function paginate<T>(sortedKeys: string[], page: PageRequest | undefined, map: (k: string) => T): Page<T> {
  const size = page?.pageSize;
  if (size !== undefined && size !== null && (!Number.isInteger(size) || size < 1)) {
    throw lakehouseError('BAD_REQUEST', `Invalid page size: ${String(size)} (must be a positive integer)`);
  }
  const after = page?.pageToken ? decodeToken(page.pageToken) : null;
  const keys = after === null ? sortedKeys : sortedKeys.filter((k) => k > after);
  if (size && keys.length > size) {
    const items = keys.slice(0, size);
    return { items: items.map(map), nextPageToken: encodeToken(items[items.length - 1]) };
  }
  return { items: keys.map(map), nextPageToken: null };
}

/** A direct child directory of a listed folder. */
interface ChildDir {
  name: string;
  isTable: boolean;
}

/**
 * The Hadoop catalog (Java's `HadoopCatalog` layout) over a FileIO and a warehouse root:
 *
 * - a namespace is the directory `<warehouse>/<level>/<level>…`; it exists when its
 *   `.namespace` marker exists, when files live under it, or (local storage) when the directory
 *   exists — and it is not a table directory;
 * - a table is the directory `<warehouse>/<ns…>/<table>` holding `metadata/vN.metadata.json`
 *   (`vN.gz.metadata.json` with gzip) and `metadata/version-hint.text`;
 * - a commit reads the current version N (the hint, then probing `v(N+1)`, `v(N+2)`, … until one is
 *   missing, as Java does), checks the requirements, applies the updates and writes
 *   `v(N+1).metadata.json` with `writeIfAbsent` — the atomic step: when that file already exists
 *   another writer won and the commit fails with COMMIT_FAILED. The hint is rewritten afterwards,
 *   best effort (readers probe past a stale hint).
 *
 * Tables live at their path: a custom location is rejected, and renames are unsupported (as in
 * Java). Dropping a table deletes its whole directory (with or without purge, as Java does).
 * Requires a FileIO whose `writeIfAbsent` is atomic (local, HDFS, S3 with conditional writes).
 */
export class HadoopCatalog implements Catalog {
  readonly name: string;
  readonly io: FileIO;
  readonly warehouse: string;
  private readonly local: boolean;

  constructor(opts: HadoopCatalogOptions) {
    this.name = opts.name ?? 'hadoop';
    this.io = opts.io;
    this.warehouse = opts.warehouse.replace(/\/+$/, '');
    this.local = opts.io instanceof LocalFileIO || (opts.io instanceof ResolvingFileIO && storageKindOf(this.warehouse) === 'local');
  }

  // ------------------------------------------------------------------------------- paths

  namespaceLocation(namespace: Namespace): string {
    for (const level of namespace) checkName('namespace', level);
    return namespace.length === 0 ? this.warehouse : join(this.warehouse, ...namespace);
  }

  defaultTableLocation(ident: TableIdent): string {
    checkName('table', ident.name);
    return join(this.namespaceLocation(ident.namespace), ident.name);
  }

  private metadataDir(ident: TableIdent): string {
    return join(this.defaultTableLocation(ident), 'metadata');
  }

  // ------------------------------------------------------------------------ directories

  /** Is `dir` a directory on local storage? */
  private async localDirExists(dir: string): Promise<boolean> {
    try {
      return (await fsp.stat(localPathOf(dir))).isDirectory();
    } catch {
      return false;
    }
  }

  private async dirExists(dir: string): Promise<boolean> {
    if (this.local) return this.localDirExists(dir);
    return (await this.io.list(dir)).length > 0;
  }

  /** A table directory: `metadata/` holds at least one metadata file. */
  private async isTableDir(dir: string): Promise<boolean> {
    const files = await this.io.list(join(dir, 'metadata'));
    return files.some((f) => metadataVersion(f.location) !== null && !baseName(f.location).startsWith('.'));
  }

  /** Direct child directories of `dir` (hidden ones skipped), each flagged table or not. */
  private async childDirs(dir: string): Promise<ChildDir[]> {
    const out = new Map<string, ChildDir>();
    if (this.local) {
      let entries: import('node:fs').Dirent[] = [];
      try {
        entries = await fsp.readdir(localPathOf(dir), { withFileTypes: true });
      } catch {
        return [];
      }
      for (const e of entries) {
        if (!e.isDirectory() || e.name.startsWith('.')) continue;
        out.set(e.name, { name: e.name, isTable: await this.isTableDir(join(dir, e.name)) });
      }
    } else {
      const prefix = `${dir.replace(/\/+$/, '')}/`;
      for (const f of await this.io.list(dir)) {
        if (!f.location.startsWith(prefix)) continue;
        const rel = f.location.slice(prefix.length).split('/');
        if (rel.length < 2 || rel[0] === '' || rel[0].startsWith('.')) continue;
        const child = out.get(rel[0]) ?? { name: rel[0], isTable: false };
        if (rel.length === 3 && rel[1] === 'metadata' && metadataVersion(rel[2]) !== null) child.isTable = true;
        out.set(rel[0], child);
      }
    }
    return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  // ------------------------------------------------------------------------- namespaces

  async namespaceExists(namespace: Namespace): Promise<boolean> {
    const dir = this.namespaceLocation(namespace);
    if (namespace.length === 0) return true;
    if (await this.io.exists(join(dir, NAMESPACE_MARKER))) return true;
    return (await this.dirExists(dir)) && !(await this.isTableDir(dir));
  }

  async createNamespace(namespace: Namespace, properties: Record<string, string> = {}): Promise<void> {
    if (namespace.length === 0) throw lakehouseError('VALIDATION_FAILED', 'cannot create the root namespace');
    const dir = this.namespaceLocation(namespace);
    if (await this.isTableDir(dir)) throw lakehouseError('ALREADY_EXISTS', `a table exists at ${namespace.join('.')}`);
    if (await this.namespaceExists(namespace)) throw lakehouseError('ALREADY_EXISTS', `namespace already exists: ${namespace.join('.')}`);
    try {
      await this.io.writeIfAbsent(join(dir, NAMESPACE_MARKER), Buffer.from(JSON.stringify(properties), 'utf8'));
    } catch (e) {
      if (isLakehouseError(e, 'ALREADY_EXISTS')) throw lakehouseError('ALREADY_EXISTS', `namespace already exists: ${namespace.join('.')}`);
      throw e;
    }
  }

  async listNamespaces(parent: Namespace = [], page?: PageRequest): Promise<Page<Namespace>> {
    if (!(await this.namespaceExists(parent))) throw lakehouseError('NO_SUCH_NAMESPACE', `namespace does not exist: ${parent.join('.')}`);
    const children = (await this.childDirs(this.namespaceLocation(parent))).filter((c) => !c.isTable).map((c) => c.name);
    return paginate(children, page, (name) => [...parent, name]);
  }

  /** The marker's properties plus `location` (Java's HadoopCatalog reports only the location). */
  async loadNamespace(namespace: Namespace): Promise<Record<string, string>> {
    if (!(await this.namespaceExists(namespace))) throw lakehouseError('NO_SUCH_NAMESPACE', `namespace does not exist: ${namespace.join('.')}`);
    const dir = this.namespaceLocation(namespace);
    let props: Record<string, string> = {};
    if (namespace.length > 0) {
      try {
        const parsed = JSON.parse(Buffer.from(await this.io.read(join(dir, NAMESPACE_MARKER))).toString('utf8')) as unknown;
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
          props = Object.fromEntries(Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
        }
      } catch (e) {
        if (!isLakehouseError(e, 'FILE_NOT_FOUND') && !(e instanceof SyntaxError)) throw e;
      }
    }
    return { ...props, location: dir };
  }

  async dropNamespace(namespace: Namespace): Promise<void> {
    if (namespace.length === 0) throw lakehouseError('VALIDATION_FAILED', 'cannot drop the root namespace');
    if (!(await this.namespaceExists(namespace))) throw lakehouseError('NO_SUCH_NAMESPACE', `namespace does not exist: ${namespace.join('.')}`);
    const dir = this.namespaceLocation(namespace);
    const marker = join(dir, NAMESPACE_MARKER);
    const others = (await this.io.list(dir)).filter((f) => f.location !== marker);
    if (others.length > 0 || (await this.childDirs(dir)).length > 0) {
      throw lakehouseError('NAMESPACE_NOT_EMPTY', `namespace is not empty: ${namespace.join('.')}`);
    }
    await this.io.delete(marker);
    if (this.local) await fsp.rmdir(localPathOf(dir)).catch(() => undefined);
  }

  // ----------------------------------------------------------------------------- tables

  async listTables(namespace: Namespace, page?: PageRequest): Promise<Page<TableIdent>> {
    if (!(await this.namespaceExists(namespace))) throw lakehouseError('NO_SUCH_NAMESPACE', `namespace does not exist: ${namespace.join('.')}`);
    const tables = (await this.childDirs(this.namespaceLocation(namespace))).filter((c) => c.isTable).map((c) => c.name);
    return paginate(tables, page, (name) => ({ namespace: [...namespace], name }));
  }

  /**
   * The table's current version: the hint's `vN` when present, else the highest `vN` listed;
   * then newer versions are probed until one is missing. Null when the table has none.
   */
  async currentVersion(ident: TableIdent): Promise<{ version: number; location: string } | null> {
    const dir = this.metadataDir(ident);
    const hint = await readVersionHint(this.io, dir);
    if (hint !== null && /^\d+$/.test(hint)) {
      const loc = await hadoopVersionFile(this.io, dir, Number(hint));
      if (loc !== null) return probeNewerVersions(this.io, dir, Number(hint), loc);
    }
    let best: { version: number; location: string } | null = null;
    for (const f of await this.io.list(dir)) {
      const m = HADOOP_VERSION_RE.exec(baseName(f.location));
      if (m && (best === null || Number(m[1]) > best.version)) best = { version: Number(m[1]), location: f.location };
    }
    return best === null ? null : probeNewerVersions(this.io, dir, best.version, best.location);
  }

  private versionLocation(ident: TableIdent, version: number, gzip: boolean): string {
    return join(this.metadataDir(ident), `v${version}${gzip ? '.gz.metadata.json' : '.metadata.json'}`);
  }

  private async writeHint(ident: TableIdent, version: number): Promise<void> {
    // Best effort, as Java's writeVersionHint: readers probe past a stale hint.
    await this.io.write(join(this.metadataDir(ident), VERSION_HINT_FILE), Buffer.from(String(version), 'utf8')).catch(() => undefined);
  }

  async createTable(ident: TableIdent, metadata: TableMetadata): Promise<LoadedTable> {
    const location = this.defaultTableLocation(ident);
    if (!(await this.namespaceExists(ident.namespace))) {
      throw lakehouseError('NO_SUCH_NAMESPACE', `namespace does not exist: ${ident.namespace.join('.')}`);
    }
    if (metadata.location.replace(/\/+$/, '') !== location) {
      throw lakehouseError('VALIDATION_FAILED', `Hadoop catalog tables live at their path: cannot create ${identToString(ident)} at ${metadata.location} (expected ${location})`);
    }
    if (await this.io.exists(join(location, NAMESPACE_MARKER))) {
      throw lakehouseError('ALREADY_EXISTS', `a namespace exists at ${identToString(ident)}`);
    }
    if ((await this.currentVersion(ident)) !== null) throw lakehouseError('ALREADY_EXISTS', `table already exists: ${identToString(ident)}`);
    const gzip = useGzip(metadata.properties);
    const file = this.versionLocation(ident, 1, gzip);
    try {
      await this.io.writeIfAbsent(file, writeTableMetadata(metadata, gzip));
    } catch (e) {
      if (isLakehouseError(e, 'ALREADY_EXISTS')) throw lakehouseError('ALREADY_EXISTS', `table already exists: ${identToString(ident)}`);
      throw e;
    }
    await this.writeHint(ident, 1);
    return { ident, metadataLocation: file, metadata, io: this.io };
  }

  async loadTable(ident: TableIdent): Promise<LoadedTable> {
    const current = await this.currentVersion(ident);
    if (current === null) throw lakehouseError('NO_SUCH_TABLE', `table does not exist: ${identToString(ident)}`);
    const metadata = readTableMetadata(await this.io.read(current.location), current.location);
    return { ident, metadataLocation: current.location, metadata, io: this.io };
  }

  async tableExists(ident: TableIdent): Promise<boolean> {
    return (await this.currentVersion(ident)) !== null;
  }

  async commitTable(ident: TableIdent, request: CommitRequest): Promise<LoadedTable> {
    const current = await this.currentVersion(ident);
    if (current === null) throw lakehouseError('NO_SUCH_TABLE', `table does not exist: ${identToString(ident)}`);
    const base = readTableMetadata(await this.io.read(current.location), current.location);
    checkRequirements(base, request.requirements);
    const next = applyUpdates(base, request.updates, { metadataLocation: current.location, nowMs: Date.now() });
    if (next === base) return { ident, metadataLocation: current.location, metadata: base, io: this.io };
    const gzip = useGzip(next.properties);
    const version = current.version + 1;
    const file = this.versionLocation(ident, version, gzip);
    const bytes = writeTableMetadata(next, gzip);
    // With gzip toggled, the other spelling of v(N+1) may already exist: that is a lost race too.
    const other = this.versionLocation(ident, version, !gzip);
    if (await this.io.exists(other)) throw this.lostRace(ident, version);
    try {
      await this.io.writeIfAbsent(file, bytes);
    } catch (e) {
      if (isLakehouseError(e, 'ALREADY_EXISTS')) throw this.lostRace(ident, version);
      // The write may have landed (e.g. a timeout after a conditional PUT): look before deciding.
      let written: Uint8Array | null;
      try {
        written = (await this.io.exists(file)) ? await this.io.read(file) : null;
      } catch (e2) {
        throw lakehouseError('COMMIT_STATE_UNKNOWN', `commit outcome unknown for ${identToString(ident)}: ${(e as Error).message}`, { file }, e2);
      }
      if (written === null) throw e;
      if (!Buffer.from(written).equals(Buffer.from(bytes))) throw this.lostRace(ident, version);
    }
    await this.writeHint(ident, version);
    if ((next.properties[DELETE_AFTER_COMMIT] ?? 'false').toLowerCase() === 'true') {
      const kept = new Set(next['metadata-log'].map((e) => e['metadata-file']));
      for (const e of base['metadata-log']) {
        if (!kept.has(e['metadata-file'])) await this.io.delete(e['metadata-file']).catch(() => undefined);
      }
    }
    return { ident, metadataLocation: file, metadata: next, io: this.io };
  }

  private lostRace(ident: TableIdent, version: number) {
    return lakehouseError('COMMIT_FAILED', `concurrent commit to ${identToString(ident)}: version ${version} was written by another writer`);
  }

  /**
   * Deletes the table directory (Java's HadoopCatalog does so with or without purge: the
   * directory is the table). Metadata files go first, oldest to newest, so readers keep seeing
   * the latest version until the table is gone.
   */
  async dropTable(ident: TableIdent, purge = false): Promise<void> {
    void purge;
    if ((await this.currentVersion(ident)) === null) throw lakehouseError('NO_SUCH_TABLE', `table does not exist: ${identToString(ident)}`);
    const dir = this.defaultTableLocation(ident);
    const files = await this.io.list(dir);
    const metaDir = `${this.metadataDir(ident)}/`;
    const versions = files
      .filter((f) => f.location.startsWith(metaDir) && metadataVersion(f.location) !== null)
      .sort((a, b) => metadataVersion(a.location)! - metadataVersion(b.location)!);
    for (const f of versions) await this.io.delete(f.location);
    const done = new Set(versions.map((f) => f.location));
    for (const f of files) if (!done.has(f.location)) await this.io.delete(f.location);
    if (this.local) await fsp.rm(localPathOf(dir), { recursive: true, force: true });
  }

  renameTable(from: TableIdent, to: TableIdent): Promise<void> {
    return Promise.reject(
      lakehouseError('UNSUPPORTED_OPERATION', `Cannot rename Hadoop tables (${identToString(from)} -> ${identToString(to)}): a table is its path`),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A Hadoop catalog over the warehouse's FileIO (picked by its scheme). */
export function openHadoopCatalog(opts: { warehouse: string; name?: string; storage?: StorageConfig }): HadoopCatalog {
  return new HadoopCatalog({ name: opts.name, warehouse: opts.warehouse, io: fileIOFor(opts.warehouse, opts.storage) });
}
