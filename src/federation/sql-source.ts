import { isLakehouseError, lakehouseError } from '../core/errors.js';
import { ident as q, type Duck } from '../duck/db.js';
import type { ColumnInfo, Pred } from './pushdown.js';
import type { ExternalSource, PostgresConfig } from './store.js';

/**
 * Reading a table of an SQL server source (PostgreSQL, MySQL/MariaDB) into DuckDB. The flow is
 * one for every server: check the schema is exposed, list the columns, send one SELECT of the
 * needed columns with the pushed filter in a read-only transaction, stream its rows in batches
 * into a typed DuckDB table with the appender, fail past the source's maxRows, and cancel the
 * statement on the server when the query is cancelled. What differs — driver, quoting, type
 * mapping, pushdown dialect, how a statement is streamed and cancelled — is a `SqlDialect`.
 * Values come back in the server's text form (binary columns as bytes) and the typed DuckDB
 * columns parse them: no JavaScript number or Date ever holds a value.
 */
export const DEFAULT_MAX_ROWS = 1_000_000;

/** How a source column is bound in DuckDB. */
export type ColumnType = Omit<ColumnInfo, 'name'>;

/** A type DuckDB has no counterpart for (json, enums, arrays, …) is bound as its text form, never pushed. */
export const TEXT_FORM: ColumnType = { duckType: 'VARCHAR', kind: 'other' };

/** Rows handed to DuckDB at once: bounds the rows held in JavaScript. */
export const BATCH = 10_000;

/** One connection taken from a source's pool for one read. */
export interface SqlSession {
  /** Runs a statement whose result is not needed (transaction control, session settings). */
  exec(sql: string): Promise<void>;
  /**
   * Runs `select` (of `columns`) limited to `limit` rows and hands its rows to `onBatch` in
   * batches; returns the statement as sent (shown in the query's stats). When `onBatch` throws,
   * the read stops.
   */
  read(select: string, params: string[], columns: ColumnInfo[], limit: number, onBatch: (rows: unknown[][]) => void): Promise<string>;
  /** Cancels the running statement from another connection of the pool. */
  cancel(): void;
  /** Whether the connection was left mid-result (it must not go back to the pool). */
  readonly broken: boolean;
  release(broken: boolean): void;
}

export interface SqlDialect {
  /** The server, in error messages. */
  label: string;
  ident(name: string): string;
  /** The table's columns in order with their DuckDB types; none when there is no such table. */
  columns(src: ExternalSource, schema: string, table: string): Promise<ColumnInfo[]>;
  /**
   * The WHERE condition for the part of `filter` the server evaluates as DuckDB would (its
   * parameters appended to `params`), or null when no part is pushed.
   */
  where(src: ExternalSource, filter: Pred, params: string[]): Promise<string | null>;
  /** Statements that open the read-only transaction. */
  begin: string[];
  connect(src: ExternalSource): Promise<SqlSession>;
  /**
   * A statement still running after this many ms is cancelled from here; undefined where the
   * server enforces the source's statementTimeoutMs itself.
   */
  clientTimeoutMs?(src: ExternalSource): number;
  ping(src: ExternalSource): Promise<void>;
}

function sourceError(d: SqlDialect, src: ExternalSource, e: unknown): Error {
  const err = e as { message?: string };
  return lakehouseError('BAD_REQUEST', `external source ${src.name} (${d.label}): ${err.message ?? String(e)}`);
}

function checkSchema(src: ExternalSource, schema: string, table: string): void {
  const allowed = (src.config as PostgresConfig).schemas;
  if (allowed && !allowed.includes(schema)) throw lakehouseError('NO_SUCH_TABLE', `table does not exist: ${src.name}.${schema}.${table} (schema ${schema} is not exposed by the source)`);
}

/**
 * The table's columns in order, with their DuckDB types. Names match exactly (as they do for
 * Iceberg tables): the names in the query are the names grants, masks and row filters use, so
 * no other spelling may reach the table.
 */
export async function sourceColumns(d: SqlDialect, src: ExternalSource, schema: string, table: string): Promise<ColumnInfo[]> {
  checkSchema(src, schema, table);
  let columns: ColumnInfo[];
  try {
    columns = await d.columns(src, schema, table);
  } catch (e) {
    throw sourceError(d, src, e);
  }
  if (columns.length === 0) throw lakehouseError('NO_SUCH_TABLE', `table does not exist: ${src.name}.${schema}.${table}`);
  return columns;
}

/** Connects and runs `SELECT 1` (the source test). */
export async function pingSource(d: SqlDialect, src: ExternalSource): Promise<void> {
  try {
    await d.ping(src);
  } catch (e) {
    throw sourceError(d, src, e);
  }
}

export interface SourceFetch {
  /** The statement sent to the server (PostgreSQL: `$n` placeholders, MySQL: `?`). */
  sql: string;
  params: string[];
  rows: number;
  /** Whether any part of the filter was pushed (parts the server would read differently stay in DuckDB). */
  filterPushed: boolean;
}

