import { randomUUID } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { isLakehouseError, lakehouseError, type ErrorCode, type LakehouseError } from '../core/errors.js';
import type { JsonValue } from '../duck/result-json.js';
import { observe } from '../observability/events.js';
import { QueryEngine, type QueryOptions, type QueryResult, type QueryStats } from './engine.js';
import type { HistoryEntry, HistoryFilter, QueryHistoryStore } from './history-store.js';
import type { AuthContext } from '../security/model.js';

/**
 * Runs SQL queries for the API: ids, a bounded concurrency (extra queries wait as `queued`),
 * per-query timeout and cancellation (both interrupt DuckDB), progress, results kept in memory for
 * paging, and the history: persisted in the catalog database when there is one (it then survives
 * restarts and lists the queries of every process on that database), else a bounded in-memory list.
 */
export type QueryState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface QueryRequest {
  sql: string;
  defaultNamespace?: string[];
  snapshotId?: bigint;
  asOfMs?: number;
  maxRows?: number;
  timeoutMs?: number;
  /** DuckDB memory limit for this query in MiB, capped at the service's limit. */
  memoryLimitMb?: number;
  /** Who submitted the query (defaults to `auth.principal`). */
  principal?: string | null;
  /** The authenticated caller: the engine applies its grants, masks and row filters. */
  auth?: AuthContext;
}

export interface QueryRecord {
  id: string;
  sql: string;
  principal: string | null;
  state: QueryState;
  submittedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: { code: ErrorCode; message: string; status: number; type: string } | null;
  result: QueryResult | null;
  /** True once the result rows were dropped to bound memory. */
  resultsEvicted: boolean;
  stats: QueryStats | null;
  rowCount: number | null;
  truncated: boolean;
  done: Promise<void>;
  controller: AbortController;
  conn: DuckDBConnection | null;
  /** Highest progress reported so far: DuckDB's estimate can dip when a new pipeline starts. */
  progressHigh: number;
}

export interface QueryManagerOptions {
  /** Queries running at once (default 4); more wait as `queued`. */
  concurrency?: number;
  /** Default and maximum per-query timeout. */
  defaultTimeoutMs?: number;
  maxTimeoutMs?: number;
  /** Default and maximum row limit. */
  defaultMaxRows?: number;
  maxMaxRows?: number;
  /** DuckDB memory_limit per query (default $LAKEHOUSE_QUERY_MEMORY_LIMIT or 2GB). */
  memoryLimit?: string;
  threads?: number;
  /** Queries kept in the history (default 200). */
  historySize?: number;
  /** Rows kept across finished queries' results (default 2,000,000); older results are dropped first. */
  retainedRows?: number;
  /** Persisted history; without it the history is in memory only. */
  history?: QueryHistoryStore | null;
  /** Persisted entries older than this are deleted (default 30 days), checked every 1000 queries. */
  historyRetentionMs?: number;
  /** Where failures to write the history are reported (they never fail the query). */
  log?: { warn(obj: object, msg: string): void };
}

