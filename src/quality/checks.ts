import { lakehouseError } from '../core/errors.js';
import { ident, str, type Duck } from '../duck/db.js';

/**
 * Declarative data-quality checks, each compiled to one DuckDB aggregate over a relation (a batch
 * handed in by an ingestion job, or a whole table bound as a view). A check passes when no row
 * fails it (row-level checks) or when the observed value is within bounds (row count,
 * freshness). Checks of a table live in its `lakehouse.quality.checks` property (a JSON array).
 */
export type CheckSeverity = 'warning' | 'critical';

interface Common {
  /** Unique per table; defaults to `<kind>:<column(s)>`. */
  name?: string;
  severity?: CheckSeverity;
}

export type CheckSpec = Common &
  (
    | { kind: 'not_null'; column: string }
    | { kind: 'unique'; columns: string[] }
    | { kind: 'range'; column: string; min?: number; max?: number }
    | { kind: 'accepted_values'; column: string; values: (string | number | boolean)[] }
    | { kind: 'regex'; column: string; pattern: string }
    | { kind: 'freshness'; column: string; maxAgeSeconds: number }
    | { kind: 'row_count'; min?: number; max?: number }
    /** A boolean SQL expression over the row's columns that every row must satisfy (NULL fails). */
    | { kind: 'sql'; expression: string }
  );

export const CHECK_KINDS = ['not_null', 'unique', 'range', 'accepted_values', 'regex', 'freshness', 'row_count', 'sql'] as const;
export const CHECKS_PROPERTY = 'lakehouse.quality.checks';

export interface CheckResult {
  name: string;
  kind: CheckSpec['kind'];
  column: string | null;
  severity: CheckSeverity;
  passed: boolean;
  totalRows: number;
  /** Rows failing a row-level check; null for row_count and freshness. */
  failingRows: number | null;
  /** The measured value: failing rows, the row count, or the age in seconds of the newest row. */
  observed: number | null;
  expected: string;
  message: string;
}

export function checkName(c: CheckSpec): string {
  if (c.name) return c.name;
  switch (c.kind) {
    case 'unique':
      return `unique:${c.columns.join(',')}`;
    case 'row_count':
      return 'row_count';
    case 'sql':
      return `sql:${c.expression}`;
    default:
      return `${c.kind}:${c.column}`;
  }
}

function literal(v: string | number | boolean): string {
  if (typeof v === 'string') return str(v);
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (!Number.isFinite(v)) throw lakehouseError('VALIDATION_FAILED', `not a finite number: ${v}`);
  return String(v);
}

/**
 * SQL expressions run in the caller's DuckDB. They are limited to an expression (no statement
 * separator, no subquery, no table functions reaching files) — checked here by DuckDB's own
 * parser on a probe query; the relation is the only table it can see.
 */
async function validateExpression(duck: Duck, expression: string): Promise<void> {
  if (expression.includes(';')) throw lakehouseError('VALIDATION_FAILED', 'a SQL check is one expression (no ;)');
  const [row] = await duck.rows(`SELECT json_serialize_sql(${str(`SELECT (${expression}) FROM t`)}) AS j`);
  const tree = JSON.parse(String(row.j)) as {
    error?: boolean;
    error_message?: string;
    statements?: { node: { select_list: unknown[]; from_table: { type: string; table_name?: string }; where_clause?: unknown } }[];
  };
  if (tree.error) throw lakehouseError('VALIDATION_FAILED', `SQL check does not parse: ${tree.error_message}`);
  // The probe must still be exactly "SELECT <one expression> FROM t": anything else means the
  // expression closed the parenthesis and added clauses of its own.
  const node = tree.statements?.length === 1 ? tree.statements[0].node : null;
  const shapeOk = node && node.select_list.length === 1 && node.from_table.type === 'BASE_TABLE' && node.from_table.table_name === 't' && !node.where_clause;
  if (!shapeOk) throw lakehouseError('VALIDATION_FAILED', 'a SQL check must be a single boolean expression');
  if (/"(type|class)":"(SUBQUERY|TABLE_FUNCTION)"/.test(String(row.j))) throw lakehouseError('VALIDATION_FAILED', 'a SQL check may not contain subqueries or table functions');
}

