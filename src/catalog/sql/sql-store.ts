/**
 * The catalog store on Kysely: one implementation for SQLite and PostgreSQL (see schema.ts for
 * the tables and why namespaces have their own). Dialect differences are confined to the factories
 * in ../sqlite and ../postgres and to `classifyConstraintError` below.
 *
 * Race safety comes from the database, not from read-then-write checks:
 * - duplicates (namespaces, tables/views — which share a name space) hit a primary key;
 * - a table in a missing namespace, or a child of a missing parent, hits a foreign key;
 * - dropping a non-empty namespace hits a foreign key if a table/child slipped in after the check;
 * - a commit is one conditional UPDATE (compare-and-swap) that reports whether it changed a row.
 */
import type { Kysely, Transaction } from 'kysely';
import { isLakehouseError, lakehouseError, type ErrorCode } from '../../core/errors.js';
import type {
  CatalogObjectKind,
  CatalogStore,
  Namespace,
  Page,
  PageRequest,
  TableIdent,
  TableRecord,
} from '../store.js';
import { migrateToLatest, type SqlDialectKind } from '../migrations/index.js';
import { NAMESPACE_SEPARATOR, type CatalogDatabase, type IcebergType, type TableRow } from './schema.js';

export const DEFAULT_CATALOG_NAME = 'lakehouse';

export interface SqlCatalogStoreOptions {
  db: Kysely<CatalogDatabase>;
  kind: SqlDialectKind;
  /** Rows are scoped by this name, so several warehouses can share one database. */
  catalogName?: string;
  /** Wraps every write (SQLite: the per-file in-process lock). Default: run directly. */
  serializeWrites?: <T>(fn: () => Promise<T>) => Promise<T>;
}

type Db = Kysely<CatalogDatabase> | Transaction<CatalogDatabase>;

/** Thrown inside a transaction to roll it back; never escapes. */
class RollbackSignal extends Error {}

export class SqlCatalogStore implements CatalogStore {
  readonly kind: SqlDialectKind;
  readonly catalogName: string;
  readonly db: Kysely<CatalogDatabase>;
  readonly #serialize: <T>(fn: () => Promise<T>) => Promise<T>;
  #closed = false;

  constructor(options: SqlCatalogStoreOptions) {
    this.db = options.db;
    this.kind = options.kind;
    this.catalogName = options.catalogName ?? DEFAULT_CATALOG_NAME;
    if (!this.catalogName) throw lakehouseError('BAD_REQUEST', 'catalog name must not be empty');
    this.#serialize = options.serializeWrites ?? ((fn) => fn());
  }

  async migrate(): Promise<void> {
    await this.#write(() => migrateToLatest(this.db, this.kind));
  }

  // ---------------------------------------------------------------------------------- namespaces

  async createNamespace(namespace: Namespace, properties: Record<string, string> = {}): Promise<void> {
    const ns = encodeNamespace(namespace);
    const parent = namespace.length > 1 ? encodeNamespace(namespace.slice(0, -1)) : null;
    const props = Object.entries(properties ?? {});
    for (const [k, v] of props) checkProperty(k, v);
    await this.#write(async () => {
      try {
        const insert = async (db: Db) => {
          await db
            .insertInto('iceberg_namespaces')
            .values({ catalog_name: this.catalogName, namespace: ns, parent_namespace: parent })
            .execute();
          if (props.length > 0) {
            await db
              .insertInto('iceberg_namespace_properties')
              .values(props.map(([k, v]) => this.#propRow(ns, k, v)))
              .execute();
          }
        };
        if (props.length === 0) await insert(this.db);
        else await this.db.transaction().execute(insert);
      } catch (e) {
        throw mapConstraintError(e, {
          unique: ['ALREADY_EXISTS', `Namespace already exists: ${show(namespace)}`],
          foreignKey: ['NO_SUCH_NAMESPACE', `Parent namespace does not exist: ${show(namespace.slice(0, -1))}`],
        });
      }
    });
  }

  async loadNamespace(namespace: Namespace): Promise<Record<string, string>> {
    const ns = encodeNamespace(namespace);
    const rows = await this.db
      .selectFrom('iceberg_namespaces as n')
      .leftJoin('iceberg_namespace_properties as p', (j) =>
        j.onRef('p.catalog_name', '=', 'n.catalog_name').onRef('p.namespace', '=', 'n.namespace'),
      )
      .select(['p.property_key', 'p.property_value'])
      .where('n.catalog_name', '=', this.catalogName)
      .where('n.namespace', '=', ns)
      .orderBy('p.property_key')
      .execute();
    if (rows.length === 0) throw noSuchNamespace(namespace);
    const out: Record<string, string> = {};
    for (const r of rows) if (r.property_key !== null) out[r.property_key] = r.property_value ?? '';
    return out;
  }

