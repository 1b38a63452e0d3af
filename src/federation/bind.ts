import type { Catalog } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { lakehouseError } from '../core/errors.js';
import { ident as q, type Duck } from '../duck/db.js';
import type { QueryStats } from '../query/engine.js';
import { parseSelect, walk, type AstNode, type TableRef } from '../query/sql-ast.js';
import type { EffectivePolicy } from '../security/authz.js';
import { checkPolicyFilters, policyViewSql } from '../security/sql-policy.js';
import { ResolvingFileIO } from '../storage/registry.js';
import { fileColumns, loadFiles, localFiles, readerSql } from './files.js';
import { predColumns, pushableFilter, referencedColumns, type ColumnInfo } from './pushdown.js';
import { mysqlDialect } from './mysql.js';
import { postgresDialect } from './postgres.js';
import { appendRows, fetchRows, sourceColumns, type SqlDialect } from './sql-source.js';
import { externalSourcesOf, type ExternalSource, type FilesConfig } from './store.js';

/**
 * Binding an external table into a query's DuckDB, the way the engine binds an Iceberg table:
 * `<source>.<schema>.<table>` becomes a view named exactly so, over a table loaded with only
 * the rows and columns the query needs (pushdown, ./pushdown.ts) and wrapped in the caller's
 * policy (grants, masks, row filters — the resource is namespace `[source, schema]`, table
 * `table`). The loaded rows live in a catalog (`fed$raw`) that no query can name: every table
 * reference of a query is bound by the engine, and a catalog that is neither ours nor a
 * registered source is refused, so the raw rows are reachable only through the view.
 */
export interface ExternalScan {
  table: string;
  kind: ExternalSource['kind'];
  /** Columns fetched (projection pushdown). */
  columns: string[];
  /** The statement sent to the source (PostgreSQL: with `$n` placeholders, MySQL: `?`) or run over the files. */
  sql: string;
  params: string[];
  /** Whether any WHERE conjunct was pushed. */
  filterPushed: boolean;
  /** Rows loaded; left out when a row filter applies (it would count hidden rows). */
  rows?: number;
  ms: number;
}

const RAW = 'fed$raw';
/** DuckDB's own catalogs; a source may not shadow them. */
export const RESERVED_SOURCE_NAMES = new Set(['memory', 'system', 'temp', 'main', RAW]);

/** The dialect of a source that is an SQL server (null for file sources). */
export function sqlDialectOf(src: ExternalSource): SqlDialect | null {
  if (src.kind === 'postgres') return postgresDialect;
  if (src.kind === 'mysql') return mysqlDialect;
  return null;
}

/**
 * File sources are read with the catalog's FileIO when it resolves every scheme (the service's
 * `storage` settings: S3 endpoint, credentials, …), else with the defaults of each scheme.
 */
function fileIOOf(catalog: Catalog): ResolvingFileIO {
  const io = (catalog as unknown as { io?: unknown }).io;
  return io instanceof ResolvingFileIO ? io : new ResolvingFileIO();
}

export interface BindContext {
  catalog: Catalog;
  duck: Duck;
  statements: AstNode[];
  stats: QueryStats;
  visible: Map<string, string[]>;
  /** External tables already bound in this DuckDB: lower-cased name → name as written. */
  bound: Map<string, string>;
  policyFor: (id: TableIdent) => Promise<EffectivePolicy | null>;
  /** The query's cancellation: cancels a running source statement. */
  signal?: AbortSignal;
}