/** Evaluates the checks over the relation; `now` is the reference time of freshness checks. */
export async function runChecks(duck: Duck, relation: string, checks: CheckSpec[], now = Date.now()): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const [{ n }] = await duck.rows(`SELECT count(*) AS n FROM ${relation}`);
  const total = Number(n);
  for (const c of checks) {
    const name = checkName(c);
    const severity = c.severity ?? 'warning';
    const base = { name, kind: c.kind, severity, totalRows: total };
    const failing = async (predicate: string): Promise<number> => {
      const [r] = await duck.rows(`SELECT count(*) FILTER (WHERE ${predicate}) AS f FROM ${relation}`);
      return Number(r.f);
    };
    const rowLevel = (column: string | null, f: number, expected: string): CheckResult => ({
      ...base,
      column,
      passed: f === 0,
      failingRows: f,
      observed: f,
      expected,
      message: f === 0 ? 'ok' : `${f} of ${total} rows fail: ${expected}`,
    });
    switch (c.kind) {
      case 'not_null':
        out.push(rowLevel(c.column, await failing(`${ident(c.column)} IS NULL`), `${c.column} is not null`));
        break;
      case 'unique': {
        const cols = c.columns.map(ident).join(', ');
        const [r] = await duck.rows(
          `SELECT coalesce(sum(k), 0) AS f FROM (SELECT count(*) AS k FROM ${relation} WHERE ${c.columns.map((x) => `${ident(x)} IS NOT NULL`).join(' AND ')} GROUP BY ${cols} HAVING count(*) > 1)`,
        );
        out.push(rowLevel(c.columns.join(','), Number(r.f), `${c.columns.join(', ')} unique`));
        break;
      }
      case 'range': {
        const col = ident(c.column);
        const conds = [c.min !== undefined ? `${col} < ${literal(c.min)}` : null, c.max !== undefined ? `${col} > ${literal(c.max)}` : null].filter(Boolean);
        if (conds.length === 0) throw lakehouseError('VALIDATION_FAILED', `range check ${name} needs min or max`);
        out.push(rowLevel(c.column, await failing(conds.join(' OR ')), `${c.min ?? '-inf'} <= ${c.column} <= ${c.max ?? '+inf'}`));
        break;
      }
      case 'accepted_values':
        if (c.values.length === 0) throw lakehouseError('VALIDATION_FAILED', `accepted_values check ${name} needs values`);
        out.push(rowLevel(c.column, await failing(`${ident(c.column)} IS NOT NULL AND ${ident(c.column)} NOT IN (${c.values.map(literal).join(', ')})`), `${c.column} in [${c.values.join(', ')}]`));
        break;
      case 'regex':
        out.push(rowLevel(c.column, await failing(`${ident(c.column)} IS NOT NULL AND NOT regexp_full_match(CAST(${ident(c.column)} AS VARCHAR), ${str(c.pattern)})`), `${c.column} matches /${c.pattern}/`));
        break;
      case 'sql':
        await validateExpression(duck, c.expression);
        out.push(rowLevel(null, await failing(`NOT coalesce((${c.expression}), FALSE)`), c.expression));
        break;
      case 'row_count': {
        const ok = (c.min === undefined || total >= c.min) && (c.max === undefined || total <= c.max);
        const expected = `${c.min ?? 0} <= rows <= ${c.max ?? '+inf'}`;
        out.push({ ...base, column: null, passed: ok, failingRows: null, observed: total, expected, message: ok ? 'ok' : `${total} rows, expected ${expected}` });
        break;
      }
      case 'freshness': {
        const [r] = await duck.rows(`SELECT epoch_ms(max(${ident(c.column)})::TIMESTAMPTZ) AS t FROM ${relation}`);
        const newest = r.t === null ? null : Number(r.t);
        const age = newest === null ? null : (now - newest) / 1000;
        const ok = age !== null && age <= c.maxAgeSeconds;
        const expected = `newest ${c.column} at most ${c.maxAgeSeconds} s old`;
        out.push({ ...base, column: c.column, passed: ok, failingRows: null, observed: age, expected, message: ok ? 'ok' : age === null ? 'no rows with a timestamp' : `newest row is ${Math.round(age)} s old` });
        break;
      }
      default:
        throw lakehouseError('VALIDATION_FAILED', `unknown check kind ${(c as { kind: string }).kind}`);
    }
  }
  return out;
}

