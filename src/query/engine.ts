import { lakehouseError, isLakehouseError } from '../core/errors.js';
import type { Catalog, LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import { Duck, ident as q, str } from '../duck/db.js';
import { toJsonValue, type JsonValue } from '../duck/result-json.js';
import { currentSchema, currentSnapshot, schemaById } from '../iceberg/metadata.js';
import type { Schema } from '../iceberg/schema.js';
import type { Snapshot } from '../iceberg/snapshot.js';
import { tableResolver } from '../table/paths.js';
import { buildReadSql } from '../table/read-sql.js';
import { planScan } from '../table/scan-planner.js';
import { metadataTableSql, METADATA_TABLES } from './metadata-tables.js';
import { extractPredicates, fileMayMatch, type Predicate } from './pruning.js';
import { analyzeSelect, cteNames, parseSelect, walk, type AstNode, type TableRef } from './sql-ast.js';
import { parseTravel, resolveTravel, rewriteTimeTravel } from './time-travel.js';
import { executeWrite, parseWrite } from './writes.js';
import { authorizerFor } from '../security/index.js';
import type { EffectivePolicy } from '../security/authz.js';
import type { AuthContext } from '../security/model.js';
import { checkPolicyFilters, policyViewSql } from '../security/sql-policy.js';
import { bindExternal, type ExternalScan } from '../federation/bind.js';

/**
 * SQL over catalog tables. Each query runs in a fresh in-memory DuckDB that can see nothing but
 * the referenced tables: table references are found with DuckDB's own parser, each is planned in
 * TypeScript (snapshot, pruning by partition and column statistics, deletes) and bound as a view,
 * and then file access is locked to exactly those files (`allowed_paths`,
 * `enable_external_access = false`, `lock_configuration = true`) before the user's SQL runs.
 * With a caller (`principal`), each view carries the caller's policy (src/security/sql-policy.ts):
 * whatever the SQL does with a table, it sees only the columns, values and rows the view shows.
 */
export interface QueryOptions {
  defaultNamespace?: string[];
  /** Pin every table to this snapshot id (single-table queries) … */
  snapshotId?: bigint;
  /** … or to the snapshot current at this time (ms since epoch). */
  asOfMs?: number;
  maxRows?: number;
  memoryLimit?: string;
  threads?: number;
  /**
   * Cancels the query: aborting interrupts the running DuckDB statement, and the query fails with
   * the signal's reason when that is a LakehouseError (e.g. QUERY_TIMEOUT), else QUERY_CANCELLED.
   */
  signal?: AbortSignal;
  /** Called with the query's DuckDB connection before it runs (progress polling: `conn.progress`). */
  onConnection?: (conn: DuckDBConnection) => void;
  /**
   * The caller. With it (and a catalog with a security store) every table is bound through the
   * caller's effective policy: no SELECT → FORBIDDEN, hidden columns left out of the view, masks
   * in place of values, row filters in its WHERE; writes need their privileges. Without it the
   * query runs unchecked (in-process callers: jobs, maintenance, tests).
   */
  principal?: AuthContext;
}

export interface QueryStats {
  tables: string[];
  dataFiles: number;
  filesScanned: number;
  filesPruned: number;
  bytesScanned: number;
  totalBytes: number;
  planningMs: number;
  executionMs: number;
  /** External tables read (federated SQL): what was fetched and the statement pushed to the source. */
  external?: ExternalScan[];
}

export interface QueryResult {
  columns: { name: string; type: string }[];
  /** The columns' DuckDB types (the Arrow rendering maps them; `columns` carries their names). */
  duckTypes: DuckDBType[];
  rows: JsonValue[][];
  truncated: boolean;
  stats: QueryStats;
  /** Columns the query touched, `namespace.table.column` (for the audit log). */
  touched?: string[];
}

function abortError(signal: AbortSignal): Error {
  return isLakehouseError(signal.reason) ? signal.reason : lakehouseError('QUERY_CANCELLED', 'query cancelled');
}

/**
 * Every query gets a never-used DuckDB instance (its sandbox settings are locked for good), but
 * opening one costs ~15 ms and closing one a few more. Both happen off the query's critical
 * path: one spare per option set is opened after a query has finished, and used instances are
 * closed once the result has been handed back. `settled()` waits for that background work (the
 * bench waits for it so that neither side of a comparison runs beside it).
 */
const spares = new Map<string, Promise<Duck>>();
const background = new Set<Promise<unknown>>();

function track(p: Promise<unknown>): void {
  const done = p.then(
    () => undefined,
    () => undefined,
  );
  background.add(done);
  void done.then(() => background.delete(done));
}

const optionsKey = (o: { memoryLimit?: string; threads?: number }) => JSON.stringify([o.memoryLimit ?? null, o.threads ?? null]);

async function freshDuck(o: { memoryLimit?: string; threads?: number }): Promise<Duck> {
  const key = optionsKey(o);
  const spare = spares.get(key);
  spares.delete(key);
  if (spare) {
    try {
      return await spare;
    } catch {
      // fall through to a direct open
    }
  }
  return Duck.open(o);
}

/** After a query: close its instance and open the next spare, both outside the caller's wait. */
function recycle(duck: Duck, o: { memoryLimit?: string; threads?: number }): void {
  track(
    new Promise<void>((resolve) =>
      setImmediate(() => {
        try {
          duck.close();
        } finally {
          resolve();
        }
      }),
    ).then(() => {
      const key = optionsKey(o);
      if (spares.has(key)) return;
      const next = Duck.open(o);
      // An unused spare must not keep a failed open around or crash the process.
      next.catch(() => spares.delete(key));
      spares.set(key, next);
      track(next);
    }),
  );
}

/** Resolves when no instance is being closed or opened in the background. */
export async function settled(): Promise<void> {
  while (background.size > 0) await Promise.all([...background]);
}

/** Table functions that generate rows without touching files or the network. */
const SAFE_TABLE_FUNCTIONS = new Set(['range', 'generate_series', 'unnest']);

export function newStats(): QueryStats {
  return { tables: [], dataFiles: 0, filesScanned: 0, filesPruned: 0, bytesScanned: 0, totalBytes: 0, planningMs: 0, executionMs: 0 };
}

/**
 * Locks the DuckDB instance to the given files and directories; nothing can unlock it. One
 * multi-statement call: each call is a round trip through the libuv thread pool, which a busy
 * service shares with file I/O.
 */
export async function lockDown(duck: Duck, paths: Iterable<string>, directories: string[]): Promise<void> {
  const statements = [`SET allowed_paths = [${[...paths].map(str).join(', ')}]`];
  if (directories.length) statements.push(`SET allowed_directories = [${directories.map((d) => str(d.endsWith('/') ? d : `${d}/`)).join(', ')}]`);
  statements.push('SET enable_external_access = false', 'SET lock_configuration = true');
  await duck.run(statements.join(';\n'));
}

interface Binding {
  ref: TableRef;
  duckSchema: string;
  duckTable: string;
  duckCatalog: string | null;
}

export class QueryEngine {
  constructor(readonly catalog: Catalog) {}

  async query(sqlText: string, opts: QueryOptions = {}): Promise<QueryResult> {
    const t0 = performance.now();
    const sql = rewriteTimeTravel(sqlText);
    const signal = opts.signal;
    if (signal?.aborted) throw abortError(signal);
    const duckOptions = { memoryLimit: opts.memoryLimit, threads: opts.threads };
    const duck = await freshDuck(duckOptions);
    // An interrupt that lands after our last aborted-check but before DuckDB has begun the
    // statement on its worker thread is lost (a cancelled query ran on and shutdown hung on it
    // in CI), so keep interrupting until the statement returns. The instance is never reused.
    let again: ReturnType<typeof setInterval> | undefined;
    const interrupt = () => {
      duck.conn.interrupt();
      again = setInterval(() => duck.conn.interrupt(), 50);
    };
    signal?.addEventListener('abort', interrupt, { once: true });
    try {
      if (opts.onConnection) {
        // Progress is only tracked with the progress bar on (not printed).
        await duck.run('SET enable_progress_bar = true; SET enable_progress_bar_print = false');
        opts.onConnection(duck.conn);
      }
      const write = parseWrite(sql);
      if (write) return await executeWrite(this, duck, write, opts, t0);
      const stats = newStats();
      const visible = new Map<string, string[]>();
      const parsed: { statements?: AstNode[] } = {};
      const allowed = await this.bindTables(duck, sql, opts, stats, visible, parsed);
      await lockDown(duck, allowed, []);
      const t1 = performance.now();
      stats.planningMs = Math.round(t1 - t0);
      const max = opts.maxRows ?? Infinity;
      let reader;
      try {
        if (signal?.aborted) throw abortError(signal);
        // With a row limit, stream and stop reading after the limit (+1 to detect truncation).
        reader = Number.isFinite(max) ? await duck.conn.streamAndReadUntil(sql, max + 1) : await duck.conn.runAndReadAll(sql);
      } catch (e) {
        if (signal?.aborted) throw abortError(signal);
        const message = (e as Error).message;
        if (/^Out of Memory Error/.test(message)) {
          throw lakehouseError('QUERY_MEMORY_LIMIT', `query exceeded its memory limit of ${opts.memoryLimit ?? 'the default'}: ${message}`);
        }
        throw lakehouseError('BAD_REQUEST', `query failed: ${message}`);
      }
      stats.executionMs = Math.round(performance.now() - t1);
      const all = reader.getRows();
      const rows = (all.length > max ? all.slice(0, max) : all).map((r) => r.map(toJsonValue));
      const names = reader.columnNames();
      const types = reader.columnTypes();
      return { columns: names.map((name, i) => ({ name, type: types[i].toString() })), duckTypes: types, rows, truncated: all.length > max, stats, touched: touchedColumns(parsed.statements ?? [], visible) };
    } catch (e) {
      if (signal?.aborted) throw abortError(signal);
      throw e;
    } finally {
      signal?.removeEventListener('abort', interrupt);
      clearInterval(again);
      recycle(duck, duckOptions);
    }
  }

  /**
   * Binds every catalog table that `selectSql` (a single SELECT) references as a view in `duck`,
   * planned with pruning; returns the local files the views read. Rejects table functions.
   */
  async bindTables(
    duck: Duck,
    selectSql: string,
    opts: QueryOptions,
    stats: QueryStats,
    visible = new Map<string, string[]>(),
    parsed?: { statements?: AstNode[] },
  ): Promise<Set<string>> {
    const statements = await parseSelect(duck, selectSql);
    if (parsed) parsed.statements = statements;
    if (statements.length !== 1) throw lakehouseError('BAD_REQUEST', 'exactly one statement per query');
    const analysis = analyzeSelect(statements);
    const refused = analysis.tableFunctions.filter((f) => !SAFE_TABLE_FUNCTIONS.has(f.toLowerCase()));
    if (refused.length > 0) {
      throw lakehouseError('UNSUPPORTED_OPERATION', `table functions are not allowed: ${[...new Set(refused)].join(', ')}; query catalog tables by name`);
    }
    const ctes = cteNames(statements);
    const allowed = new Set<string>();
    const bound = new Set<string>();
    const attached = new Set<string>();
    const externals = new Map<string, string>();
    for (const ref of analysis.tables) {
      if (!ref.schema && !ref.catalog && ctes.has(ref.table)) continue;
      // `<source>.<schema>.<table>` of a registered external source (src/federation).
      if (ref.catalog && ref.catalog.toLowerCase() !== this.catalog.name.toLowerCase()) {
        const ctx = { catalog: this.catalog, duck, statements, stats, visible, bound: externals, policyFor: (id: TableIdent) => this.policyFor(id, opts), signal: opts.signal };
        if (await bindExternal(ref, ctx)) continue;
      }
      const binding = this.bindingFor(ref);
      const key = `${binding.duckCatalog}.${binding.duckSchema}.${binding.duckTable}`;
      if (bound.has(key)) continue;
      bound.add(key);
      const ddl: string[] = [];
      if (binding.duckCatalog && !attached.has(binding.duckCatalog)) {
        ddl.push(`ATTACH ':memory:' AS ${q(binding.duckCatalog)}`);
        attached.add(binding.duckCatalog);
      }
      const viewSql = await this.tableSql(duck, ref, statements, opts, stats, allowed, visible);
      const schemaName = binding.duckCatalog ? `${q(binding.duckCatalog)}.${q(binding.duckSchema)}` : q(binding.duckSchema);
      ddl.push(`CREATE SCHEMA IF NOT EXISTS ${schemaName}`, `CREATE OR REPLACE VIEW ${schemaName}.${q(binding.duckTable)} AS ${viewSql}`);
      await duck.run(ddl.join(';\n'));
    }
    return allowed;
  }

  /** The catalog identifier a (possibly unqualified) table name refers to. */
  resolveIdent(name: { schema: string; table: string }, opts: QueryOptions): TableIdent {
    return this.tableIdent({ catalog: '', schema: name.schema, table: name.table, at: null, alias: '' }, opts);
  }

  private bindingFor(ref: TableRef): Binding {
    const catalogMatches = ref.catalog && ref.catalog.toLowerCase() === this.catalog.name.toLowerCase();
    if (ref.catalog && !catalogMatches) throw lakehouseError('NO_SUCH_TABLE', `unknown catalog ${ref.catalog}`);
    return { ref, duckCatalog: catalogMatches ? ref.catalog : null, duckSchema: ref.schema || 'main', duckTable: ref.table };
  }

  tableIdent(ref: TableRef, opts: QueryOptions): TableIdent {
    const travel = parseTravel(ref.table);
    const base = travel.table.split('$')[0];
    const namespace = ref.schema ? ref.schema.split('.') : opts.defaultNamespace;
    if (!namespace || namespace.length === 0) {
      throw lakehouseError('BAD_REQUEST', `table ${ref.table} needs a namespace: write namespace.table or set defaultNamespace`);
    }
    return { namespace, name: base };
  }

  /** The caller's policy on a table; null when queries run unchecked (no caller, or no security store). */
  async policyFor(id: TableIdent, opts: QueryOptions): Promise<EffectivePolicy | null> {
    if (!opts.principal) return null;
    const authz = authorizerFor(this.catalog);
    if (!authz) return null;
    const policy = await authz.effectivePolicy(opts.principal, id);
    if (!policy.canSelect) throw lakehouseError('FORBIDDEN', `principal '${policy.principal}' lacks SELECT on ${[...id.namespace, id.name].join('.')}`);
    return policy;
  }

  private async tableSql(duck: Duck, ref: TableRef, statements: AstNode[], opts: QueryOptions, stats: QueryStats, allowed: Set<string>, visible: Map<string, string[]>): Promise<string> {
    const id = this.tableIdent(ref, opts);
    const tableName = [...id.namespace, id.name].join('.');
    // Before loading: without SELECT, whether the table exists is none of the caller's business.
    const policy = await this.policyFor(id, opts);
    let table: LoadedTable;
    try {
      table = await this.catalog.loadTable(id);
    } catch (e) {
      if (isLakehouseError(e, 'NO_SUCH_TABLE') || isLakehouseError(e, 'NO_SUCH_NAMESPACE')) {
        throw lakehouseError('NO_SUCH_TABLE', `table does not exist: ${[...id.namespace, id.name].join('.')}`);
      }
      throw e;
    }
    stats.tables.push(tableName);
    const md = table.metadata;
    const travel = parseTravel(ref.table);
    const metaKind = travel.table.includes('$') ? travel.table.slice(travel.table.indexOf('$') + 1) : null;
    let snapshot: Snapshot | null | undefined = resolveTravel(md, travel);
    if (snapshot === null && travel.unit === null) {
      if (opts.snapshotId !== undefined) snapshot = resolveTravel(md, { table: id.name, unit: 'version', value: String(opts.snapshotId) });
      else if (opts.asOfMs !== undefined) snapshot = resolveTravel(md, { table: id.name, unit: 'timestamp', value: new Date(opts.asOfMs).toISOString() });
      else snapshot = currentSnapshot(md) ?? null;
    }
    const resolve = tableResolver(table);
    if (metaKind !== null) {
      if (!METADATA_TABLES.includes(metaKind)) throw lakehouseError('NO_SUCH_TABLE', `unknown metadata table $${metaKind}; known: ${METADATA_TABLES.join(', ')}`);
      // Bounds, partition values and row counts would tell what the masks and filters hide.
      if (policy?.limited) {
        throw lakehouseError('FORBIDDEN', `metadata table ${tableName}$${metaKind} refused: principal '${policy.principal}' is limited on ${tableName} by column masks, row filters or column grants`);
      }
      return metadataTableSql(metaKind, { io: table.io, metadata: md, resolve }, snapshot ?? null);
    }
    const schema: Schema = snapshot && snapshot['schema-id'] !== undefined && snapshot['snapshot-id'] !== md['current-snapshot-id']
      ? schemaById(md, snapshot['schema-id'])
      : currentSchema(md);
    const columnNames = schema.fields.map((f) => f.name);
    // The view's columns as the caller sees them; pruning may only use stored values it sees as such.
    const shape = policy?.limited ? policyViewSql('SELECT 1', columnNames, policy) : null;
    if (policy?.limited) await checkPolicyFilters(duck, policy, columnNames).catch((e) => {
      throw lakehouseError('FORBIDDEN', `row filter on ${tableName} cannot be applied: ${(e as Error).message}`);
    });
    const allPredicates = predicatesFor(ref, statements, schema);
    // With a row filter, no pruning by the caller's predicates at all: the files-pruned count would
    // tell whether filtered-out rows match them.
    const predicates = shape?.filtered ? undefined : shape && allPredicates ? allPredicates.filter((p) => shape.rawColumns.has(p.field.name)) : allPredicates;
    const plan = snapshot
      ? await planScan(md, snapshot, {
          io: table.io,
          resolve,
          fileFilter: predicates ? (f, spec) => fileMayMatch(predicates, f, spec) : undefined,
        })
      : null;
    const tasks = plan?.tasks ?? [];
    stats.dataFiles += (plan?.stats.dataFiles ?? 0) + (plan?.stats.filesPruned ?? 0);
    stats.filesPruned += plan?.stats.filesPruned ?? 0;
    stats.filesScanned += tasks.length;
    stats.totalBytes += Number(snapshot?.summary['total-files-size'] ?? 0);
    const seenDeletes = new Set<string>();
    for (const t of tasks) {
      stats.bytesScanned += Number(t.file.fileSizeInBytes);
      for (const d of t.deletes) {
        if (!seenDeletes.has(d.location)) stats.bytesScanned += Number(d.file.fileSizeInBytes);
        seenDeletes.add(d.location);
      }
    }
    const sql = await buildReadSql({ duck, io: table.io, metadata: md, schema, tasks });
    for (const t of tasks) {
      allowed.add(await table.io.localPath(t.location));
      for (const d of t.deletes) allowed.add(await table.io.localPath(d.location));
    }
    if (!shape || !policy) {
      visible.set(tableName, columnNames);
      return sql;
    }
    visible.set(tableName, shape.visible);
    return policyViewSql(sql, columnNames, policy).sql;
  }
}

/**
 * Predicates usable for pruning one table reference: only when every SELECT that reads the table
 * reads it alone (no join) — then its WHERE clause filters exactly this table. Null when any
 * reference gives no usable predicate, since the view serves all of them.
 */
function predicatesFor(ref: TableRef, statements: AstNode[], schema: Schema): Predicate[] | undefined {
  const perUse: Predicate[][] = [];
  let unusable = false;
  walk(statements, (n) => {
    if (n.type !== 'SELECT_NODE') return;
    const from = n.from_table as AstNode | undefined;
    if (from?.type === 'BASE_TABLE') {
      if (from.table_name === ref.table && String(from.schema_name ?? '') === ref.schema && String(from.catalog_name ?? '') === ref.catalog) {
        const qualifiers = new Set([ref.table.toLowerCase(), String(from.alias ?? '').toLowerCase()].filter(Boolean));
        perUse.push(extractPredicates(n.where_clause as AstNode | null, schema, qualifiers));
      }
      return;
    }
    // The table inside a join or other composite FROM: no pruning for that use.
    let inside = false;
    walk(from, (m) => {
      if (m.type === 'BASE_TABLE' && m.table_name === ref.table && String(m.schema_name ?? '') === ref.schema) inside = true;
    });
    if (inside) unusable = true;
  });
  if (unusable || perUse.length !== 1 || perUse[0].length === 0) return undefined;
  return perUse[0];
}

/**
 * Columns a query touched: every visible column of its tables when it selects `*`, else those
 * its column references name (by name: aliases are not traced, so a name shared by two tables
 * counts for both).
 */
export function touchedColumns(statements: AstNode[], visible: Map<string, string[]>): string[] {
  let star = false;
  const names = new Set<string>();
  walk(statements, (n) => {
    if (n.class === 'STAR') star = true;
    if (n.class === 'COLUMN_REF') {
      const parts = n.column_names as string[];
      names.add(parts[parts.length - 1].toLowerCase());
    }
  });
  const out: string[] = [];
  for (const [table, cols] of visible) for (const c of cols) if (star || names.has(c.toLowerCase())) out.push(`${table}.${c}`);
  return out;
}
