/**
 * Manifest lists (spec "Manifest Lists"): one Avro file of `manifest_file` records per snapshot.
 * Read by field id (v1, v2, v3 `first_row_id`); written in Java's v1/v2 layout and header keys.
 */
import { lakehouseError } from '../core/errors.js';
import { AvroSchemaIndex, readAvroFile, writeAvroFile, type AvroFieldSchema, type AvroSchema, type AvroSchemaObject } from './avro.js';
import { ManifestContent, type ManifestFile, type PartitionFieldSummary } from './manifest-types.js';

/**
 * Java's "unassigned" sequence number: a manifest written by the committing snapshot carries it
 * until the manifest list is written, which replaces it with the snapshot's sequence number.
 */
export const UNASSIGNED_SEQUENCE_NUMBER = -1n;

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

const PARTITION_SUMMARIES: AvroSchema = {
  type: 'array',
  items: {
    type: 'record',
    name: 'r508',
    fields: [
      req('contains_null', 'boolean', 509, 'True if any file has a null partition value'),
      opt('contains_nan', 'boolean', 518, 'True if any file has a nan partition value'),
      opt('lower_bound', 'bytes', 510, 'Partition lower bound for all files'),
      opt('upper_bound', 'bytes', 511, 'Partition upper bound for all files'),
    ],
  },
  'element-id': 508,
};

/** The `manifest_file` Avro schema Java writes for format version 1 or 2. */
export function manifestListAvroSchema(formatVersion: 1 | 2): AvroSchemaObject {
  const count = formatVersion === 1 ? opt : req;
  const path = req('manifest_path', 'string', 500, 'Location URI with FS scheme');
  const length = req('manifest_length', 'long', 501, 'Total file size in bytes');
  const specId = req('partition_spec_id', 'int', 502, 'Spec ID used to write');
  const snapshotId = req('added_snapshot_id', 'long', 503, 'Snapshot ID that added the manifest');
  const added = count('added_files_count', 'int', 504, 'Added entry count');
  const existing = count('existing_files_count', 'int', 505, 'Existing entry count');
  const deleted = count('deleted_files_count', 'int', 506, 'Deleted entry count');
  const addedRows = count('added_rows_count', 'long', 512, 'Added rows count');
  const existingRows = count('existing_rows_count', 'long', 513, 'Existing rows count');
  const deletedRows = count('deleted_rows_count', 'long', 514, 'Deleted rows count');
  const partitions = opt('partitions', PARTITION_SUMMARIES, 507, 'Summary for each partition');
  const keyMetadata = opt('key_metadata', 'bytes', 519, 'Encryption key metadata blob');
  const fields =
    formatVersion === 1
      ? [path, length, specId, snapshotId, added, existing, deleted, partitions, addedRows, existingRows, deletedRows, keyMetadata]
      : [
          path,
          length,
          specId,
          req('content', 'int', 517, 'Contents of the manifest: 0=data, 1=deletes'),
          req('sequence_number', 'long', 515, 'Sequence number when the manifest was added'),
          req('min_sequence_number', 'long', 516, 'Lowest sequence number in the manifest'),
          snapshotId,
          added,
          existing,
          deleted,
          addedRows,
          existingRows,
          deletedRows,
          partitions,
          keyMetadata,
        ];
  return { type: 'record', name: 'manifest_file', fields };
}

export interface ManifestListMeta {
  snapshotId?: bigint;
  parentSnapshotId?: bigint | null;
  sequenceNumber?: bigint;
  formatVersion: number;
}

type Rec = Record<string, unknown>;
const present = (v: unknown) => v !== null && v !== undefined;
const toBig = (v: unknown) => (typeof v === 'bigint' ? v : BigInt(v as number));
const toNum = (v: unknown) => (typeof v === 'bigint' ? Number(v) : (v as number));

function headerBigInt(v: string | undefined): bigint | undefined {
  return v !== undefined && /^-?\d+$/.test(v.trim()) ? BigInt(v.trim()) : undefined;
}

/**
 * Reads a manifest list. v1 lists have no content or sequence numbers: content is DATA and both
 * sequence numbers are 0. Counts missing from a v1 list are returned as null ("unknown, assume
 * non-zero" per the spec) even though ManifestFile types them as non-null.
 */
export function readManifestList(bytes: Uint8Array, opts: { file: string }): ManifestFile[] {
  return readManifestListWithMeta(bytes, opts).manifests;
}

