import { lakehouseError, type LakehouseError } from '../core/errors.js';
import { toBigInt } from '../core/json.js';
import { MAX_FORMAT_VERSION, type TableMetadata } from './metadata.js';
import { PARTITION_DATA_ID_START, type PartitionField, type PartitionSpec } from './partition.js';
import { checkUniqueNames, assignFreshSchemaIds, validateIdentifierFields } from './schema-evolution.js';
import { highestFieldId, indexById, parseSchema, type Schema } from './schema.js';
import { MAIN_BRANCH, parseSnapshot, type Snapshot, type SnapshotRef } from './snapshot.js';
import { parseSortOrder, type SortField, type SortOrder } from './sort-order.js';
import { canTransform, parseTransform, transformToString } from './transforms.js';
import { isList, isMap, isPrimitive, typeToString, type StructType } from './types.js';

/**
 * Table metadata changes of the REST catalog spec (`TableUpdate` in rest-catalog-open-api.yaml),
 * in their JSON shape, and a metadata builder applying them with the semantics of Java's
 * `TableMetadata.Builder` (see `applyUpdates`).
 */

// ---------------------------------------------------------------------------------------------
// Types

/** A partition field as clients send it: `field-id` may be left for the catalog to assign. */
export interface UnboundPartitionField {
  'source-id': number;
  'field-id'?: number;
  name: string;
  transform: string;
  'source-ids'?: number[];
}

export interface UnboundPartitionSpec {
  'spec-id'?: number;
  fields: UnboundPartitionField[];
}

export interface BlobMetadata {
  type: string;
  'snapshot-id': bigint;
  'sequence-number': number;
  fields: number[];
  properties?: Record<string, string>;
}

/** Spec "Table Statistics": a Puffin file of statistics for one snapshot. */
export interface StatisticsFile {
  'snapshot-id': bigint;
  'statistics-path': string;
  'file-size-in-bytes': number;
  'file-footer-size-in-bytes': number;
  'key-metadata'?: string;
  'blob-metadata': BlobMetadata[];
}

/** Spec "Partition Statistics". */
export interface PartitionStatisticsFile {
  'snapshot-id': bigint;
  'statistics-path': string;
  'file-size-in-bytes': number;
}

export type SetSnapshotRefUpdate = { action: 'set-snapshot-ref'; 'ref-name': string } & SnapshotRef;

export type TableUpdate =
  | { action: 'assign-uuid'; uuid: string }
  | { action: 'upgrade-format-version'; 'format-version': number }
  /** `last-column-id` is deprecated in the REST spec; when given it may only raise the table's. */
  | { action: 'add-schema'; schema: Schema; 'last-column-id'?: number }
  /** -1 = the schema added last in this change set. */
  | { action: 'set-current-schema'; 'schema-id': number }
  | { action: 'add-spec'; spec: UnboundPartitionSpec }
  /** -1 = the spec added last in this change set. */
  | { action: 'set-default-spec'; 'spec-id': number }
  | { action: 'add-sort-order'; 'sort-order': SortOrder }
  /** -1 = the sort order added last in this change set. */
  | { action: 'set-default-sort-order'; 'sort-order-id': number }
  | { action: 'add-snapshot'; snapshot: Snapshot }
  | SetSnapshotRefUpdate
  | { action: 'remove-snapshots'; 'snapshot-ids': bigint[] }
  | { action: 'remove-snapshot-ref'; 'ref-name': string }
  | { action: 'set-location'; location: string }
  | { action: 'set-properties'; updates: Record<string, string> }
  | { action: 'remove-properties'; removals: string[] }
  /** The top-level `snapshot-id` is deprecated (redundant with `statistics.snapshot-id`). */
  | { action: 'set-statistics'; 'snapshot-id'?: bigint; statistics: StatisticsFile }
  | { action: 'remove-statistics'; 'snapshot-id': bigint }
  | { action: 'set-partition-statistics'; 'partition-statistics': PartitionStatisticsFile }
  | { action: 'remove-partition-statistics'; 'snapshot-id': bigint }
  | { action: 'remove-partition-specs'; 'spec-ids': number[] }
  | { action: 'remove-schemas'; 'schema-ids': number[] };

export type TableUpdateAction = TableUpdate['action'];

/** Pseudo-id of set-current-schema / set-default-spec / set-default-sort-order: "the one added last". */
export const LAST_ADDED = -1;

/** Properties that drive metadata fields instead of being stored (Java `TableProperties.RESERVED_PROPERTIES`). */
export const RESERVED_PROPERTIES = new Set([
  'format-version', 'uuid', 'snapshot-count', 'current-snapshot-id', 'current-snapshot-summary',
  'current-snapshot-timestamp-ms', 'current-schema', 'default-partition-spec', 'default-sort-order',
]);

export const METADATA_PREVIOUS_VERSIONS_MAX = 'write.metadata.previous-versions-max';
export const METADATA_PREVIOUS_VERSIONS_MAX_DEFAULT = 100;

// ---------------------------------------------------------------------------------------------
// Parsing untrusted JSON

function bad(message: string): LakehouseError {
  return lakehouseError('BAD_REQUEST', message);
}

function invalid(message: string): LakehouseError {
  return lakehouseError('VALIDATION_FAILED', message);
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

class Reader {
  constructor(readonly o: Obj, readonly where: string) {}

  private missing(key: string): LakehouseError {
    return bad(`${this.where}: missing ${key}`);
  }

  has(key: string): boolean {
    return this.o[key] !== undefined && this.o[key] !== null;
  }

  str(key: string): string {
    const v = this.o[key];
    if (v === undefined || v === null) throw this.missing(key);
    if (typeof v !== 'string') throw bad(`${this.where}: ${key} must be a string`);
    return v;
  }

  int(key: string): number {
    const v = this.o[key];
    if (v === undefined || v === null) throw this.missing(key);
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    throw bad(`${this.where}: ${key} must be an integer, got ${JSON.stringify(String(v))}`);
  }

  /** A 64-bit integer that fits a JS number (sizes, lengths). */
  long(key: string): number {
    const v = this.o[key];
    if (typeof v === 'bigint') return Number(v);
    return this.int(key);
  }

  id(key: string): bigint {
    const v = this.o[key];
    if (v === undefined || v === null) throw this.missing(key);
    try {
      return toBigInt(v, key);
    } catch {
      throw bad(`${this.where}: ${key} must be an integer, got ${JSON.stringify(String(v))}`);
    }
  }

  obj(key: string): Obj {
    const v = this.o[key];
    if (v === undefined || v === null) throw this.missing(key);
    if (!isObj(v)) throw bad(`${this.where}: ${key} must be an object`);
    return v;
  }

  arr(key: string): unknown[] {
    const v = this.o[key];
    if (v === undefined || v === null) throw this.missing(key);
    if (!Array.isArray(v)) throw bad(`${this.where}: ${key} must be an array`);
    return v;
  }

  ints(key: string): number[] {
    return this.arr(key).map((v, i) => {
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      throw bad(`${this.where}: ${key}[${i}] must be an integer`);
    });
  }

  ids(key: string): bigint[] {
    return this.arr(key).map((v, i) => {
      try {
        return toBigInt(v, key);
      } catch {
        throw bad(`${this.where}: ${key}[${i}] must be an integer`);
      }
    });
  }

  strings(key: string): string[] {
    return this.arr(key).map((v, i) => {
      if (typeof v !== 'string') throw bad(`${this.where}: ${key}[${i}] must be a string`);
      return v;
    });
  }

  stringMap(key: string): Record<string, string> {
    const o = this.obj(key);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) {
      if (typeof v !== 'string') throw bad(`${this.where}: ${key}.${k} must be a string`);
      out[k] = v;
    }
    return out;
  }
}

