import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { startServer, type Listening } from '../support/http.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

// The query history lives in the catalog database (migration 0004-query-history): a service
// restarted on the same database lists the queries of its previous life, with their stats and
// errors, on SQLite and on PostgreSQL. Also: live progress of a running async query.

// Runs until interrupted (10^12 rows); range() is allowed in queries.
const SLOW = 'SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b';

interface Service extends Listening {
  catalog: SqlCatalog;
  close(): Promise<void>;
}

async function startService(storeUrl: string, warehouse: string): Promise<Service> {
  const catalog = await openSqlCatalog({ storeUrl, warehouse });
  const server = await startServer({ catalog, logLevel: 'warn', security: { anonymous: true } });
  return {
    ...server,
    catalog,
    async close() {
      await server.app.close();
      await catalog.close();
    },
  };
}

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs a mix of queries, restarts the service on the same database, and checks the history. */
async function historySurvivesRestart(storeUrl: string, warehouse: string): Promise<void> {
  let s = await startService(storeUrl, warehouse);
  const ids: Record<string, string> = {};
  let sinceIso: string;
  try {
    await s.catalog.createNamespace(['hist']);
    const ctas = await s.call('POST', '/api/v1/queries', {
      sql: `CREATE TABLE hist.t WITH (partitioning = ARRAY['part']) AS SELECT range AS id, range % 4 AS part FROM range(100)`,
    });
    expect(ctas.status, JSON.stringify(ctas.body)).toBe(200);
    ids.ctas = ctas.body.queryId;
    const ok = await s.call('POST', '/api/v1/queries', { sql: 'SELECT id FROM hist.t WHERE part = 1 ORDER BY id' });
    expect(ok.status).toBe(200);
    ids.ok = ok.body.queryId;
    sinceIso = new Date((await s.call('GET', `/api/v1/queries/${ids.ok}`)).body.submittedAt).toISOString();
    const bad = await s.call('POST', '/api/v1/queries', { sql: 'SELECT nope FROM hist.t' });
    expect(bad.status).toBe(400);
    const slow = await s.call('POST', '/api/v1/queries', { sql: SLOW, async: true });
    ids.slow = slow.body.queryId;
    expect((await waitFor(() => s.call('GET', `/api/v1/queries/${ids.slow}`), (x) => x.body.state === 'running')).body.state).toBe('running');
    expect((await s.call('DELETE', `/api/v1/queries/${ids.slow}`)).status).toBe(200);
    expect((await waitFor(() => s.call('GET', `/api/v1/queries/${ids.slow}`), (x) => x.body.state === 'cancelled')).body.state).toBe('cancelled');
    const last = await s.call('POST', '/api/v1/queries', { sql: 'SELECT count(*) FROM hist.t' });
    ids.last = last.body.queryId;
  } finally {
    await s.close();
  }

  s = await startService(storeUrl, warehouse);
  try {
    const all = await s.call('GET', '/api/v1/queries?limit=100');
    expect(all.status, JSON.stringify(all.body)).toBe(200);
    const q = all.body.queries;
    expect(q.map((e: any) => e.state)).toEqual(['succeeded', 'cancelled', 'failed', 'succeeded', 'succeeded']);
    expect(q[0]).toMatchObject({ queryId: ids.last, sql: 'SELECT count(*) FROM hist.t', principal: 'admin', rowCount: 1, error: null });
    const ok = q.find((e: any) => e.queryId === ids.ok);
    expect(ok).toMatchObject({ state: 'succeeded', rowCount: 25, filesScanned: 1, filesPruned: 3 });
    expect(ok.bytesScanned).toBeGreaterThan(0);
    expect(ok.durationMs).toBeGreaterThanOrEqual(0);
    expect(Date.parse(ok.finishedAt)).toBeGreaterThanOrEqual(Date.parse(ok.startedAt));
    expect(q.find((e: any) => e.state === 'failed')).toMatchObject({ sql: 'SELECT nope FROM hist.t', error: { code: 'BAD_REQUEST' } });
    expect(q.find((e: any) => e.state === 'failed').error.message).toMatch(/nope/);
    expect(q.find((e: any) => e.queryId === ids.slow).error.code).toBe('QUERY_CANCELLED');
    expect(q[4]).toMatchObject({ queryId: ids.ctas, rowCount: 1 });

    // Filters: status, since, limit.
    const failed = await s.call('GET', '/api/v1/queries?status=failed');
    expect(failed.body.queries.map((e: any) => e.sql)).toEqual(['SELECT nope FROM hist.t']);
    const since = await s.call('GET', `/api/v1/queries?since=${encodeURIComponent(sinceIso)}`);
    expect(since.body.queries.map((e: any) => e.queryId)).toEqual(q.slice(0, 4).map((e: any) => e.queryId));
    expect((await s.call('GET', '/api/v1/queries?limit=2')).body.queries.map((e: any) => e.queryId)).toEqual([q[0].queryId, q[1].queryId]);
    expect((await s.call('GET', '/api/v1/queries?since=yesterday')).status).toBe(400);

    // Status of a query from before the restart: its stats, but no results any more.
    const st = await s.call('GET', `/api/v1/queries/${ids.ok}`);
    expect(st.status).toBe(200);
    expect(st.body).toMatchObject({ state: 'succeeded', rowCount: 25, resultsAvailable: false, progress: 100 });
    expect(st.body.stats).toMatchObject({ tables: ['hist.t'], filesScanned: 1, filesPruned: 3 });
    expect((await s.call('GET', `/api/v1/queries/${ids.ok}/results`)).status).toBe(404);

    // New queries join the same history.
    await s.call('POST', '/api/v1/queries', { sql: 'SELECT 1' });
    const after = await s.call('GET', '/api/v1/queries?limit=2');
    expect(after.body.queries.map((e: any) => e.sql)).toEqual(['SELECT 1', 'SELECT count(*) FROM hist.t']);
  } finally {
    await s.close();
  }
}

