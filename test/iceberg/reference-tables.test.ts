import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { referenceTables, valuesEqual } from '../support/fixtures.js';

// Every check of the shared reference tables (written by Spark and PyIceberg) through the
// `lakehouse scan` contract: JSON on stdout, values per the fixture README.
describe('reference tables through `lakehouse scan`', () => {
  const tables = referenceTables();
  it('finds the reference tables', () => {
    expect(tables.length).toBeGreaterThanOrEqual(10);
  });
  for (const table of tables) {
    describe(table.name, () => {
      for (const check of table.checks) {
        it(check.sql, async () => {
          const res = await runCli(['scan', table.dir, '--metadata', table.metadata, '--sql', check.sql]);
          expect(res.stderr).toBe('');
          expect(res.code).toBe(0);
          const out = JSON.parse(res.stdout);
          expect(Array.isArray(out.columns)).toBe(true);
          if (!valuesEqual(out.rows, check.rows)) expect(out.rows).toEqual(check.rows);
        });
      }
      it('opens without --metadata (version hint or newest metadata file)', async () => {
        const res = await runCli(['scan', table.dir, '--sql', 'SELECT count(*) FROM t']);
        expect(res.stderr).toBe('');
        expect(res.code).toBe(0);
      });
    });
  }
});