/** Re-raises a metadata parser's error as a 400 for the request. */
function rewrap<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Error && 'code' in e) throw bad(`${where}: ${e.message}`);
    throw e;
  }
}

const OPERATIONS = new Set(['append', 'replace', 'overwrite', 'delete']);

function parseUnboundSpec(json: unknown, where: string): UnboundPartitionSpec {
  if (!isObj(json)) throw bad(`${where}: must be an object`);
  const r = new Reader(json, where);
  const spec: UnboundPartitionSpec = {
    fields: r.arr('fields').map((raw, i) => {
      const at = `${where}.fields[${i}]`;
      if (!isObj(raw)) throw bad(`${at}: must be an object`);
      const f = new Reader(raw, at);
      let sourceId: number;
      let sourceIds: number[] | undefined;
      if (f.has('source-id')) sourceId = f.int('source-id');
      else if (f.has('source-ids')) {
        sourceIds = f.ints('source-ids');
        if (sourceIds.length === 0) throw bad(`${at}: source-ids must not be empty`);
        sourceId = sourceIds[0];
      } else throw bad(`${at}: missing source-id`);
      const transform = f.str('transform');
      rewrap(at, () => parseTransform(transform));
      const field: UnboundPartitionField = { 'source-id': sourceId, name: f.str('name'), transform };
      if (f.has('field-id')) field['field-id'] = f.int('field-id');
      if (sourceIds && sourceIds.length > 1) field['source-ids'] = sourceIds;
      return field;
    }),
  };
  if (r.has('spec-id')) spec['spec-id'] = r.int('spec-id');
  return spec;
}

function parseStatisticsFile(json: unknown, where: string): StatisticsFile {
  if (!isObj(json)) throw bad(`${where}: must be an object`);
  const r = new Reader(json, where);
  const file: StatisticsFile = {
    'snapshot-id': r.id('snapshot-id'),
    'statistics-path': r.str('statistics-path'),
    'file-size-in-bytes': r.long('file-size-in-bytes'),
    'file-footer-size-in-bytes': r.long('file-footer-size-in-bytes'),
    'blob-metadata': r.arr('blob-metadata').map((raw, i) => {
      const at = `${where}.blob-metadata[${i}]`;
      if (!isObj(raw)) throw bad(`${at}: must be an object`);
      const b = new Reader(raw, at);
      const blob: BlobMetadata = {
        type: b.str('type'),
        'snapshot-id': b.id('snapshot-id'),
        'sequence-number': b.long('sequence-number'),
        fields: b.ints('fields'),
      };
      if (b.has('properties')) blob.properties = b.stringMap('properties');
      return blob;
    }),
  };
  if (r.has('key-metadata')) file['key-metadata'] = r.str('key-metadata');
  return file;
}

function parsePartitionStatisticsFile(json: unknown, where: string): PartitionStatisticsFile {
  if (!isObj(json)) throw bad(`${where}: must be an object`);
  const r = new Reader(json, where);
  return { 'snapshot-id': r.id('snapshot-id'), 'statistics-path': r.str('statistics-path'), 'file-size-in-bytes': r.long('file-size-in-bytes') };
}

/**
 * Validates one update of an untrusted commit request. Malformed JSON is BAD_REQUEST; actions
 * this catalog does not support for tables are BAD_REQUEST / UNSUPPORTED_OPERATION.
 */
export function parseTableUpdate(json: unknown): TableUpdate {
  if (!isObj(json)) throw bad('Invalid table update: expected a JSON object');
  const action = json.action;
  if (typeof action !== 'string') throw bad('Invalid table update: missing action');
  const r = new Reader(json, action);
  switch (action) {
    case 'assign-uuid':
      return { action, uuid: r.str('uuid') };
    case 'upgrade-format-version':
      return { action, 'format-version': r.int('format-version') };
    case 'add-schema': {
      const raw = r.obj('schema');
      const schema = rewrap(`${action}.schema`, () => parseSchema(raw, 'schema'));
      const u: TableUpdate = { action, schema };
      if (r.has('last-column-id')) u['last-column-id'] = r.int('last-column-id');
      return u;
    }
    case 'set-current-schema':
      return { action, 'schema-id': r.int('schema-id') };
    case 'add-spec':
      return { action, spec: parseUnboundSpec(r.obj('spec'), `${action}.spec`) };
    case 'set-default-spec':
      return { action, 'spec-id': r.int('spec-id') };
    case 'add-sort-order': {
      const raw = { ...r.obj('sort-order') };
      // order-id is assigned by the catalog; tolerate clients that leave it out.
      if (raw['order-id'] === undefined) raw['order-id'] = Array.isArray(raw.fields) && raw.fields.length > 0 ? 1 : 0;
      return { action, 'sort-order': rewrap(`${action}.sort-order`, () => parseSortOrder(raw, 'sort-order')) };
    }
    case 'set-default-sort-order':
      return { action, 'sort-order-id': r.int('sort-order-id') };
    case 'add-snapshot': {
      const raw = r.obj('snapshot');
      const snapshot = rewrap(`${action}.snapshot`, () => parseSnapshot(raw, 'snapshot'));
      if (!OPERATIONS.has(snapshot.summary.operation)) {
        throw bad(`${action}.snapshot: summary.operation must be one of append, replace, overwrite, delete`);
      }
      return { action, snapshot };
    }
    case 'set-snapshot-ref': {
      const type = r.str('type').toLowerCase();
      if (type !== 'branch' && type !== 'tag') throw bad(`${action}: type must be branch or tag`);
      const u: SetSnapshotRefUpdate = { action, 'ref-name': r.str('ref-name'), 'snapshot-id': r.id('snapshot-id'), type };
      if (r.has('min-snapshots-to-keep')) u['min-snapshots-to-keep'] = r.int('min-snapshots-to-keep');
      if (r.has('max-snapshot-age-ms')) u['max-snapshot-age-ms'] = r.long('max-snapshot-age-ms');
      if (r.has('max-ref-age-ms')) u['max-ref-age-ms'] = r.long('max-ref-age-ms');
      return u;
    }
    case 'remove-snapshots':
      return { action, 'snapshot-ids': r.ids('snapshot-ids') };
    case 'remove-snapshot-ref':
      return { action, 'ref-name': r.str('ref-name') };
    case 'set-location':
      return { action, location: r.str('location') };
    case 'set-properties':
      return { action, updates: r.stringMap('updates') };
    case 'remove-properties':
      return { action, removals: r.strings('removals') };
    case 'set-statistics': {
      const statistics = parseStatisticsFile(r.obj('statistics'), `${action}.statistics`);
      const u: TableUpdate = { action, statistics };
      if (r.has('snapshot-id')) {
        u['snapshot-id'] = r.id('snapshot-id');
        if (u['snapshot-id'] !== statistics['snapshot-id']) {
          throw bad(`${action}: snapshot-id ${u['snapshot-id']} does not match statistics.snapshot-id ${statistics['snapshot-id']}`);
        }
      }
      return u;
    }
    case 'remove-statistics':
      return { action, 'snapshot-id': r.id('snapshot-id') };
    case 'set-partition-statistics':
      return { action, 'partition-statistics': parsePartitionStatisticsFile(r.obj('partition-statistics'), `${action}.partition-statistics`) };
    case 'remove-partition-statistics':
      return { action, 'snapshot-id': r.id('snapshot-id') };
    case 'remove-partition-specs':
      return { action, 'spec-ids': r.ints('spec-ids') };
    case 'remove-schemas':
      return { action, 'schema-ids': r.ints('schema-ids') };
    case 'add-view-version':
    case 'set-current-view-version':
      throw bad(`Cannot apply update ${action} to a table`);
    case 'add-encryption-key':
    case 'remove-encryption-key':
      throw lakehouseError('UNSUPPORTED_OPERATION', `Table update ${action} is not supported: this catalog does not manage encryption keys`);
    default:
      throw bad(`Unknown table update action: ${action}`);
  }
}

