import type { Catalog, CommitRequest, LoadedTable } from '../catalog/catalog.js';
import { identToString } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { isLakehouseError, lakehouseError } from '../core/errors.js';
import type { Duck } from '../duck/db.js';
import {
  currentSchema, currentSnapshot, defaultSpec, NAME_MAPPING_PROPERTY, snapshotAsOf, snapshotById, type TableMetadata,
} from '../iceberg/metadata.js';
import { parseNameMapping, type MappedField, type NameMapping } from '../iceberg/name-mapping.js';
import { buildPartitionSpec, parsePartitionExpression, type PartitionField } from '../iceberg/partition.js';
import type { TableRequirement } from '../iceberg/requirements.js';
import { findFieldByName } from '../iceberg/schema.js';
import { SchemaUpdate } from '../iceberg/schema-evolution.js';
import { MAIN_BRANCH, type Snapshot, type SnapshotRef } from '../iceberg/snapshot.js';
import type { NullOrder, SortDirection, SortField } from '../iceberg/sort-order.js';
import { parseTransform, transformToString } from '../iceberg/transforms.js';
import { childFields, isPrimitive, type IcebergType } from '../iceberg/types.js';
import { LAST_ADDED, type TableUpdate, type UnboundPartitionField } from '../iceberg/updates.js';
import { tableResolver } from './paths.js';
import { registerTableView } from './scan-query.js';

/**
 * Table administration over any Catalog: schema and partition evolution, properties, sort order,
 * branches and tags, rollback, and snapshot resolution for time travel. Every change is one
 * commit guarded by REST requirements (the same ones Java's `UpdateRequirements` derives), so a
 * concurrent change to the same thing fails with COMMIT_FAILED instead of being overwritten.
 *
 * Commits that lose a race to an unrelated change (e.g. a concurrent append) are rebuilt on the
 * refreshed table and retried; schema and spec changes are only retried while the schema / spec
 * they were computed against is still current.
 */
export interface AdminOptions {
  /** Retries after COMMIT_FAILED (default 4). */
  maxRetries?: number;
}

function noSuchSnapshot(id: bigint | number | string): Error {
  return lakehouseError('NO_SUCH_SNAPSHOT', `snapshot does not exist: ${String(id)}`);
}

function toSnapshotId(id: bigint | number | string): bigint {
  try {
    return BigInt(id);
  } catch {
    throw lakehouseError('VALIDATION_FAILED', `invalid snapshot id: ${String(id)}`);
  }
}

/**
 * Loads the table, builds a commit from it and commits; on COMMIT_FAILED from the catalog,
 * reloads and rebuilds (errors thrown by `build` itself are not retried). `build` returning
 * null means there is nothing to change.
 */
async function commitWithRetry(
  catalog: Catalog,
  ident: TableIdent,
  build: (table: LoadedTable, attempt: number) => CommitRequest | null,
  opts: AdminOptions = {},
): Promise<LoadedTable> {
  const maxRetries = opts.maxRetries ?? 4;
  for (let attempt = 0; ; attempt++) {
    const table = await catalog.loadTable(ident);
    const request = build(table, attempt);
    if (request === null) return table;
    try {
      return await catalog.commitTable(ident, request);
    } catch (e) {
      if (!isLakehouseError(e, 'COMMIT_FAILED') || attempt >= maxRetries) throw e;
      await new Promise((r) => setTimeout(r, 5 * 2 ** attempt + Math.random() * 10));
    }
  }
}

function uuidReq(md: TableMetadata): TableRequirement {
  return { type: 'assert-table-uuid', uuid: md['table-uuid'] };
}

// ---------------------------------------------------------------------------------------------
// Schema evolution

/**
 * Java's `MappingUtil.update`: the mapping gains the new name of every renamed field and an entry
 * for every added one; names taken over by another field are removed from the old entry. Entries
 * of deleted fields stay (old files still carry those columns).
 */
