import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { lakehouseError } from '../core/errors.js';
import { stringifyJson } from '../core/json.js';
import { toBinary } from '../iceberg/conversions.js';
import { FileContent, type DataFile } from '../iceberg/manifest-types.js';
import { partitionPath, type PartitionSpec } from '../iceberg/partition.js';
import type { Schema } from '../iceberg/schema.js';
import type { PartitionTuple } from '../iceberg/values.js';
import type { FileIO } from '../storage/fileio.js';
import { str, type Duck } from '../duck/db.js';
import { metricsFromStats } from './metrics.js';
import { writeEncryption } from '../security/encryption/parquet-encryption.js';

/**
 * Position delete files (spec "Position Delete Files"): Parquet with `file_path` (string, field id
 * 2147483546) and `pos` (long, field id 2147483545), rows sorted by file_path then pos. One file
 * holds deletes of one partition of one spec (or of a single data file, whose path is then also
 * recorded as `referenced_data_file`).
 */
export const DELETE_FILE_PATH_ID = 2147483546;
export const DELETE_POS_ID = 2147483545;

export const POSITION_DELETE_SCHEMA: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: DELETE_FILE_PATH_ID, name: 'file_path', required: true, type: 'string' },
    { id: DELETE_POS_ID, name: 'pos', required: true, type: 'long' },
  ],
};

export interface PositionDeleteWriteRequest {
  duck: Duck;
  io: FileIO;
  /** The table's actual location (files go under `<location>/data/<partition path>/`). */
  location: string;
  /** Schema used to render the partition path (the table's current schema). */
  schema: Schema;
  spec: PartitionSpec;
  partition: PartitionTuple;
  properties: Record<string, string>;
  /** A relation with columns `file_path` (VARCHAR, as recorded in manifests) and `pos` (BIGINT). */
  sourceSql: string;
}

function isLocal(location: string): boolean {
  return location.startsWith('/') || location.startsWith('file:');
}

function localDir(location: string): string {
  if (location.startsWith('file://')) return location.slice('file://'.length);
  if (location.startsWith('file:')) return location.slice('file:'.length);
  return location;
}

/** Writes one position delete file; returns null when the relation is empty (nothing written). */
export async function writePositionDeleteFile(req: PositionDeleteWriteRequest): Promise<DataFile | null> {
  const { duck, io, spec } = req;
  const codec = (req.properties['write.delete.parquet.compression-codec'] ?? req.properties['write.parquet.compression-codec'] ?? 'zstd').toLowerCase();
  const staging = isLocal(req.location)
    ? join(localDir(req.location), 'data', `.staging-${randomUUID()}`)
    : await mkdtemp(join(tmpdir(), 'lakehouse-deletes-'));
  const name = `${randomUUID()}-deletes.parquet`;
  const stagedFile = join(staging, name);
  const options = [
    'FORMAT parquet',
    `COMPRESSION ${codec}`,
    `FIELD_IDS {file_path: ${DELETE_FILE_PATH_ID}, pos: ${DELETE_POS_ID}}`,
    `KV_METADATA {'iceberg.schema': ${str(stringifyJson(POSITION_DELETE_SCHEMA))}}`,
    'RETURN_STATS',
  ];
  // Encrypted tables: delete files are encrypted like data files (their bounds are file paths, not data).
  const enc = await writeEncryption(duck, req.location, req.properties, null);
  if (enc) options.push(enc.copyOption);
  const select = `SELECT CAST(file_path AS VARCHAR) AS file_path, CAST(pos AS BIGINT) AS pos FROM (${req.sourceSql}) AS __src ORDER BY file_path, pos`;
  try {
    await mkdir(staging, { recursive: true });
    let stats: Record<string, unknown>[];
    let bounds: Record<string, unknown>;
    try {
      const reader = await duck.conn.runAndReadAll(`COPY (${select}) TO ${str(stagedFile)} (${options.join(', ')})`);
      stats = reader.getRowObjectsJson() as Record<string, unknown>[];
      const count = BigInt(String(stats[0]?.count ?? '0'));
      if (count === 0n) return null;
      const [row] = await duck.rows(
        `SELECT min(file_path) AS lo_path, max(file_path) AS hi_path, min(pos) AS lo_pos, max(pos) AS hi_pos FROM read_parquet(${str(stagedFile)}${enc?.readOption ?? ''})`,
      );
      bounds = row;
    } catch (e) {
      throw lakehouseError('BAD_REQUEST', `writing position delete file failed: ${(e as Error).message.split('\n')[0]}`);
    }
    const row = stats[0];
    const count = BigInt(String(row.count));
    let dir = '';
    if (spec.fields.length > 0) {
      try {
        dir = `${partitionPath(spec, req.schema, req.partition)}/`;
      } catch {
        dir = '';
      }
    }
    const location = `${req.location.replace(/\/+$/, '')}/data/${dir}${name}`;
    await io.putLocalFile(stagedFile, location);
    const m = metricsFromStats(POSITION_DELETE_SCHEMA, (row.column_statistics ?? []) as never);
    // Full (untruncated) bounds: readers use file_path bounds to match deletes to data files.
    const loPath = String(bounds.lo_path);
    const hiPath = String(bounds.hi_path);
    m.lowerBounds.set(DELETE_FILE_PATH_ID, toBinary('string', loPath));
    m.upperBounds.set(DELETE_FILE_PATH_ID, toBinary('string', hiPath));
    m.lowerBounds.set(DELETE_POS_ID, toBinary('long', BigInt(bounds.lo_pos as bigint)));
    m.upperBounds.set(DELETE_POS_ID, toBinary('long', BigInt(bounds.hi_pos as bigint)));
    m.valueCounts.set(DELETE_FILE_PATH_ID, count);
    m.valueCounts.set(DELETE_POS_ID, count);
    m.nullValueCounts.set(DELETE_FILE_PATH_ID, 0n);
    m.nullValueCounts.set(DELETE_POS_ID, 0n);
    return {
      content: FileContent.POSITION_DELETES,
      filePath: location,
      fileFormat: 'PARQUET',
      partition: [...req.partition],
      recordCount: count,
      fileSizeInBytes: BigInt(String(row.file_size_bytes)),
      columnSizes: m.columnSizes,
      valueCounts: m.valueCounts,
      nullValueCounts: m.nullValueCounts,
      lowerBounds: m.lowerBounds,
      upperBounds: m.upperBounds,
      referencedDataFile: loPath === hiPath ? loPath : null,
      ...(enc ? { keyMetadata: enc.keyMetadata } : {}),
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