/** Parses and validates the `lakehouse.quality.checks` property (absent → no checks). */
export function checksFromProperties(props: Record<string, string>): CheckSpec[] {
  const raw = props[CHECKS_PROPERTY];
  if (!raw) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw lakehouseError('VALIDATION_FAILED', `${CHECKS_PROPERTY} is not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw lakehouseError('VALIDATION_FAILED', `${CHECKS_PROPERTY} must be a JSON array of checks`);
  for (const c of parsed as { kind?: unknown }[]) {
    if (!c || typeof c !== 'object' || !CHECK_KINDS.includes(c.kind as never)) throw lakehouseError('VALIDATION_FAILED', `${CHECKS_PROPERTY}: unknown check ${JSON.stringify(c)}`);
  }
  return parsed as CheckSpec[];
}

/**
 * Structural validation of check specs given in an API body (`where` prefixes messages): kinds,
 * required fields and their types. SQL expressions are vetted when they run (validateExpression).
 */
export function validateCheckSpecs(value: unknown, where: string): CheckSpec[] {
  const bad = (msg: string) => lakehouseError('VALIDATION_FAILED', `${where}: ${msg}`);
  if (!Array.isArray(value)) throw bad('a list of checks');
  const isStr = (v: unknown) => typeof v === 'string' && v.length > 0;
  const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const names = new Set<string>();
  value.forEach((c: Record<string, unknown>, i) => {
    const at = `[${i}]`;
    if (!c || typeof c !== 'object' || Array.isArray(c)) throw bad(`${at} is not an object`);
    if (!CHECK_KINDS.includes(c.kind as never)) throw bad(`${at}.kind must be one of ${CHECK_KINDS.join(', ')}`);
    if (c.severity !== undefined && c.severity !== 'warning' && c.severity !== 'critical') throw bad(`${at}.severity: warning or critical`);
    if (c.name !== undefined && !isStr(c.name)) throw bad(`${at}.name: a non-empty string`);
    const needs = (field: string, ok: (v: unknown) => boolean, what: string) => {
      if (!ok(c[field])) throw bad(`${at}.${field}: ${what}`);
    };
    const optNum = (field: string) => c[field] === undefined || isNum(c[field]);
    switch (c.kind) {
      case 'unique':
        needs('columns', (v) => Array.isArray(v) && v.length > 0 && v.every(isStr), 'a non-empty list of column names');
        break;
      case 'row_count':
        if (!optNum('min') || !optNum('max')) throw bad(`${at}: min and max are numbers`);
        break;
      case 'sql':
        needs('expression', isStr, 'a SQL boolean expression');
        break;
      default:
        needs('column', isStr, 'a column name');
        if (c.kind === 'range' && (!optNum('min') || !optNum('max'))) throw bad(`${at}: min and max are numbers`);
        if (c.kind === 'accepted_values') needs('values', (v) => Array.isArray(v) && v.length > 0 && v.every((x) => ['string', 'number', 'boolean'].includes(typeof x)), 'a non-empty list of values');
        if (c.kind === 'regex') {
          needs('pattern', isStr, 'a regular expression');
        }
        if (c.kind === 'freshness') needs('maxAgeSeconds', (v) => isNum(v) && (v as number) > 0, 'a positive number of seconds');
    }
    const name = checkName(c as unknown as CheckSpec);
    if (names.has(name)) throw bad(`${at}: duplicate check name ${name}`);
    names.add(name);
  });
  return value as CheckSpec[];
}