  async namespaceExists(namespace: Namespace): Promise<boolean> {
    return this.#namespaceExists(this.db, encodeNamespace(namespace));
  }

  async listNamespaces(parent: Namespace = [], page?: PageRequest): Promise<Page<Namespace>> {
    const { after, limit } = parsePage(page);
    const parentKey = parent.length > 0 ? encodeNamespace(parent) : null;
    if (parentKey !== null && !(await this.#namespaceExists(this.db, parentKey))) throw noSuchNamespace(parent);
    let q = this.db
      .selectFrom('iceberg_namespaces')
      .select('namespace')
      .where('catalog_name', '=', this.catalogName)
      .where('parent_namespace', parentKey === null ? 'is' : '=', parentKey)
      .orderBy('namespace');
    if (after !== null) q = q.where('namespace', '>', after);
    if (limit !== null) q = q.limit(limit + 1);
    const rows = await q.execute();
    return makePage(
      rows.map((r) => r.namespace),
      limit,
      (key) => key,
      decodeNamespace,
    );
  }

  async updateNamespaceProperties(
    namespace: Namespace,
    removals: string[],
    updates: Record<string, string>,
  ): Promise<{ updated: string[]; removed: string[]; missing: string[] }> {
    const ns = encodeNamespace(namespace);
    const removeKeys = [...new Set(removals ?? [])];
    const updateEntries = Object.entries(updates ?? {});
    for (const [k, v] of updateEntries) checkProperty(k, v);
    for (const k of removeKeys) checkProperty(k, '');
    const both = removeKeys.filter((k) => Object.prototype.hasOwnProperty.call(updates ?? {}, k));
    if (both.length > 0) {
      throw lakehouseError('VALIDATION_FAILED', `Properties cannot be both updated and removed: ${both.join(', ')}`);
    }
    return this.#write(() =>
      this.db.transaction().execute(async (trx) => {
        if (!(await this.#namespaceExists(trx, ns))) throw noSuchNamespace(namespace);
        let removed: string[] = [];
        if (removeKeys.length > 0) {
          const existing = await trx
            .selectFrom('iceberg_namespace_properties')
            .select('property_key')
            .where('catalog_name', '=', this.catalogName)
            .where('namespace', '=', ns)
            .where('property_key', 'in', removeKeys)
            .execute();
          const found = new Set(existing.map((r) => r.property_key));
          removed = removeKeys.filter((k) => found.has(k));
          if (removed.length > 0) {
            await trx
              .deleteFrom('iceberg_namespace_properties')
              .where('catalog_name', '=', this.catalogName)
              .where('namespace', '=', ns)
              .where('property_key', 'in', removed)
              .execute();
          }
        }
        if (updateEntries.length > 0) {
          await trx
            .insertInto('iceberg_namespace_properties')
            .values(updateEntries.map(([k, v]) => this.#propRow(ns, k, v)))
            .onConflict((oc) =>
              oc
                .columns(['catalog_name', 'namespace', 'property_key'])
                .doUpdateSet((eb) => ({ property_value: eb.ref('excluded.property_value') })),
            )
            .execute();
        }
        const removedSet = new Set(removed);
        return {
          updated: updateEntries.map(([k]) => k),
          removed,
          missing: removeKeys.filter((k) => !removedSet.has(k)),
        };
      }),
    );
  }

  async dropNamespace(namespace: Namespace): Promise<void> {
    const ns = encodeNamespace(namespace);
    await this.#write(async () => {
      try {
        await this.db.transaction().execute(async (trx) => {
          if (!(await this.#namespaceExists(trx, ns))) throw noSuchNamespace(namespace);
          const child = await trx
            .selectFrom('iceberg_namespaces')
            .select('namespace')
            .where('catalog_name', '=', this.catalogName)
            .where('parent_namespace', '=', ns)
            .limit(1)
            .executeTakeFirst();
          const table = await trx
            .selectFrom('iceberg_tables')
            .select('table_name')
            .where('catalog_name', '=', this.catalogName)
            .where('table_namespace', '=', ns)
            .limit(1)
            .executeTakeFirst();
          if (child || table) throw notEmpty(namespace);
          await trx
            .deleteFrom('iceberg_namespace_properties')
            .where('catalog_name', '=', this.catalogName)
            .where('namespace', '=', ns)
            .execute();
          await trx
            .deleteFrom('iceberg_namespaces')
            .where('catalog_name', '=', this.catalogName)
            .where('namespace', '=', ns)
            .execute();
        });
      } catch (e) {
        // A table or child created concurrently, after the emptiness check.
        throw mapConstraintError(e, { foreignKey: ['NAMESPACE_NOT_EMPTY', notEmpty(namespace).message] });
      }
    });
  }

  // ------------------------------------------------------------------------------ tables / views

  async createTable(ident: TableIdent, metadataLocation: string, kind: CatalogObjectKind = 'table'): Promise<void> {
    const ns = encodeNamespace(ident.namespace);
    checkName(ident.name);
    checkLocation(metadataLocation);
    await this.#write(async () => {
      try {
        await this.db
          .insertInto('iceberg_tables')
          .values({
            catalog_name: this.catalogName,
            table_namespace: ns,
            table_name: ident.name,
            metadata_location: metadataLocation,
            previous_metadata_location: null,
            iceberg_type: toIcebergType(kind),
          })
          .execute();
      } catch (e) {
        throw mapConstraintError(e, {
          unique: ['ALREADY_EXISTS', `Table or view already exists: ${showIdent(ident)}`],
          foreignKey: ['NO_SUCH_NAMESPACE', `Namespace does not exist: ${show(ident.namespace)}`],
        });
      }
    });
  }

  async getTable(ident: TableIdent, kind: CatalogObjectKind = 'table'): Promise<TableRecord | null> {
    const row = await this.db
      .selectFrom('iceberg_tables')
      .selectAll()
      .where('catalog_name', '=', this.catalogName)
      .where('table_namespace', '=', encodeNamespace(ident.namespace))
      .where('table_name', '=', ident.name)
      .where('iceberg_type', '=', toIcebergType(kind))
      .executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async listTables(namespace: Namespace, page?: PageRequest, kind: CatalogObjectKind = 'table'): Promise<Page<TableIdent>> {
    const ns = encodeNamespace(namespace);
    const { after, limit } = parsePage(page);
    if (!(await this.#namespaceExists(this.db, ns))) throw noSuchNamespace(namespace);
    let q = this.db
      .selectFrom('iceberg_tables')
      .select('table_name')
      .where('catalog_name', '=', this.catalogName)
      .where('table_namespace', '=', ns)
      .where('iceberg_type', '=', toIcebergType(kind))
      .orderBy('table_name');
    if (after !== null) q = q.where('table_name', '>', after);
    if (limit !== null) q = q.limit(limit + 1);
    const rows = await q.execute();
    return makePage(
      rows.map((r) => r.table_name),
      limit,
      (name) => name,
      (name) => ({ namespace: [...namespace], name }),
    );
  }

  async swapMetadataLocation(
    ident: TableIdent,
    expected: string,
    next: string,
    kind: CatalogObjectKind = 'table',
  ): Promise<boolean> {
    const ns = encodeNamespace(ident.namespace);
    checkLocation(next);
    return this.#write(() => this.#swap(this.db, ns, ident.name, expected, next, kind));
  }

  async swapMany(
    swaps: { ident: TableIdent; expected: string; next: string; kind?: CatalogObjectKind }[],
  ): Promise<boolean> {
    if (swaps.length === 0) return true;
    // A fixed lock order (stable sort keeps repeated idents in call order) so two concurrent
    // multi-table commits on PostgreSQL wait for each other instead of deadlocking.
    const ordered = swaps
      .map((s) => {
        checkLocation(s.next);
        return { ...s, ns: encodeNamespace(s.ident.namespace) };
      })
      .sort((a, b) => compareKeys(a.ns, b.ns) || compareKeys(a.ident.name, b.ident.name));
    return this.#write(async () => {
      try {
        await this.db.transaction().execute(async (trx) => {
          for (const s of ordered) {
            if (!(await this.#swap(trx, s.ns, s.ident.name, s.expected, s.next, s.kind ?? 'table'))) {
              throw new RollbackSignal();
            }
          }
        });
        return true;
      } catch (e) {
        if (e instanceof RollbackSignal) return false;
        throw e;
      }
    });
  }

  async renameTable(from: TableIdent, to: TableIdent, kind: CatalogObjectKind = 'table'): Promise<void> {
    const fromNs = encodeNamespace(from.namespace);
    const toNs = encodeNamespace(to.namespace);
    checkName(to.name);
    await this.#write(async () => {
      let changed: bigint;
      try {
        // One statement: the primary key catches a taken target name, the foreign key a missing
        // target namespace, and zero changed rows a missing source — no window between checks.
        const res = await this.db
          .updateTable('iceberg_tables')
          .set({ table_namespace: toNs, table_name: to.name })
          .where('catalog_name', '=', this.catalogName)
          .where('table_namespace', '=', fromNs)
          .where('table_name', '=', from.name)
          .where('iceberg_type', '=', toIcebergType(kind))
          .executeTakeFirst();
        changed = res.numUpdatedRows;
      } catch (e) {
        throw mapConstraintError(e, {
          unique: ['ALREADY_EXISTS', `Table or view already exists: ${showIdent(to)}`],
          foreignKey: ['NO_SUCH_NAMESPACE', `Namespace does not exist: ${show(to.namespace)}`],
        });
      }
      if (changed === 0n) throw noSuchObject(from, kind);
    });
  }

  async dropTable(ident: TableIdent, kind: CatalogObjectKind = 'table'): Promise<TableRecord> {
    const ns = encodeNamespace(ident.namespace);
    return this.#write(async () => {
      const row = await this.db
        .deleteFrom('iceberg_tables')
        .where('catalog_name', '=', this.catalogName)
        .where('table_namespace', '=', ns)
        .where('table_name', '=', ident.name)
        .where('iceberg_type', '=', toIcebergType(kind))
        .returningAll()
        .executeTakeFirst();
      if (!row) throw noSuchObject(ident, kind);
      return toRecord(row);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.db.destroy();
  }

  // ------------------------------------------------------------------------------------ helpers

  #write<T>(fn: () => Promise<T>): Promise<T> {
    return this.#serialize(fn);
  }

  /** The commit primitive: one conditional UPDATE; true iff it changed exactly one row. */
  async #swap(db: Db, ns: string, name: string, expected: string, next: string, kind: CatalogObjectKind): Promise<boolean> {
    const res = await db
      .updateTable('iceberg_tables')
      .set({ metadata_location: next, previous_metadata_location: expected })
      .where('catalog_name', '=', this.catalogName)
      .where('table_namespace', '=', ns)
      .where('table_name', '=', name)
      .where('iceberg_type', '=', toIcebergType(kind))
      .where('metadata_location', '=', expected)
      .executeTakeFirst();
    return res.numUpdatedRows === 1n;
  }

  async #namespaceExists(db: Db, ns: string): Promise<boolean> {
    const row = await db
      .selectFrom('iceberg_namespaces')
      .select('namespace')
      .where('catalog_name', '=', this.catalogName)
      .where('namespace', '=', ns)
      .executeTakeFirst();
    return row !== undefined;
  }

