import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { lakehouseError } from '../core/errors.js';
import { stringifyJson } from '../core/json.js';
import { FileContent, type DataFile } from '../iceberg/manifest-types.js';
import { partitionPath, type PartitionSpec } from '../iceberg/partition.js';
import { indexById, type Schema } from '../iceberg/schema.js';
import { childFields, isPrimitive, type IcebergType } from '../iceberg/types.js';
import type { FileIO } from '../storage/fileio.js';
import { ident, str, type Duck } from '../duck/db.js';
import { duckType } from '../duck/types.js';
import { metricsFromStats } from './metrics.js';
import { partitionKeySql, registerPartitionFunctions } from './partition-sql.js';
import { writeEncryption } from '../security/encryption/parquet-encryption.js';

/**
 * Writes rows to Parquet data files with DuckDB `COPY … (FIELD_IDS, RETURN_STATS, KV_METADATA)`:
 * Iceberg field ids on every column, the `iceberg.schema` footer key Java writes, zstd, files cut
 * at `write.target-file-size-bytes`, one folder per partition; metrics come back from the COPY
 * itself. Files are staged locally and moved into place, so a crash leaves no partial data file
 * under the table (at worst an unreferenced one, which orphan cleanup removes).
 */
export interface WriteDataRequest {
  duck: Duck;
  io: FileIO;
  /** The table's actual location (data goes under `<location>/data/`). */
  location: string;
  schema: Schema;
  spec: PartitionSpec;
  properties: Record<string, string>;
  /** A relation whose columns are named like the schema's top-level fields. */
  sourceSql: string;
}

export const DEFAULT_TARGET_FILE_SIZE = 512 * 1024 * 1024;

function fieldIdsLiteral(t: IcebergType): string {
  const parts = childFields(t).map((f) => {
    const key = ident(f.name);
    if (isPrimitive(f.type)) return `${key}: ${f.id}`;
    return `${key}: {__duckdb_field_id: ${f.id}, ${fieldIdsLiteral(f.type).slice(1, -1)}}`;
  });
  return `{${parts.join(', ')}}`;
}

function isLocal(location: string): boolean {
  return location.startsWith('/') || location.startsWith('file:');
}

function localDir(location: string): string {
  if (location.startsWith('file://')) return location.slice('file://'.length);
  if (location.startsWith('file:')) return location.slice('file:'.length);
  return location;
}

