/**
 * Derived columns of an ingestion job: SQL expressions (DuckDB dialect, e.g. `upper(name)`,
 * `ts::date`, `amount * 100`) over the row's other columns, evaluated by DuckDB once per batch —
 * never per record in JS. An expression is one scalar expression: no statement separators, no
 * subqueries (which could read other tables or files); it may name only columns of the row.
 *
 * Checked twice: when a job is defined (syntax, functions and column names, so a bad expression
 * is a 400 there and not a failing job later) and when a run starts (bound against the table's
 * actual column types, which also gives the column type of a derived column the job creates).
 */
import { Duck, ident, str } from '../duck/db.js';
import { duckType } from '../duck/types.js';
import { icebergTypeOf } from '../duck/iceberg-type-of.js';
import type { IcebergType } from '../iceberg/types.js';

export class DerivedExpressionError extends Error {}

interface ParsedExpr {
  columns: Set<string>;
}

function collect(node: unknown, out: ParsedExpr): void {
  if (Array.isArray(node)) {
    for (const n of node) collect(n, out);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  if (o.class === 'SUBQUERY' || o.type === 'SUBQUERY') throw new DerivedExpressionError('subqueries are not allowed');
  if (o.class === 'COLUMN_REF' && Array.isArray(o.column_names)) out.columns.add(String(o.column_names.at(-1)));
  if (o.class === 'STAR') throw new DerivedExpressionError('* is not allowed');
  for (const v of Object.values(o)) collect(v, out);
}

/** Parses `expr` as one scalar expression (DuckDB's own parser); returns the columns it names. */
export async function parseDerived(duck: Duck, expr: string): Promise<ParsedExpr> {
  if (expr.trim() === '') throw new DerivedExpressionError('empty expression');
  const rows = await duck.rows(`SELECT json_serialize_sql(${str(`SELECT (${expr}) AS x`)}) AS j`);
  const tree = JSON.parse(String(rows[0].j)) as { error: boolean; error_message?: string; statements?: { node: { select_list: unknown[]; from_table?: { type?: string } } }[] };
  if (tree.error) throw new DerivedExpressionError(tree.error_message ?? 'syntax error');
  const st = tree.statements ?? [];
  // `x) FROM t, (SELECT 1` and similar would smuggle in a FROM clause or a second select item.
  if (st.length !== 1 || st[0].node.select_list.length !== 1 || (st[0].node.from_table && st[0].node.from_table.type !== 'EMPTY')) {
    throw new DerivedExpressionError('not a single expression');
  }
  const out: ParsedExpr = { columns: new Set() };
  collect(st[0].node.select_list, out);
  return out;
}

/**
 * Binds every expression against a row of `columns` (name → Iceberg type, or null for "type not
 * known yet") and returns each derived column's type. Throws DerivedExpressionError naming the
 * column for unknown columns or functions and type errors.
 */
export async function bindDerived(duck: Duck, derived: Record<string, string>, columns: Map<string, IcebergType | null>): Promise<Map<string, IcebergType>> {
  const out = new Map<string, IcebergType>();
  const row = [...columns].map(([name, t]) => `${t === null ? 'NULL' : `CAST(NULL AS ${duckType(t)})`} AS ${ident(name)}`);
  for (const [name, expr] of Object.entries(derived)) {
    let parsed: ParsedExpr;
    try {
      parsed = await parseDerived(duck, expr);
    } catch (e) {
      throw new DerivedExpressionError(`derived column ${name}: ${(e as Error).message}`);
    }
    for (const c of parsed.columns) {
      if (Object.hasOwn(derived, c)) throw new DerivedExpressionError(`derived column ${name}: refers to derived column ${c}`);
      if (!columns.has(c)) throw new DerivedExpressionError(`derived column ${name}: unknown column ${c} in ${JSON.stringify(expr)}`);
    }
    try {
      const res = await duck.all(`SELECT (${expr}) AS x FROM (SELECT ${row.length > 0 ? row.join(', ') : '1 AS "__none"'}) LIMIT 0`);
      let id = 0;
      out.set(name, icebergTypeOf(res.columnType(0), () => ++id));
    } catch (e) {
      throw new DerivedExpressionError(`derived column ${name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return out;
}

/**
 * Checks a job definition's derived columns without a table (when it does not exist yet): syntax,
 * functions, and that they name no other derived column. `known`: column names known to exist,
 * or null when any name may come from the records.
 */
export async function validateDerived(derived: Record<string, string>, known: Map<string, IcebergType | null> | null): Promise<void> {
  const duck = await Duck.open();
  try {
    let columns = known;
    if (!columns) {
      columns = new Map();
      for (const expr of Object.values(derived)) {
        try {
          for (const c of (await parseDerived(duck, expr)).columns) columns.set(c, null);
        } catch {
          /* reported by bindDerived with the column's name */
        }
      }
      for (const name of Object.keys(derived)) columns.delete(name);
    }
    await bindDerived(duck, derived, columns);
  } finally {
    duck.close();
  }
}
