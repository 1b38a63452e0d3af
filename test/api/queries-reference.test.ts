import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { referenceTables, valuesEqual } from '../support/fixtures.js';
import { startServer } from '../support/http.js';

// Every check of the shared reference tables (Spark / PyIceberg writers), through the query API
// over real HTTP: POST /api/v1/queries, JSON parsed as a client would, compared like the
// in-process engine test (test/query/reference-tables.test.ts).
describe('reference tables through POST /api/v1/queries', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let app: FastifyInstance;
  let base: string;
  const tables = referenceTables();
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-refapi-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    for (const t of tables) {
      await catalog.createNamespace([t.name]);
      // Registered in place: the files stay in the fixture folder.
      await catalog.store.createTable({ namespace: [t.name], name: 't' }, join(t.dir, t.metadata));
    }
    ({ app, base } = await startServer({ catalog, logLevel: 'warn', security: { anonymous: true } }));
  });
  afterAll(async () => {
    await app?.close();
    await catalog?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has checks to run', () => {
    expect(tables.length).toBeGreaterThanOrEqual(10);
    expect(tables.every((t) => t.checks.length > 0)).toBe(true);
  });

  for (const table of tables) {
    for (const check of table.checks) {
      it(`${table.name}: ${check.sql}`, async () => {
        const res = await fetch(`${base}/api/v1/queries`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ sql: check.sql, defaultNamespace: table.name }),
        });
        const body = await res.json();
        expect(res.status, JSON.stringify(body)).toBe(200);
        expect(body.state).toBe('succeeded');
        expect(body.truncated).toBe(false);
        expect(body.nextPageToken).toBeUndefined();
        expect(body.stats.tables).toEqual([`${table.name}.t`]);
        if (!valuesEqual(body.rows, check.rows)) expect(body.rows).toEqual(check.rows);
      });
    }
  }
});
