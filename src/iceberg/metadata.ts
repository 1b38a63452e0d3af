import { gunzipSync, gzipSync } from 'node:zlib';
import { lakehouseError } from '../core/errors.js';
import { parseJsonLossless, stringifyJson, toBigInt } from '../core/json.js';
import { parsePartitionSpec, type PartitionSpec } from './partition.js';
import { parseSchema, type Schema } from './schema.js';
import { parseRef, parseSnapshot, MAIN_BRANCH, type Snapshot, type SnapshotRef } from './snapshot.js';
import { parseSortOrder, type SortOrder } from './sort-order.js';

/** Table metadata in its spec JSON shape ("Table Metadata Fields"), always normalised to v2 fields. */
export interface TableMetadata {
  'format-version': 1 | 2;
  'table-uuid': string;
  location: string;
  'last-sequence-number': number;
  'last-updated-ms': number;
  'last-column-id': number;
  schemas: Schema[];
  'current-schema-id': number;
  'partition-specs': PartitionSpec[];
  'default-spec-id': number;
  'last-partition-id': number;
  properties: Record<string, string>;
  'current-snapshot-id': bigint | null;
  snapshots: Snapshot[];
  'snapshot-log': { 'timestamp-ms': number; 'snapshot-id': bigint }[];
  'metadata-log': { 'timestamp-ms': number; 'metadata-file': string }[];
  'sort-orders': SortOrder[];
  'default-sort-order-id': number;
  refs: Record<string, SnapshotRef>;
  statistics?: unknown[];
  'partition-statistics'?: unknown[];
}

/** Highest table format version this implementation reads and writes. */
export const MAX_FORMAT_VERSION = 2;

const GZIP_MAGIC = [0x1f, 0x8b];

/** Decodes a metadata file (plain or gzip, detected by magic bytes as Java does for `.gz.metadata.json`). */
export function readTableMetadata(bytes: Uint8Array, file: string): TableMetadata {
  let text: string;
  try {
    const raw = bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1] ? gunzipSync(bytes) : Buffer.from(bytes);
    text = raw.toString('utf8');
  } catch (e) {
    throw lakehouseError('CORRUPT_FILE', `cannot decompress table metadata: ${(e as Error).message}`, { file });
  }
  let json: unknown;
  try {
    json = parseJsonLossless(text);
  } catch (e) {
    throw lakehouseError('INVALID_METADATA', `table metadata is not valid JSON: ${(e as Error).message}`, { file });
  }
  try {
    return parseTableMetadata(json);
  } catch (e) {
    if (e instanceof Error && 'code' in e) {
      throw lakehouseError((e as { code: 'INVALID_METADATA' }).code, `${e.message}`, { file });
    }
    throw lakehouseError('INVALID_METADATA', `invalid table metadata: ${(e as Error).message}`, { file });
  }
}

function must<T>(cond: T, message: string): asserts cond {
  if (!cond) throw lakehouseError('INVALID_METADATA', message);
}

