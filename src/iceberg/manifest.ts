/**
 * Manifest files (spec "Manifests"): Avro files of `manifest_entry` records. Reads v1/v2 (and
 * the v3 data_file fields) by Iceberg field id, so files from Java, PyIceberg and us all work;
 * writes v1/v2 exactly in the layout Java writes.
 */
import { lakehouseError } from '../core/errors.js';
import { parseJsonLossless, stringifyJson } from '../core/json.js';
import {
  AvroSchemaIndex,
  makeCompatibleName,
  readAvroFile,
  writeAvroFile,
  type AvroFieldSchema,
  type AvroSchema,
  type AvroSchemaObject,
} from './avro.js';
import {
  FileContent,
  ManifestContent,
  ManifestEntryStatus,
  type DataFile,
  type ManifestEntry,
  type ManifestFile,
} from './manifest-types.js';
import { parseSchema, type Schema } from './schema.js';
import { isPrimitive, primitiveInfo, type NestedField, type PrimitiveType, type StructType } from './types.js';
import type { IcebergValue, PartitionTuple } from './values.js';

// ---------------------------------------------------------------------------------------------
// Iceberg primitive <-> Avro (spec Appendix A) for partition tuples.
// ---------------------------------------------------------------------------------------------

/** Minimum bytes of a two's-complement decimal of the given precision (Java `decimalRequiredBytes`). */
export function decimalRequiredBytes(precision: number): number {
  const max = 10n ** BigInt(precision) - 1n;
  let n = 1;
  while ((1n << BigInt(8 * n - 1)) - 1n < max) n++;
  return n;
}

/**
 * Avro schema of an Iceberg primitive, as Java's TypeToSchema writes it. Named fixed types
 * already emitted (tracked in `named`) are referenced by name, as Avro requires.
 */