  #propRow(ns: string, key: string, value: string) {
    return { catalog_name: this.catalogName, namespace: ns, property_key: key, property_value: value };
  }
}

// -------------------------------------------------------------------------------- identifiers

/** Namespace levels → stored key (levels joined with U+001F). */
export function encodeNamespace(namespace: Namespace): string {
  if (!Array.isArray(namespace) || namespace.length === 0) {
    throw lakehouseError('BAD_REQUEST', 'Namespace must have at least one level');
  }
  for (const level of namespace) {
    if (typeof level !== 'string' || level.length === 0) {
      throw lakehouseError('BAD_REQUEST', `Invalid namespace ${JSON.stringify(namespace)}: empty level`);
    }
    if (level.includes(NAMESPACE_SEPARATOR) || level.includes('\0')) {
      throw lakehouseError('BAD_REQUEST', `Invalid namespace ${JSON.stringify(namespace)}: control character in a level`);
    }
  }
  return namespace.join(NAMESPACE_SEPARATOR);
}

export function decodeNamespace(key: string): Namespace {
  return key.split(NAMESPACE_SEPARATOR);
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.includes('\0')) {
    throw lakehouseError('BAD_REQUEST', `Invalid table or view name: ${JSON.stringify(name)}`);
  }
}

function checkLocation(location: string): void {
  if (typeof location !== 'string' || location.length === 0 || location.includes('\0')) {
    throw lakehouseError('BAD_REQUEST', `Invalid metadata location: ${JSON.stringify(location)}`);
  }
}

