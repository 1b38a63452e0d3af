/**
 * The per-record path's staging: a record mapped in JS becomes one NDJSON line of staging values
 * (`c<k>` per staging column, strings as DuckDB casts them), read back by DuckDB in one
 * `read_json` per batch with TRY_CAST to the column types. Also the staging directory of an
 * ingesting process and its clean-up after a crash.
 */
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IHeaders, KafkaMessage } from 'kafkajs';
import { ident } from '../duck/db.js';
import { duckType } from '../duck/types.js';
import { isPrimitive, primitiveInfo, type IcebergType, type NestedField } from '../iceberg/types.js';
import type { Enrichment } from './mapping.js';

export interface StageColumn {
  key: string;
  field: NestedField;
}

/** Staging slots of the Kafka metadata columns and header columns. */
export interface StageSlots {
  enrich: Partial<Record<Enrichment, number>>;
  headers: { idx: number; header: string }[];
}

export const STAGE_PREFIX = 'lakehouse-ingest-';

/** The staged (VARCHAR) column cast to `type`; NULL when it does not cast. */
export function castExpr(col: string, type: IcebergType): string {
  const c = ident(col);
  if (isPrimitive(type)) {
    const k = primitiveInfo(type).kind;
    if (k === 'binary' || k === 'fixed') return `from_base64(${c})`;
    return `TRY_CAST(${c} AS ${duckType(type)})`;
  }
  return `TRY_CAST(TRY_CAST(${c} AS JSON) AS ${duckType(type)})`;
}

/** Header values as UTF-8 strings (the last value of a repeated header). */
export function headerStrings(headers: IHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const last = Array.isArray(v) ? v.at(-1) : v;
    if (last !== undefined && last !== null) out[k] = typeof last === 'string' ? last : last.toString('utf8');
  }
  return out;
}

/** One staged line: mapped `values`, then the record's metadata in its slots. */
export function stagedLine(i: number, values: unknown[], slots: StageSlots, m: KafkaMessage, topic: string, partition: number, off: bigint): string {
  let line = `{"__i":${i}`;
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    if (v !== null) line += `,"c${k}":${JSON.stringify(v)}`;
  }
  const e = slots.enrich;
  if (e.topic !== undefined) line += `,"c${e.topic}":${JSON.stringify(topic)}`;
  if (e.partition !== undefined) line += `,"c${e.partition}":${partition}`;
  if (e.offset !== undefined) line += `,"c${e.offset}":"${off}"`;
  if (e.key !== undefined && m.key) line += `,"c${e.key}":${JSON.stringify(m.key.toString('utf8'))}`;
  if (e.timestamp !== undefined && m.timestamp) line += `,"c${e.timestamp}":"${new Date(Number(m.timestamp)).toISOString()}"`;
  if ((e.headers !== undefined || slots.headers.length > 0) && m.headers) {
    const h = headerStrings(m.headers);
    if (e.headers !== undefined) line += `,"c${e.headers}":${JSON.stringify(JSON.stringify(h))}`;
    for (const { idx, header } of slots.headers) if (h[header] !== undefined) line += `,"c${idx}":${JSON.stringify(h[header])}`;
  }
  return `${line}}`;
}

/** Staging dirs of ingesting processes that died without cleaning up (e.g. SIGKILL). */
export async function removeStaleStageDirs(base = tmpdir()): Promise<void> {
  const names = await readdir(base).catch(() => [] as string[]);
  for (const name of names) {
    const m = /^lakehouse-ingest-(\d+)-/.exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') await rm(join(base, name), { recursive: true, force: true }).catch(() => undefined);
    }
  }
}