export function avroSchemaForPrimitive(type: PrimitiveType, named: Set<string> = new Set()): AvroSchema {
  const info = primitiveInfo(type);
  const fixed = (name: string, size: number, extra: Record<string, unknown> = {}): AvroSchema => {
    if (named.has(name)) return name;
    named.add(name);
    return { type: 'fixed', name, size, ...extra };
  };
  switch (info.kind) {
    case 'boolean':
    case 'int':
    case 'long':
    case 'float':
    case 'double':
    case 'string':
      return info.kind;
    case 'binary':
      return 'bytes';
    case 'date':
      return { type: 'int', logicalType: 'date' };
    case 'time':
      return { type: 'long', logicalType: 'time-micros' };
    case 'timestamp':
      return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': false };
    case 'timestamptz':
      return { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': true };
    case 'timestamp_ns':
      return { type: 'long', logicalType: 'timestamp-nanos', 'adjust-to-utc': false };
    case 'timestamptz_ns':
      return { type: 'long', logicalType: 'timestamp-nanos', 'adjust-to-utc': true };
    case 'uuid':
      return fixed('uuid_fixed', 16, { logicalType: 'uuid' });
    case 'fixed':
      return fixed(`fixed_${info.length}`, info.length!);
    case 'decimal':
      return fixed(`decimal_${info.precision}_${info.scale}`, decimalRequiredBytes(info.precision!), {
        logicalType: 'decimal',
        precision: info.precision,
        scale: info.scale,
      });
    case 'unknown':
      return 'null';
  }
}

/** Iceberg type of an Avro (primitive) schema, from its type and logical-type annotations. */
export function icebergTypeFromAvro(schema: AvroSchema, index?: AvroSchemaIndex): PrimitiveType {
  const s = index ? index.nonNull(schema) : schema;
  if (typeof s === 'string') {
    switch (s) {
      case 'boolean':
      case 'int':
      case 'long':
      case 'float':
      case 'double':
      case 'string':
        return s;
      case 'bytes':
        return 'binary';
      case 'null':
        return 'unknown';
      default:
        throw new TypeError(`no Iceberg type for Avro type ${s}`);
    }
  }
  if (Array.isArray(s)) {
    const branches = s.filter((b) => b !== 'null');
    if (branches.length === 1) return icebergTypeFromAvro(branches[0], index);
    throw new TypeError(`no Iceberg type for Avro union ${JSON.stringify(s)}`);
  }
  const base = s.type;
  const lt = s.logicalType;
  if (base === 'int') return lt === 'date' ? 'date' : 'int';
  if (base === 'long') {
    const utc = s['adjust-to-utc'] === true || s['adjust-to-utc'] === 'true';
    if (lt === 'time-micros') return 'time';
    if (lt === 'timestamp-micros') return utc ? 'timestamptz' : 'timestamp';
    if (lt === 'timestamp-nanos') return utc ? 'timestamptz_ns' : 'timestamp_ns';
    if (lt === 'local-timestamp-micros') return 'timestamp';
    return 'long';
  }
  if (base === 'string') return lt === 'uuid' ? 'uuid' : 'string';
  if (base === 'bytes' || base === 'fixed') {
    if (lt === 'decimal') return `decimal(${Number(s.precision)}, ${Number(s.scale ?? 0)})`;
    if (base === 'bytes') return 'binary';
    if (lt === 'uuid' && s.size === 16) return 'uuid';
    return `fixed[${Number(s.size)}]`;
  }
  if (typeof base === 'string' && ['boolean', 'float', 'double', 'null'].includes(base)) return icebergTypeFromAvro(base);
  if (typeof base !== 'string') return icebergTypeFromAvro(base, index);
  throw new TypeError(`no Iceberg type for Avro schema ${JSON.stringify(s)}`);
}

function bytesToBigInt(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return BigInt.asIntN(b.length * 8, v);
}

function bigIntToBytes(v: bigint, size: number): Uint8Array {
  const min = -(1n << BigInt(size * 8 - 1));
  const max = (1n << BigInt(size * 8 - 1)) - 1n;
  if (v < min || v > max) throw new RangeError(`unscaled decimal ${v} does not fit ${size} bytes`);
  const out = new Uint8Array(size);
  let u = BigInt.asUintN(size * 8, v);
  for (let i = size - 1; i >= 0; i--) {
    out[i] = Number(u & 0xffn);
    u >>= 8n;
  }
  return out;
}

function uuidToString(b: Uint8Array): string {
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function uuidToBytes(s: string): Uint8Array {
  if (!UUID_RE.test(s)) throw new TypeError(`invalid uuid ${JSON.stringify(s)}`);
  const h = s.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function copyBytes(v: Uint8Array): Uint8Array {
  return new Uint8Array(v);
}

function asBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Avro-decoded value → in-memory convention (values.ts) for an Iceberg primitive type. */
export function avroToIcebergValue(value: unknown, type: PrimitiveType): IcebergValue {
  if (value === null || value === undefined) return null;
  const info = primitiveInfo(type);
  switch (info.kind) {
    case 'boolean':
      return Boolean(value);
    case 'int':
    case 'date':
      return typeof value === 'bigint' ? Number(value) : Number(value);
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
    case 'timestamp_ns':
    case 'timestamptz_ns':
      return typeof value === 'bigint' ? value : BigInt(value as number);
    case 'float':
    case 'double':
      return Number(value);
    case 'decimal':
      if (value instanceof Uint8Array) return bytesToBigInt(value);
      return typeof value === 'bigint' ? value : BigInt(value as number);
    case 'string':
      return String(value);
    case 'uuid':
      if (value instanceof Uint8Array) {
        if (value.length !== 16) throw new TypeError(`uuid value has ${value.length} bytes`);
        return uuidToString(value);
      }
      return String(value).toLowerCase();
    case 'fixed':
    case 'binary':
      if (value instanceof Uint8Array) return copyBytes(value);
      if (typeof value === 'string') return new TextEncoder().encode(value);
      throw new TypeError(`expected bytes for ${type}`);
    case 'unknown':
      return null;
  }
}

/** In-memory value → what the Avro encoder expects for the schema `avroSchemaForPrimitive(type)`. */
export function icebergToAvroValue(value: IcebergValue | undefined, type: PrimitiveType): unknown {
  if (value === null || value === undefined) return null;
  const info = primitiveInfo(type);
  const bad = (): never => {
    throw new TypeError(`value ${typeof value === 'bigint' ? `${value}n` : JSON.stringify(value)} is not a valid ${type}`);
  };
  switch (info.kind) {
    case 'boolean':
      return typeof value === 'boolean' ? value : bad();
    case 'int':
    case 'date': {
      const n = typeof value === 'bigint' ? Number(value) : value;
      return typeof n === 'number' && Number.isInteger(n) && n >= -2147483648 && n <= 2147483647 ? n : bad();
    }
    case 'long':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
    case 'timestamp_ns':
    case 'timestamptz_ns':
      if (typeof value === 'bigint') return value;
      return typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : bad();
    case 'float':
    case 'double':
      return typeof value === 'number' ? value : bad();
    case 'decimal': {
      const v = typeof value === 'bigint' ? value : typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : bad();
      return asBuffer(bigIntToBytes(v, decimalRequiredBytes(info.precision!)));
    }
    case 'string':
      return typeof value === 'string' ? value : bad();
    case 'uuid':
      if (typeof value === 'string') return asBuffer(uuidToBytes(value));
      return value instanceof Uint8Array && value.length === 16 ? asBuffer(value) : bad();
    case 'fixed':
      return value instanceof Uint8Array && value.length === info.length ? asBuffer(value) : bad();
    case 'binary':
      return value instanceof Uint8Array ? asBuffer(value) : bad();
    case 'unknown':
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Manifest Avro schemas (Java V1Metadata / V2Metadata layout).
// ---------------------------------------------------------------------------------------------

const opt = (name: string, type: AvroSchema, id: number, doc?: string): AvroFieldSchema => ({
  name,
  type: ['null', type],
  ...(doc ? { doc } : {}),
  default: null,
  'field-id': id,
});
const req = (name: string, type: AvroSchema, id: number, doc?: string): AvroFieldSchema => ({
  name,
  type,
  ...(doc ? { doc } : {}),
  'field-id': id,
});
const mapOf = (keyId: number, valueId: number, value: AvroSchema): AvroSchema => ({
  type: 'array',
  items: {
    type: 'record',
    name: `k${keyId}_v${valueId}`,
    fields: [
      { name: 'key', type: 'int', 'field-id': keyId },
      { name: 'value', type: value, 'field-id': valueId },
    ],
  },
  logicalType: 'map',
});
const listOf = (elementId: number, items: AvroSchema): AvroSchema => ({ type: 'array', items, 'element-id': elementId });

/** The `r102` partition record for a partition type (all fields optional, as Java writes them). */
export function partitionAvroSchema(partitionType: StructType): AvroSchemaObject {
  const named = new Set<string>();
  return {
    type: 'record',
    name: 'r102',
    fields: partitionType.fields.map((f) => {
      if (!isPrimitive(f.type)) throw lakehouseError('VALIDATION_FAILED', `partition field ${f.name} must have a primitive type`);
      const t = avroSchemaForPrimitive(f.type, named);
      return t === 'null'
        ? { name: makeCompatibleName(f.name), type: 'null', default: null, 'field-id': f.id }
        : { name: makeCompatibleName(f.name), type: ['null', t], default: null, 'field-id': f.id };
    }),
  };
}

/** The `manifest_entry` Avro schema for a format version (1 or 2) and partition type. */
export function manifestEntryAvroSchema(formatVersion: 1 | 2, partitionType: StructType): AvroSchemaObject {
  const v2 = formatVersion >= 2;
  const dataFileFields: AvroFieldSchema[] = [
    ...(v2 ? [req('content', 'int', 134, 'Contents of the file: 0=data, 1=position deletes, 2=equality deletes')] : []),
    req('file_path', 'string', 100, 'Location URI with FS scheme'),
    req('file_format', 'string', 101, 'File format name: avro, orc, or parquet'),
    req('partition', partitionAvroSchema(partitionType), 102, 'Partition data tuple, schema based on the partition spec'),
    req('record_count', 'long', 103, 'Number of records in the file'),
    req('file_size_in_bytes', 'long', 104, 'Total file size in bytes'),
    ...(v2 ? [] : [req('block_size_in_bytes', 'long', 105)]),
    opt('column_sizes', mapOf(117, 118, 'long'), 108, 'Map of column id to total size on disk'),
    opt('value_counts', mapOf(119, 120, 'long'), 109, 'Map of column id to total count, including null and NaN'),
    opt('null_value_counts', mapOf(121, 122, 'long'), 110, 'Map of column id to null value count'),
    opt('nan_value_counts', mapOf(138, 139, 'long'), 137, 'Map of column id to number of NaN values in the column'),
    opt('lower_bounds', mapOf(126, 127, 'bytes'), 125, 'Map of column id to lower bound'),
    opt('upper_bounds', mapOf(129, 130, 'bytes'), 128, 'Map of column id to upper bound'),
    opt('key_metadata', 'bytes', 131, 'Encryption key metadata blob'),
    opt('split_offsets', listOf(133, 'long'), 132, 'Splittable offsets'),
    ...(v2 ? [opt('equality_ids', listOf(136, 'int'), 135, 'Equality comparison field IDs')] : []),
    opt('sort_order_id', 'int', 140, 'Sort order ID'),
    ...(v2
      ? [opt('referenced_data_file', 'string', 143, 'Fully qualified location (URI with FS scheme) of a data file that all deletes reference')]
      : []),
  ];
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      req('status', 'int', 0),
      v2 ? opt('snapshot_id', 'long', 1) : req('snapshot_id', 'long', 1),
      ...(v2 ? [opt('sequence_number', 'long', 3), opt('file_sequence_number', 'long', 4)] : []),
      req('data_file', { type: 'record', name: 'r2', fields: dataFileFields }, 2),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Reading.
// ---------------------------------------------------------------------------------------------

export interface ReadManifestOptions {
  /** Name used in error messages. */
  file: string;
  /**
   * The manifest's partition type (spec.partitionType(schema)); values are converted with it and
   * returned in its field order. Without it the type is inferred from the file's Avro schema.
   */
  partitionType?: StructType;
  /** Used when the file header has no `format-version` (old v1 writers). */
  formatVersion?: number;
}

export interface ManifestMeta {
  /** Table schema from the `schema` header key (undefined when absent or unparseable). */
  schema?: Schema;
  schemaId?: number;
  /** The `partition-spec` header: the spec's fields array in JSON shape. */
  partitionSpec?: unknown[];
  partitionSpecId: number;
  formatVersion: number;
  content: ManifestContent;
  /** Partition type used for the tuples (the caller's, or inferred from the Avro schema). */
  partitionType: StructType;
}

export interface ManifestReadResult {
  entries: ManifestEntry[];
  meta: ManifestMeta;
}

const FILE_FORMATS = new Set(['PARQUET', 'AVRO', 'ORC', 'PUFFIN']);

function toBig(v: unknown): bigint {
  return typeof v === 'bigint' ? v : BigInt(v as number);
}
function toNum(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : (v as number);
}
function present(v: unknown): boolean {
  return v !== null && v !== undefined;
}

type Rec = Record<string, unknown>;

/** Field accessor by field id for one record schema. */
function accessor(index: AvroSchemaIndex, schema: AvroSchema): { get(rec: Rec, id: number): unknown; field(id: number): AvroFieldSchema | undefined } {
  const byId = index.fieldsById(schema);
  return {
    get: (rec, id) => {
      const f = byId.get(id);
      return f ? rec[f.name] : undefined;
    },
    field: (id) => byId.get(id),
  };
}

/** Reads a manifest (v1, v2; v3 data_file fields are read when present). */
export function readManifest(bytes: Uint8Array, opts: ReadManifestOptions): ManifestReadResult {
  const { file } = opts;
  const avro = readAvroFile(bytes, file);
  const corrupt = (msg: string) => lakehouseError('CORRUPT_FILE', `invalid manifest ${file}: ${msg}`, { file });
  const index = new AvroSchemaIndex(avro.schema);
  const entryAcc = accessor(index, avro.schema);
  const dataFileField = entryAcc.field(2);
  if (!dataFileField) throw corrupt('Avro schema has no data_file (field id 2)');
  const fileAcc = accessor(index, dataFileField.type);
  const partitionField = fileAcc.field(102);

  // Format version: header, then caller, then the schema's shape.
  const header = avro.meta;
  let formatVersion = Number(header.get('format-version') ?? NaN);
  if (!Number.isInteger(formatVersion)) {
    formatVersion = opts.formatVersion ?? (fileAcc.field(134) || entryAcc.field(3) ? 2 : 1);
  }

  // Partition tuple plan.
  const avroPartFields = partitionField ? index.fields(partitionField.type) : [];
  let partitionType: StructType;
  let plan: { name: string | undefined; type: PrimitiveType }[];
  try {
    if (opts.partitionType) {
      partitionType = opts.partitionType;
      const anyIds = avroPartFields.some((f) => f['field-id'] !== undefined);
      plan = partitionType.fields.map((f, i) => {
        const af = anyIds ? avroPartFields.find((a) => Number(a['field-id']) === f.id) : avroPartFields[i];
        if (!isPrimitive(f.type)) throw new TypeError(`partition field ${f.name} has a non-primitive type`);
        return { name: af?.name, type: f.type };
      });
    } else {
      const fields: NestedField[] = avroPartFields.map((af, i) => ({
        id: af['field-id'] !== undefined ? Number(af['field-id']) : 1000 + i,
        name: af.name,
        required: false,
        type: icebergTypeFromAvro(af.type, index),
      }));
      partitionType = { type: 'struct', fields };
      plan = fields.map((f, i) => ({ name: avroPartFields[i].name, type: f.type as PrimitiveType }));
    }
  } catch (e) {
    if (e instanceof TypeError) throw corrupt(`unsupported partition schema: ${e.message}`);
    throw e;
  }

  // Key/value field names of the metric maps (arrays of 2-field records: first key, then value).
  const mapNames = new Map<number, [string, string]>();
  for (const id of [108, 109, 110, 137, 125, 128]) {
    const f = fileAcc.field(id);
    const arr = f ? index.nonNull(f.type) : undefined;
    const items = arr && typeof arr === 'object' && !Array.isArray(arr) && arr.items !== undefined ? index.fields(arr.items) : [];
    mapNames.set(id, [items[0]?.name ?? 'key', items[1]?.name ?? 'value']);
  }

  const entries: ManifestEntry[] = [];
  for (const raw of avro.records) {
    const rec = raw as Rec;
    const df = entryAcc.get(rec, 2) as Rec | null | undefined;
    if (!df) throw corrupt('entry without data_file');
    const status = toNum(entryAcc.get(rec, 0));
    if (status !== 0 && status !== 1 && status !== 2) throw corrupt(`invalid entry status ${status}`);
    const filePath = fileAcc.get(df, 100);
    if (typeof filePath !== 'string') throw corrupt('data_file without file_path');
    const format = String(fileAcc.get(df, 101) ?? '').toUpperCase();
    if (!FILE_FORMATS.has(format)) throw corrupt(`unknown file_format ${JSON.stringify(fileAcc.get(df, 101))} for ${filePath}`);
    const recordCount = fileAcc.get(df, 103);
    const fileSize = fileAcc.get(df, 104);
    if (!present(recordCount) || !present(fileSize)) throw corrupt(`data_file ${filePath} without record_count/file_size_in_bytes`);

    const partRec = partitionField ? (df[partitionField.name] as Rec | null) : null;
    const partition: PartitionTuple = plan.map((p) => {
      if (!partRec || p.name === undefined) return null;
      try {
        return avroToIcebergValue(partRec[p.name], p.type);
      } catch (e) {
        throw corrupt(`bad partition value for ${p.name} in ${filePath}: ${(e as Error).message}`);
      }
    });

    const content = present(fileAcc.get(df, 134)) ? toNum(fileAcc.get(df, 134)) : FileContent.DATA;
    if (content !== 0 && content !== 1 && content !== 2) throw corrupt(`invalid data_file content ${content}`);
    const dataFile: DataFile = {
      content,
      filePath,
      fileFormat: format as DataFile['fileFormat'],
      partition,
      recordCount: toBig(recordCount),
      fileSizeInBytes: toBig(fileSize),
    };
    const longMap = (id: number): Map<number, bigint> | undefined => {
      const v = fileAcc.get(df, id);
      return present(v) ? readMap(v, mapNames.get(id)!, toBig) : undefined;
    };
    const bytesMap = (id: number): Map<number, Uint8Array> | undefined => {
      const v = fileAcc.get(df, id);
      return present(v) ? readMap(v, mapNames.get(id)!, (x) => copyBytes(x as Uint8Array)) : undefined;
    };
    const set = <K extends keyof DataFile>(k: K, v: DataFile[K] | undefined) => {
      if (v !== undefined) dataFile[k] = v;
    };
    set('columnSizes', longMap(108));
    set('valueCounts', longMap(109));
    set('nullValueCounts', longMap(110));
    set('nanValueCounts', longMap(137));
    set('lowerBounds', bytesMap(125));
    set('upperBounds', bytesMap(128));
    const km = fileAcc.get(df, 131);
    if (present(km)) dataFile.keyMetadata = copyBytes(km as Uint8Array);
    const so = fileAcc.get(df, 132);
    if (present(so)) dataFile.splitOffsets = (so as unknown[]).map(toBig);
    const eq = fileAcc.get(df, 135);
    if (present(eq)) dataFile.equalityIds = (eq as unknown[]).map(toNum);
    const sort = fileAcc.get(df, 140);
    if (present(sort)) dataFile.sortOrderId = toNum(sort);
    const frid = fileAcc.get(df, 142);
    if (present(frid)) dataFile.firstRowId = toBig(frid);
    const ref = fileAcc.get(df, 143);
    if (present(ref)) dataFile.referencedDataFile = String(ref);
    const co = fileAcc.get(df, 144);
    if (present(co)) dataFile.contentOffset = toBig(co);
    const cs = fileAcc.get(df, 145);
    if (present(cs)) dataFile.contentSizeInBytes = toBig(cs);

    const snap = entryAcc.get(rec, 1);
    const seq = entryAcc.get(rec, 3);
    const fseq = entryAcc.get(rec, 4);
    entries.push({
      status: status as ManifestEntryStatus,
      snapshotId: present(snap) ? toBig(snap) : null,
      // v1 has no sequence numbers: all v1 files have sequence number 0.
      sequenceNumber: present(seq) ? toBig(seq) : formatVersion === 1 ? 0n : null,
      fileSequenceNumber: present(fseq) ? toBig(fseq) : formatVersion === 1 ? 0n : null,
      dataFile,
    });
  }

  const meta: ManifestMeta = {
    partitionSpecId: 0,
    formatVersion,
    content: header.get('content') === 'deletes' ? ManifestContent.DELETES : ManifestContent.DATA,
    partitionType,
  };
  const schemaText = header.get('schema');
  if (schemaText !== undefined) {
    try {
      meta.schema = parseSchema(parseJsonLossless(schemaText), `${file} schema`);
    } catch {
      // The table schema header is informational for reading entries; tolerate unknown types.
    }
  }
  const schemaId = Number(header.get('schema-id') ?? meta.schema?.['schema-id'] ?? NaN);
  if (Number.isInteger(schemaId)) meta.schemaId = schemaId;
  const specText = header.get('partition-spec');
  let specObj: unknown;
  if (specText !== undefined) {
    try {
      specObj = parseJsonLossless(specText);
    } catch {
      specObj = undefined;
    }
    if (Array.isArray(specObj)) meta.partitionSpec = specObj;
    else if (specObj && typeof specObj === 'object' && Array.isArray((specObj as Rec).fields)) meta.partitionSpec = (specObj as Rec).fields as unknown[];
  }
  const specId = Number(header.get('partition-spec-id') ?? (specObj && typeof specObj === 'object' ? (specObj as Rec)['spec-id'] : undefined) ?? 0);
  meta.partitionSpecId = Number.isInteger(specId) ? specId : 0;
  return { entries, meta };
}

/** Reads an Avro map (array of key/value records, or an Avro map with string keys) into a Map. */
function readMap<V>(v: unknown, [kName, vName]: [string, string], conv: (x: unknown) => V): Map<number, V> {
  const out = new Map<number, V>();
  if (Array.isArray(v)) {
    for (const item of v as Rec[]) out.set(toNum(item[kName]), conv(item[vName]));
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Rec)) out.set(Number(k), conv(x));
  }
  return out;
}

/**
 * Applies the spec's inheritance rules (Java InheritableMetadataFactory) from the manifest-list
 * entry: a null snapshot id is inherited; null sequence numbers are inherited for ADDED entries
 * (and for every entry when the manifest's sequence number is 0, i.e. v1).
 */
export function inheritManifestMetadata(entries: ManifestEntry[], manifest: ManifestFile): ManifestEntry[] {
  return entries.map((e) => {
    const inheritSeq = manifest.sequenceNumber === 0n || e.status === ManifestEntryStatus.ADDED;
    return {
      ...e,
      snapshotId: e.snapshotId ?? manifest.addedSnapshotId,
      sequenceNumber: e.sequenceNumber ?? (inheritSeq ? manifest.sequenceNumber : null),
      fileSequenceNumber: e.fileSequenceNumber ?? (inheritSeq ? manifest.sequenceNumber : null),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Writing.
// ---------------------------------------------------------------------------------------------

/** A partition field in its JSON shape (spec Appendix C). */
export interface PartitionFieldJson {
  name: string;
  transform: string;
  'source-id': number;
  'field-id'?: number;
  [k: string]: unknown;
}

export interface ManifestSpecInput {
  specId?: number;
  'spec-id'?: number;
  fields: readonly PartitionFieldJson[];
}

export interface WriteManifestOptions {
  formatVersion: 1 | 2;
  spec: ManifestSpecInput;
  /** The spec's partition type (field ids = partition field ids, types = transform results). */
  partitionType: StructType;
  /** The table schema (written as the `schema` header). */
  schema: StructType & { 'schema-id'?: number };
  content: ManifestContent | 'data' | 'deletes';
  entries: Iterable<ManifestEntry>;
  codec?: 'deflate' | 'null';
  syncMarker?: Uint8Array;
}

/** Java writes this constant for the deprecated v1 `block_size_in_bytes`. */
const V1_BLOCK_SIZE = 64n * 1024n * 1024n;

/** Writes a v1 or v2 manifest with the header keys and Avro schema Java writes. */
export function writeManifest(opts: WriteManifestOptions): Uint8Array {
  const { formatVersion, partitionType } = opts;
  if (formatVersion !== 1 && formatVersion !== 2) {
    throw lakehouseError('UNSUPPORTED_FORMAT_VERSION', `cannot write format-version ${String(formatVersion)} manifests`);
  }
  const content = opts.content === 'deletes' || opts.content === ManifestContent.DELETES ? ManifestContent.DELETES : ManifestContent.DATA;
  if (formatVersion === 1 && content === ManifestContent.DELETES) {
    throw lakehouseError('VALIDATION_FAILED', 'delete manifests require format version 2');
  }
  const specId = opts.spec.specId ?? opts.spec['spec-id'];
  if (specId === undefined) throw lakehouseError('VALIDATION_FAILED', 'partition spec has no id');
  if (partitionType.fields.length !== opts.spec.fields.length) {
    throw lakehouseError('VALIDATION_FAILED', `partition type has ${partitionType.fields.length} fields but the spec has ${opts.spec.fields.length}`);
  }
  const schema = manifestEntryAvroSchema(formatVersion, partitionType);
  const partFieldNames = partitionType.fields.map((f) => makeCompatibleName(f.name));

  const records: unknown[] = [];
  for (const e of opts.entries) records.push(entryRecord(e, formatVersion, content, partitionType, partFieldNames));

  const meta: [string, string][] = [['schema', stringifyJson(opts.schema)]];
  if (opts.schema['schema-id'] !== undefined) meta.push(['schema-id', String(opts.schema['schema-id'])]);
  meta.push(['partition-spec', stringifyJson(opts.spec.fields)]);
  meta.push(['partition-spec-id', String(specId)]);
  meta.push(['format-version', String(formatVersion)]);
  if (formatVersion >= 2) meta.push(['content', content === ManifestContent.DELETES ? 'deletes' : 'data']);
  return writeAvroFile({ schema, meta, records, codec: opts.codec, syncMarker: opts.syncMarker });
}

function entryRecord(
  e: ManifestEntry,
  formatVersion: 1 | 2,
  content: ManifestContent,
  partitionType: StructType,
  partFieldNames: string[],
): Rec {
  const df = e.dataFile;
  const invalid = (msg: string) => lakehouseError('VALIDATION_FAILED', `cannot write manifest entry for ${df.filePath}: ${msg}`);
  if (df.partition.length !== partitionType.fields.length) {
    throw invalid(`partition tuple has ${df.partition.length} values, partition type has ${partitionType.fields.length}`);
  }
  const isDelete = df.content !== FileContent.DATA;
  if (isDelete !== (content === ManifestContent.DELETES)) {
    throw invalid(`${isDelete ? 'delete' : 'data'} file in a ${content === ManifestContent.DELETES ? 'delete' : 'data'} manifest`);
  }
  const partition: Rec = {};
  partitionType.fields.forEach((f, i) => {
    try {
      partition[partFieldNames[i]] = icebergToAvroValue(df.partition[i], f.type as PrimitiveType);
    } catch (err) {
      throw invalid(`partition field ${f.name}: ${(err as Error).message}`);
    }
  });
  const map = <V>(m: Map<number, V> | undefined, conv: (v: V) => unknown) =>
    m === undefined ? null : [...m].map(([key, value]) => ({ key, value: conv(value) }));
  const big = (v: bigint | number) => (typeof v === 'bigint' ? v : BigInt(v));
  const file: Rec = {
    file_path: df.filePath,
    file_format: df.fileFormat,
    partition,
    record_count: big(df.recordCount),
    file_size_in_bytes: big(df.fileSizeInBytes),
    column_sizes: map(df.columnSizes, big),
    value_counts: map(df.valueCounts, big),
    null_value_counts: map(df.nullValueCounts, big),
    nan_value_counts: map(df.nanValueCounts, big),
    lower_bounds: map(df.lowerBounds, asBuffer),
    upper_bounds: map(df.upperBounds, asBuffer),
    key_metadata: df.keyMetadata ? asBuffer(df.keyMetadata) : null,
    split_offsets: df.splitOffsets ? df.splitOffsets.map(big) : null,
    sort_order_id: df.sortOrderId ?? null,
  };
  const rec: Rec = { status: e.status, data_file: file };
  if (formatVersion === 1) {
    if (e.snapshotId === null || e.snapshotId === undefined) throw invalid('v1 manifest entries require a snapshot id');
    file.block_size_in_bytes = V1_BLOCK_SIZE;
    rec.snapshot_id = big(e.snapshotId);
  } else {
    file.content = df.content;
    file.equality_ids = df.equalityIds ?? null;
    file.referenced_data_file = df.referencedDataFile ?? null;
    rec.snapshot_id = e.snapshotId ?? null;
    rec.sequence_number = e.sequenceNumber ?? null;
    rec.file_sequence_number = e.fileSequenceNumber ?? null;
  }
  return rec;
}
