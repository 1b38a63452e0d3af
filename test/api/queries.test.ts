import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Duck } from '../../src/duck/db.js';
import { appendSql } from '../../src/table/table-ops.js';
import { startTestServer, type TestServer } from './own-support.js';

// Runs until interrupted (10^12 rows); DuckDB allows range() in queries.
const SLOW = 'SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b';

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('own API: queries', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('warn');
    const r = await s.call('POST', '/api/v1/tables', {
      namespace: 'qs',
      name: 't',
      columns: [
        { name: 'id', type: 'long', required: true },
        { name: 'label', type: 'string' },
      ],
    });
    expect(r.status, r.text).toBe(201);
    const duck = await Duck.open();
    await appendSql(s.catalog, { namespace: ['qs'], name: 't' }, duck, `SELECT range AS id, CASE WHEN range = 3 THEN 'a,"b"' ELSE 'l' || range END AS label FROM range(25)`);
    duck.close();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('runs a query synchronously as JSON with stats', async () => {
    const r = await s.call('POST', '/api/v1/queries', { sql: 'SELECT count(*) AS n, sum(id) AS s FROM t', defaultNamespace: 'qs' });
    expect(r.status, r.text).toBe(200);
    expect(r.body.state).toBe('succeeded');
    expect(r.body.queryId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body.columns).toEqual([{ name: 'n', type: 'BIGINT' }, { name: 's', type: 'HUGEINT' }]);
    expect(r.body.rows).toEqual([[25, 300]]);
    expect(r.body.truncated).toBe(false);
    expect(r.body.nextPageToken).toBeUndefined();
    expect(r.body.stats).toMatchObject({ tables: ['qs.t'], filesScanned: 1, filesPruned: 0 });
    expect(r.body.stats.bytesScanned).toBeGreaterThan(0);
  });

  it('returns RFC 4180 CSV with a header row', async () => {
    const r = await s.call('POST', '/api/v1/queries', { sql: 'SELECT id, label, NULL AS z FROM qs.t WHERE id IN (2, 3) ORDER BY id' }, { accept: 'text/csv' });
    expect(r.status, r.text).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(r.text).toBe('id,label,z\r\n2,l2,\r\n3,"a,""b""",\r\n');
  });

  it('pages large results and applies maxRows', async () => {
    const first = await s.call('POST', '/api/v1/queries', { sql: 'SELECT id FROM qs.t ORDER BY id', pageSize: 10 });
    expect(first.status, first.text).toBe(200);
    expect(first.body.rows).toHaveLength(10);
    expect(first.body.rowCount).toBe(25);
    const ids = first.body.rows.map((x: number[]) => x[0]);
    let token = first.body.nextPageToken;
    while (token) {
      const p = await s.call('GET', `/api/v1/queries/${first.body.queryId}/results?pageSize=10&pageToken=${token}`);
      expect(p.status, p.text).toBe(200);
      ids.push(...p.body.rows.map((x: number[]) => x[0]));
      token = p.body.nextPageToken;
    }
    expect(ids).toEqual(Array.from({ length: 25 }, (_, i) => i));
    const csvPage = await fetch(`${s.base}/api/v1/queries/${first.body.queryId}/results?pageSize=5&pageToken=${first.body.nextPageToken}`, { headers: { accept: 'text/csv' } });
    expect(await csvPage.text()).toBe('10\r\n11\r\n12\r\n13\r\n14\r\n');
    expect(csvPage.headers.get('x-next-page-token')).toBeTruthy();
    const bad = await s.call('GET', `/api/v1/queries/${first.body.queryId}/results?pageToken=bogus`);
    expect(bad.status).toBe(400);

    const limited = await s.call('POST', '/api/v1/queries', { sql: 'SELECT id FROM qs.t', maxRows: 7 });
    expect(limited.body.rows).toHaveLength(7);
    expect(limited.body.truncated).toBe(true);
  });

  it('runs asynchronously: 202, status, results', async () => {
    const r = await s.call('POST', '/api/v1/queries', { sql: 'SELECT label FROM qs.t WHERE id = 5', async: true });
    expect(r.status, r.text).toBe(202);
    expect(['queued', 'running']).toContain(r.body.state);
    const st = await waitFor(() => s.call('GET', `/api/v1/queries/${r.body.queryId}`), (x) => x.body.state === 'succeeded');
    expect(st.body).toMatchObject({ state: 'succeeded', rowCount: 1, progress: 100, error: null, resultsAvailable: true });
    expect(st.body.stats.tables).toEqual(['qs.t']);
    const res = await s.call('GET', `/api/v1/queries/${r.body.queryId}/results`);
    expect(res.body.rows).toEqual([['l5']]);
    expect((await s.call('GET', '/api/v1/queries/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('cancels a running query', async () => {
    const r = await s.call('POST', '/api/v1/queries', { sql: SLOW, async: true });
    expect(r.status).toBe(202);
    await waitFor(() => s.call('GET', `/api/v1/queries/${r.body.queryId}`), (x) => x.body.state === 'running');
    await new Promise((res) => setTimeout(res, 300));
    const t0 = Date.now();
    const d = await s.call('DELETE', `/api/v1/queries/${r.body.queryId}`);
    expect(d.status, d.text).toBe(200);
    const st = await waitFor(() => s.call('GET', `/api/v1/queries/${r.body.queryId}`), (x) => x.body.state === 'cancelled');
    expect(st.body.state).toBe('cancelled');
    expect(st.body.error.code).toBe('QUERY_CANCELLED');
    expect(Date.now() - t0).toBeLessThan(10_000);
    const res = await s.call('GET', `/api/v1/queries/${r.body.queryId}/results`);
    expect(res.status).toBe(409);
    expect(res.body.error.type).toBe('QueryCancelledException');
  });

  it('times a query out', async () => {
    const t0 = Date.now();
    const r = await s.call('POST', '/api/v1/queries', { sql: SLOW, timeoutMs: 500 });
    expect(r.status, r.text).toBe(408);
    expect(r.body.error).toMatchObject({ type: 'QueryTimeoutException', code: 408 });
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('applies a per-query memory limit (it can only lower the service limit)', async () => {
    // A list aggregate of 20M BIGINTs needs ~160 MB and cannot spill.
    const sql = 'SELECT len(list(i)) AS n FROM range(20000000) t(i)';
    const small = await s.call('POST', '/api/v1/queries', { sql, memoryLimitMb: 32 });
    expect(small.status, small.text).toBe(422);
    expect(small.body.error).toMatchObject({ type: 'QueryMemoryLimitException', code: 422 });
    expect(small.body.error.message).toMatch(/32MiB/);
    const enough = await s.call('POST', '/api/v1/queries', { sql, memoryLimitMb: 1024 });
    expect(enough.status, enough.text).toBe(200);
    expect(enough.body.rows).toEqual([[20000000]]);
    expect((await s.call('POST', '/api/v1/queries', { sql: 'SELECT 1', memoryLimitMb: 1 })).status).toBe(400);
  });

  it('maps engine errors: bad SQL 400, unknown table 404, validation', async () => {
    const bad = await s.call('POST', '/api/v1/queries', { sql: 'SELEC 1' });
    expect(bad.status, bad.text).toBe(400);
    expect(bad.body.error.code).toBe(400);
    const badCol = await s.call('POST', '/api/v1/queries', { sql: 'SELECT nope FROM qs.t' });
    expect(badCol.status).toBe(400);
    expect(badCol.body.error.message).toMatch(/nope/);
    const missing = await s.call('POST', '/api/v1/queries', { sql: 'SELECT * FROM qs.missing' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.type).toBe('NoSuchTableException');
    expect((await s.call('POST', '/api/v1/queries', {})).status).toBe(400);
  });

  it('runs a write statement (INSERT) and time travel by snapshotId', async () => {
    const before = await s.call('GET', '/api/v1/tables/qs/t');
    const snap = before.body.currentSnapshot.snapshotId ?? before.body.currentSnapshot.id;
    const ins = await s.call('POST', '/api/v1/queries', { sql: "INSERT INTO qs.t VALUES (100, 'new')" });
    expect(ins.status, ins.text).toBe(200);
    expect(ins.body.rows).toEqual([[1]]);
    const after = await s.call('POST', '/api/v1/queries', { sql: 'SELECT count(*) FROM qs.t' });
    expect(after.body.rows).toEqual([[26]]);
    if (typeof snap === 'string') {
      const old = await s.call('POST', '/api/v1/queries', { sql: 'SELECT count(*) FROM qs.t', snapshotId: snap });
      expect(old.body.rows).toEqual([[25]]);
    }
    const asOf = await s.call('POST', '/api/v1/queries', { sql: 'SELECT count(*) FROM qs.t', asOf: new Date().toISOString() });
    expect(asOf.body.rows).toEqual([[26]]);
  });

  it('lists the query history, newest first', async () => {
    await s.call('POST', '/api/v1/queries', { sql: 'SELECT id FROM qs.t WHERE id < 3' });
    const h = await s.call('GET', '/api/v1/queries?limit=3');
    expect(h.status, h.text).toBe(200);
    expect(h.body.queries).toHaveLength(3);
    expect(h.body.queries[0]).toMatchObject({ sql: 'SELECT id FROM qs.t WHERE id < 3', state: 'succeeded', rowCount: 3, filesScanned: 1, filesPruned: 1 });
    expect(h.body.queries[0].bytesScanned).toBeGreaterThan(0);
    expect(typeof h.body.queries[0].durationMs).toBe('number');
    const all = await s.call('GET', '/api/v1/queries?limit=100');
    const states = all.body.queries.map((q: any) => q.state);
    expect(states).toContain('cancelled');
    expect(states).toContain('failed');
    const failed = all.body.queries.find((q: any) => q.state === 'failed' && q.sql === 'SELEC 1');
    expect(failed.error.code).toBe('BAD_REQUEST');
  });
});
