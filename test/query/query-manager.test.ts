import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalogStore } from '../../src/catalog/sql/sql-store.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { QueryEngine } from '../../src/query/engine.js';
import { QueryHistoryStore } from '../../src/query/history-store.js';
import { QueryManager } from '../../src/query/query-manager.js';

// The query manager's history, with and without a persisted store: same filters and order, and a
// store failure never fails the query.
describe('query manager history', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let sqlStore: SqlCatalogStore;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-qm-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    sqlStore = catalog.store as SqlCatalogStore;
  });
  afterAll(async () => {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function exercise(m: QueryManager) {
    const a = m.submit({ sql: 'SELECT 1' });
    await a.done;
    const b = m.submit({ sql: 'SELEC 2' });
    await b.done;
    const c = m.submit({ sql: 'SELECT 3', principal: 'alice' });
    await c.done;
    expect(a.submittedAt).toBeLessThan(b.submittedAt);
    expect(b.submittedAt).toBeLessThan(c.submittedAt);
    const all = await m.list({ limit: 10 });
    expect(all.map((e) => [e.sql, e.status, e.principal])).toEqual([
      ['SELECT 3', 'succeeded', 'alice'],
      ['SELEC 2', 'failed', null],
      ['SELECT 1', 'succeeded', null],
    ]);
    expect((await m.list({ limit: 10, status: 'failed' })).map((e) => e.error?.code)).toEqual(['BAD_REQUEST']);
    expect((await m.list({ limit: 10, sinceMs: b.submittedAt })).map((e) => e.sql)).toEqual(['SELECT 3', 'SELEC 2']);
    expect((await m.list({ limit: 1 })).map((e) => e.sql)).toEqual(['SELECT 3']);
    expect((await m.lookup(a.id))?.id).toBe(a.id);
  }

  it('in memory (catalogs without a SQL store)', async () => {
    const m = new QueryManager(new QueryEngine(catalog), { history: null });
    await exercise(m);
    await m.close();
  });

  it('persisted, readable by a second manager', async () => {
    const store = new QueryHistoryStore(sqlStore.db, `${sqlStore.catalogName}-qm`);
    const m = new QueryManager(new QueryEngine(catalog), { history: store });
    await exercise(m);
    await m.close();
    const other = new QueryManager(new QueryEngine(catalog), { history: store });
    const rows = await other.list({ limit: 10 });
    expect(rows.map((e) => e.sql)).toEqual(['SELECT 3', 'SELEC 2', 'SELECT 1']);
    expect(rows[0]).toMatchObject({ rowCount: 1, truncated: false, error: null });
    expect(rows[0].durationMs).toBeGreaterThanOrEqual(0);
    expect(rows[0].stats).toMatchObject({ filesScanned: 0 });
  });

  it('prunes persisted entries past the retention, at the first submission and on demand', async () => {
    const store = new QueryHistoryStore(sqlStore.db, `${sqlStore.catalogName}-prune`);
    const old = { sql: 'SELECT old', principal: null, startedAt: null, endedAt: null, durationMs: null, rowCount: null, truncated: false,
      bytesScanned: null, filesScanned: null, filesPruned: null, stats: null, error: null };
    await store.insert({ ...old, id: 'a', status: 'succeeded', submittedAt: Date.now() - 40 * 86_400_000 });
    await store.insert({ ...old, id: 'b', status: 'running', submittedAt: Date.now() - 40 * 86_400_000 });
    await store.insert({ ...old, id: 'c', status: 'failed', submittedAt: Date.now() - 10 * 86_400_000 });
    const m = new QueryManager(new QueryEngine(catalog), { history: store });
    await m.submit({ sql: 'SELECT 1' }).done;
    // The 40-day-old finished entry is gone; a running one (maybe another process's) stays.
    expect((await store.list({ limit: 10 })).map((e) => e.id).slice(1)).toEqual(['c', 'b']);
    const short = new QueryManager(new QueryEngine(catalog), { history: store, historyRetentionMs: 86_400_000 });
    expect(await short.pruneHistory()).toBe(1);
    expect((await store.list({ limit: 10 })).map((e) => e.sql)).toEqual(['SELECT 1', 'SELECT old']);
    await m.close();
  });

  it('a failing history store is logged, the query still succeeds', async () => {
    const warnings: string[] = [];
    const broken = new QueryHistoryStore(sqlStore.db, 'x');
    broken.insert = async () => {
      throw new Error('disk full');
    };
    const m = new QueryManager(new QueryEngine(catalog), { history: broken, log: { warn: (_o, msg) => warnings.push(msg) } });
    const r = m.submit({ sql: 'SELECT 42' });
    await r.done;
    expect(r.state).toBe('succeeded');
    expect(r.result?.rows).toEqual([[42]]);
    expect(warnings).toContain('query history not written');
    await m.close();
  });
});