describe('query history across restarts', () => {
  it('on SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lh-qhist-'));
    try {
      await historySurvivesRestart(`sqlite:${dir}/catalog.db`, `${dir}/wh`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('on PostgreSQL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lh-qhist-pg-'));
    let pg: TestPostgres | null = null;
    try {
      pg = await startPostgres();
      await historySurvivesRestart(pg.url, `${dir}/wh`);
    } finally {
      await pg?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

describe('live progress of an async query', () => {
  let dir: string;
  let s: Service;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-qprog-'));
    s = await startService(`sqlite:${dir}/catalog.db`, `${dir}/wh`);
    await s.catalog.createNamespace(['prog']);
    const r = await s.call('POST', '/api/v1/queries', { sql: 'CREATE TABLE prog.big AS SELECT range AS id FROM range(2000000)', timeoutMs: 600_000 });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }, 300_000);
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports progress strictly between 0 and 100 percent while running, 100 when done', async () => {
    // Three md5s of every row keep the scan busy for a while (long enough for 10 ms polls to see
    // it mid-way on a fast machine); DuckDB reports the share of rows scanned.
    const sub = await s.call('POST', '/api/v1/queries', { sql: 'SELECT count(DISTINCT md5(md5(md5(id::VARCHAR)))) FROM prog.big', async: true });
    expect(sub.status).toBe(202);
    const seen: number[] = [];
    let st;
    for (;;) {
      st = await s.call('GET', `/api/v1/queries/${sub.body.queryId}`);
      if (st.body.state === 'running' && st.body.progress !== null) seen.push(st.body.progress);
      if (st.body.state !== 'queued' && st.body.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(st.body).toMatchObject({ state: 'succeeded', progress: 100 });
    expect(st.body.rowCount).toBe(1);
    const between = seen.filter((p) => p > 0 && p < 100);
    expect(between.length, `progress samples: ${seen.join(', ')}`).toBeGreaterThan(0);
    // Never goes backwards.
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  }, 120_000);
});