function checkProperty(key: string, value: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.includes('\0')) {
    throw lakehouseError('BAD_REQUEST', `Invalid property key: ${JSON.stringify(key)}`);
  }
  if (typeof value !== 'string' || value.includes('\0')) {
    throw lakehouseError('BAD_REQUEST', `Invalid value for property ${key}: must be a string`);
  }
}

function show(namespace: Namespace): string {
  return namespace.join('.');
}

function showIdent(ident: TableIdent): string {
  return [...ident.namespace, ident.name].join('.');
}

function toIcebergType(kind: CatalogObjectKind): IcebergType {
  if (kind === 'table') return 'TABLE';
  if (kind === 'view') return 'VIEW';
  throw lakehouseError('BAD_REQUEST', `Unknown catalog object kind: ${String(kind)}`);
}

function toRecord(row: TableRow): TableRecord {
  return {
    namespace: decodeNamespace(row.table_namespace),
    name: row.table_name,
    kind: row.iceberg_type === 'VIEW' ? 'view' : 'table',
    metadataLocation: row.metadata_location,
    previousMetadataLocation: row.previous_metadata_location ?? null,
  };
}

/** Code-point order, the order both dialects sort keys in (BINARY / COLLATE "C"). */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// ------------------------------------------------------------------------------------- errors

