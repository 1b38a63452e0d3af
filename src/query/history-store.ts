import type { Kysely } from 'kysely';
import type { ErrorCode } from '../core/errors.js';
import type { QueryStats } from './engine.js';
import { nullableNumber as num } from '../catalog/sql/row-values.js';

/**
 * The persisted query history (migration 0004-query-history) in the catalog database, SQLite or
 * PostgreSQL. The query manager writes a row at submission and updates it when the query starts
 * and ends; listing reads it back newest first. PostgreSQL returns bigint columns as strings,
 * hence the Number() on every read.
 */
export type HistoryStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface HistoryEntry {
  id: string;
  sql: string;
  principal: string | null;
  status: HistoryStatus;
  submittedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  durationMs: number | null;
  rowCount: number | null;
  truncated: boolean;
  bytesScanned: number | null;
  filesScanned: number | null;
  filesPruned: number | null;
  stats: QueryStats | null;
  error: { code: ErrorCode; message: string } | null;
}

export interface HistoryFilter {
  status?: HistoryStatus;
  /** Only queries submitted at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** Only queries of this principal. */
  principal?: string;
  limit: number;
}

interface HistoryRow {
  catalog_name: string;
  id: string;
  sql: string;
  principal: string | null;
  status: HistoryStatus;
  submitted_at: number | string;
  started_at: number | string | null;
  ended_at: number | string | null;
  duration_ms: number | string | null;
  row_count: number | string | null;
  truncated: number;
  bytes_scanned: number | string | null;
  files_scanned: number | string | null;
  files_pruned: number | string | null;
  stats: string | null;
  error_code: string | null;
  error_message: string | null;
}

interface HistoryDatabase {
  lakehouse_query_history: HistoryRow;
}


function toEntry(r: HistoryRow): HistoryEntry {
  return {
    id: r.id,
    sql: r.sql,
    principal: r.principal,
    status: r.status,
    submittedAt: Number(r.submitted_at),
    startedAt: num(r.started_at),
    endedAt: num(r.ended_at),
    durationMs: num(r.duration_ms),
    rowCount: num(r.row_count),
    truncated: Boolean(Number(r.truncated)),
    bytesScanned: num(r.bytes_scanned),
    filesScanned: num(r.files_scanned),
    filesPruned: num(r.files_pruned),
    stats: r.stats === null ? null : (JSON.parse(r.stats) as QueryStats),
    error: r.error_code === null ? null : { code: r.error_code as ErrorCode, message: r.error_message ?? '' },
  };
}

function toRow(catalogName: string, e: HistoryEntry): HistoryRow {
  return {
    catalog_name: catalogName,
    id: e.id,
    sql: e.sql,
    principal: e.principal,
    status: e.status,
    submitted_at: e.submittedAt,
    started_at: e.startedAt,
    ended_at: e.endedAt,
    duration_ms: e.durationMs,
    row_count: e.rowCount,
    truncated: e.truncated ? 1 : 0,
    bytes_scanned: e.bytesScanned,
    files_scanned: e.filesScanned,
    files_pruned: e.filesPruned,
    stats: e.stats === null ? null : JSON.stringify(e.stats),
    error_code: e.error?.code ?? null,
    error_message: e.error?.message ?? null,
  };
}

export class QueryHistoryStore {
  readonly db: Kysely<HistoryDatabase>;

  constructor(
    db: Kysely<any>,
    readonly catalogName: string,
  ) {
    this.db = db as Kysely<HistoryDatabase>;
  }

  async insert(e: HistoryEntry): Promise<void> {
    await this.db.insertInto('lakehouse_query_history').values(toRow(this.catalogName, e)).execute();
  }

  /** Writes the entry's current state (status, times, counts, error). */
  async update(e: HistoryEntry): Promise<void> {
    const { catalog_name: _c, id: _i, sql: _s, submitted_at: _t, ...changes } = toRow(this.catalogName, e);
    await this.db.updateTable('lakehouse_query_history').set(changes).where('catalog_name', '=', this.catalogName).where('id', '=', e.id).execute();
  }

  async get(id: string): Promise<HistoryEntry | null> {
    const row = await this.db
      .selectFrom('lakehouse_query_history')
      .selectAll()
      .where('catalog_name', '=', this.catalogName)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toEntry(row) : null;
  }

  /** Deletes finished queries submitted before `beforeMs`; returns how many. */
  async prune(beforeMs: number): Promise<number> {
    const res = await this.db
      .deleteFrom('lakehouse_query_history')
      .where('catalog_name', '=', this.catalogName)
      .where('submitted_at', '<', beforeMs)
      .where('status', 'in', ['succeeded', 'failed', 'cancelled'])
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** Newest first (ties broken by id, for a stable order). */
  async list(f: HistoryFilter): Promise<HistoryEntry[]> {
    let q = this.db.selectFrom('lakehouse_query_history').selectAll().where('catalog_name', '=', this.catalogName);
    if (f.status) q = q.where('status', '=', f.status);
    if (f.sinceMs !== undefined) q = q.where('submitted_at', '>=', f.sinceMs);
    if (f.principal !== undefined) q = q.where('principal', '=', f.principal);
    const rows = await q.orderBy('submitted_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
    return rows.map(toEntry);
  }
}