/** readManifestList plus the header (`snapshot-id`, `parent-snapshot-id`, ...). */
export function readManifestListWithMeta(bytes: Uint8Array, opts: { file: string }): { manifests: ManifestFile[]; meta: ManifestListMeta } {
  const { file } = opts;
  const avro = readAvroFile(bytes, file);
  const corrupt = (msg: string) => lakehouseError('CORRUPT_FILE', `invalid manifest list ${file}: ${msg}`, { file });
  const index = new AvroSchemaIndex(avro.schema);
  const byId = index.fieldsById(avro.schema);
  const get = (rec: Rec, id: number) => {
    const f = byId.get(id);
    return f ? rec[f.name] : undefined;
  };
  const header = avro.meta;
  let formatVersion = Number(header.get('format-version') ?? NaN);
  if (!Number.isInteger(formatVersion)) formatVersion = byId.has(515) || byId.has(517) ? 2 : 1;

  const summaryField = byId.get(507);
  let summaryById = new Map<number, AvroFieldSchema>();
  if (summaryField) {
    const arr = index.nonNull(summaryField.type);
    if (typeof arr === 'object' && !Array.isArray(arr) && arr.items !== undefined) summaryById = index.fieldsById(arr.items);
  }
  const sget = (rec: Rec, id: number) => {
    const f = summaryById.get(id);
    return f ? rec[f.name] : undefined;
  };

  const manifests: ManifestFile[] = avro.records.map((raw) => {
    const rec = raw as Rec;
    const path = get(rec, 500);
    if (typeof path !== 'string') throw corrupt('entry without manifest_path');
    const length = get(rec, 501);
    const specId = get(rec, 502);
    const snapshotId = get(rec, 503);
    if (!present(length) || !present(specId)) throw corrupt(`entry ${path} without manifest_length/partition_spec_id`);
    const content = present(get(rec, 517)) ? toNum(get(rec, 517)) : ManifestContent.DATA;
    if (content !== ManifestContent.DATA && content !== ManifestContent.DELETES) throw corrupt(`invalid manifest content ${content}`);
    const seq = get(rec, 515);
    const minSeq = get(rec, 516);
    const countOrNull = (id: number, big: boolean) => {
      const v = get(rec, id);
      return present(v) ? (big ? toBig(v) : toNum(v)) : null;
    };
    const m: ManifestFile = {
      manifestPath: path,
      manifestLength: toBig(length),
      partitionSpecId: toNum(specId),
      content,
      sequenceNumber: present(seq) ? toBig(seq) : 0n,
      minSequenceNumber: present(minSeq) ? toBig(minSeq) : 0n,
      // Required by the spec in every version; tolerate its absence as 0 only for broken writers.
      addedSnapshotId: present(snapshotId) ? toBig(snapshotId) : 0n,
      addedFilesCount: countOrNull(504, false) as number,
      existingFilesCount: countOrNull(505, false) as number,
      deletedFilesCount: countOrNull(506, false) as number,
      addedRowsCount: countOrNull(512, true) as bigint,
      existingRowsCount: countOrNull(513, true) as bigint,
      deletedRowsCount: countOrNull(514, true) as bigint,
    };
    const parts = get(rec, 507);
    if (present(parts)) {
      m.partitions = (parts as Rec[]).map((p) => {
        const s: PartitionFieldSummary = { containsNull: Boolean(sget(p, 509)) };
        const nan = sget(p, 518);
        if (present(nan)) s.containsNan = Boolean(nan);
        const lo = sget(p, 510);
        if (present(lo)) s.lowerBound = new Uint8Array(lo as Uint8Array);
        const hi = sget(p, 511);
        if (present(hi)) s.upperBound = new Uint8Array(hi as Uint8Array);
        return s;
      });
    }
    const km = get(rec, 519);
    if (present(km)) m.keyMetadata = new Uint8Array(km as Uint8Array);
    const frid = get(rec, 520);
    if (present(frid)) m.firstRowId = toBig(frid);
    return m;
  });

  const meta: ManifestListMeta = { formatVersion };
  const sid = headerBigInt(header.get('snapshot-id'));
  if (sid !== undefined) meta.snapshotId = sid;
  if (header.has('parent-snapshot-id')) meta.parentSnapshotId = headerBigInt(header.get('parent-snapshot-id')) ?? null;
  const seq = headerBigInt(header.get('sequence-number'));
  if (seq !== undefined) meta.sequenceNumber = seq;
  return { manifests, meta };
}

