import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from '../scheduler/serve-process.js';
import { httpClient } from '../support/http.js';
import { waitFor } from '../scheduler/support.js';

/**
 * `lakehouse serve` (the real process) counts the commits of its background committers, not only
 * those of its routes: a scheduled data-quality run appends to `<table>__quality` through the
 * process's one instrumented catalog, so after N runs the catalog commit counter holds the route's
 * INSERT plus N appends, and the scheduler and quality families count the runs and checks.
 */
describe('lakehouse serve: background commits in /metrics', () => {
  let dir: string;
  let serve: ServeProcess;
  beforeAll(async () => {
    dir = mkdtempSync(`${tmpdir()}/lh-serve-metrics-`);
    serve = await startServe({ dir, env: { LAKEHOUSE_SCHEDULER_POLL_MS: '100', LAKEHOUSE_AUTH_ANONYMOUS: 'true' } });
  }, 300_000);
  afterAll(async () => {
    await serve?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts scheduled runs’ commits in the catalog commit metrics', async () => {
    const call = httpClient(serve.url);
    const metric = (text: string, name: string, labels: Record<string, string> = {}) =>
      text
        .split('\n')
        .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
        .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    const t = await call('POST', '/api/v1/tables', {
      namespace: 'db',
      name: 'orders',
      columns: [{ name: 'id', type: 'long' }],
      properties: { 'lakehouse.quality.checks': JSON.stringify([{ kind: 'not_null', column: 'id' }]) },
    });
    expect(t.status, t.text).toBe(201);
    expect((await call('POST', '/api/v1/queries', { sql: 'INSERT INTO db.orders SELECT range FROM range(5)' })).status).toBe(200);
    const spec = {
      name: 'orders-quality',
      kind: 'maintenance',
      params: { namespace: 'db', table: 'orders', action: 'quality-checks' },
      cron: '* * * * * *',
      concurrency: 'skip',
      catchUp: 'none',
    };
    const job = await call('POST', '/api/v1/schedules', spec);
    expect(job.status, job.text).toBe(201);
    const runsOf = async (status: string) => (await call('GET', `/api/v1/schedules/${job.body.id}/runs?status=${status}`)).body.runs as unknown[];
    await waitFor(async () => ((await runsOf('succeeded')).length >= 2 ? true : null), 60_000, 200);
    // Stop the schedule and let a run in flight finish, so the counts below are final.
    const off = await call('PUT', `/api/v1/schedules/${job.body.id}`, { ...spec, enabled: false });
    expect(off.status, off.text).toBe(200);
    await waitFor(async () => ((await runsOf('queued,running')).length === 0 ? true : null), 30_000, 200);
    const succeeded = (await runsOf('succeeded')).length;
    expect((await runsOf('failed')).length).toBe(0);

    const runs = (await call('POST', '/api/v1/queries', { sql: 'SELECT count(DISTINCT batch_id) FROM db.orders__quality' })).body.rows[0][0] as number;
    expect(runs).toBe(succeeded);
    const text = await (await fetch(`${serve.url}/metrics`)).text();
    // The INSERT, then one append per evaluated run (the quality table's creation is not a commit).
    expect(metric(text, 'lakehouse_catalog_commits_total', { result: 'success' })).toBe(1 + runs);
    expect(metric(text, 'lakehouse_scheduler_runs_total', { kind: 'maintenance', outcome: 'succeeded' })).toBe(runs);
    expect(metric(text, 'lakehouse_quality_checks_total', { table: 'db.orders', result: 'passed' })).toBe(runs);
  }, 180_000);
});