export function parseTableMetadata(json: unknown): TableMetadata {
  must(json !== null && typeof json === 'object' && !Array.isArray(json), 'table metadata must be a JSON object');
  const o = json as Record<string, unknown>;
  const version = Number(o['format-version']);
  if (!Number.isInteger(version) || version < 1) {
    throw lakehouseError('INVALID_METADATA', `invalid format-version ${String(o['format-version'])}`);
  }
  if (version > MAX_FORMAT_VERSION) {
    throw lakehouseError(
      'UNSUPPORTED_FORMAT_VERSION',
      `table format version ${version} is newer than the supported version ${MAX_FORMAT_VERSION}`,
    );
  }
  must(typeof o.location === 'string', 'metadata has no location');
  must(version === 1 || typeof o['table-uuid'] === 'string', 'v2 metadata requires table-uuid');

  // v1 allowed a single `schema` / `partition-spec`; v2 requires the lists (spec "Table Metadata Fields").
  let schemas: Schema[];
  let currentSchemaId: number;
  if (Array.isArray(o.schemas)) {
    schemas = o.schemas.map((s, i) => parseSchema(s, `schemas[${i}]`));
    currentSchemaId = typeof o['current-schema-id'] === 'number' ? o['current-schema-id'] : schemas[0]?.['schema-id'] ?? 0;
  } else {
    must(o.schema !== undefined, 'metadata has neither schemas nor schema');
    const s = parseSchema(o.schema, 'schema');
    schemas = [s];
    currentSchemaId = s['schema-id'];
  }
  must(schemas.some((s) => s['schema-id'] === currentSchemaId), `current-schema-id ${currentSchemaId} not among schemas`);

  let specs: PartitionSpec[];
  let defaultSpecId: number;
  if (Array.isArray(o['partition-specs'])) {
    specs = o['partition-specs'].map((s) => parsePartitionSpec(s));
    defaultSpecId = typeof o['default-spec-id'] === 'number' ? o['default-spec-id'] : specs[0]?.['spec-id'] ?? 0;
  } else {
    must(Array.isArray(o['partition-spec']), 'metadata has neither partition-specs nor partition-spec');
    specs = [parsePartitionSpec({ 'spec-id': 0, fields: o['partition-spec'] })];
    defaultSpecId = 0;
  }
  must(specs.some((s) => s['spec-id'] === defaultSpecId), `default-spec-id ${defaultSpecId} not among partition-specs`);
  const lastPartitionId =
    typeof o['last-partition-id'] === 'number'
      ? o['last-partition-id']
      : Math.max(999, ...specs.flatMap((s) => s.fields.map((f) => f['field-id'])));

  const sortOrders: SortOrder[] = Array.isArray(o['sort-orders'])
    ? o['sort-orders'].map((s) => parseSortOrder(s))
    : [{ 'order-id': 0, fields: [] }];
  const defaultSortOrderId = typeof o['default-sort-order-id'] === 'number' ? o['default-sort-order-id'] : 0;

  const snapshots = Array.isArray(o.snapshots) ? o.snapshots.map((s, i) => parseSnapshot(s, `snapshots[${i}]`)) : [];
  let currentSnapshotId: bigint | null =
    o['current-snapshot-id'] === undefined || o['current-snapshot-id'] === null
      ? null
      : toBigInt(o['current-snapshot-id'], 'current-snapshot-id');
  // Older writers used -1 for "no current snapshot".
  if (currentSnapshotId === -1n) currentSnapshotId = null;
  if (currentSnapshotId !== null) {
    must(snapshots.some((s) => s['snapshot-id'] === currentSnapshotId), `current-snapshot-id ${currentSnapshotId} is not a snapshot`);
  }

  const refs: Record<string, SnapshotRef> = {};
  if (o.refs && typeof o.refs === 'object') {
    for (const [name, r] of Object.entries(o.refs as Record<string, unknown>)) refs[name] = parseRef(r, `refs.${name}`);
  }
  // Spec: without a `main` ref, the current snapshot is the head of `main`.
  if (!refs[MAIN_BRANCH] && currentSnapshotId !== null) refs[MAIN_BRANCH] = { 'snapshot-id': currentSnapshotId, type: 'branch' };

  const properties: Record<string, string> = {};
  if (o.properties && typeof o.properties === 'object') {
    for (const [k, v] of Object.entries(o.properties as Record<string, unknown>)) properties[k] = String(v);
  }

  const md: TableMetadata = {
    'format-version': version as 1 | 2,
    'table-uuid': typeof o['table-uuid'] === 'string' ? o['table-uuid'] : crypto.randomUUID(),
    location: o.location as string,
    'last-sequence-number': typeof o['last-sequence-number'] === 'number' ? o['last-sequence-number'] : 0,
    'last-updated-ms': Number(o['last-updated-ms'] ?? 0),
    'last-column-id': Number(o['last-column-id'] ?? 0),
    schemas,
    'current-schema-id': currentSchemaId,
    'partition-specs': specs,
    'default-spec-id': defaultSpecId,
    'last-partition-id': lastPartitionId,
    properties,
    'current-snapshot-id': currentSnapshotId,
    snapshots,
    'snapshot-log': Array.isArray(o['snapshot-log'])
      ? (o['snapshot-log'] as Record<string, unknown>[]).map((e) => ({
          'timestamp-ms': Number(e['timestamp-ms']),
          'snapshot-id': toBigInt(e['snapshot-id'], 'snapshot-log.snapshot-id'),
        }))
      : [],
    'metadata-log': Array.isArray(o['metadata-log'])
      ? (o['metadata-log'] as Record<string, unknown>[]).map((e) => ({
          'timestamp-ms': Number(e['timestamp-ms']),
          'metadata-file': String(e['metadata-file']),
        }))
      : [],
    'sort-orders': sortOrders,
    'default-sort-order-id': defaultSortOrderId,
    refs,
  };
  if (Array.isArray(o.statistics)) md.statistics = o.statistics;
  if (Array.isArray(o['partition-statistics'])) md['partition-statistics'] = o['partition-statistics'];
  return md;
}

