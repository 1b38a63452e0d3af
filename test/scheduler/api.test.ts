import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/server.js';
import { startScheduler, type SchedulerHandle } from '../../src/scheduler/index.js';
import { startTestServer, type TestServer } from '../api/own-support.js';
import { waitFor } from './support.js';

/** /api/v1/schedules over HTTP (SQLite catalog), with a scheduler runner executing the runs. */
describe('own API: schedules', () => {
  let s: TestServer;
  let sched: SchedulerHandle | null = null;
  beforeAll(async () => {
    s = await startTestServer('warn');
  });
  afterAll(async () => {
    await sched?.stop();
    await s?.close();
  });

  const body = {
    name: 'nightly-copy',
    kind: 'sql',
    params: { sql: 'SELECT 42 AS answer' },
    cron: '30 2 * * *',
    timezone: 'America/New_York',
    owner: 'ana',
    retry: { maxAttempts: 3, backoffMs: 500 },
    concurrency: 'skip',
    catchUp: 'none',
    timeoutMs: 60000,
  };

  it('creates, validates, lists, replaces, runs, cancels and deletes', async () => {
    const c = await s.call('POST', '/api/v1/schedules', body);
    expect(c.status, c.text).toBe(201);
    expect(c.body).toMatchObject({ name: 'nightly-copy', kind: 'sql', cron: '30 2 * * *', intervalSeconds: null, enabled: true, retry: { maxAttempts: 3, backoffMs: 500, multiplier: 2 }, concurrency: 'skip', catchUp: 'none' });
    // 02:30 in New York is 06:30 or 07:30 UTC.
    expect(c.body.nextRunAt).toMatch(/T0[67]:30:00.000Z$/);
    const id = c.body.id;
    expect((await s.call('POST', '/api/v1/schedules', body)).status).toBe(409);

    const bad = async (patch: Record<string, unknown>, re: RegExp) => {
      const r = await s.call('POST', '/api/v1/schedules', { ...body, name: 'bad', ...patch });
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.message).toMatch(re);
    };
    await bad({ intervalSeconds: 10 }, /exactly one of cron and intervalSeconds/);
    await bad({ cron: 'not a cron' }, /invalid cron expression/);
    await bad({ timezone: 'Mars/Olympus' }, /unknown time zone/);
    await bad({ kind: 'maintenance', params: { namespace: 'db', table: 't', action: 'defrag' } }, /params.action must be one of/);
    await bad({ params: {} }, /params.sql/);
    await bad({ concurrency: 'parallel' }, /concurrency/);

    const list = await s.call('GET', '/api/v1/schedules?owner=ana');
    expect(list.body.schedules.map((j: any) => j.id)).toEqual([id]);
    expect((await s.call('GET', '/api/v1/schedules?owner=bob')).body.schedules).toEqual([]);

    const put = await s.call('PUT', `/api/v1/schedules/${id}`, { ...body, cron: undefined, intervalSeconds: 3600, enabled: false });
    expect(put.status, put.text).toBe(200);
    expect(put.body).toMatchObject({ cron: null, intervalSeconds: 3600, enabled: false, nextRunAt: null });
    expect((await s.call('GET', `/api/v1/schedules/${id}`)).body.intervalSeconds).toBe(3600);
    expect((await s.call('GET', '/api/v1/schedules/00000000-0000-4000-8000-000000000000')).status).toBe(404);

    // No runner yet: a manual run stays queued and can be cancelled at once.
    const q = await s.call('POST', `/api/v1/schedules/${id}/run`);
    expect(q.status, q.text).toBe(202);
    expect(q.body).toMatchObject({ scheduleId: id, status: 'queued', trigger: 'manual', attempt: 1 });
    const cancelled = await s.call('POST', `/api/v1/schedules/runs/${q.body.id}/cancel`);
    expect(cancelled.status, cancelled.text).toBe(202);
    expect(cancelled.body.status).toBe('cancelled');
    expect((await s.call('POST', `/api/v1/schedules/runs/${q.body.id}/cancel`)).status).toBe(409);

    // With a runner, "run now" executes (even for a disabled job).
    sched = startScheduler(s.catalog, null, { pollMs: 100 });
    const r = await s.call('POST', `/api/v1/schedules/${id}/run`);
    const done = await waitFor(async () => {
      const g = await s.call('GET', `/api/v1/schedules/runs/${r.body.id}`);
      return ['succeeded', 'failed'].includes(g.body.status) ? g.body : null;
    }, 30_000);
    expect(done).toMatchObject({ status: 'succeeded', rowsAffected: 1, error: null, runnerId: sched.runner!.id });
    expect(done.logs.map((l: any) => l.message).join('\n')).toMatch(/returned 1 rows/);
    expect(Date.parse(done.endedAt)).toBeGreaterThanOrEqual(Date.parse(done.startedAt));

    const runs = await s.call('GET', `/api/v1/schedules/${id}/runs?status=succeeded,cancelled`);
    expect(runs.status, runs.text).toBe(200);
    expect(runs.body.runs.map((x: any) => x.status)).toEqual(['succeeded', 'cancelled']);
    const all = await s.call('GET', `/api/v1/schedules/runs?scheduleId=${id}&status=succeeded&limit=5`);
    expect(all.body.runs).toHaveLength(1);
    const since = await s.call('GET', `/api/v1/schedules/runs?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    expect(since.body.runs).toEqual([]);
    expect((await s.call('GET', '/api/v1/schedules/runs?status=bogus')).status).toBe(400);

    expect((await s.call('DELETE', `/api/v1/schedules/${id}`)).status).toBe(204);
    expect((await s.call('GET', `/api/v1/schedules/${id}`)).status).toBe(404);
    expect((await s.call('GET', `/api/v1/schedules/runs/${r.body.id}`)).status).toBe(404);
  }, 60_000);

  it('startScheduler({app}) stops the runner when the server closes (the serve() wiring)', async () => {
    const app = await buildServer({ catalog: s.catalog, logLevel: 'warn', security: { anonymous: true } });
    const handle = startScheduler(s.catalog, null, { app, pollMs: 100 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    expect(handle.runner!.running).toBe(true);
    await app.close();
    expect(handle.runner!.running).toBe(false);
  });
});
