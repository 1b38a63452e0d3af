import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { QueryEngine } from '../../src/query/engine.js';
import { referenceTables, valuesEqual } from '../support/fixtures.js';

// The shared reference tables (Spark / PyIceberg), registered in a catalog in place (their files
// stay where they are) and checked through the SQL engine — with pruning and the sandbox on.
describe('reference tables through the SQL engine', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let engine: QueryEngine;
  const tables = referenceTables();
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-refq-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    engine = new QueryEngine(catalog);
    for (const t of tables) {
      await catalog.createNamespace([t.name]);
      await catalog.store.createTable({ namespace: [t.name], name: 't' }, join(t.dir, t.metadata));
    }
  });
  afterAll(async () => {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const table of tables) {
    for (const check of table.checks) {
      it(`${table.name}: ${check.sql}`, async () => {
        const res = await engine.query(check.sql, { defaultNamespace: [table.name] });
        if (!valuesEqual(res.rows, check.rows)) expect(res.rows).toEqual(check.rows);
      });
    }
  }
});