/** Parses a request's `updates` array; errors name the offending index. */
export function parseTableUpdates(json: unknown): TableUpdate[] {
  if (json === undefined || json === null) return [];
  if (!Array.isArray(json)) throw bad('Invalid commit request: updates must be an array');
  return json.map((u, i) => {
    try {
      return parseTableUpdate(u);
    } catch (e) {
      if (e instanceof Error && 'code' in e) throw lakehouseError((e as LakehouseError).code, `updates[${i}]: ${e.message}`);
      throw e;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Order-insensitive structural key (bigint and number of equal value compare equal). */
function canon(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'bigint') return v.toString();
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
  const o = v as Obj;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canon(o[k])}`).join(',')}}`;
}

/** Java's `Schema.sameSchema`: same fields (ids, names, types, docs, defaults) and identifier fields. */
export function sameSchema(a: Schema, b: Schema): boolean {
  const ids = (s: Schema) => [...(s['identifier-field-ids'] ?? [])].sort((x, y) => x - y);
  return canon(a.fields) === canon(b.fields) && canon(ids(a)) === canon(ids(b));
}

function normalizeTransform(t: string): string {
  return transformToString(parseTransform(t));
}

/** Java's `PartitionSpec.compatibleWith`: same source, transform and name per field (ids aside). */
function compatibleSpec(a: { fields: UnboundPartitionField[] }, b: { fields: UnboundPartitionField[] }): boolean {
  return (
    a.fields.length === b.fields.length &&
    a.fields.every((f, i) => {
      const g = b.fields[i];
      return f['source-id'] === g['source-id'] && f.name === g.name && normalizeTransform(f.transform) === normalizeTransform(g.transform);
    })
  );
}

function sameOrder(a: SortOrder, b: SortOrder): boolean {
  const key = (o: SortOrder) => canon(o.fields.map((f) => ({ ...f, transform: normalizeTransform(f.transform) })));
  return key(a) === key(b);
}

const V3_TYPES = new Set(['timestamp_ns', 'timestamptz_ns', 'unknown', 'variant', 'geometry', 'geography']);

/** Java's `Schema.checkCompatibility`: v3 types and non-null initial defaults need format v3. */
export function checkSchemaCompatibility(schema: Schema, formatVersion: number): void {
  const problems: string[] = [];
  for (const { field, path } of indexById(schema).values()) {
    const base = isPrimitive(field.type) ? field.type.replace(/\(.*$/, '') : '';
    if (V3_TYPES.has(base) && formatVersion < 3) problems.push(`Invalid type for ${path}: ${field.type} is not supported until v3`);
    if (field['initial-default'] !== undefined && field['initial-default'] !== null && formatVersion < 3) {
      problems.push(`Invalid initial default for ${path}: non-null default (${canon(field['initial-default'])}) is not supported until v3`);
    }
  }
  if (problems.length > 0) throw invalid(`Invalid schema for v${formatVersion}:\n- ${problems.join('\n- ')}`);
}

/** Validates a schema's structure: unique ids, unique names per struct, valid identifier fields. */
function checkSchemaStructure(schema: Schema): void {
  try {
    indexById(schema);
  } catch (e) {
    throw invalid(`Invalid schema: ${(e as Error).message}`);
  }
  checkUniqueNames(schema);
  validateIdentifierFields(schema, schema['identifier-field-ids'] ?? []);
}

/**
 * Java's `PartitionSpec.checkCompatibility` / `SortOrder.checkCompatibility`: a source column
 * exists (a `void` partition field may outlive it), is primitive and accepts the transform.
 */
function checkSource(kind: 'partition' | 'sort', sourceId: number, transform: string, schema: StructType, label: string): void {
  const index = indexById(schema);
  const t = parseTransform(transform);
  const source = index.get(sourceId);
  if (!source) {
    if (kind === 'partition' && t.kind === 'void') return;
    throw invalid(`Cannot find source column for ${kind} field: ${label}`);
  }
  if (!isPrimitive(source.field.type)) {
    throw invalid(`Cannot ${kind} by non-primitive source field: ${source.path} (${typeToString(source.field.type)})`);
  }
  for (let p = source.parentId; p !== null; p = index.get(p)!.parentId) {
    const pt = index.get(p)!.field.type;
    if (isList(pt) || isMap(pt)) throw invalid(`Cannot ${kind} by field nested in a list or map: ${source.path}`);
  }
  if (t.kind !== 'unknown' && !canTransform(t, source.field.type)) {
    throw invalid(`Invalid source type ${source.field.type} for transform: ${transform} (${kind} field ${label})`);
  }
}

function checkSpecCompatibility(spec: { 'spec-id'?: number; fields: UnboundPartitionField[] }, schema: StructType): void {
  for (const f of spec.fields) {
    checkSource('partition', f['source-id'], f.transform, schema, `${f['field-id'] ?? '?'}: ${f.name}: ${f.transform}(${f['source-id']})`);
  }
}

function checkOrderCompatibility(order: SortOrder, schema: StructType): void {
  for (const f of order.fields) {
    checkSource('sort', f['source-id'], f.transform, schema, `${f.transform}(${f['source-id']}) ${f.direction} ${f['null-order']}`);
  }
}

function statSnapshotId(entry: unknown): bigint | undefined {
  if (!isObj(entry)) return undefined;
  try {
    return toBigInt(entry['snapshot-id']);
  } catch {
    return undefined;
  }
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------------------------
// Builder

export interface ApplyUpdatesOptions {
  /** The commit time: `last-updated-ms`, and the snapshot-log time of a rollback. Default: now. */
  nowMs?: number;
  /** Location of `base`'s metadata file; recorded in `metadata-log` when given. */
  metadataLocation?: string;
}

class MetadataBuilder {
  readonly md: TableMetadata;
  /** Effective changes, in order (no-ops are not recorded). */
  readonly changes: TableUpdate[] = [];
  private lastAddedSchemaId: number | undefined;
  private lastAddedSpecId: number | undefined;
  private lastAddedOrderId: number | undefined;
  private readonly addedSnapshotIds = new Set<bigint>();
  private removedSnapshots = false;

  constructor(
    private readonly base: TableMetadata | null,
    initialFormatVersion: number,
    private readonly now: number,
  ) {
    if (base) {
      this.md = {
        ...base,
        schemas: [...base.schemas],
        'partition-specs': [...base['partition-specs']],
        'sort-orders': [...base['sort-orders']],
        properties: { ...base.properties },
        snapshots: [...base.snapshots],
        'snapshot-log': [...base['snapshot-log']],
        'metadata-log': [...base['metadata-log']],
        refs: { ...base.refs },
      };
      if (base.statistics) this.md.statistics = [...base.statistics];
      if (base['partition-statistics']) this.md['partition-statistics'] = [...base['partition-statistics']];
    } else {
      // Java's `TableMetadata.buildFromEmpty(formatVersion)`.
      this.md = {
        'format-version': initialFormatVersion as 1 | 2,
        'table-uuid': crypto.randomUUID(),
        location: '',
        'last-sequence-number': 0,
        'last-updated-ms': now,
        'last-column-id': 0,
        schemas: [],
        'current-schema-id': 0,
        'partition-specs': [],
        'default-spec-id': 0,
        'last-partition-id': PARTITION_DATA_ID_START - 1,
        properties: {},
        'current-snapshot-id': null,
        snapshots: [],
        'snapshot-log': [],
        'metadata-log': [],
        'sort-orders': [],
        'default-sort-order-id': 0,
        refs: {},
      };
    }
  }

  private currentSchema(what: string): Schema {
    const s = this.md.schemas.find((x) => x['schema-id'] === this.md['current-schema-id']);
    if (!s) throw invalid(`Cannot add ${what}: the table has no current schema (add a schema and set it current first)`);
    return s;
  }

  apply(u: TableUpdate): void {
    switch (u.action) {
      case 'assign-uuid': return this.assignUuid(u.uuid);
      case 'upgrade-format-version': return this.upgradeFormatVersion(u['format-version']);
      case 'add-schema': return this.addSchema(u.schema, u['last-column-id']);
      case 'set-current-schema': return this.setCurrentSchema(u['schema-id']);
      case 'add-spec': return this.addSpec(u.spec);
      case 'set-default-spec': return this.setDefaultSpec(u['spec-id']);
      case 'add-sort-order': return this.addSortOrder(u['sort-order']);
      case 'set-default-sort-order': return this.setDefaultSortOrder(u['sort-order-id']);
      case 'add-snapshot': return this.addSnapshot(u.snapshot);
      case 'set-snapshot-ref': return this.setRef(u);
      case 'remove-snapshots': return this.removeSnapshots(u['snapshot-ids']);
      case 'remove-snapshot-ref': return this.removeRef(u['ref-name']);
      case 'set-location': return this.setLocation(u.location);
      case 'set-properties': return this.setProperties(u.updates);
      case 'remove-properties': return this.removeProperties(u.removals);
      case 'set-statistics': return this.setStatistics(u.statistics);
      case 'remove-statistics': return this.removeStatistics(u['snapshot-id'], u);
      case 'set-partition-statistics': return this.setPartitionStatistics(u['partition-statistics']);
      case 'remove-partition-statistics': return this.removePartitionStatistics(u['snapshot-id'], u);
      case 'remove-partition-specs': return this.removeSpecs(u['spec-ids']);
      case 'remove-schemas': return this.removeSchemas(u['schema-ids']);
      default:
        throw bad(`Unknown table update action: ${(u as { action: unknown }).action}`);
    }
  }

  private assignUuid(uuid: string): void {
    if (typeof uuid !== 'string' || !UUID_RE.test(uuid)) throw invalid(`Cannot assign invalid table UUID: ${uuid}`);
    if (uuid.toLowerCase() === this.md['table-uuid'].toLowerCase()) return;
    // The REST spec: assigning a UUID is only safe while creating the table.
    if (this.base) throw invalid(`Cannot reassign the UUID of an existing table: ${this.md['table-uuid']} -> ${uuid}`);
    this.md['table-uuid'] = uuid;
    this.changes.push({ action: 'assign-uuid', uuid });
  }

  private upgradeFormatVersion(v: number): void {
    if (!Number.isInteger(v) || v < 1) throw invalid(`Invalid format version: ${v}`);
    if (v > MAX_FORMAT_VERSION) {
      throw lakehouseError(
        'UNSUPPORTED_FORMAT_VERSION',
        `Cannot upgrade table to unsupported format version: v${v} (supported: v${MAX_FORMAT_VERSION})`,
      );
    }
    const current = this.md['format-version'];
    if (v < current) throw invalid(`Cannot downgrade v${current} table to v${v}`);
    if (v === current) return;
    this.md['format-version'] = v as 1 | 2;
    this.changes.push({ action: 'upgrade-format-version', 'format-version': v });
  }

  private addSchema(schema: Schema, lastColumnId: number | undefined): void {
    checkSchemaStructure(schema);
    checkSchemaCompatibility(schema, this.md['format-version']);
    const last = this.md['last-column-id'];
    if (lastColumnId !== undefined && lastColumnId < last) {
      throw invalid(`Invalid last column ID: ${lastColumnId} < ${last} (previous last column ID)`);
    }
    const newLast = Math.max(lastColumnId ?? last, highestFieldId(schema));

    const existing = this.md.schemas.find((s) => sameSchema(s, schema));
    if (existing) {
      // Reuse the identical schema; -1 now means it.
      this.lastAddedSchemaId = existing['schema-id'];
      if (newLast > last) {
        this.md['last-column-id'] = newLast;
        this.changes.push({ action: 'add-schema', schema: existing, 'last-column-id': newLast });
      }
      return;
    }
    const id = this.md.schemas.length === 0 ? 0 : Math.max(...this.md.schemas.map((s) => s['schema-id'])) + 1;
    const added: Schema = { ...schema, 'schema-id': id };
    this.md.schemas.push(added);
    this.md['last-column-id'] = newLast;
    this.lastAddedSchemaId = id;
    this.changes.push({ action: 'add-schema', schema: added, 'last-column-id': newLast });
  }

  private setCurrentSchema(schemaId: number): void {
    let id = schemaId;
    if (id === LAST_ADDED) {
      if (this.lastAddedSchemaId === undefined) throw invalid('Cannot set last added schema: no schema has been added');
      id = this.lastAddedSchemaId;
    }
    if (id === this.md['current-schema-id'] && this.md.schemas.some((s) => s['schema-id'] === id)) return;
    if (!this.md.schemas.some((s) => s['schema-id'] === id)) throw invalid(`Cannot set current schema to unknown schema: ${id}`);
    this.md['current-schema-id'] = id;
    this.changes.push({ action: 'set-current-schema', 'schema-id': id });
  }

  private addSpec(unbound: UnboundPartitionSpec): void {
    const schema = this.currentSchema('a partition spec');
    const v1 = this.md['format-version'] === 1;
    // Unassigned field ids: v1 numbers fields by position; v2 reuses the id of an equivalent
    // field (same source and transform) of an earlier spec, else takes the next unused id.
    const explicit = unbound.fields.flatMap((f) => (f['field-id'] === undefined ? [] : [f['field-id']]));
    let next = Math.max(this.md['last-partition-id'], ...explicit);
    const used = new Set(explicit);
    const fields: PartitionField[] = unbound.fields.map((f, i) => {
      const transform = normalizeTransform(f.transform);
      let fieldId = f['field-id'];
      if (fieldId === undefined) {
        if (v1) fieldId = PARTITION_DATA_ID_START + i;
        else {
          const reuse = this.md['partition-specs']
            .flatMap((s) => s.fields)
            .find((g) => g['source-id'] === f['source-id'] && normalizeTransform(g.transform) === transform && !used.has(g['field-id']));
          fieldId = reuse ? reuse['field-id'] : ++next;
        }
        used.add(fieldId);
      }
      const field: PartitionField = { 'source-id': f['source-id'], 'field-id': fieldId, name: f.name, transform };
      if (f['source-ids']) field['source-ids'] = [...f['source-ids']];
      return field;
    });

    const seenIds = new Set<number>();
    const seenNames = new Set<string>();
    const index = indexById(schema);
    for (const f of fields) {
      if (seenIds.has(f['field-id'])) throw invalid(`Cannot add partition spec: field id ${f['field-id']} is used more than once`);
      seenIds.add(f['field-id']);
      if (f.name === '') throw invalid('Cannot add partition spec: a partition field has an empty name');
      if (seenNames.has(f.name)) throw invalid(`Cannot use partition name more than once: ${f.name}`);
      seenNames.add(f.name);
      // A partition name may equal a column's only for that column's identity (or void) field.
      const clash = [...index.values()].find((x) => x.path === f.name);
      const kind = parseTransform(f.transform).kind;
      if (clash && !((kind === 'identity' || kind === 'void') && clash.field.id === f['source-id'])) {
        throw invalid(`Cannot create partition from name that exists in schema: ${f.name}`);
      }
    }
    checkSpecCompatibility({ fields }, schema);
    if (v1 && fields.some((f, i) => f['field-id'] !== PARTITION_DATA_ID_START + i)) {
      throw invalid(`Spec does not use sequential IDs that are required in v1: ${fields.map((f) => f['field-id']).join(', ')}`);
    }

    const existing = this.md['partition-specs'].find((s) => compatibleSpec(s, { fields }));
    if (existing) {
      this.lastAddedSpecId = existing['spec-id'];
      return;
    }
    const specs = this.md['partition-specs'];
    const id = specs.length === 0 ? 0 : Math.max(...specs.map((s) => s['spec-id'])) + 1;
    const spec: PartitionSpec = { 'spec-id': id, fields };
    specs.push(spec);
    this.md['last-partition-id'] = Math.max(this.md['last-partition-id'], ...fields.map((f) => f['field-id']));
    this.lastAddedSpecId = id;
    this.changes.push({ action: 'add-spec', spec });
  }

  private setDefaultSpec(specId: number): void {
    let id = specId;
    if (id === LAST_ADDED) {
      if (this.lastAddedSpecId === undefined) throw invalid('Cannot set last added spec: no spec has been added');
      id = this.lastAddedSpecId;
    }
    const exists = this.md['partition-specs'].some((s) => s['spec-id'] === id);
    if (id === this.md['default-spec-id'] && exists) return;
    if (!exists) throw invalid(`Cannot set default partition spec to unknown spec: ${id}`);
    this.md['default-spec-id'] = id;
    this.changes.push({ action: 'set-default-spec', 'spec-id': id });
  }

  private addSortOrder(order: SortOrder): void {
    const fields: SortField[] = order.fields.map((f) => ({ ...f, transform: normalizeTransform(f.transform) }));
    const orders = this.md['sort-orders'];
    if (fields.length === 0) {
      // The unsorted order always has id 0.
      this.lastAddedOrderId = 0;
      if (orders.some((o) => o['order-id'] === 0)) return;
      const unsorted: SortOrder = { 'order-id': 0, fields: [] };
      orders.push(unsorted);
      this.changes.push({ action: 'add-sort-order', 'sort-order': unsorted });
      return;
    }
    const candidate: SortOrder = { 'order-id': 0, fields };
    const existing = orders.find((o) => sameOrder(o, candidate));
    if (existing) {
      this.lastAddedOrderId = existing['order-id'];
      return;
    }
    checkOrderCompatibility(candidate, this.currentSchema('a sort order'));
    const id = Math.max(1, ...orders.map((o) => o['order-id'] + 1));
    const added: SortOrder = { 'order-id': id, fields };
    orders.push(added);
    this.lastAddedOrderId = id;
    this.changes.push({ action: 'add-sort-order', 'sort-order': added });
  }

  private setDefaultSortOrder(orderId: number): void {
    let id = orderId;
    if (id === LAST_ADDED) {
      if (this.lastAddedOrderId === undefined) throw invalid('Cannot set last added sort order: no sort order has been added');
      id = this.lastAddedOrderId;
    }
    const exists = this.md['sort-orders'].some((o) => o['order-id'] === id);
    if (id === this.md['default-sort-order-id'] && exists) return;
    if (!exists) throw invalid(`Cannot set default sort order to unknown sort order: ${id}`);
    this.md['default-sort-order-id'] = id;
    this.changes.push({ action: 'set-default-sort-order', 'sort-order-id': id });
  }

  private addSnapshot(snapshot: Snapshot): void {
    const md = this.md;
    if (md.schemas.length === 0) throw invalid('Attempting to add a snapshot before a schema is added');
    if (md['partition-specs'].length === 0) throw invalid('Attempting to add a snapshot before a partition spec is added');
    if (md['sort-orders'].length === 0) throw invalid('Attempting to add a snapshot before a sort order is added');
    const id = snapshot['snapshot-id'];
    if (md.snapshots.some((s) => s['snapshot-id'] === id)) throw invalid(`Snapshot already exists for id: ${id}`);
    const parent = snapshot['parent-snapshot-id'] ?? null;
    const seq = snapshot['sequence-number'];
    // Java's RetryableValidationException: the writer is behind the table, so the client may retry.
    if (md['format-version'] >= 2 && !(seq > md['last-sequence-number'] || parent === null)) {
      throw lakehouseError(
        'COMMIT_FAILED',
        `Cannot add snapshot with sequence number ${seq} older than last sequence number ${md['last-sequence-number']}`,
      );
    }
    if (parent !== null && !md.snapshots.some((s) => s['snapshot-id'] === parent)) {
      throw invalid(`Cannot add snapshot ${id}: parent snapshot ${parent} does not exist`);
    }
    const schemaId = snapshot['schema-id'];
    if (schemaId !== undefined && !md.schemas.some((s) => s['schema-id'] === schemaId)) {
      throw invalid(`Cannot add snapshot ${id} with unknown schema id: ${schemaId}`);
    }
    md.snapshots.push(snapshot);
    // Java assigns the snapshot's sequence number; never let it move backwards (a parentless v2
    // snapshot may carry an older one, and v1 snapshots carry 0).
    md['last-sequence-number'] = Math.max(md['last-sequence-number'], seq);
    this.addedSnapshotIds.add(id);
    this.changes.push({ action: 'add-snapshot', snapshot });
  }

  private setRef(u: SetSnapshotRefUpdate): void {
    const name = u['ref-name'];
    if (typeof name !== 'string' || name === '') throw invalid('Cannot set a snapshot ref with an empty name');
    const ref: SnapshotRef = { 'snapshot-id': u['snapshot-id'], type: u.type };
    for (const k of ['min-snapshots-to-keep', 'max-snapshot-age-ms', 'max-ref-age-ms'] as const) {
      if (u[k] !== undefined && u[k] !== null) ref[k] = u[k];
    }
    const existing = this.md.refs[name];
    if (existing && canon(existing) === canon(ref)) return;
    const snapshot = this.md.snapshots.find((s) => s['snapshot-id'] === ref['snapshot-id']);
    if (!snapshot) throw invalid(`Cannot set ${name} to unknown snapshot: ${ref['snapshot-id']}`);
    if (name === MAIN_BRANCH && ref.type !== 'branch') throw invalid(`Cannot set ${MAIN_BRANCH} to a tag, it must be a branch`);
    if (name === MAIN_BRANCH && this.md['current-snapshot-id'] !== ref['snapshot-id']) {
      this.md['current-snapshot-id'] = ref['snapshot-id'];
      // A new snapshot became current when it was written; a rollback becomes current now.
      const ts = this.addedSnapshotIds.has(ref['snapshot-id']) ? snapshot['timestamp-ms'] : this.now;
      this.md['snapshot-log'].push({ 'timestamp-ms': ts, 'snapshot-id': ref['snapshot-id'] });
    }
    this.md.refs[name] = ref;
    this.changes.push({ action: 'set-snapshot-ref', 'ref-name': name, ...ref });
  }

  private removeRef(name: string): void {
    let changed = false;
    if (name === MAIN_BRANCH && this.md['current-snapshot-id'] !== null) {
      this.md['current-snapshot-id'] = null;
      changed = true;
    }
    if (Object.prototype.hasOwnProperty.call(this.md.refs, name)) {
      delete this.md.refs[name];
      changed = true;
    }
    if (changed) this.changes.push({ action: 'remove-snapshot-ref', 'ref-name': name });
  }

  private removeSnapshots(ids: bigint[]): void {
    const remove = new Set(ids);
    const removed = this.md.snapshots.filter((s) => remove.has(s['snapshot-id'])).map((s) => s['snapshot-id']);
    if (removed.length === 0) return;
    const gone = new Set(removed);
    this.md.snapshots = this.md.snapshots.filter((s) => !gone.has(s['snapshot-id']));
    for (const id of removed) {
      this.removeStatistics(id);
      this.removePartitionStatistics(id);
    }
    // Refs to removed snapshots go too (main's removal clears the current snapshot).
    for (const [name, ref] of Object.entries(this.md.refs)) if (gone.has(ref['snapshot-id'])) this.removeRef(name);
    this.removedSnapshots = true;
    this.changes.push({ action: 'remove-snapshots', 'snapshot-ids': removed });
  }

  private setLocation(location: string): void {
    if (typeof location !== 'string' || location === '') throw invalid('Cannot set table location to an empty string');
    if (location === this.md.location) return;
    this.md.location = location;
    this.changes.push({ action: 'set-location', location });
  }

  private setProperties(updates: Record<string, string>): void {
    const reserved = Object.keys(updates).filter((k) => RESERVED_PROPERTIES.has(k));
    if (reserved.length > 0) {
      throw invalid(`Table properties should not contain reserved properties, but got [${reserved.join(', ')}]`);
    }
    const changed: Record<string, string> = {};
    for (const [k, v] of Object.entries(updates)) {
      if (typeof v !== 'string') throw invalid(`Property ${k} must be a string`);
      if (this.md.properties[k] !== v) changed[k] = v;
    }
    if (Object.keys(changed).length === 0) return;
    Object.assign(this.md.properties, changed);
    this.changes.push({ action: 'set-properties', updates: changed });
  }

  private removeProperties(removals: string[]): void {
    const removed = removals.filter((k) => Object.prototype.hasOwnProperty.call(this.md.properties, k));
    if (removed.length === 0) return;
    for (const k of removed) delete this.md.properties[k];
    this.changes.push({ action: 'remove-properties', removals: removed });
  }

  private setStatistics(file: StatisticsFile): void {
    const list = [...(this.md.statistics ?? [])];
    const at = list.findIndex((e) => statSnapshotId(e) === file['snapshot-id']);
    if (at >= 0 && canon(list[at]) === canon(file)) return;
    if (at >= 0) list[at] = file;
    else list.push(file);
    this.md.statistics = list;
    this.changes.push({ action: 'set-statistics', statistics: file });
  }

  private removeStatistics(snapshotId: bigint, u?: TableUpdate): void {
    const list = this.md.statistics ?? [];
    const kept = list.filter((e) => statSnapshotId(e) !== snapshotId);
    if (kept.length === list.length) return;
    this.md.statistics = kept;
    if (u) this.changes.push(u);
  }

  private setPartitionStatistics(file: PartitionStatisticsFile): void {
    const list = [...(this.md['partition-statistics'] ?? [])];
    const at = list.findIndex((e) => statSnapshotId(e) === file['snapshot-id']);
    if (at >= 0 && canon(list[at]) === canon(file)) return;
    if (at >= 0) list[at] = file;
    else list.push(file);
    this.md['partition-statistics'] = list;
    this.changes.push({ action: 'set-partition-statistics', 'partition-statistics': file });
  }

  private removePartitionStatistics(snapshotId: bigint, u?: TableUpdate): void {
    const list = this.md['partition-statistics'] ?? [];
    const kept = list.filter((e) => statSnapshotId(e) !== snapshotId);
    if (kept.length === list.length) return;
    this.md['partition-statistics'] = kept;
    if (u) this.changes.push(u);
  }

  private removeSpecs(ids: number[]): void {
    const remove = new Set(ids);
    if (remove.has(this.md['default-spec-id'])) throw invalid('Cannot remove the default partition spec');
    const kept = this.md['partition-specs'].filter((s) => !remove.has(s['spec-id']));
    if (kept.length === this.md['partition-specs'].length) return;
    const removed = this.md['partition-specs'].filter((s) => remove.has(s['spec-id'])).map((s) => s['spec-id']);
    this.md['partition-specs'] = kept;
    this.changes.push({ action: 'remove-partition-specs', 'spec-ids': removed });
  }

  private removeSchemas(ids: number[]): void {
    const remove = new Set(ids);
    if (remove.has(this.md['current-schema-id'])) throw invalid('Cannot remove the current schema');
    const kept = this.md.schemas.filter((s) => !remove.has(s['schema-id']));
    if (kept.length === this.md.schemas.length) return;
    const removed = this.md.schemas.filter((s) => remove.has(s['schema-id'])).map((s) => s['schema-id']);
    this.md.schemas = kept;
    this.changes.push({ action: 'remove-schemas', 'schema-ids': removed });
  }

  /**
   * Java's `updateSnapshotLog`: drop entries of snapshots added in this change set that were
   * superseded as main's head before the commit ended, and after removed snapshots drop all
   * history up to the last missing entry (a gap would make time travel answer wrongly).
   */
  private fixSnapshotLog(): void {
    const added = new Set<bigint>();
    const intermediate = new Set<bigint>();
    for (const c of this.changes) {
      if (c.action === 'add-snapshot') added.add(c.snapshot['snapshot-id']);
      else if (
        c.action === 'set-snapshot-ref' &&
        c['ref-name'] === MAIN_BRANCH &&
        added.has(c['snapshot-id']) &&
        c['snapshot-id'] !== this.md['current-snapshot-id']
      ) {
        intermediate.add(c['snapshot-id']);
      }
    }
    if (intermediate.size === 0 && !this.removedSnapshots) return;
    const live = new Set(this.md.snapshots.map((s) => s['snapshot-id']));
    let log: TableMetadata['snapshot-log'] = [];
    for (const e of this.md['snapshot-log']) {
      if (live.has(e['snapshot-id'])) {
        if (!intermediate.has(e['snapshot-id'])) log.push(e);
      } else if (this.removedSnapshots) {
        log = [];
      }
    }
    const current = this.md['current-snapshot-id'];
    if (current !== null && live.has(current) && log[log.length - 1]?.['snapshot-id'] !== current) {
      throw invalid('Cannot set invalid snapshot log: latest entry is not the current snapshot');
    }
    this.md['snapshot-log'] = log;
  }

  build(metadataLocation: string | undefined): TableMetadata {
    const base = this.base;
    if (base && this.changes.length === 0) return base;
    const md = this.md;
    if (!md.location) throw invalid('Cannot build table metadata without a location (set-location)');
    const schema = md.schemas.find((s) => s['schema-id'] === md['current-schema-id']);
    if (!schema) throw invalid(`Current schema ${md['current-schema-id']} does not exist (add-schema and set-current-schema)`);
    const spec = md['partition-specs'].find((s) => s['spec-id'] === md['default-spec-id']);
    if (!spec) throw invalid(`Default partition spec ${md['default-spec-id']} does not exist (add-spec and set-default-spec)`);
    const order = md['sort-orders'].find((o) => o['order-id'] === md['default-sort-order-id']);
    if (!order) throw invalid(`Default sort order ${md['default-sort-order-id']} does not exist (add-sort-order and set-default-sort-order)`);
    checkSpecCompatibility(spec, schema);
    checkOrderCompatibility(order, schema);

    this.fixSnapshotLog();

    if (base && metadataLocation) {
      const raw = Number.parseInt(md.properties[METADATA_PREVIOUS_VERSIONS_MAX] ?? '', 10);
      const max = Math.max(1, Number.isFinite(raw) ? raw : METADATA_PREVIOUS_VERSIONS_MAX_DEFAULT);
      const log = [...base['metadata-log']];
      if (log.length >= max) log.splice(0, log.length - max + 1);
      log.push({ 'timestamp-ms': base['last-updated-ms'], 'metadata-file': metadataLocation });
      md['metadata-log'] = log;
    }
    md['last-updated-ms'] = this.now;
    return md;
  }
}

/**
 * Applies REST updates to table metadata with Java's `TableMetadata.Builder` semantics and returns
 * new metadata (`base` is not modified). `base = null` builds a new table (create transactions):
 * its format version is the first `upgrade-format-version` (default v2).
 *
 * - add-schema / add-spec / add-sort-order reuse an identical existing one (and -1 then refers to
 *   it); new ones get max id + 1 (sort orders start at 1; the unsorted order is always 0).
 * - add-schema raises `last-column-id`; add-spec assigns missing partition field ids (v1: by
 *   position from 1000; v2: reusing equivalent fields' ids, else after `last-partition-id`).
 * - set-snapshot-ref on `main` moves `current-snapshot-id` and logs it in `snapshot-log` when the
 *   head changes; snapshots superseded within the same commit are dropped from the log, and
 *   remove-snapshots drops the log's history up to the last removed entry.
 * - When `opts.metadataLocation` (the location of `base`) is given, it is appended to
 *   `metadata-log` with base's `last-updated-ms`, trimmed to `write.metadata.previous-versions-max`.
 *
 * When no update changes anything, `base` itself is returned (nothing to write).
 * Invalid updates throw VALIDATION_FAILED; a snapshot behind the table's sequence number throws
 * COMMIT_FAILED (the client should refresh and retry).
 */
export function applyUpdates(base: TableMetadata | null, updates: TableUpdate[], opts: ApplyUpdatesOptions = {}): TableMetadata {
  const firstVersion = updates.find((u) => u.action === 'upgrade-format-version') as
    | Extract<TableUpdate, { action: 'upgrade-format-version' }>
    | undefined;
  let initial = MAX_FORMAT_VERSION;
  if (!base && firstVersion) {
    const v = firstVersion['format-version'];
    if (v > MAX_FORMAT_VERSION) {
      throw lakehouseError('UNSUPPORTED_FORMAT_VERSION', `Unsupported format version: v${v} (supported: v${MAX_FORMAT_VERSION})`);
    }
    if (!Number.isInteger(v) || v < 1) throw invalid(`Invalid format version: ${v}`);
    initial = v;
  }
  const builder = new MetadataBuilder(base, initial, opts.nowMs ?? Date.now());
  for (const u of updates) builder.apply(u);
  return builder.build(opts.metadataLocation);
}

// ---------------------------------------------------------------------------------------------
// New tables

export interface NewTableOptions {
  /** Field ids are reassigned 1..n; `spec` and `sortOrder` refer to this schema's ids. */
  schema: Schema;
  spec?: UnboundPartitionSpec;
  sortOrder?: SortOrder;
  location: string;
  /** `format-version` here selects the format version (as in Java); other reserved keys are rejected. */
  properties?: Record<string, string>;
  formatVersion?: 1 | 2;
  tableUuid?: string;
  nowMs?: number;
}

/**
 * Metadata of a new table, as Java's `TableMetadata.newTableMetadata`: fresh column ids (1..n,
 * each struct's fields before their children), schema id 0, partition field ids from 1000 with
 * spec id 0, sort order id 1 (0 when unsorted), with the spec's and order's source ids remapped.
 */
export function newTableMetadata(opts: NewTableOptions): TableMetadata {
  try {
    indexById(opts.schema);
  } catch (e) {
    throw invalid(`Invalid schema: ${(e as Error).message}`);
  }
  const { schema, lastColumnId, idMap } = assignFreshSchemaIds(opts.schema, 0);
  const mapSource = (id: number, what: string): number => {
    const mapped = idMap.get(id);
    if (mapped === undefined) throw invalid(`Cannot find source column ${id} for ${what}`);
    return mapped;
  };

  const spec: PartitionSpec = {
    'spec-id': 0,
    fields: (opts.spec?.fields ?? []).map((f, i) => {
      const field: PartitionField = {
        'source-id': mapSource(f['source-id'], `partition field ${f.name}`),
        'field-id': PARTITION_DATA_ID_START + i,
        name: f.name,
        transform: f.transform,
      };
      if (f['source-ids']) field['source-ids'] = f['source-ids'].map((id) => mapSource(id, `partition field ${f.name}`));
      return field;
    }),
  };
  const orderFields = (opts.sortOrder?.fields ?? []).map((f): SortField => {
    const field: SortField = { ...f, 'source-id': mapSource(f['source-id'], `sort field ${f.transform}`) };
    if (f['source-ids']) field['source-ids'] = f['source-ids'].map((id) => mapSource(id, `sort field ${f.transform}`));
    return field;
  });
  const sortOrder: SortOrder = { 'order-id': orderFields.length > 0 ? 1 : 0, fields: orderFields };

  const properties = { ...(opts.properties ?? {}) };
  let formatVersion: number = opts.formatVersion ?? MAX_FORMAT_VERSION;
  if (properties['format-version'] !== undefined) {
    const v = Number(properties['format-version']);
    if (!Number.isInteger(v)) throw invalid(`Invalid format-version property: ${properties['format-version']}`);
    if (opts.formatVersion === undefined) formatVersion = v;
    delete properties['format-version'];
  }
  const reserved = Object.keys(properties).filter((k) => RESERVED_PROPERTIES.has(k));
  if (reserved.length > 0) throw invalid(`Table properties should not contain reserved properties, but got [${reserved.join(', ')}]`);

  const updates = createUpdates({
    uuid: opts.tableUuid ?? crypto.randomUUID(),
    formatVersion,
    schema,
    lastColumnId,
    spec,
    sortOrder,
    location: opts.location,
    properties,
  });
  return applyUpdates(null, updates, { nowMs: opts.nowMs });
}

function createUpdates(p: {
  uuid: string;
  formatVersion: number;
  schema: Schema;
  lastColumnId: number;
  spec: PartitionSpec;
  sortOrder: SortOrder;
  location: string;
  properties: Record<string, string>;
}): TableUpdate[] {
  const updates: TableUpdate[] = [
    { action: 'assign-uuid', uuid: p.uuid },
    { action: 'upgrade-format-version', 'format-version': p.formatVersion },
    { action: 'add-schema', schema: p.schema, 'last-column-id': p.lastColumnId },
    { action: 'set-current-schema', 'schema-id': LAST_ADDED },
    { action: 'add-spec', spec: p.spec },
    { action: 'set-default-spec', 'spec-id': LAST_ADDED },
    { action: 'add-sort-order', 'sort-order': p.sortOrder },
    { action: 'set-default-sort-order', 'sort-order-id': LAST_ADDED },
    { action: 'set-location', location: p.location },
  ];
  if (Object.keys(p.properties).length > 0) updates.push({ action: 'set-properties', updates: { ...p.properties } });
  return updates;
}

/**
 * The updates that build `md` from nothing (Java's `RESTSessionCatalog` create changes): uuid,
 * format version, current schema, default spec, default sort order, location and properties.
 * Applied to `null` they reproduce a new table's metadata (ids restart at 0 for schema and spec).
 */
export function updatesForCreate(md: TableMetadata): TableUpdate[] {
  const schema = md.schemas.find((s) => s['schema-id'] === md['current-schema-id']);
  const spec = md['partition-specs'].find((s) => s['spec-id'] === md['default-spec-id']);
  const order = md['sort-orders'].find((o) => o['order-id'] === md['default-sort-order-id']);
  if (!schema || !spec || !order) throw lakehouseError('INVALID_METADATA', 'table metadata lacks its current schema, default spec or sort order');
  return createUpdates({
    uuid: md['table-uuid'],
    formatVersion: md['format-version'],
    schema,
    lastColumnId: md['last-column-id'],
    spec,
    sortOrder: order,
    location: md.location,
    properties: md.properties,
  });
}