export interface WriteManifestListOptions {
  formatVersion: 1 | 2;
  snapshotId: bigint;
  parentSnapshotId: bigint | null;
  /** The snapshot's sequence number (v2; ignored for v1). */
  sequenceNumber: bigint;
  /**
   * Manifests to list. In v2, a manifest whose sequence numbers are UNASSIGNED_SEQUENCE_NUMBER
   * (-1n) was added by this snapshot and gets `sequenceNumber`, as Java does.
   */
  manifests: Iterable<ManifestFile>;
  codec?: 'deflate' | 'null';
  syncMarker?: Uint8Array;
}

/** Writes a v1 or v2 manifest list with Java's header keys and Avro schema. */
export function writeManifestList(opts: WriteManifestListOptions): Uint8Array {
  const { formatVersion } = opts;
  if (formatVersion !== 1 && formatVersion !== 2) {
    throw lakehouseError('UNSUPPORTED_FORMAT_VERSION', `cannot write format-version ${String(formatVersion)} manifest lists`);
  }
  const invalid = (m: ManifestFile, msg: string) => lakehouseError('VALIDATION_FAILED', `cannot list manifest ${m.manifestPath}: ${msg}`);
  const records: Rec[] = [];
  for (const m of opts.manifests) {
    const count = (v: number | null | undefined, name: string) => {
      if (v === null || v === undefined) {
        if (formatVersion === 1) return null;
        throw invalid(m, `${name} is required in format version 2`);
      }
      return v;
    };
    const bigCount = (v: bigint | null | undefined, name: string) => {
      if (v === null || v === undefined) {
        if (formatVersion === 1) return null;
        throw invalid(m, `${name} is required in format version 2`);
      }
      return typeof v === 'bigint' ? v : BigInt(v);
    };
    const rec: Rec = {
      manifest_path: m.manifestPath,
      manifest_length: BigInt(m.manifestLength),
      partition_spec_id: m.partitionSpecId,
      added_snapshot_id: BigInt(m.addedSnapshotId),
      added_files_count: count(m.addedFilesCount, 'added_files_count'),
      existing_files_count: count(m.existingFilesCount, 'existing_files_count'),
      deleted_files_count: count(m.deletedFilesCount, 'deleted_files_count'),
      added_rows_count: bigCount(m.addedRowsCount, 'added_rows_count'),
      existing_rows_count: bigCount(m.existingRowsCount, 'existing_rows_count'),
      deleted_rows_count: bigCount(m.deletedRowsCount, 'deleted_rows_count'),
      partitions: m.partitions
        ? m.partitions.map((p) => ({
            contains_null: p.containsNull,
            contains_nan: p.containsNan ?? null,
            lower_bound: p.lowerBound ? toBuffer(p.lowerBound) : null,
            upper_bound: p.upperBound ? toBuffer(p.upperBound) : null,
          }))
        : null,
      key_metadata: m.keyMetadata ? toBuffer(m.keyMetadata) : null,
    };
    if (formatVersion === 1) {
      if (m.content !== ManifestContent.DATA) throw invalid(m, 'delete manifests require format version 2');
    } else {
      const assign = (v: bigint) => (v === UNASSIGNED_SEQUENCE_NUMBER ? opts.sequenceNumber : v);
      if (m.sequenceNumber === UNASSIGNED_SEQUENCE_NUMBER && m.addedSnapshotId !== opts.snapshotId) {
        throw invalid(m, 'unassigned sequence number on a manifest added by another snapshot');
      }
      rec.content = m.content;
      rec.sequence_number = assign(BigInt(m.sequenceNumber));
      rec.min_sequence_number = assign(BigInt(m.minSequenceNumber));
    }
    records.push(rec);
  }
  const meta: [string, string][] = [
    ['snapshot-id', String(opts.snapshotId)],
    ['parent-snapshot-id', opts.parentSnapshotId === null || opts.parentSnapshotId === undefined ? 'null' : String(opts.parentSnapshotId)],
  ];
  if (formatVersion >= 2) meta.push(['sequence-number', String(opts.sequenceNumber)]);
  meta.push(['format-version', String(formatVersion)]);
  return writeAvroFile({ schema: manifestListAvroSchema(formatVersion), meta, records, codec: opts.codec, syncMarker: opts.syncMarker });
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}
