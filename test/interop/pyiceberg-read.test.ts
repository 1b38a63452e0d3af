import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringifyJson } from '../../src/core/json.js';
import { Duck } from '../../src/duck/db.js';
import { openFolderTable } from '../../src/table/folder-table.js';
import { queryTable } from '../../src/table/scan-query.js';
import { runCli } from '../support/cli.js';
import { valuesEqual, type ReferenceCheck } from '../support/fixtures.js';
import { runPython } from './python.js';

// PyIceberg → us: test/interop/pyiceberg-tables.py writes a corpus of tables with PyIceberg's
// SqlCatalog, each with an expected.json (shared fixture format) whose answers come from
// PyIceberg's own scan; every check must give the same rows through `lakehouse scan`.
// The first check of each table (`SELECT * … ORDER BY id`) runs the built CLI; the others run the
// same code in-process (openFolderTable + queryTable, JSON round trip, as src/cli/main.ts does) —
// one CLI process per check costs ~1 s of CPU each, too much on a loaded 2-core CI machine.
const TABLES = [
  'v1_table', 'gzip_metadata', 'part_ts_day', 'part_ts_hour', 'part_tstz_month', 'part_date_year',
  'part_decimal_identity', 'part_decimal_bucket', 'part_string_truncate', 'part_multi', 'evolved_spec',
  'schema_evolution', 'deletes', 'position_deletes', 'name_mapping', 'nested', 'primitives',
];

interface Expected {
  metadata: string;
  checks: ReferenceCheck[];
}

describe('PyIceberg-written tables through `lakehouse scan`', () => {
  let dir: string;
  let generated: { name: string; dir: string; metadata: string }[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-pyiceberg-'));
    const res = await runPython('pyiceberg-tables.py', [dir], { timeoutMs: 240_000 });
    generated = JSON.parse(res.stdout).tables;
  }, 300_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('generates every table of the corpus', () => {
    expect(generated.map((t) => t.name).sort()).toEqual([...TABLES].sort());
  });

  for (const name of TABLES) {
    it(name, async () => {
      const table = generated.find((t) => t.name === name);
      expect(table, `${name} was not generated`).toBeDefined();
      const expected: Expected = JSON.parse(readFileSync(join(table!.dir, 'expected.json'), 'utf8'));
      expect(expected.checks.length).toBeGreaterThan(0);
      const [first, ...rest] = expected.checks;
      const res = await runCli(['scan', table!.dir, '--metadata', expected.metadata, '--sql', first.sql]);
      expect.soft(res.stderr, first.sql).toBe('');
      expect.soft(res.code, first.sql).toBe(0);
      if (res.code === 0) {
        const out = JSON.parse(res.stdout);
        if (!valuesEqual(out.rows, first.rows)) expect.soft(out.rows, first.sql).toEqual(first.rows);
      }
      const duck = await Duck.open();
      try {
        const folder = await openFolderTable(table!.dir, expected.metadata);
        for (const check of rest) {
          let rows: unknown;
          try {
            rows = JSON.parse(stringifyJson((await queryTable(folder, check.sql, duck)).rows));
          } catch (e) {
            expect.soft((e as Error).message, check.sql).toBeUndefined();
            continue;
          }
          if (!valuesEqual(rows, check.rows)) expect.soft(rows, check.sql).toEqual(check.rows);
        }
        // The newest metadata file is found without --metadata, too.
        const newest = await openFolderTable(table!.dir);
        expect.soft(newest.metadataLocation.endsWith(expected.metadata.replace(/^metadata\//, ''))).toBe(true);
      } finally {
        duck.close();
      }
    }, 120_000);
  }
});