/** Binds `ref` when its catalog part names an external source; false when it names none. */
export async function bindExternal(ref: TableRef, ctx: BindContext): Promise<boolean> {
  const store = externalSourcesOf(ctx.catalog);
  if (!store || !ref.catalog) return false;
  const src = await store.get(ref.catalog.toLowerCase(), true);
  if (!src) return false;
  const tableName = `${src.name}.${ref.schema}.${ref.table}`;
  if (ref.at) throw lakehouseError('UNSUPPORTED_OPERATION', `time travel is not supported on external table ${tableName}`);
  // DuckDB resolves names case-insensitively, so one view serves every spelling; the source and
  // the grants match names exactly, so a query may use only one spelling per table.
  const key = tableName.toLowerCase();
  const spelled = ctx.bound.get(key);
  if (spelled !== undefined) {
    if (spelled !== tableName) throw lakehouseError('BAD_REQUEST', `${spelled} and ${tableName} differ only in case: write one spelling`);
    return true;
  }
  ctx.bound.set(key, tableName);
  const t0 = performance.now();
  // Before looking at the source: without SELECT, whether the table exists is none of the caller's business.
  const policy = await ctx.policyFor({ namespace: [src.name, ref.schema], name: ref.table });
  const duck = ctx.duck;
  const fileTable = src.kind === 'files' ? findFileTable(src, ref) : null;
  const reader = fileTable ? readerSql(fileTable, await localFiles(fileTable, fileIOOf(ctx.catalog))) : null;
  const dialect = reader ? null : sqlDialectOf(src);
  const columns = dialect ? await sourceColumns(dialect, src, ref.schema, ref.table) : await fileColumns(duck, reader!);
  const names = columns.map((c) => c.name);
  const limited = policy?.limited ? policy : null;
  if (limited) {
    await checkPolicyFilters(duck, limited, names).catch((e) => {
      throw lakehouseError('FORBIDDEN', `row filter on ${tableName} cannot be applied: ${(e as Error).message}`);
    });
  }
  // Checks every mask against the full column list, and tells which columns are stored values.
  const shape = limited ? policyViewSql('SELECT 1', names, limited) : null;
  const needed = referencedColumns(ctx.statements, ref, columns);
  if (limited) for (const c of await filterColumns(duck, limited, columns)) needed.add(c);
  // With a row filter, nothing of the caller's is pushed: what the source is asked (and returns)
  // would depend on rows the caller may not see.
  const usable = new Set((shape ? (shape.filtered ? [] : [...shape.rawColumns]) : names).map((c) => c.toLowerCase()));
  const filter = pushableFilter(ctx.statements, ref, columns, usable);
  if (filter) for (const c of predColumns(filter)) needed.add(c);
  // DuckDB tables need a column; count(*) still needs the rows.
  const fetched = columns.filter((c) => needed.has(c.name));
  if (fetched.length === 0) fetched.push(columns[0]);
  const raw = `${q(RAW)}.main.${q(`t${ctx.bound.size}`)}`;
  await duck.run(`ATTACH IF NOT EXISTS ':memory:' AS ${q(RAW)}`);
  let scan: ExternalScan;
  if (reader) {
    const sql = await loadFiles(duck, reader, raw, fetched, filter);
    scan = { table: tableName, kind: 'files', columns: fetched.map((c) => c.name), sql, params: [], filterPushed: filter !== null, ms: 0 };
    if (!shape?.filtered) scan.rows = Number((await duck.rows(`SELECT count(*) AS n FROM ${raw}`))[0].n);
  } else {
    const got = await appendRows(duck, RAW, `t${ctx.bound.size}`, fetched, (sink) => fetchRows(dialect!, src, ref.schema, ref.table, fetched, filter, sink, ctx.signal));
    scan = { table: tableName, kind: src.kind, columns: fetched.map((c) => c.name), sql: got.sql, params: got.params, filterPushed: got.filterPushed, ms: 0 };
    if (!shape?.filtered) scan.rows = got.rows;
  }
  scan.ms = Math.round(performance.now() - t0);
  const rawSelect = `SELECT ${fetched.map((c) => q(c.name)).join(', ')} FROM ${raw}`;
  const view = limited ? policyViewSql(rawSelect, fetched.map((c) => c.name), onlyColumns(limited, new Set(fetched.map((c) => c.name.toLowerCase())))).sql : rawSelect;
  const schema = `${q(ref.catalog)}.${q(ref.schema)}`;
  await duck.run([`ATTACH IF NOT EXISTS ':memory:' AS ${q(ref.catalog)}`, `CREATE SCHEMA IF NOT EXISTS ${schema}`, `CREATE OR REPLACE VIEW ${schema}.${q(ref.table)} AS ${view}`].join(';\n'));
  ctx.stats.tables.push(tableName);
  (ctx.stats.external ??= []).push(scan);
  ctx.visible.set(tableName, shape ? shape.visible : names);
  return true;
}

function findFileTable(src: ExternalSource, ref: TableRef) {
  const t = (src.config as FilesConfig).tables.find((x) => (x.schema ?? 'main') === ref.schema && x.name === ref.table);
  if (!t) throw lakehouseError('NO_SUCH_TABLE', `table does not exist: ${src.name}.${ref.schema}.${ref.table}`);
  return t;
}

/** Columns the policy's row filters name (they must be loaded for the filter to run). */
async function filterColumns(duck: Duck, policy: EffectivePolicy, columns: ColumnInfo[]): Promise<string[]> {
  const byName = new Map(columns.map((c) => [c.name.toLowerCase(), c.name]));
  const out: string[] = [];
  for (const p of policy.paths) {
    for (const f of p.filters) {
      walk(await parseSelect(duck, `SELECT (\n${f}\n) FROM __t`), (n) => {
        if (n.class !== 'COLUMN_REF') return;
        const c = byName.get((n.column_names as string[])[0].toLowerCase());
        if (c) out.push(c);
      });
    }
  }
  return out;
}

/** The policy with masks on columns that were not loaded left out (the view cannot show those columns anyway). */
function onlyColumns(policy: EffectivePolicy, loaded: Set<string>): EffectivePolicy {
  return { ...policy, paths: policy.paths.map((p) => ({ ...p, masks: p.masks.filter((m) => loaded.has(m.column.toLowerCase())) })) };
}
