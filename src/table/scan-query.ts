import { lakehouseError } from '../core/errors.js';
import { currentSchema, currentSnapshot, schemaById, type TableMetadata } from '../iceberg/metadata.js';
import type { Snapshot } from '../iceberg/snapshot.js';
import type { Schema } from '../iceberg/schema.js';
import type { FileIO } from '../storage/fileio.js';
import { Duck, ident } from '../duck/db.js';
import { toJsonValue, type JsonValue } from '../duck/result-json.js';
import { buildReadSql } from './read-sql.js';
import { planScan } from './scan-planner.js';
import type { PathResolver } from './paths.js';

export interface QueryResult {
  columns: string[];
  rows: JsonValue[][];
}

export interface TableSource {
  io: FileIO;
  metadata: TableMetadata;
  resolve: PathResolver;
}

/**
 * Registers a table snapshot as a DuckDB view. The read schema is the table's current schema for
 * the current snapshot; a time-travel read uses the schema the snapshot was written with.
 */
export async function registerTableView(duck: Duck, name: string, table: TableSource, snapshot?: Snapshot | null): Promise<void> {
  const md = table.metadata;
  const snap = snapshot === undefined ? currentSnapshot(md) : snapshot;
  let schema: Schema = currentSchema(md);
  if (snapshot && snapshot['schema-id'] !== undefined && snapshot['snapshot-id'] !== md['current-snapshot-id']) {
    schema = schemaById(md, snapshot['schema-id']);
  }
  const tasks = snap ? (await planScan(md, snap, { io: table.io, resolve: table.resolve })).tasks : [];
  const sql = await buildReadSql({ duck, io: table.io, metadata: md, schema, tasks });
  await duck.run(`CREATE OR REPLACE TEMP VIEW ${ident(name)} AS ${sql}`);
}

/** Runs SQL over the table bound as `t`, returning JSON values (fixture README conventions). */
export async function queryTable(table: TableSource, sql: string, duck?: Duck): Promise<QueryResult> {
  const db = duck ?? (await Duck.open());
  try {
    await registerTableView(db, 't', table);
    let result;
    try {
      result = await db.conn.runAndReadAll(sql);
    } catch (e) {
      throw lakehouseError('BAD_REQUEST', `query failed: ${(e as Error).message}`);
    }
    return { columns: result.columnNames(), rows: result.getRows().map((r) => r.map(toJsonValue)) };
  } finally {
    if (!duck) db.close();
  }
}
