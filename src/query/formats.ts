import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBType } from '@duckdb/node-api';
import { lakehouseError } from '../core/errors.js';
import type { JsonValue } from '../duck/result-json.js';

// DuckDB is loaded only for Parquet output (toParquetFile): the CLI's remote commands (sql --url,
// schedules, jobs, alerts) use the table and CSV renderings and should not pay for loading it.
type DuckDBApi = typeof import('@duckdb/node-api');

/** Result renderings shared by the query API and the CLI. */
export interface Tabular {
  columns: { name: string; type: string }[];
  rows: JsonValue[][];
}

function cellText(v: JsonValue): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** One RFC 4180 field: quoted when it holds a comma, quote, CR or LF (quotes doubled). */
export function csvField(v: JsonValue): string {
  const s = cellText(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** RFC 4180 lines (CRLF-terminated) for rows; NULL is an empty field, nested values are JSON. */
export function csvRows(rows: JsonValue[][]): string {
  let out = '';
  for (const r of rows) out += `${r.map(csvField).join(',')}\r\n`;
  return out;
}

export function csvHeader(columns: { name: string }[]): string {
  return `${columns.map((c) => csvField(c.name)).join(',')}\r\n`;
}

export function toCsv(t: Tabular, header = true): string {
  return (header ? csvHeader(t.columns) : '') + csvRows(t.rows);
}

/** A plain-text table for terminals (NULL shown as NULL). */
export function toTable(t: Tabular): string {
  const cells = t.rows.map((r) => r.map((v) => (v === null ? 'NULL' : cellText(v).replace(/\r?\n/g, '\\n'))));
  const widths = t.columns.map((c, i) => Math.max(c.name.length, ...cells.map((r) => r[i].length)));
  const numeric = t.columns.map((c) => /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT|FLOAT|DOUBLE|DECIMAL)/i.test(c.type));
  const line = (vals: string[], align: boolean) =>
    vals.map((v, i) => (align && numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join(' | ').trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('-+-');
  return [line(t.columns.map((c) => c.name), false), sep, ...cells.map((r) => line(r, true))].join('\n') + '\n';
}

export const PARQUET = 'application/vnd.apache.parquet';

/** DuckDB types whose JSON form (hex, key/value lists) a plain CAST from JSON cannot read back. */
function needsDecoding(d: DuckDBApi, t: DuckDBType): boolean {
  if (t instanceof d.DuckDBBlobType || t instanceof d.DuckDBMapType) return true;
  if (t instanceof d.DuckDBListType || t instanceof d.DuckDBArrayType) return needsDecoding(d, t.valueType);
  if (t instanceof d.DuckDBStructType) return t.entryTypes.some((e) => needsDecoding(d, e));
  if (t instanceof d.DuckDBUnionType) return true;
  return false;
}

/** The SQL that turns element `i` of a row's JSON array back into a value of type `t`. */
function fromJson(d: DuckDBApi, i: number, t: DuckDBType): string {
  const text = `(json ->> '$[${i}]')`;
  const json = `(json -> '$[${i}]')`;
  if (t instanceof d.DuckDBBlobType) return `unhex(${text})::BLOB`;
  if (t instanceof d.DuckDBMapType && !needsDecoding(d, t.keyType) && !needsDecoding(d, t.valueType)) {
    return `map_from_entries(CAST(${json} AS STRUCT(key ${t.keyType.toString()}, value ${t.valueType.toString()})[]))`;
  }
  if (needsDecoding(d, t)) throw lakehouseError('UNSUPPORTED_OPERATION', `Parquet output does not support the column type ${t.toString()}; ask for Arrow IPC instead`);
  if (t instanceof d.DuckDBListType || t instanceof d.DuckDBArrayType || t instanceof d.DuckDBStructType) return `CAST(${json} AS ${t.toString()})`;
  return `CAST(${text} AS ${t.toString()})`;
}

/**
 * Writes result rows (in the project's JSON value convention) to a Parquet file with their DuckDB
 * types. The query engine's connection is locked to the tables' files, so the file is written by
 * a separate in-memory DuckDB that reads the rows back from a temporary NDJSON file; the caller
 * streams `path` and must call `cleanup()` afterwards.
 */
export async function toParquetFile(columns: { name: string }[], types: readonly DuckDBType[], rows: JsonValue[][]): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const d = await import('@duckdb/node-api');
  const { Duck, ident, str } = await import('../duck/db.js');
  const exprs = columns.map((c, i) => `${fromJson(d, i, types[i])} AS ${ident(c.name)}`);
  const dir = await mkdtemp(join(tmpdir(), 'lakehouse-parquet-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const input = join(dir, 'rows.ndjson');
    const output = join(dir, 'result.parquet');
    await writeFile(input, rows.map((r) => JSON.stringify(r)).join('\n'));
    const duck = await Duck.open({ threads: 1 });
    try {
      // An empty result still yields a Parquet file with the columns (WHERE false keeps the types).
      const from = rows.length ? `read_ndjson_objects(${str(input)}, maximum_object_size = 1073741824)` : `(SELECT NULL::JSON AS json) WHERE false`;
      await duck.run(`COPY (SELECT ${exprs.join(', ') || '1 AS "?"'} FROM ${from}) TO ${str(output)} (FORMAT parquet)`);
    } finally {
      duck.close();
    }
    await rm(input);
    return { path: output, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
