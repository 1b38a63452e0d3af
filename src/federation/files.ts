import { lakehouseError } from '../core/errors.js';
import { ident as q, str, type Duck } from '../duck/db.js';
import type { FileIO } from '../storage/fileio.js';
import { renderDuck, type ColumnInfo, type ColumnKind, type Pred } from './pushdown.js';
import type { FileTable } from './store.js';

/**
 * File sources: CSV, JSON (newline-delimited or array) and Parquet files on any storage our
 * FileIO reaches. Remote files are fetched to the FileIO's local cache (`localPath`) and read by
 * DuckDB before the query's sandbox is locked; the query itself then sees only the loaded table.
 */
const EXTENSIONS: Record<FileTable['format'], RegExp> = {
  csv: /\.csv(\.gz)?$/i,
  json: /\.(json|jsonl|ndjson)(\.gz)?$/i,
  parquet: /\.parquet$/i,
};

/** Local paths of the table's files (a directory/prefix ending in `/`: every file of the format in it). */
export async function localFiles(t: FileTable, io: FileIO): Promise<string[]> {
  let locations = [t.location];
  if (t.location.endsWith('/')) {
    locations = (await io.list(t.location)).map((f) => f.location).filter((l) => EXTENSIONS[t.format].test(l)).sort();
    if (locations.length === 0) throw lakehouseError('NO_SUCH_TABLE', `no ${t.format} files under ${t.location}`);
  }
  return Promise.all(locations.map((l) => io.localPath(l)));
}

/** The DuckDB table function reading the files. */
export function readerSql(t: FileTable, paths: string[]): string {
  const list = `[${paths.map(str).join(', ')}]`;
  switch (t.format) {
    case 'csv':
      return `read_csv(${list}, header = ${t.header === false ? 'false' : 'true'}${t.delimiter ? `, delim = ${str(t.delimiter)}` : ''})`;
    case 'json':
      return `read_json_auto(${list})`;
    case 'parquet':
      return `read_parquet(${list})`;
  }
}

function kindOf(duckType: string): ColumnKind {
  const t = duckType.toUpperCase();
  if (['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT'].includes(t)) return 'int';
  if (t === 'FLOAT' || t === 'DOUBLE' || t.startsWith('DECIMAL')) return 'num';
  if (t === 'VARCHAR') return 'text';
  if (t === 'BOOLEAN') return 'bool';
  if (t === 'DATE') return 'date';
  if (t === 'TIMESTAMP') return 'timestamp';
  if (t === 'TIMESTAMP WITH TIME ZONE') return 'timestamptz';
  if (t === 'UUID') return 'uuid';
  return 'other';
}

export async function fileColumns(duck: Duck, reader: string): Promise<ColumnInfo[]> {
  let rows: Record<string, unknown>[];
  try {
    rows = await duck.rows(`DESCRIBE SELECT * FROM ${reader}`);
  } catch (e) {
    throw lakehouseError('BAD_REQUEST', `cannot read file source: ${(e as Error).message}`);
  }
  return rows.map((r) => ({ name: String(r.column_name), duckType: String(r.column_type), kind: kindOf(String(r.column_type)) }));
}

/** Loads the rows matching `filter` into `target` (a qualified table name); returns the statement run. */
export async function loadFiles(duck: Duck, reader: string, target: string, columns: ColumnInfo[], filter: Pred | null): Promise<string> {
  const sql = `SELECT ${columns.map((c) => q(c.name)).join(', ')} FROM ${reader}${filter ? ` WHERE ${renderDuck(filter)}` : ''}`;
  try {
    await duck.run(`CREATE TABLE ${target} AS ${sql}`);
  } catch (e) {
    throw lakehouseError('BAD_REQUEST', `cannot read file source: ${(e as Error).message}`);
  }
  return sql;
}