export function updateNameMapping(mapping: NameMapping, type: IcebergType): NameMapping {
  const visit = (entries: MappedField[], t: IcebergType): MappedField[] => {
    const out = entries.map((e) => ({ ...e, names: [...e.names] }));
    const children = childFields(t);
    for (const f of children) {
      let entry = out.find((e) => e['field-id'] === f.id);
      if (!entry) {
        entry = { 'field-id': f.id, names: [f.name] };
        out.push(entry);
      } else if (!entry.names.includes(f.name)) {
        entry.names.push(f.name);
      }
      for (const other of out) {
        if (other !== entry) other.names = other.names.filter((n) => n !== f.name);
      }
      if (!isPrimitive(f.type)) entry.fields = visit(entry.fields ?? [], f.type);
    }
    return out.filter((e) => e.names.length > 0);
  };
  return visit(mapping, type);
}

/**
 * Evolves the current schema with Java's `UpdateSchema` semantics (the callback gets a
 * SchemaUpdate: addColumn, renameColumn, deleteColumn, updateColumnType, moveFirst/Before/After,
 * makeOptional, setIdentifierFields, …). Commits add-schema + set-current-schema, requiring the
 * current schema id and last assigned column id to be unchanged; a table's
 * `schema.name-mapping.default` is kept in sync (renamed and added columns).
 */
export async function evolveSchema(
  catalog: Catalog,
  ident: TableIdent,
  change: (u: SchemaUpdate) => void,
  opts: AdminOptions = {},
): Promise<LoadedTable> {
  let guard: { schemaId: number; lastColumnId: number } | undefined;
  return commitWithRetry(
    catalog,
    ident,
    ({ metadata: md }) => {
      if (guard && (guard.schemaId !== md['current-schema-id'] || guard.lastColumnId !== md['last-column-id'])) {
        throw lakehouseError('COMMIT_FAILED', `schema of ${identToString(ident)} changed concurrently`);
      }
      guard = { schemaId: md['current-schema-id'], lastColumnId: md['last-column-id'] };
      const update = SchemaUpdate.forTable(md);
      change(update);
      const { schema, lastColumnId } = update.apply();
      const updates: TableUpdate[] = [
        { action: 'add-schema', schema, 'last-column-id': lastColumnId },
        { action: 'set-current-schema', 'schema-id': LAST_ADDED },
      ];
      const mappingJson = md.properties[NAME_MAPPING_PROPERTY];
      if (mappingJson !== undefined) {
        let mapping: NameMapping;
        try {
          mapping = parseNameMapping(mappingJson);
        } catch (e) {
          throw lakehouseError('INVALID_METADATA', `invalid ${NAME_MAPPING_PROPERTY}: ${(e as Error).message}`);
        }
        const updated = JSON.stringify(updateNameMapping(mapping, schema));
        if (updated !== mappingJson) updates.push({ action: 'set-properties', updates: { [NAME_MAPPING_PROPERTY]: updated } });
      }
      return {
        requirements: [
          uuidReq(md),
          { type: 'assert-current-schema-id', 'current-schema-id': md['current-schema-id'] },
          { type: 'assert-last-assigned-field-id', 'last-assigned-field-id': md['last-column-id'] },
        ],
        updates,
      };
    },
    opts,
  );
}

// ---------------------------------------------------------------------------------------------
// Partition evolution

/**
 * Replaces the default partition spec with one built from expressions (`day(ts)`,
 * `bucket(8, id)`, `truncate(4, name)`, `col`, each optionally `AS name`; none = unpartitioned).
 * Fields equal to an earlier one (same source and transform) keep its field id; new ones get ids
 * after `last-partition-id`. On v1 tables removed fields stay as `void` fields in place (v1
 * partition field ids are positional), as Java does. Existing data keeps its spec.
 */
