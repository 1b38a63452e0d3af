import { lakehouseError } from '../core/errors.js';
import { ident as q, str, type Duck } from '../duck/db.js';
import { parseSelect, walk, type AstNode } from '../query/sql-ast.js';
import { strictestMask, type AccessPath, type EffectivePolicy } from './authz.js';
import type { ColumnMask } from './model.js';

/**
 * A principal's policy as SQL: the view the engine binds a catalog table to is the table's raw
 * read wrapped in a projection (hidden columns left out, masked ones replaced under the same
 * name) and a WHERE clause (row filters). Everything the user's SQL can reach of the table goes
 * through this view, so joins, subqueries, CTEs, set operations and time travel cannot see
 * around it.
 */

/**
 * Checks a row filter predicate: one expression over plain column names of the table (when
 * `columns` is given), no subqueries (so no reads of other tables or table functions), no
 * qualified or star references. Parsed with DuckDB's parser; the predicate goes into SQL in its
 * own parenthesised lines, so a `--` comment or an unbalanced parenthesis cannot escape it.
 */
export async function checkRowFilter(duck: Duck, predicate: string, columns: string[] | null): Promise<void> {
  const bad = (why: string) => lakehouseError('BAD_REQUEST', `invalid row filter ${JSON.stringify(predicate)}: ${why}`);
  let statements: AstNode[];
  try {
    statements = await parseSelect(duck, `SELECT ${wrapPredicate(predicate)} AS __p FROM __t`);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const node = statements[0];
  const from = node?.from_table as AstNode | undefined;
  const selectList = node?.select_list as AstNode[] | undefined;
  const ctes = (node?.cte_map as { map?: unknown[] } | undefined)?.map ?? [];
  if (
    statements.length !== 1 ||
    node.type !== 'SELECT_NODE' ||
    selectList?.length !== 1 ||
    from?.type !== 'BASE_TABLE' ||
    from.table_name !== '__t' ||
    node.where_clause ||
    (node.group_expressions as unknown[] | undefined)?.length ||
    node.having ||
    (node.modifiers as unknown[] | undefined)?.length ||
    ctes.length
  ) {
    throw bad('must be a single SQL expression');
  }
  const known = columns ? new Set(columns.map((c) => c.toLowerCase())) : null;
  walk(selectList[0], (n) => {
    if (n.class === 'SUBQUERY' || n.type === 'SELECT_NODE' || n.type === 'BASE_TABLE' || n.type === 'TABLE_FUNCTION') throw bad('subqueries and table reads are not allowed');
    if (n.class === 'STAR') throw bad('* and COLUMNS(…) are not allowed');
    if (n.class === 'WINDOW') throw bad('window functions are not allowed');
    if (n.class === 'COLUMN_REF') {
      const names = n.column_names as string[];
      if (names.length !== 1) throw bad(`write plain column names, not ${names.join('.')}`);
      if (known && !known.has(names[0].toLowerCase())) throw bad(`unknown column ${names[0]}`);
    }
  });
}

function wrapPredicate(predicate: string): string {
  return `(\n${predicate}\n)`;
}

type Mask = Pick<ColumnMask, 'kind' | 'params'>;

/** The masked value of `col` (a quoted column reference); null keeps the column's type, the others are VARCHAR. */
export function maskSql(col: string, mask: Mask): string {
  const p = mask.params ?? {};
  switch (mask.kind) {
    case 'null':
      // Typed like the column, without naming its type.
      return `(CASE WHEN FALSE THEN ${col} END)`;
    case 'hash':
      return `sha256(CAST(${col} AS VARCHAR))`;
    case 'redact':
      return `CAST(${str(p.replacement ?? '****')} AS VARCHAR)`;
    case 'partial': {
      const first = p.keepFirst ?? 0;
      const last = p.keepLast ?? (p.keepFirst === undefined ? 4 : 0);
      const ch = str(p.maskChar ?? '*');
      const s = `CAST(${col} AS VARCHAR)`;
      // Values too short to hide anything are masked whole.
      return `(CASE WHEN ${s} IS NULL THEN NULL WHEN length(${s}) > ${first + last} THEN left(${s}, ${first}) || repeat(${ch}, length(${s}) - ${first + last}) || right(${s}, ${last}) ELSE repeat(${ch}, length(${s})) END)`;
    }
  }
}

function pathCondition(p: AccessPath): string {
  return p.filters.length === 0 ? 'TRUE' : p.filters.map(wrapPredicate).join(' AND ');
}

function anyOf(paths: AccessPath[]): string {
  if (paths.length === 0) return 'FALSE';
  if (paths.some((p) => p.filters.length === 0)) return 'TRUE';
  return paths.map((p) => `(${pathCondition(p)})`).join(' OR ');
}

export interface PolicyView {
  /** The view's SELECT over `raw` (the table's read SQL). */
  sql: string;
  /** Columns of the view that are exactly the stored values (usable for file pruning). */
  rawColumns: Set<string>;
  /** Columns the principal may name (the view's columns). */
  visible: string[];
  /** Rows are filtered: statistics of the whole table (pruning counts) would describe hidden rows. */
  filtered: boolean;
}

/**
 * The view for `policy` over the raw read `raw` whose columns are `columns`. The row filter is
 * applied in a MATERIALIZED CTE: DuckDB then evaluates the user's own predicates only on rows
 * that passed it, so a predicate that errors (or is slow) on some values cannot probe filtered
 * rows.
 */
export function policyViewSql(raw: string, columns: string[], policy: EffectivePolicy): PolicyView {
  const paths = policy.paths;
  // Masks name columns: one that names no column of the schema read (renamed, dropped, nested)
  // must not silently stop masking, so the table is refused until the mask is fixed.
  const known = new Set(columns.map((c) => c.toLowerCase()));
  for (const p of paths) {
    const stray = p.masks.find((m) => !known.has(m.column.toLowerCase()));
    if (stray) {
      throw lakehouseError('FORBIDDEN', `${[...policy.table.namespace, policy.table.name].join('.')} refused: the mask on column ${stray.column} for role ${stray.role} names no top-level column of the schema read`);
    }
  }
  const where = anyOf(paths);
  const rawColumns = new Set<string>();
  const visible: string[] = [];
  const select: string[] = [];
  for (const c of columns) {
    const granting = paths.filter((p) => p.columns === 'all' || p.columns.some((x) => x.toLowerCase() === c.toLowerCase()));
    if (granting.length === 0) continue;
    visible.push(c);
    const maskOf = (p: AccessPath) => p.masks.find((m) => m.column.toLowerCase() === c.toLowerCase());
    const clear = granting.filter((p) => !maskOf(p));
    const masked = granting.filter((p) => maskOf(p));
    const col = q(c);
    const everyPath = granting.length === paths.length;
    let expr: string;
    if (anyOf(clear) === 'TRUE' || (masked.length === 0 && everyPath)) {
      expr = col;
      rawColumns.add(c);
    } else if (masked.length === 0) {
      // Only some paths grant the column: the rows seen through the others show NULL.
      expr = `CASE WHEN ${anyOf(clear)} THEN ${col} END`;
    } else {
      const mask = strictestMask(masked.map((p) => maskOf(p)!));
      const m = maskSql(col, mask);
      if (clear.length === 0 && everyPath) expr = m;
      else {
        // Different paths see this column differently row by row.
        const value = mask.kind === 'null' ? col : `CAST(${col} AS VARCHAR)`;
        expr = `CASE WHEN ${anyOf(clear)} THEN ${value} WHEN ${anyOf(masked)} THEN ${m} END`;
      }
    }
    select.push(`${expr} AS ${col}`);
  }
  if (select.length === 0) throw lakehouseError('FORBIDDEN', `principal '${policy.principal}' may read no column of ${[...policy.table.namespace, policy.table.name].join('.')}`);
  const projection = `SELECT ${select.join(', ')} FROM __policy_rows`;
  const rows = where === 'TRUE' ? `SELECT * FROM (${raw}) AS __raw` : `SELECT * FROM (${raw}) AS __raw WHERE coalesce(${where}, FALSE)`;
  const sql = where === 'TRUE' ? `WITH __policy_rows AS (${rows}) ${projection}` : `WITH __policy_rows AS MATERIALIZED (${rows}) ${projection}`;
  return { sql, rawColumns, visible, filtered: where !== 'TRUE' };
}

/** Every row filter of the policy, checked again against the columns of the schema it applies to. */
export async function checkPolicyFilters(duck: Duck, policy: EffectivePolicy, columns: string[]): Promise<void> {
  for (const p of policy.paths) for (const f of p.filters) await checkRowFilter(duck, f, columns);
}
