/**
 * Evaluating a batch's derived columns (derived.ts) in DuckDB. A row on which an expression fails
 * (a cast error, say) must not fail the batch: the failing rows are found by bisection (a few
 * queries per bad row) and reported, and the rest is evaluated without them.
 */
import { ident, type Duck } from '../duck/db.js';
import { duckType } from '../duck/types.js';
import type { Schema } from '../iceberg/schema.js';

export interface DerivedFailure {
  /** The row's `__i`. */
  i: number;
  error: string;
}

/**
 * Creates temp table `into` (`__i` and every column of `schema`) from `rowsTable` (`__i` and
 * every non-derived column). Returns the rows dropped because an expression failed on them.
 */
export async function evaluateDerived(duck: Duck, derived: Record<string, string>, schema: Schema, rowsTable: string, into: string): Promise<DerivedFailure[]> {
  const cols = schema.fields.map((f) => (Object.hasOwn(derived, f.name) ? `CAST((${derived[f.name]}) AS ${duckType(f.type)}) AS ${ident(f.name)}` : ident(f.name)));
  const query = (where: string) => `SELECT __i, ${cols.join(', ')} FROM (SELECT * FROM ${rowsTable}${where}) AS s`;
  try {
    await duck.run(`CREATE OR REPLACE TEMP TABLE ${into} AS ${query('')}`);
    return [];
  } catch {
    /* some rows fail: find them */
  }
  const ids = (await duck.rows(`SELECT __i FROM ${rowsTable} ORDER BY __i`)).map((r) => Number(r.__i));
  const bad: DerivedFailure[] = [];
  const probe = async (lo: number, hi: number): Promise<void> => {
    try {
      await duck.run(`CREATE OR REPLACE TEMP TABLE __ingest_probe AS ${query(` WHERE __i IN (${ids.slice(lo, hi).join(', ')})`)}`);
    } catch (e) {
      if (hi - lo === 1) bad.push({ i: ids[lo], error: `derived columns: ${(e as Error).message.split('\n')[0]}` });
      else {
        const mid = (lo + hi) >> 1;
        await probe(lo, mid);
        await probe(mid, hi);
      }
    }
  };
  await probe(0, ids.length);
  await duck.run('DROP TABLE IF EXISTS __ingest_probe');
  const skip = bad.length > 0 ? ` WHERE __i NOT IN (${bad.map((b) => b.i).join(', ')})` : '';
  await duck.run(`CREATE OR REPLACE TEMP TABLE ${into} AS ${query(skip)}`);
  return bad;
}