export async function updatePartitionSpec(catalog: Catalog, ident: TableIdent, exprs: string[], opts: AdminOptions = {}): Promise<LoadedTable> {
  let guard: { specId: number; lastPartitionId: number } | undefined;
  return commitWithRetry(
    catalog,
    ident,
    ({ metadata: md }) => {
      if (guard && (guard.specId !== md['default-spec-id'] || guard.lastPartitionId !== md['last-partition-id'])) {
        throw lakehouseError('COMMIT_FAILED', `partition spec of ${identToString(ident)} changed concurrently`);
      }
      guard = { specId: md['default-spec-id'], lastPartitionId: md['last-partition-id'] };
      const schema = currentSchema(md);
      const built = buildPartitionSpec(schema, exprs, { lastPartitionId: md['last-partition-id'], existingSpecs: md['partition-specs'] });
      let fields: UnboundPartitionField[];
      if (md['format-version'] === 1) {
        const current = defaultSpec(md);
        const same = (a: PartitionField, b: PartitionField) =>
          a['source-id'] === b['source-id'] && transformToString(parseTransform(a.transform)) === transformToString(parseTransform(b.transform));
        const taken = new Set(built.fields.map((f) => f.name));
        const kept: UnboundPartitionField[] = current.fields.map((f) => {
          const match = built.fields.find((b) => same(b, f));
          if (match) return { 'source-id': f['source-id'], name: match.name, transform: match.transform };
          const name = taken.has(f.name) ? `${f.name}_${f['field-id']}` : f.name;
          return { 'source-id': f['source-id'], name, transform: 'void' };
        });
        const added = built.fields
          .filter((b) => !current.fields.some((f) => same(b, f)))
          .map((b) => ({ 'source-id': b['source-id'], name: b.name, transform: b.transform }));
        fields = [...kept, ...added];
      } else {
        fields = built.fields.map((f) => ({ ...f }));
      }
      return {
        requirements: [
          uuidReq(md),
          { type: 'assert-default-spec-id', 'default-spec-id': md['default-spec-id'] },
          { type: 'assert-last-assigned-partition-id', 'last-assigned-partition-id': md['last-partition-id'] },
        ],
        updates: [
          { action: 'add-spec', spec: { fields } },
          { action: 'set-default-spec', 'spec-id': LAST_ADDED },
        ],
      };
    },
    opts,
  );
}

// ---------------------------------------------------------------------------------------------
// Properties and sort order

export async function setProperties(catalog: Catalog, ident: TableIdent, updates: Record<string, string>, opts: AdminOptions = {}): Promise<LoadedTable> {
  return commitWithRetry(catalog, ident, ({ metadata: md }) => ({ requirements: [uuidReq(md)], updates: [{ action: 'set-properties', updates: { ...updates } }] }), opts);
}

export async function removeProperties(catalog: Catalog, ident: TableIdent, keys: string[], opts: AdminOptions = {}): Promise<LoadedTable> {
  return commitWithRetry(catalog, ident, ({ metadata: md }) => ({ requirements: [uuidReq(md)], updates: [{ action: 'remove-properties', removals: [...keys] }] }), opts);
}