/** Serialises metadata in the spec's JSON shape; v1 tables also get the v1-required single fields. */
export function serializeTableMetadata(md: TableMetadata): object {
  const out: Record<string, unknown> = {
    'format-version': md['format-version'],
    'table-uuid': md['table-uuid'],
    location: md.location,
  };
  if (md['format-version'] >= 2) out['last-sequence-number'] = md['last-sequence-number'];
  out['last-updated-ms'] = md['last-updated-ms'];
  out['last-column-id'] = md['last-column-id'];
  if (md['format-version'] === 1) out.schema = currentSchema(md);
  out['current-schema-id'] = md['current-schema-id'];
  out.schemas = md.schemas;
  if (md['format-version'] === 1) out['partition-spec'] = defaultSpec(md).fields;
  out['default-spec-id'] = md['default-spec-id'];
  out['partition-specs'] = md['partition-specs'];
  out['last-partition-id'] = md['last-partition-id'];
  out['default-sort-order-id'] = md['default-sort-order-id'];
  out['sort-orders'] = md['sort-orders'];
  out.properties = md.properties;
  // Java writes -1 for "no snapshot"; PyIceberg and the REST spec accept either. Omit it when null.
  if (md['current-snapshot-id'] !== null) out['current-snapshot-id'] = md['current-snapshot-id'];
  out.refs = md.refs;
  out.snapshots = md.snapshots.map((s) => {
    const snap: Record<string, unknown> = { ...s };
    if (md['format-version'] === 1) delete snap['sequence-number'];
    return snap;
  });
  if (md.statistics) out.statistics = md.statistics;
  if (md['partition-statistics']) out['partition-statistics'] = md['partition-statistics'];
  out['snapshot-log'] = md['snapshot-log'];
  out['metadata-log'] = md['metadata-log'];
  return out;
}

export function writeTableMetadata(md: TableMetadata, gzip = false): Uint8Array {
  // Compact, as Java writes it: metadata grows with every snapshot and is written on every commit.
  const text = stringifyJson(serializeTableMetadata(md));
  return gzip ? gzipSync(Buffer.from(text, 'utf8')) : Buffer.from(text, 'utf8');
}

export function currentSchema(md: TableMetadata): Schema {
  return schemaById(md, md['current-schema-id']);
}

export function schemaById(md: TableMetadata, id: number): Schema {
  const s = md.schemas.find((x) => x['schema-id'] === id);
  if (!s) throw lakehouseError('INVALID_METADATA', `schema ${id} not found in table metadata`);
  return s;
}

export function defaultSpec(md: TableMetadata): PartitionSpec {
  return specById(md, md['default-spec-id']);
}

export function specById(md: TableMetadata, id: number): PartitionSpec {
  const s = md['partition-specs'].find((x) => x['spec-id'] === id);
  if (!s) throw lakehouseError('INVALID_METADATA', `partition spec ${id} not found in table metadata`);
  return s;
}

export function snapshotById(md: TableMetadata, id: bigint): Snapshot | undefined {
  return md.snapshots.find((s) => s['snapshot-id'] === id);
}

export function currentSnapshot(md: TableMetadata): Snapshot | undefined {
  return md['current-snapshot-id'] === null ? undefined : snapshotById(md, md['current-snapshot-id']);
}

/** Snapshot that was current at `timestampMs` (spec time travel: the snapshot log, latest entry ≤ ts). */
export function snapshotAsOf(md: TableMetadata, timestampMs: number): Snapshot | undefined {
  let found: bigint | undefined;
  for (const e of md['snapshot-log']) if (e['timestamp-ms'] <= timestampMs) found = e['snapshot-id'];
  if (found === undefined) {
    // Tables without a snapshot log: fall back to main's ancestry by commit time.
    for (const s of md.snapshots) if (s['timestamp-ms'] <= timestampMs) found = s['snapshot-id'];
  }
  return found === undefined ? undefined : snapshotById(md, found);
}

/** The metadata property naming the table's name mapping (spec "Column Projection"). */
export const NAME_MAPPING_PROPERTY = 'schema.name-mapping.default';