/**
 * Streams `columns` of the rows matching `filter` to `sink` in batches; more than the source's
 * `maxRows` rows is an error. Aborting `signal`, or (where the dialect says so) running past the
 * source's statementTimeoutMs, cancels the statement on the server.
 */
export async function fetchRows(
  d: SqlDialect,
  src: ExternalSource,
  schema: string,
  table: string,
  columns: ColumnInfo[],
  filter: Pred | null,
  sink: (rows: unknown[][]) => void,
  signal?: AbortSignal,
): Promise<SourceFetch> {
  checkSchema(src, schema, table);
  const maxRows = (src.config as PostgresConfig).maxRows ?? DEFAULT_MAX_ROWS;
  const params: string[] = [];
  let where: string | null = null;
  let session: SqlSession;
  try {
    if (filter) where = await d.where(src, filter, params);
    session = await d.connect(src);
  } catch (e) {
    throw sourceError(d, src, e);
  }
  const select = `SELECT ${columns.map((c) => d.ident(c.name)).join(', ')} FROM ${d.ident(schema)}.${d.ident(table)}${where === null ? '' : ` WHERE ${where}`}`;
  let killed: 'cancelled' | 'timeout' | null = null;
  const kill = (why: 'cancelled' | 'timeout') => () => {
    killed ??= why;
    session.cancel();
  };
  const onAbort = kill('cancelled');
  const timeoutMs = d.clientTimeoutMs?.(src);
  let timer: NodeJS.Timeout | undefined;
  let count = 0;
  let broken = false;
  let sql: string;
  try {
    for (const s of d.begin) await session.exec(s);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    if (timeoutMs !== undefined) timer = setTimeout(kill('timeout'), timeoutMs);
    // LIMIT maxRows + 1 tells "too many" from "exactly maxRows" without reading the rest.
    sql = await session.read(select, params, columns, maxRows + 1, (rows) => {
      count += rows.length;
      if (count > maxRows) {
        throw lakehouseError('BAD_REQUEST', `external table ${src.name}.${schema}.${table} returned more than ${maxRows} rows (the source's maxRows); filter it further`);
      }
      sink(rows);
    });
    await session.exec('COMMIT');
  } catch (e) {
    if (session.broken) broken = true;
    else await session.exec('ROLLBACK').catch(() => (broken = true));
    if (isLakehouseError(e)) throw e;
    if (killed === 'cancelled') throw lakehouseError('BAD_REQUEST', `external source ${src.name} (${d.label}): statement cancelled`);
    if (killed === 'timeout') throw lakehouseError('BAD_REQUEST', `external source ${src.name} (${d.label}): statement ran longer than ${timeoutMs} ms`);
    throw sourceError(d, src, e);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    session.release(broken);
  }
  return { sql, params, rows: count, filterPushed: where !== null };
}

/**
 * Creates `catalog.main.table` with the columns' DuckDB types and fills it with DuckDB's
 * appender from the batches `fetch` produces; values are text (binary: bytes) that the typed
 * columns parse.
 */
export async function appendRows<T>(duck: Duck, catalog: string, table: string, columns: ColumnInfo[], fetch: (sink: (rows: unknown[][]) => void) => Promise<T>): Promise<T> {
  await duck.run(`CREATE TABLE ${q(catalog)}.main.${q(table)} (${columns.map((c) => `${q(c.name)} ${c.duckType}`).join(', ')})`);
  const appender = await duck.conn.createAppender(table, 'main', catalog);
  try {
    const result = await fetch((rows) => {
      try {
        for (const row of rows) {
          for (const v of row) {
            if (v === null || v === undefined) appender.appendNull();
            else if (v instanceof Uint8Array) appender.appendBlob(v);
            else appender.appendVarchar(String(v));
          }
          appender.endRow();
        }
      } catch (e) {
        throw lakehouseError('BAD_REQUEST', `cannot load rows of an external table: ${(e as Error).message}`);
      }
    });
    appender.flushSync();
    return result;
  } finally {
    try {
      appender.closeSync();
    } catch {
      // After a failed append the pending row cannot be flushed; the first error is the one to report.
    }
  }
}

/**
 * One pool per source, made on first use; a replaced source (its `updatedAt` or connection string
 * changed) gets a new pool and its old one is closed.
 */
export class SourcePools<P> {
  private readonly pools = new Map<string, P>();

  constructor(
    private readonly open: (src: ExternalSource) => P,
    private readonly end: (pool: P) => Promise<void>,
  ) {}

  get(src: ExternalSource): P {
    const key = JSON.stringify([src.name, src.updatedAt, (src.config as PostgresConfig).connectionString]);
    let pool = this.pools.get(key);
    if (!pool) {
      for (const [k, p] of this.pools) {
        if (JSON.parse(k)[0] === src.name) {
          this.pools.delete(k);
          void this.end(p).catch(() => undefined);
        }
      }
      pool = this.open(src);
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Closes every pool (shutdown, tests). */
  async closeAll(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => this.end(p).catch(() => undefined)));
  }
}
