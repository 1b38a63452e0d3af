import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Duck } from '../../src/duck/db.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { tableHealth } from '../../src/maintenance/index.js';
import { QueryEngine } from '../../src/query/engine.js';
import { SchedulerRunner } from '../../src/scheduler/runner.js';
import { appendSql } from '../../src/table/table-ops.js';
import { rows, schema } from '../maintenance/support.js';
import { ended, runOf, sqliteEnv, type Env } from './support.js';

const APPENDS = 24;

/** Real executors: a maintenance job compacting many tiny appends, an SQL job doing INSERT … SELECT. */
describe('scheduler job kinds', () => {
  let env: Env;
  let runner: SchedulerRunner;
  const events = { namespace: ['db'], name: 'events' };
  const copy = { namespace: ['db'], name: 'evens' };
  beforeAll(async () => {
    env = await sqliteEnv();
    await env.catalog.createNamespace(['db']);
    for (const id of [events, copy]) await env.catalog.createTable(id, newTableMetadata({ schema, location: env.catalog.defaultTableLocation(id) }));
    const duck = await Duck.open({ threads: 1 });
    try {
      for (let i = 0; i < APPENDS; i++) await appendSql(env.catalog, events, duck, rows(i * 10, i * 10 + 10));
    } finally {
      duck.close();
    }
    runner = new SchedulerRunner(env.catalog, env.store, { pollMs: 100 }).start();
  }, 60_000);
  afterAll(async () => {
    await runner?.stop();
    await env?.close();
  });

  const count = async (t: string, where = '') => Number((await new QueryEngine(env.catalog).query(`SELECT count(*) FROM db.${t} ${where}`)).rows[0][0]);

  it('maintenance "auto" compacts a table of many tiny appends (policy: small files)', async () => {
    const before = await tableHealth(await env.catalog.loadTable(events));
    expect(before.dataFiles).toBe(APPENDS);
    const job = await env.store.createJob({ name: 'maint', kind: 'maintenance', params: { namespace: 'db', table: 'events', action: 'auto' }, cron: '0 3 * * *', timezone: 'Europe/Berlin' });
    const run = await runOf(env.store, (await env.store.runNow(job.id)).id, ended, 60_000);
    expect(run.status, run.error ?? '').toBe('succeeded');
    const log = run.logs.map((l) => l.message).join('\n');
    expect(log).toMatch(/due: compaction/);
    expect(log).toMatch(new RegExp(`compaction: ${APPENDS} data files → 1`));
    expect(run.filesAffected).toBe(APPENDS);
    const after = await tableHealth(await env.catalog.loadTable(events));
    expect(after.dataFiles).toBe(1);
    expect(await count('events')).toBe(APPENDS * 10);
    // Nothing due any more.
    const again = await runOf(env.store, (await env.store.runNow(job.id)).id, ended, 60_000);
    expect(again.logs.map((l) => l.message).join('\n')).toMatch(/nothing due/);
  }, 90_000);

  it('an explicit compaction action and an SQL INSERT … SELECT job', async () => {
    const sqlJob = await env.store.createJob({ name: 'copy-evens', kind: 'sql', params: { sql: 'INSERT INTO db.evens SELECT * FROM db.events WHERE id % 2 = 0' }, intervalSeconds: 3600 });
    for (let i = 0; i < 3; i++) {
      const r = await runOf(env.store, (await env.store.runNow(sqlJob.id)).id, ended, 60_000);
      expect(r.status, r.error ?? '').toBe('succeeded');
      expect(r.rowsAffected).toBe(APPENDS * 5);
    }
    expect(await count('evens')).toBe(APPENDS * 15);
    expect(await count('evens', 'WHERE id % 2 = 1')).toBe(0);
    const compact = await env.store.createJob({ name: 'compact-evens', kind: 'maintenance', params: { namespace: 'db', table: 'evens', action: 'compaction', options: { minInputFiles: 2 } }, intervalSeconds: 3600 });
    const r = await runOf(env.store, (await env.store.runNow(compact.id)).id, ended, 60_000);
    expect(r.status, r.error ?? '').toBe('succeeded');
    expect((await tableHealth(await env.catalog.loadTable(copy))).dataFiles).toBe(1);
    expect(await count('evens')).toBe(APPENDS * 15);
  }, 90_000);
});
