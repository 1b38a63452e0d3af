import { lakehouseError } from '../core/errors.js';
import type { Duck } from './db.js';
import { str } from './db.js';

/** One node of a Parquet file's schema as DuckDB reports it (parquet_schema()). */
export interface ParquetNode {
  name: string;
  fieldId: number | null;
  /** Physical type for leaves (INT32, BYTE_ARRAY, …); null for groups. */
  physicalType: string | null;
  logicalType: string | null;
  convertedType: string | null;
  repetition: string | null;
  children: ParquetNode[];
}

export interface ParquetFileSchema {
  file: string;
  root: ParquetNode;
}

/**
 * Reads the schemas of many Parquet files in one query. A truncated or non-Parquet file raises
 * CORRUPT_FILE naming the file.
 */
/**
 * Footer schemas by local path. Data files are immutable (Iceberg never rewrites a file in place;
 * remote files are cached locally under names that include their size and ETag), so a path's
 * schema never changes; a running service reads each footer once.
 */
const footerCache = new Map<string, ParquetFileSchema>();
const FOOTER_CACHE_MAX = 100_000;

export async function readParquetSchemas(duck: Duck, files: string[]): Promise<Map<string, ParquetFileSchema>> {
  const out = new Map<string, ParquetFileSchema>();
  const missing: string[] = [];
  for (const f of files) {
    const hit = footerCache.get(f);
    if (hit) out.set(f, hit);
    else missing.push(f);
  }
  if (missing.length > 0) {
    for (const [f, schema] of await readFooters(duck, missing)) {
      out.set(f, schema);
      footerCache.set(f, schema);
    }
    while (footerCache.size > FOOTER_CACHE_MAX) footerCache.delete(footerCache.keys().next().value as string);
  }
  return out;
}

async function readFooters(duck: Duck, files: string[]): Promise<Map<string, ParquetFileSchema>> {
  const out = new Map<string, ParquetFileSchema>();
  if (files.length === 0) return out;
  let rows: Record<string, unknown>[];
  try {
    rows = await duck.rows(
      `SELECT file_name, name, type, repetition_type, num_children, converted_type, field_id, logical_type
       FROM parquet_schema([${files.map(str).join(', ')}])`,
    );
  } catch (e) {
    // Find the culprit so the error names it.
    if (files.length > 1) {
      for (const f of files) await readFooters(duck, [f]);
    }
    throw lakehouseError('CORRUPT_FILE', `cannot read Parquet footer: ${(e as Error).message.split('\n')[0]}`, { file: files[0] });
  }
  // parquet_schema lists each file's schema elements depth-first with their child counts.
  let i = 0;
  const build = (): ParquetNode => {
    const r = rows[i++];
    const node: ParquetNode = {
      name: String(r.name),
      fieldId: r.field_id === null || r.field_id === undefined ? null : Number(r.field_id),
      physicalType: (r.type as string | null) ?? null,
      logicalType: (r.logical_type as string | null) ?? null,
      convertedType: (r.converted_type as string | null) ?? null,
      repetition: (r.repetition_type as string | null) ?? null,
      children: [],
    };
    const n = Number(r.num_children ?? 0);
    for (let k = 0; k < n; k++) node.children.push(build());
    return node;
  };
  while (i < rows.length) {
    const file = String(rows[i].file_name);
    out.set(file, { file, root: build() });
  }
  return out;
}

/** Parquet key-value footer metadata (e.g. `iceberg.schema`). */
export async function readParquetKv(duck: Duck, file: string): Promise<Map<string, string>> {
  const rows = await duck.rows(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${str(file)})`);
  return new Map(rows.map((r) => [String(r.k), String(r.v)]));
}
