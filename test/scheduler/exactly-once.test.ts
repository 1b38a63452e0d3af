import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { schedulerStoreFor } from '../../src/scheduler/index.js';
import { SchedulerRunner } from '../../src/scheduler/runner.js';
import { slotsBetween } from '../../src/scheduler/schedule.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { recorder, sleep, waitFor } from './support.js';

/**
 * Two runners (two catalog connections to one real PostgreSQL) and a job every 2 s for ~20 s:
 * every slot runs exactly once; one runner is killed mid-run and the other takes the run over
 * after the lease expires. In-process runners let this test see every execution (attempt, runner,
 * outcome); exactly-once-processes.test.ts shows the same with two `lakehouse serve` OS processes,
 * one of them SIGKILLed mid-run.
 */
describe('scheduler: exactly once across runners (PostgreSQL)', () => {
  let pg: TestPostgres;
  let dir: string;
  let a: SqlCatalog;
  let b: SqlCatalog;
  beforeAll(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'lh-sched-pg-'));
    a = await openSqlCatalog({ storeUrl: pg.url, warehouse: `${dir}/wh` });
    b = await openSqlCatalog({ storeUrl: pg.url, warehouse: `${dir}/wh` });
  }, 120_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs every 2-second slot exactly once; a killed runner’s run is taken over', async () => {
    const storeA = schedulerStoreFor(a)!;
    const storeB = schedulerStoreFor(b)!;
    const rec = recorder(() => ({ ms: 600 }));
    const job = await storeA.createJob({ name: 'every2s', kind: 'sql', params: { sql: 'SELECT 1' }, cron: '*/2 * * * * *', concurrency: 'queue' });
    const opts = { pollMs: 200, leaseMs: 3000, heartbeatMs: 500, executors: { sql: rec.exec } };
    const ra = new SchedulerRunner(a, storeA, { ...opts, runnerId: 'runner-A' }).start();
    const rb = new SchedulerRunner(b, storeB, { ...opts, runnerId: 'runner-B' }).start();
    const t0 = Date.now();
    const until = t0 + 20_000;

    // Kill a runner in the middle of one of its runs (after a few slots have gone by).
    const victim = await waitFor(async () => rec.executions.find((e) => e.end === null && e.start > t0 + 4000), 14_000, 20);
    const killedAt = Date.now();
    const [dead, alive] = victim.runnerId === 'runner-A' ? [ra, rb] : [rb, ra];
    dead.kill();

    await sleep(Math.max(0, until - Date.now()));
    // Let the backlog drain (queue concurrency), then stop B.
    const survivor = alive.id;
    // Every slot due by `until` has its run (the last one may still be claimed a poll later on a
    // loaded machine) and none is queued or running any more.
    const due = slotsBetween(job, job.cursorMs, until).slots.length;
    await waitFor(async () => {
      const rs = await storeA.listRuns({ jobId: job.id, until: until + 1 });
      return rs.length >= due && rs.every((r) => r.status !== 'queued' && r.status !== 'running');
    }, 10_000, 100);
    await alive.stop();

    const slots = slotsBetween(job, job.cursorMs, until).slots;
    const runs = await storeA.listRuns({ jobId: job.id, until: until + 1, order: 'asc' });
    expect(slots.length).toBeGreaterThanOrEqual(9);
    // One run row per due slot, nothing extra, all succeeded.
    expect(runs.map((r) => r.scheduledFor)).toEqual(slots);
    expect(runs.filter((r) => r.status !== 'succeeded')).toEqual([]);
    // Exactly one successful execution per slot.
    for (const s of slots) expect(rec.executions.filter((e) => e.scheduledFor === s && e.outcome === 'ok')).toHaveLength(1);
    expect(rec.executions.filter((e) => e.scheduledFor <= until && e.outcome !== 'ok')).toHaveLength(1);
    // The killed run: attempt 1 on the dead runner aborted; attempt 2 on the survivor, only after the lease expired.
    const taken = runs.find((r) => r.id === victim.runId)!;
    expect(taken.attempt).toBe(2);
    expect(taken.runnerId).toBe(survivor);
    expect(taken.logs.map((l) => l.message).join('\n')).toContain(`attempt 1 lost: runner ${dead.id} stopped renewing its lease`);
    const retried = rec.executions.find((e) => e.runId === victim.runId && e.attempt === 2)!;
    expect(retried.runnerId).toBe(survivor);
    expect(retried.start - killedAt).toBeGreaterThanOrEqual(2000); // lease 3 s, last renewal ≤ 0.5 s before the kill
    // Both runners did work before the kill.
    const before = rec.executions.filter((e) => e.start < killedAt);
    const perRunner = { A: before.filter((e) => e.runnerId === 'runner-A').length, B: before.filter((e) => e.runnerId === 'runner-B').length };
    console.log(`killed=${dead.id} slots=${slots.length} runs=${runs.length} before-kill=${JSON.stringify(perRunner)} takeover-after=${retried.start - killedAt}ms`);
  }, 60_000);
});
