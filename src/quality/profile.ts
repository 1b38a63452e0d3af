import { ident, type Duck } from '../duck/db.js';

/**
 * The profile of one batch, computed by DuckDB in one pass: row count, and per column the null
 * ratio, a distinct count (exact, or approximate with HyperLogLog) and, for numeric
 * columns, min / max / mean. Nested columns (lists, structs, maps) get the null ratio only.
 *
 * `relation` is whatever may follow FROM: a table or view name the caller registered, or a
 * parenthesized subquery.
 */
export interface ColumnProfile {
  name: string;
  type: string;
  nullRatio: number;
  distinct: number | null;
  min: number | null;
  max: number | null;
  mean: number | null;
}

export interface BatchProfile {
  rowCount: number;
  columns: ColumnProfile[];
}

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL)/i;
const NESTED = /(\[\]$|^STRUCT|^MAP|^UNION|^LIST|\[\d+\]$)/i;

export async function relationColumns(duck: Duck, relation: string): Promise<{ name: string; type: string }[]> {
  const rows = await duck.rows(`DESCRIBE SELECT * FROM ${relation}`);
  return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
}

const toNum = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export interface ProfileOptions {
  /**
   * 'exact' (default) counts distinct values exactly — right for batches, which are bounded.
   * 'approx' uses DuckDB's approx_count_distinct (HyperLogLog) for whole tables; its estimate is
   * off by ±15 % and more at the thousands of rows of a batch (measured), too noisy to baseline.
   */
  distinct?: 'exact' | 'approx';
}

export async function profileBatch(duck: Duck, relation: string, opts: ProfileOptions = {}): Promise<BatchProfile> {
  const distinctFn = opts.distinct === 'approx' ? (c: string) => `approx_count_distinct(${c})` : (c: string) => `count(DISTINCT ${c})`;
  const columns = await relationColumns(duck, relation);
  const select = ['count(*) AS n'];
  columns.forEach((c, i) => {
    const col = ident(c.name);
    select.push(`count(${col}) AS nn_${i}`);
    if (!NESTED.test(c.type)) select.push(`${distinctFn(col)} AS d_${i}`);
    if (NUMERIC.test(c.type)) select.push(`min(${col})::DOUBLE AS min_${i}`, `max(${col})::DOUBLE AS max_${i}`, `avg(${col})::DOUBLE AS mean_${i}`);
  });
  const [row] = await duck.rows(`SELECT ${select.join(', ')} FROM ${relation}`);
  const n = Number(row.n);
  return {
    rowCount: n,
    columns: columns.map((c, i) => ({
      name: c.name,
      type: c.type,
      nullRatio: n === 0 ? 0 : 1 - Number(row[`nn_${i}`]) / n,
      distinct: toNum(row[`d_${i}`]),
      min: toNum(row[`min_${i}`]),
      max: toNum(row[`max_${i}`]),
      mean: toNum(row[`mean_${i}`]),
    })),
  };
}

/**
 * The metrics the baseline tracks, named `<measure>` or `<measure>:<column>`. The distinct
 * estimate enters as a ratio to the non-null count, so that it does not simply follow the row count;
 * it is not clamped at 1 (the HyperLogLog estimate may exceed the count), so the baseline sees
 * the estimator's real spread.
 */
export function profileMetrics(p: BatchProfile): Map<string, number> {
  const m = new Map<string, number>([['row_count', p.rowCount]]);
  for (const c of p.columns) {
    m.set(`null_ratio:${c.name}`, c.nullRatio);
    const nonNull = p.rowCount * (1 - c.nullRatio);
    if (c.distinct !== null && nonNull > 0) m.set(`distinct_ratio:${c.name}`, c.distinct / nonNull);
    if (c.mean !== null && Number.isFinite(c.mean)) m.set(`mean:${c.name}`, c.mean);
    if (c.min !== null && Number.isFinite(c.min)) m.set(`min:${c.name}`, c.min);
    if (c.max !== null && Number.isFinite(c.max)) m.set(`max:${c.name}`, c.max);
  }
  return m;
}
