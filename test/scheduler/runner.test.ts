import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchedulerRunner } from '../../src/scheduler/runner.js';
import { ended, recorder, runOf, sleep, sqliteEnv, waitFor, type Env } from './support.js';

/** Retries, timeout, skip vs queue, catch-up and cancel, on a SQLite catalog with test executors. */
describe('scheduler runner', () => {
  let env: Env;
  beforeAll(async () => {
    env = await sqliteEnv();
  });
  afterAll(async () => {
    await env?.close();
  });

  const runner = (exec: ReturnType<typeof recorder>['exec'], opts: ConstructorParameters<typeof SchedulerRunner>[2] = {}) =>
    new SchedulerRunner(env.catalog, env.store, { pollMs: 50, leaseMs: 2000, executors: { sql: exec }, ...opts });

  it('retries with exponential backoff, then succeeds', async () => {
    const rec = recorder((_ctx, n) => (n < 3 ? { ms: 5, fail: `boom ${n}` } : { ms: 5 }));
    const job = await env.store.createJob({ name: 'retry', kind: 'sql', params: { sql: 'SELECT 1' }, intervalSeconds: 3600, retry: { maxAttempts: 3, backoffMs: 200, multiplier: 2 } });
    const r = runner(rec.exec).start();
    try {
      const queued = await env.store.runNow(job.id);
      const run = await runOf(env.store, queued.id, ended);
      expect(run.status).toBe('succeeded');
      expect(run.attempt).toBe(3);
      expect(run.error).toBeNull();
      expect(run.rowsAffected).toBe(1);
      const ex = rec.executions;
      expect(ex.map((e) => [e.attempt, e.outcome])).toEqual([[1, 'error'], [2, 'error'], [3, 'ok']]);
      expect(ex[1].start - ex[0].end!).toBeGreaterThanOrEqual(190);
      expect(ex[2].start - ex[1].end!).toBeGreaterThanOrEqual(390);
      expect(run.logs.map((l) => l.message).join('\n')).toMatch(/attempt 1 failed: boom 1; retry in 200 ms[\s\S]*retry in 400 ms[\s\S]*succeeded/);
    } finally {
      await r.stop();
    }
  });

  it('times out a run (AbortSignal) and fails it when no attempt is left', async () => {
    const rec = recorder(() => ({ ms: 10_000 }));
    const job = await env.store.createJob({ name: 'slow', kind: 'sql', params: { sql: 'SELECT 1' }, intervalSeconds: 3600, timeoutMs: 300 });
    const r = runner(rec.exec).start();
    try {
      const t0 = Date.now();
      const run = await runOf(env.store, (await env.store.runNow(job.id)).id, ended);
      expect(run.status).toBe('failed');
      expect(run.error).toMatch(/timed out after 300 ms/);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(rec.executions[0].outcome).toBe('aborted');
    } finally {
      await r.stop();
    }
  });

  it('cancels a queued run at once and a running run through its runner', async () => {
    const rec = recorder(() => ({ ms: 10_000 }));
    const job = await env.store.createJob({ name: 'cancel', kind: 'sql', params: { sql: 'SELECT 1' }, intervalSeconds: 3600 });
    const queued = await env.store.runNow(job.id);
    expect((await env.store.cancelRun(queued.id)).status).toBe('cancelled');
    const r = runner(rec.exec, { heartbeatMs: 100 }).start();
    try {
      const run = await env.store.runNow(job.id);
      await runOf(env.store, run.id, (x) => x.status === 'running');
      await env.store.cancelRun(run.id);
      const done = await runOf(env.store, run.id, ended);
      expect(done.status).toBe('cancelled');
      await expect(env.store.cancelRun(run.id)).rejects.toThrow(/already ended/);
      expect(rec.executions.map((e) => e.outcome)).toEqual(['aborted']);
    } finally {
      await r.stop();
    }
  });

  it('skip vs queue when runs outlast the interval', async () => {
    const rec = recorder(() => ({ ms: 1300 }));
    const skip = await env.store.createJob({ name: 'skip', kind: 'sql', params: { sql: 'SELECT 1' }, intervalSeconds: 1, concurrency: 'skip' });
    const queue = await env.store.createJob({ name: 'queue', kind: 'sql', params: { sql: 'SELECT 1' }, intervalSeconds: 1, concurrency: 'queue' });
    const r = runner(rec.exec).start();
    await sleep(5200);
    await r.stop();
    const runsOf = (id: string) => env.store.listRuns({ jobId: id, order: 'asc' });
    const s = await runsOf(skip.id);
    const q = await runsOf(queue.id);
    const count = (rs: typeof s, st: string) => rs.filter((x) => x.status === st).length;
    // skip: slots due while a run was going are recorded as skipped, never run.
    expect(count(s, 'skipped')).toBeGreaterThanOrEqual(1);
    expect(count(s, 'succeeded')).toBeGreaterThanOrEqual(2);
    // queue: nothing skipped; runs pile up and run one after the other.
    expect(count(q, 'skipped')).toBe(0);
    expect(count(q, 'succeeded')).toBeGreaterThanOrEqual(2);
    expect(count(q, 'queued')).toBeGreaterThanOrEqual(1);
    for (const id of [skip.id, queue.id]) {
      const ex = rec.executions.filter((e) => e.jobId === id).sort((a, b) => a.start - b.start);
      for (let i = 1; i < ex.length; i++) expect(ex[i].start).toBeGreaterThanOrEqual(ex[i - 1].end!); // never overlapping
    }
    // Each slot has at most one run row and no slot was executed twice.
    for (const rs of [s, q]) expect(new Set(rs.map((x) => x.scheduledFor)).size).toBe(rs.length);
    expect(new Set(rec.executions.map((e) => e.runId)).size).toBe(rec.executions.length);
  }, 15_000);

  it('catch-up after downtime: none / one / all', async () => {
    const rec = recorder(() => ({ ms: 5 }));
    const now = Date.now();
    // Slots every 5 s at −50.5 s … −0.5 s: 11 slots, the oldest 10 "missed" with 3 s grace. The
    // margins (the newest slot is 2.5 s inside the grace, the next is 4.5 s away) let the runner's
    // first look come late on a loaded machine without changing which slots are missed.
    const startAt = now - 50_500;
    const jobs = await Promise.all(
      (['none', 'one', 'all'] as const).map((catchUp) =>
        env.store.createJob({ name: `catchup-${catchUp}`, kind: 'sql', params: { sql: 'SELECT 1' }, intervalSeconds: 5, startAt, catchUp }, now),
      ),
    );
    const r = runner(rec.exec, { graceMs: 3000 }).start();
    try {
      await waitFor(async () => (await env.store.listRuns({ jobId: jobs[2].id, status: ['succeeded'] })).length >= 10, 10_000);
      await sleep(200);
    } finally {
      await r.stop();
    }
    const byTrigger = async (id: string) => {
      const rs = await env.store.listRuns({ jobId: id, order: 'asc' });
      return { catchUp: rs.filter((x) => x.trigger === 'catch-up'), schedule: rs.filter((x) => x.trigger === 'schedule'), all: rs };
    };
    const [none, one, all] = await Promise.all(jobs.map((j) => byTrigger(j.id)));
    expect(none.catchUp).toHaveLength(0);
    expect(none.all.every((x) => x.scheduledFor >= now - 1500)).toBe(true);
    expect(one.catchUp).toHaveLength(1);
    expect(one.catchUp[0].scheduledFor).toBe(startAt + 45_000); // the latest missed slot
    expect(all.catchUp.length).toBe(10);
    expect(all.catchUp.map((x) => x.scheduledFor)).toEqual(Array.from({ length: 10 }, (_, k) => startAt + k * 5000));
    for (const x of [...one.catchUp, ...all.catchUp]) expect(x.status).toBe('succeeded');
  }, 20_000);
});