export class QueryManager {
  readonly opts: Required<Omit<QueryManagerOptions, 'threads' | 'history' | 'log'>> & { threads?: number };
  static readonly PRUNE_EVERY = 1000;
  readonly history: QueryHistoryStore | null;
  readonly #log: QueryManagerOptions['log'];
  /** Submission times are kept strictly increasing, so newest-first is submission order. */
  #lastSubmitted = 0;
  #submissions = 0;
  readonly #records = new Map<string, QueryRecord>();
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    readonly engine: QueryEngine,
    opts: QueryManagerOptions = {},
  ) {
    this.opts = {
      concurrency: opts.concurrency ?? 4,
      defaultTimeoutMs: opts.defaultTimeoutMs ?? 300_000,
      maxTimeoutMs: opts.maxTimeoutMs ?? 3_600_000,
      defaultMaxRows: opts.defaultMaxRows ?? 100_000,
      maxMaxRows: opts.maxMaxRows ?? 1_000_000,
      memoryLimit: opts.memoryLimit ?? process.env.LAKEHOUSE_QUERY_MEMORY_LIMIT ?? '2GB',
      threads: opts.threads,
      historySize: opts.historySize ?? 200,
      retainedRows: opts.retainedRows ?? 2_000_000,
      historyRetentionMs: opts.historyRetentionMs ?? 30 * 86_400_000,
    };
    this.history = opts.history ?? null;
    this.#log = opts.log;
  }

  /** Starts a query; the record's `done` settles when it finishes (never rejects). */
  submit(req: QueryRequest): QueryRecord {
    const timeoutMs = Math.min(req.timeoutMs ?? this.opts.defaultTimeoutMs, this.opts.maxTimeoutMs);
    const maxRows = Math.min(req.maxRows ?? this.opts.defaultMaxRows, this.opts.maxMaxRows);
    this.#lastSubmitted = Math.max(Date.now(), this.#lastSubmitted + 1);
    const rec: QueryRecord = {
      id: randomUUID(),
      sql: req.sql,
      principal: req.principal ?? req.auth?.principal ?? null,
      state: 'queued',
      submittedAt: this.#lastSubmitted,
      startedAt: null,
      finishedAt: null,
      error: null,
      result: null,
      resultsEvicted: false,
      stats: null,
      rowCount: null,
      truncated: false,
      done: Promise.resolve(),
      controller: new AbortController(),
      conn: null,
      progressHigh: -1,
    };
    this.#records.set(rec.id, rec);
    this.#trimHistory();
    let persisted = this.#persist(rec, 'insert');
    // Pruning rides on the history's write chain (so it is done when the query's `done` is).
    if (this.#submissions++ % QueryManager.PRUNE_EVERY === 0) persisted = persisted.then(() => void this.pruneHistory());
    // The timeout counts from submission (queue time included).
    const timer = setTimeout(() => rec.controller.abort(lakehouseError('QUERY_TIMEOUT', `query exceeded its time limit of ${timeoutMs} ms`)), timeoutMs);
    timer.unref?.();
    // `done` settles once the final state is persisted too, so a listing right after sees it.
    rec.done = this.#run(rec, req, maxRows, () => (persisted = persisted.then(() => this.#persist(rec, 'update'))))
      .finally(() => clearTimeout(timer))
      .then(() => persisted.then(() => this.#persist(rec, 'update')));
    return rec;
  }

  /** Deletes persisted entries past the retention (never throws: logged). */
  async pruneHistory(): Promise<number> {
    if (!this.history) return 0;
    try {
      return await this.history.prune(Date.now() - this.opts.historyRetentionMs);
    } catch (e) {
      this.#log?.warn({ err: (e as Error).message }, 'query history not pruned');
      return 0;
    }
  }

  async #persist(rec: QueryRecord, how: 'insert' | 'update'): Promise<void> {
    if (!this.history) return;
    try {
      await this.history[how](historyEntry(rec));
    } catch (e) {
      this.#log?.warn({ queryId: rec.id, err: (e as Error).message }, 'query history not written');
    }
  }

  async #run(rec: QueryRecord, req: QueryRequest, maxRows: number, onStart: () => void): Promise<void> {
    const signal = rec.controller.signal;
    try {
      await this.#acquire(signal);
      try {
        rec.state = 'running';
        rec.startedAt = Date.now();
        onStart();
        const opts: QueryOptions = {
          defaultNamespace: req.defaultNamespace,
          snapshotId: req.snapshotId,
          asOfMs: req.asOfMs,
          maxRows,
          memoryLimit: effectiveMemoryLimit(req.memoryLimitMb, this.opts.memoryLimit),
          threads: this.opts.threads,
          signal,
          principal: req.auth,
          onConnection: (conn) => {
            rec.conn = conn;
          },
        };
        const result = await this.engine.query(req.sql, opts);
        rec.result = result;
        rec.stats = result.stats;
        rec.rowCount = result.rows.length;
        rec.truncated = result.truncated;
        rec.state = 'succeeded';
      } finally {
        rec.conn = null;
        this.#release();
      }
    } catch (e) {
      const err: LakehouseError = isLakehouseError(e) ? e : lakehouseError('INTERNAL', `query failed: ${(e as Error).message ?? String(e)}`);
      rec.error = { code: err.code, message: err.message, status: err.status, type: err.type };
      rec.state = err.code === 'QUERY_CANCELLED' ? 'cancelled' : 'failed';
    } finally {
      rec.finishedAt = Date.now();
      this.#trimResults();
      // Observability (src/observability/events.ts): count and time the query.
      if (rec.state === 'succeeded' || rec.state === 'failed' || rec.state === 'cancelled') {
        observe({
          type: 'query',
          outcome: rec.state,
          seconds: (rec.finishedAt - (rec.startedAt ?? rec.finishedAt)) / 1000,
          bytesScanned: rec.stats?.bytesScanned ?? 0,
          filesScanned: rec.stats?.filesScanned ?? 0,
          filesPruned: rec.stats?.filesPruned ?? 0,
        });
      }
    }
  }

  async #acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw signal.reason;
    if (this.#running < this.opts.concurrency) {
      this.#running++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const go = () => {
        signal.removeEventListener('abort', onAbort);
        this.#running++;
        resolve();
      };
      const onAbort = () => {
        const i = this.#waiting.indexOf(go);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(go);
    });
  }

  #release(): void {
    this.#running--;
    this.#waiting.shift()?.();
  }

  get(id: string): QueryRecord {
    const rec = this.#records.get(id);
    if (!rec) throw lakehouseError('NOT_FOUND', `no query ${id} (unknown or dropped from the history)`);
    return rec;
  }

  /** Cancels a queued or running query (no effect once it finished). */
  cancel(id: string): QueryRecord {
    const rec = this.get(id);
    if (rec.state === 'queued' || rec.state === 'running') rec.controller.abort(lakehouseError('QUERY_CANCELLED', 'query cancelled'));
    return rec;
  }

  /** The live record of a query of this process, or its persisted history entry (null: unknown). */
  async lookup(id: string): Promise<QueryRecord | HistoryEntry | null> {
    return this.#records.get(id) ?? (this.history ? await this.history.get(id) : null);
  }

  /** Newest first; live records of this process win over their (possibly older) persisted rows. */
  async list(f: HistoryFilter): Promise<HistoryEntry[]> {
    if (!this.history) {
      return [...this.#records.values()]
        .reverse()
        .filter((r) => (!f.status || r.state === f.status) && (f.sinceMs === undefined || r.submittedAt >= f.sinceMs) && (f.principal === undefined || r.principal === f.principal))
        .slice(0, f.limit)
        .map(historyEntry);
    }
    const rows = await this.history.list(f);
    return rows.map((e) => {
      const live = this.#records.get(e.id);
      return live ? historyEntry(live) : e;
    });
  }

  /** Progress of a running query in percent, when DuckDB knows it. */
  progress(rec: QueryRecord): number | null {
    if (rec.state === 'succeeded') return 100;
    if (rec.state !== 'running' || !rec.conn) return null;
    try {
      const p = rec.conn.progress.percentage;
      if (p >= 0) rec.progressHigh = Math.max(rec.progressHigh, Math.round(p * 10) / 10);
      return rec.progressHigh >= 0 ? rec.progressHigh : null;
    } catch {
      return null;
    }
  }

  /** Rows [offset, offset + size) of a finished query. */
  page(rec: QueryRecord, offset: number, size: number): { rows: JsonValue[][]; next: number | null } {
    if (rec.state === 'queued' || rec.state === 'running') throw lakehouseError('RESOURCE_IN_USE', `query ${rec.id} is still ${rec.state}`);
    if (rec.error) throw lakehouseError(rec.error.code, rec.error.message);
    if (!rec.result) throw lakehouseError('NOT_FOUND', `results of query ${rec.id} were dropped (older results are evicted to bound memory)`);
    const rows = rec.result.rows.slice(offset, offset + size);
    return { rows, next: offset + size < rec.result.rows.length ? offset + size : null };
  }

  #trimHistory(): void {
    for (const [id, rec] of this.#records) {
      if (this.#records.size <= this.opts.historySize) break;
      if (rec.state === 'queued' || rec.state === 'running') continue;
      this.#records.delete(id);
    }
  }

  #trimResults(): void {
    let total = 0;
    const recs = [...this.#records.values()].reverse();
    for (const rec of recs) {
      if (!rec.result) continue;
      total += rec.result.rows.length;
      // The newest result is always kept.
      if (total > this.opts.retainedRows && rec !== recs.find((r) => r.result)) {
        rec.result = null;
        rec.resultsEvicted = true;
      }
    }
  }

  /** Cancels everything (service shutdown); waits until the history has their final state. */
  async close(): Promise<void> {
    for (const rec of this.#records.values()) {
      if (rec.state === 'queued' || rec.state === 'running') rec.controller.abort(lakehouseError('QUERY_CANCELLED', 'service shutting down'));
    }
    await Promise.all([...this.#records.values()].map((r) => r.done));
  }
}

/** A record as a history entry (what is persisted and listed). */
export function historyEntry(rec: QueryRecord): HistoryEntry {
  return {
    id: rec.id,
    sql: rec.sql,
    principal: rec.principal,
    status: rec.state,
    submittedAt: rec.submittedAt,
    startedAt: rec.startedAt,
    endedAt: rec.finishedAt,
    durationMs: rec.startedAt !== null && rec.finishedAt !== null ? rec.finishedAt - rec.startedAt : null,
    rowCount: rec.rowCount,
    truncated: rec.truncated,
    bytesScanned: rec.stats?.bytesScanned ?? null,
    filesScanned: rec.stats?.filesScanned ?? null,
    filesPruned: rec.stats?.filesPruned ?? null,
    stats: rec.stats,
    error: rec.error ? { code: rec.error.code, message: rec.error.message } : null,
  };
}

const UNITS: Record<string, number> = { B: 1 / 2 ** 20, KB: 1000 / 2 ** 20, KIB: 1 / 1024, MB: 1e6 / 2 ** 20, MIB: 1, GB: 1e9 / 2 ** 20, GIB: 1024, TB: 1e12 / 2 ** 20, TIB: 2 ** 20 };

/** A DuckDB size setting ('2GB', '512MiB') in MiB, or null when it cannot be read. */
export function sizeInMb(setting: string): number | null {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$/.exec(setting);
  if (!m) return null;
  const unit = UNITS[(m[2] || 'B').toUpperCase()];
  return unit === undefined ? null : Number(m[1]) * unit;
}

/** The request's limit when it is below the service's (a request can only lower it). */
export function effectiveMemoryLimit(requestMb: number | undefined, serviceLimit: string): string {
  if (requestMb === undefined) return serviceLimit;
  const cap = sizeInMb(serviceLimit);
  return cap !== null && requestMb >= cap ? serviceLimit : `${requestMb}MiB`;
}