function noSuchNamespace(namespace: Namespace) {
  return lakehouseError('NO_SUCH_NAMESPACE', `Namespace does not exist: ${show(namespace)}`);
}

function notEmpty(namespace: Namespace) {
  return lakehouseError('NAMESPACE_NOT_EMPTY', `Namespace is not empty: ${show(namespace)}`);
}

function noSuchObject(ident: TableIdent, kind: CatalogObjectKind) {
  return kind === 'view'
    ? lakehouseError('NO_SUCH_VIEW', `View does not exist: ${showIdent(ident)}`)
    : lakehouseError('NO_SUCH_TABLE', `Table does not exist: ${showIdent(ident)}`);
}

type ConstraintKind = 'unique' | 'foreignKey';

/** Recognises constraint violations from better-sqlite3 (SqliteError.code) and pg (SQLSTATE). */
export function classifyConstraintError(e: unknown): ConstraintKind | null {
  const code = (e as { code?: unknown } | null)?.code;
  switch (code) {
    case '23505': // unique_violation
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
    case 'SQLITE_CONSTRAINT_UNIQUE':
      return 'unique';
    case '23503': // foreign_key_violation
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return 'foreignKey';
    default:
      return null;
  }
}

function mapConstraintError(
  e: unknown,
  map: Partial<Record<ConstraintKind, [ErrorCode, string]>>,
): unknown {
  if (isLakehouseError(e)) return e;
  const kind = classifyConstraintError(e);
  const target = kind ? map[kind] : undefined;
  return target ? lakehouseError(target[0], target[1], {}, e) : e;
}

// ------------------------------------------------------------------------------------- paging

function parsePage(page?: PageRequest): { after: string | null; limit: number | null } {
  const token = page?.pageToken;
  const size = page?.pageSize;
  let limit: number | null = null;
  if (size !== undefined && size !== null) {
    if (!Number.isInteger(size) || size < 1) {
      throw lakehouseError('BAD_REQUEST', `Invalid page size: ${String(size)} (must be a positive integer)`);
    }
    limit = size;
  }
  return { after: token ? decodePageToken(token) : null, limit };
}

/** Opaque page token: base64url of the last key returned. */
export function encodePageToken(lastKey: string): string {
  return Buffer.from(lastKey, 'utf8').toString('base64url');
}

export function decodePageToken(token: string): string {
  const key = Buffer.from(token, 'base64url').toString('utf8');
  if (key.length === 0 || encodePageToken(key) !== token) {
    throw lakehouseError('BAD_REQUEST', `Invalid page token: ${token}`);
  }
  return key;
}

function makePage<K, T>(keys: K[], limit: number | null, keyOf: (k: K) => string, map: (k: K) => T): Page<T> {
  if (limit !== null && keys.length > limit) {
    const items = keys.slice(0, limit);
    return { items: items.map(map), nextPageToken: encodePageToken(keyOf(items[items.length - 1])) };
  }
  return { items: keys.map(map), nextPageToken: null };
}