export async function writeDataFiles(req: WriteDataRequest): Promise<DataFile[]> {
  const { duck, io, schema, spec } = req;
  const target = Number(req.properties['write.target-file-size-bytes'] ?? DEFAULT_TARGET_FILE_SIZE);
  const codec = (req.properties['write.parquet.compression-codec'] ?? 'zstd').toLowerCase();
  const fixed = [...indexById(schema).values()].find((f) => isPrimitive(f.field.type) && f.field.type.startsWith('fixed['));
  if (fixed) {
    // The spec stores fixed(L) as FIXED_LEN_BYTE_ARRAY(L), which DuckDB cannot write; a BYTE_ARRAY
    // column would be rejected by Java and PyIceberg readers.
    throw lakehouseError('UNSUPPORTED_OPERATION', `cannot write column ${fixed.path} of type ${fixed.field.type}: fixed-length binary columns are read-only here; use binary`);
  }
  registerPartitionFunctions(duck.conn);
  const pk = partitionKeySql(spec, schema);
  const columns = schema.fields.map((f) => `CAST(${ident(f.name)} AS ${duckType(f.type)}) AS ${ident(f.name)}`);
  // Partition values are computed from the columns already cast to the table's types.
  const typed = `SELECT ${columns.join(', ')} FROM (${req.sourceSql}) AS __src`;
  const select = pk.keySql ? `SELECT *, ${pk.keySql} AS __pk FROM (${typed}) AS __typed` : typed;

  // Stage next to the table on local storage (same filesystem: the final move is a rename).
  const staging = isLocal(req.location)
    ? join(localDir(req.location), 'data', `.staging-${randomUUID()}`)
    : await mkdtemp(join(tmpdir(), 'lakehouse-write-'));
  const options = [
    'FORMAT parquet',
    `COMPRESSION ${codec === 'uncompressed' ? 'uncompressed' : codec}`,
    `FIELD_IDS ${fieldIdsLiteral(schema)}`,
    `KV_METADATA {'iceberg.schema': ${str(stringifyJson(schema))}}`,
    'RETURN_STATS',
    `FILENAME_PATTERN 'part-{uuid}'`,
  ];
  // Encrypted tables (encryption.enabled): the COPY encrypts, so nothing plain reaches the disk.
  const enc = await writeEncryption(duck, req.location, req.properties, schema);
  if (enc) options.push(enc.copyOption);
  const sizeOption = `FILE_SIZE_BYTES ${Math.max(1024 * 1024, target)}`;
  // DuckDB cannot combine FILE_SIZE_BYTES with PARTITION_BY: partitioned files over the target
  // are split in a second pass below.
  options.push(pk.keySql ? 'PARTITION_BY (__pk)' : sizeOption);
  let stats: Record<string, unknown>[];
  try {
    await (await import('node:fs/promises')).mkdir(staging, { recursive: true });
    const reader = await duck.conn.runAndReadAll(`COPY (${select}) TO ${str(staging)} (${options.join(', ')})`);
    stats = reader.getRowObjectsJson() as Record<string, unknown>[];
    if (pk.keySql) {
      const split: Record<string, unknown>[] = [];
      for (const row of stats) {
        if (Number(row.file_size_bytes) <= target * 1.1) {
          split.push(row);
          continue;
        }
        const dir = `${String(row.filename)}.split`;
        // A second COPY gets a key of its own (see security/encryption/parquet-encryption.ts).
        const enc2 = enc ? await writeEncryption(duck, req.location, req.properties, schema) : null;
        const opts = options.filter((o) => !o.startsWith('PARTITION_BY') && o !== enc?.copyOption).concat(sizeOption, enc2 ? [enc2.copyOption] : []);
        const r = await duck.conn.runAndReadAll(`COPY (SELECT * FROM read_parquet(${str(String(row.filename))}${enc?.readOption ?? ''})) TO ${str(dir)} (${opts.join(', ')})`);
        for (const part of r.getRowObjectsJson() as Record<string, unknown>[]) split.push({ ...part, partition_keys: row.partition_keys, __keyMetadata: enc2?.keyMetadata });
      }
      stats = split;
    }
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw lakehouseError('BAD_REQUEST', `writing data files failed: ${(e as Error).message.split('\n')[0]}`);
  }

  const files: DataFile[] = [];
  try {
    for (const row of stats) {
      const count = BigInt(String(row.count));
      if (count === 0n) continue;
      const keys = (row.partition_keys ?? []) as { key: string; value: string }[];
      const partition = pk.keySql ? pk.decode(keys.find((k) => k.key === '__pk')!.value) : [];
      const dir = spec.fields.length ? `${partitionPath(spec, schema, partition)}/` : '';
      const name = `${String(row.filename).split('/').pop()!.replace(/\.parquet$/, '')}.parquet`;
      const location = `${req.location.replace(/\/+$/, '')}/data/${dir}${name}`;
      await io.putLocalFile(String(row.filename), location);
      const m = metricsFromStats(schema, row.column_statistics as never);
      // Column bounds would put plaintext values into the manifests: not for encrypted files.
      if (enc) {
        m.lowerBounds.clear();
        m.upperBounds.clear();
      }
      files.push({
        content: FileContent.DATA,
        filePath: location,
        fileFormat: 'PARQUET',
        partition,
        recordCount: count,
        fileSizeInBytes: BigInt(String(row.file_size_bytes)),
        columnSizes: m.columnSizes,
        valueCounts: m.valueCounts,
        nullValueCounts: m.nullValueCounts,
        lowerBounds: m.lowerBounds,
        upperBounds: m.upperBounds,
        sortOrderId: 0,
        ...(enc ? { keyMetadata: (row.__keyMetadata as Uint8Array | undefined) ?? enc.keyMetadata } : {}),
      });
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return files;
}