/** Parses `expr [ASC|DESC] [NULLS FIRST|NULLS LAST]` (expr as for partitions: `id`, `bucket(4, id)`, `day(ts)`). */
export function parseSortField(text: string, md: TableMetadata): SortField {
  const m = /^(.*?)(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?\s*$/is.exec(text.trim());
  if (!m || !m[1]) throw lakehouseError('VALIDATION_FAILED', `invalid sort field ${JSON.stringify(text)}`);
  const direction = (m[2]?.toLowerCase() ?? 'asc') as SortDirection;
  const nullOrder = (m[3] ? `nulls-${m[3].toLowerCase()}` : direction === 'asc' ? 'nulls-first' : 'nulls-last') as NullOrder;
  const expr = parsePartitionExpression(m[1]);
  const source = findFieldByName(currentSchema(md), expr.column);
  if (!source) throw lakehouseError('VALIDATION_FAILED', `cannot sort by ${text}: no such column ${expr.column}`);
  return { transform: transformToString(expr.transform), 'source-id': source.id, direction, 'null-order': nullOrder };
}

/** Replaces the default sort order (`[]` = unsorted). */
export async function replaceSortOrder(catalog: Catalog, ident: TableIdent, fields: string[], opts: AdminOptions = {}): Promise<LoadedTable> {
  return commitWithRetry(
    catalog,
    ident,
    ({ metadata: md }) => ({
      requirements: [uuidReq(md), { type: 'assert-default-sort-order-id', 'default-sort-order-id': md['default-sort-order-id'] }],
      updates: [
        { action: 'add-sort-order', 'sort-order': { 'order-id': fields.length > 0 ? 1 : 0, fields: fields.map((f) => parseSortField(f, md)) } },
        { action: 'set-default-sort-order', 'sort-order-id': LAST_ADDED },
      ],
    }),
    opts,
  );
}

// ---------------------------------------------------------------------------------------------
// Branches, tags, rollback

export interface RefRetention {
  minSnapshotsToKeep?: number;
  maxSnapshotAgeMs?: number;
  maxRefAgeMs?: number;
}

/** Snapshot ids from `id` back through its parents (as far as history is kept). */
export function ancestorIds(md: TableMetadata, id: bigint): bigint[] {
  const out: bigint[] = [];
  for (let s = snapshotById(md, id); s; s = s['parent-snapshot-id'] != null ? snapshotById(md, s['parent-snapshot-id']) : undefined) {
    out.push(s['snapshot-id']);
  }
  return out;
}

export function isAncestorOf(md: TableMetadata, snapshotId: bigint, ancestorId: bigint): boolean {
  return ancestorIds(md, snapshotId).includes(ancestorId);
}

function refUpdate(name: string, type: 'branch' | 'tag', snapshotId: bigint, retention: RefRetention = {}, existing?: SnapshotRef): TableUpdate {
  const u: TableUpdate = { action: 'set-snapshot-ref', 'ref-name': name, type, 'snapshot-id': snapshotId };
  const min = retention.minSnapshotsToKeep ?? existing?.['min-snapshots-to-keep'];
  const age = retention.maxSnapshotAgeMs ?? existing?.['max-snapshot-age-ms'];
  const refAge = retention.maxRefAgeMs ?? existing?.['max-ref-age-ms'];
  if (min !== undefined && type === 'branch') u['min-snapshots-to-keep'] = min;
  if (age !== undefined && type === 'branch') u['max-snapshot-age-ms'] = age;
  if (refAge !== undefined) u['max-ref-age-ms'] = refAge;
  return u;
}

async function createRef(
  catalog: Catalog,
  ident: TableIdent,
  type: 'branch' | 'tag',
  name: string,
  snapshotId: bigint | number | string | undefined,
  retention: RefRetention,
  opts: AdminOptions,
): Promise<LoadedTable> {
  if (typeof name !== 'string' || name === '') throw lakehouseError('VALIDATION_FAILED', `invalid ${type} name`);
  return commitWithRetry(
    catalog,
    ident,
    ({ metadata: md }) => {
      if (md.refs[name]) throw lakehouseError('ALREADY_EXISTS', `ref ${name} already exists in ${identToString(ident)}`);
      let id: bigint;
      if (snapshotId === undefined) {
        const current = currentSnapshot(md);
        if (!current) throw lakehouseError('NO_SUCH_SNAPSHOT', `cannot create ${type} ${name}: ${identToString(ident)} has no current snapshot`);
        id = current['snapshot-id'];
      } else {
        id = toSnapshotId(snapshotId);
        if (!snapshotById(md, id)) throw noSuchSnapshot(id);
      }
      return {
        requirements: [uuidReq(md), { type: 'assert-ref-snapshot-id', ref: name, 'snapshot-id': null }],
        updates: [refUpdate(name, type, id, retention)],
      };
    },
    opts,
  );
}

/** Creates a branch at a snapshot (default: the current one). ALREADY_EXISTS when the name is taken. */
export function createBranch(catalog: Catalog, ident: TableIdent, name: string, snapshotId?: bigint | number | string, retention: RefRetention = {}, opts: AdminOptions = {}): Promise<LoadedTable> {
  return createRef(catalog, ident, 'branch', name, snapshotId, retention, opts);
}

/** Creates a tag at a snapshot (default: the current one). ALREADY_EXISTS when the name is taken. */
export function createTag(catalog: Catalog, ident: TableIdent, name: string, snapshotId?: bigint | number | string, retention: Pick<RefRetention, 'maxRefAgeMs'> = {}, opts: AdminOptions = {}): Promise<LoadedTable> {
  return createRef(catalog, ident, 'tag', name, snapshotId, retention, opts);
}

/** Removes a branch or tag (not `main`). NO_SUCH_REF when it does not exist. */
export async function removeRef(catalog: Catalog, ident: TableIdent, name: string, opts: AdminOptions = {}): Promise<LoadedTable> {
  if (name === MAIN_BRANCH) throw lakehouseError('VALIDATION_FAILED', 'cannot remove the main branch');
  return commitWithRetry(
    catalog,
    ident,
    ({ metadata: md }) => {
      const ref = md.refs[name];
      if (!ref) throw lakehouseError('NO_SUCH_REF', `ref does not exist: ${name}`);
      return {
        requirements: [uuidReq(md), { type: 'assert-ref-snapshot-id', ref: name, 'snapshot-id': ref['snapshot-id'] }],
        updates: [{ action: 'remove-snapshot-ref', 'ref-name': name }],
      };
    },
    opts,
  );
}

/** Moves a branch (or tag) to another snapshot, keeping its retention settings. */
export async function replaceRef(catalog: Catalog, ident: TableIdent, name: string, snapshotId: bigint | number | string, opts: AdminOptions = {}): Promise<LoadedTable> {
  const id = toSnapshotId(snapshotId);
  return commitWithRetry(
    catalog,
    ident,
    ({ metadata: md }) => {
      const ref = md.refs[name];
      if (!ref) throw lakehouseError('NO_SUCH_REF', `ref does not exist: ${name}`);
      if (!snapshotById(md, id)) throw noSuchSnapshot(id);
      if (ref['snapshot-id'] === id) return null;
      return {
        requirements: [uuidReq(md), { type: 'assert-ref-snapshot-id', ref: name, 'snapshot-id': ref['snapshot-id'] }],
        updates: [refUpdate(name, ref.type, id, {}, ref)],
      };
    },
    opts,
  );
}

/**
 * Java's `fastForwardBranch(branch, to)`: moves `branch` to the head of ref `to`, which must
 * descend from the branch's head. A missing `branch` is created at `to`'s head.
 */
export async function fastForward(catalog: Catalog, ident: TableIdent, branch: string, to: string, opts: AdminOptions = {}): Promise<LoadedTable> {
  return commitWithRetry(
    catalog,
    ident,
    ({ metadata: md }) => {
      const target = md.refs[to];
      if (!target) throw lakehouseError('NO_SUCH_REF', `ref does not exist: ${to}`);
      const ref = md.refs[branch];
      if (ref && ref.type !== 'branch') throw lakehouseError('VALIDATION_FAILED', `${branch} is a tag, not a branch`);
      if (ref?.['snapshot-id'] === target['snapshot-id']) return null;
      if (ref && !isAncestorOf(md, target['snapshot-id'], ref['snapshot-id'])) {
        throw lakehouseError('VALIDATION_FAILED', `cannot fast-forward ${branch}: its head ${ref['snapshot-id']} is not an ancestor of ${to} (${target['snapshot-id']})`);
      }
      return {
        requirements: [uuidReq(md), { type: 'assert-ref-snapshot-id', ref: branch, 'snapshot-id': ref?.['snapshot-id'] ?? null }],
        updates: [refUpdate(branch, 'branch', target['snapshot-id'], {}, ref)],
      };
    },
    opts,
  );
}

function setMain(md: TableMetadata, id: bigint): CommitRequest {
  return {
    requirements: [uuidReq(md), { type: 'assert-ref-snapshot-id', ref: MAIN_BRANCH, 'snapshot-id': md.refs[MAIN_BRANCH]?.['snapshot-id'] ?? null }],
    updates: [refUpdate(MAIN_BRANCH, 'branch', id, {}, md.refs[MAIN_BRANCH])],
  };
}

/** Rolls main back to an ancestor of its current snapshot (VALIDATION_FAILED otherwise). */
export async function rollbackTo(catalog: Catalog, ident: TableIdent, snapshotId: bigint | number | string, opts: AdminOptions = {}): Promise<LoadedTable> {
  const id = toSnapshotId(snapshotId);
  return commitWithRetry(
    catalog,
    ident,
    ({ metadata: md }) => {
      if (!snapshotById(md, id)) throw noSuchSnapshot(id);
      const current = md['current-snapshot-id'];
      if (current === id) return null;
      if (current === null || !isAncestorOf(md, current, id)) {
        throw lakehouseError('VALIDATION_FAILED', `cannot roll back to snapshot ${id}: not an ancestor of the current snapshot ${current}`);
      }
      return setMain(md, id);
    },
    opts,
  );
}

/** Java's `rollbackToTime`: main goes back to its latest ancestor committed before `timestampMs`. */
export async function rollbackToTime(catalog: Catalog, ident: TableIdent, timestampMs: number, opts: AdminOptions = {}): Promise<LoadedTable> {
  return commitWithRetry(
    catalog,
    ident,
    ({ metadata: md }) => {
      const current = md['current-snapshot-id'];
      const target = current === null ? undefined : ancestorIds(md, current).map((i) => snapshotById(md, i)!).find((s) => s['timestamp-ms'] < timestampMs);
      if (!target) throw lakehouseError('NO_SUCH_SNAPSHOT', `no ancestor of the current snapshot is older than ${timestampMs}`);
      if (target['snapshot-id'] === current) return null;
      return setMain(md, target['snapshot-id']);
    },
    opts,
  );
}

/** Makes any snapshot of the table the current one (main's head), ancestor or not. */
export async function setCurrentSnapshot(catalog: Catalog, ident: TableIdent, snapshotId: bigint | number | string, opts: AdminOptions = {}): Promise<LoadedTable> {
  const id = toSnapshotId(snapshotId);
  return commitWithRetry(
    catalog,
    ident,
    ({ metadata: md }) => {
      if (!snapshotById(md, id)) throw noSuchSnapshot(id);
      if (md['current-snapshot-id'] === id) return null;
      return setMain(md, id);
    },
    opts,
  );
}

// ---------------------------------------------------------------------------------------------
// Time travel

export interface SnapshotSelector {
  snapshotId?: bigint | number | string;
  /** The snapshot that was current at this time (the snapshot log: latest entry at or before it). */
  asOfTimestampMs?: number;
  /** A branch or tag name: its head. */
  ref?: string;
}

/**
 * The snapshot a time-travel read selects: by id, by time (via the snapshot log), or by branch /
 * tag name; with no selector, the current snapshot. At most one selector may be given. Throws
 * NO_SUCH_SNAPSHOT / NO_SUCH_REF.
 */
export function resolveSnapshot(md: TableMetadata, sel: SnapshotSelector = {}): Snapshot {
  const given = [sel.snapshotId !== undefined, sel.asOfTimestampMs !== undefined, sel.ref !== undefined].filter(Boolean).length;
  if (given > 1) throw lakehouseError('VALIDATION_FAILED', 'select a snapshot by one of snapshot id, timestamp or ref');
  if (sel.snapshotId !== undefined) {
    const id = toSnapshotId(sel.snapshotId);
    const s = snapshotById(md, id);
    if (!s) throw noSuchSnapshot(id);
    return s;
  }
  if (sel.asOfTimestampMs !== undefined) {
    const s = snapshotAsOf(md, sel.asOfTimestampMs);
    if (!s) throw lakehouseError('NO_SUCH_SNAPSHOT', `no snapshot as of ${new Date(sel.asOfTimestampMs).toISOString()} (${sel.asOfTimestampMs})`);
    return s;
  }
  if (sel.ref !== undefined) {
    const ref = md.refs[sel.ref];
    if (!ref) throw lakehouseError('NO_SUCH_REF', `ref does not exist: ${sel.ref}`);
    const s = snapshotById(md, ref['snapshot-id']);
    if (!s) throw noSuchSnapshot(ref['snapshot-id']);
    return s;
  }
  const s = currentSnapshot(md);
  if (!s) throw lakehouseError('NO_SUCH_SNAPSHOT', 'the table has no current snapshot');
  return s;
}

/** Binds a catalog table as of a snapshot selector as a DuckDB view (the snapshot's schema for time travel). */
export async function bindTableAt(duck: Duck, viewName: string, table: LoadedTable, sel: SnapshotSelector): Promise<Snapshot> {
  const snapshot = resolveSnapshot(table.metadata, sel);
  const md = table.metadata;
  await registerTableView(duck, viewName, { io: table.io, metadata: md, resolve: tableResolver(table) }, snapshot);
  return snapshot;
}
