import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { startAlerting, verifySignature, type AlertManager } from '../../src/observability/alerts/index.js';
import { Metrics } from '../../src/observability/metrics.js';
import { CHECKS_PROPERTY } from '../../src/quality/index.js';
import { startScheduler, type SchedulerHandle } from '../../src/scheduler/index.js';
import { startReceiver } from '../observability/support.js';
import { jsonOrText, startServer, type Call } from '../support/http.js';
import { waitFor } from './support.js';

/**
 * Data-quality checks on a schedule, wired as `lakehouse serve` wires them: one instrumented
 * catalog for the routes and the scheduler, alerting running over the server's registry. A cron
 * schedule (every second) runs the table's declared checks; a failing critical check fails the
 * run, fires an alert delivered (signed) to a real webhook receiver, and is counted in the quality
 * and scheduler metrics; the results land in `<table>__quality`, read back with SQL through the
 * query API. Once the data is fixed, the next run succeeds and the alert resolves, while a failing
 * warning-severity check keeps its alert without failing the run (the default failOn policy).
 */
describe('scheduled data-quality checks', () => {
  let dir: string;
  let raw: SqlCatalog;
  let app: FastifyInstance;
  let base: string;
  let call: Call;
  let sched: SchedulerHandle;
  let alerting: AlertManager | null;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const sqlRows = async (sql: string) => {
    const r = await call('POST', '/api/v1/queries', { sql });
    expect(r.status, r.text).toBe(200);
    return r.body.rows as unknown[][];
  };
  const metric = (text: string, name: string, labels: Record<string, string>) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
      .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-quality-job-'));
    raw = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    const metrics = new Metrics({ defaultMetrics: false });
    const catalog = metrics.instrumentCatalog(raw);
    ({ app, base, call } = await startServer({ catalog, metrics, logLevel: 'silent', security: { anonymous: true, bootstrapOut: { write: () => true } } }, { parse: jsonOrText }));
    alerting = startAlerting(catalog, { registry: metrics.registry, intervalMs: 60_000 });
    sched = startScheduler(catalog, null, { app, pollMs: 100 });
    receiver = await startReceiver();
  }, 120_000);
  afterAll(async () => {
    await sched?.stop();
    await alerting?.stop();
    await app?.close();
    await receiver?.close();
    await raw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs declared checks on a cron schedule: results in <table>__quality via SQL, metrics, alerts fired and resolved', async () => {
    expect((await call('POST', '/v1/lakehouse/namespaces', { namespace: ['shop'] })).status).toBe(200);
    const schema = {
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 1, name: 'id', required: false, type: 'long' },
        { id: 2, name: 'email', required: false, type: 'string' },
        { id: 3, name: 'qty', required: false, type: 'int' },
      ],
    };
    const checks = [
      { kind: 'not_null', column: 'email', severity: 'critical' },
      { kind: 'range', column: 'qty', min: 0 },
      { kind: 'row_count', min: 1 },
    ];
    const created = await call('POST', '/v1/lakehouse/namespaces/shop/tables', { name: 'orders', schema, properties: { [CHECKS_PROPERTY]: JSON.stringify(checks) } });
    expect(created.status, created.text).toBe(200);
    await sqlRows(`INSERT INTO shop.orders SELECT range AS id, CASE WHEN range = 3 THEN NULL ELSE 'u' || range || '@x.io' END, CASE WHEN range = 5 THEN -1 ELSE range::INT END FROM range(10)`);
    const secret = 'hook-secret-7f3-for-quality';
    const hook = await call('POST', '/api/v1/alerts/webhooks', { name: 'ops', url: receiver.url, secret, maxAttempts: 3 });
    expect(hook.status, hook.text).toBe(201);

    // Options are validated when the schedule is stored.
    const params = { namespace: 'shop', table: 'orders', action: 'quality-checks' };
    for (const options of [{ failOn: 'sometimes' }, { checks: [{ kind: 'not_null' }] }]) {
      const bad = await call('POST', '/api/v1/schedules', { name: 'bad', kind: 'maintenance', params: { ...params, options }, cron: '* * * * * *' });
      expect(bad.status, bad.text).toBe(400);
    }
    const job = await call('POST', '/api/v1/schedules', { name: 'orders-quality', kind: 'maintenance', params, cron: '* * * * * *', concurrency: 'skip', catchUp: 'none' });
    expect(job.status, job.text).toBe(201);
    const runs = async () => (await call('GET', `/api/v1/schedules/${job.body.id}/runs`)).body.runs as any[];

    // A cron slot comes due and its run fails on the critical check.
    const failed = await waitFor(async () => (await runs()).find((r) => r.status === 'failed'), 30_000);
    expect(failed.trigger).toBe('schedule');
    expect(failed.error).toContain('QUALITY_CHECKS_FAILED');
    expect(failed.error).toContain('not_null:email');
    const logs = failed.logs.map((l: { message: string }) => l.message).join('\n');
    expect(logs).toContain('check not_null:email (critical) failed');
    expect(logs).toContain('3 checks over 10 rows, 1 passed, 2 failed');

    // The run's results, through SQL.
    const results = await sqlRows(`SELECT name, passed, failing_rows, total_rows, severity FROM shop.orders__quality WHERE batch_id = '${failed.id}' ORDER BY name`);
    expect(results).toEqual([
      ['not_null:email', false, 1, 10, 'critical'],
      ['range:qty', false, 1, 10, 'warning'],
      ['row_count', true, null, 10, 'warning'],
    ]);

    // Alerts: both failing checks fire; the webhook got signed notifications.
    const firing = (await call('GET', '/api/v1/alerts?state=firing')).body.alerts.map((a: { key: string }) => a.key).sort();
    expect(firing).toEqual(['check:shop.orders:not_null:email', 'check:shop.orders:range:qty']);
    await alerting!.idle();
    const notified = receiver.requests.map((r) => JSON.parse(r.body));
    expect(notified.filter((n) => n.status === 'firing').map((n) => n.alert.key).sort()).toEqual(firing);
    for (const r of receiver.requests) expect(verifySignature(secret, r.body, r.headers['x-lakehouse-signature'] as string)).toBe(true);

    // Metrics: checks by result, the failed maintenance run, and the results' commits. Runs are
    // counted before the scrape: a run committing in between only raises the (monotone) counter.
    const evaluatedRuns = (await sqlRows(`SELECT count(DISTINCT batch_id) FROM shop.orders__quality`))[0][0] as number;
    const m1 = await (await fetch(`${base}/metrics`)).text();
    expect(metric(m1, 'lakehouse_quality_checks_total', { table: 'shop.orders', result: 'failed' })).toBeGreaterThanOrEqual(2);
    expect(metric(m1, 'lakehouse_quality_checks_total', { table: 'shop.orders', result: 'passed' })).toBeGreaterThanOrEqual(1);
    expect(metric(m1, 'lakehouse_scheduler_runs_total', { kind: 'maintenance', outcome: 'failed' })).toBeGreaterThanOrEqual(1);
    expect(metric(m1, 'lakehouse_scheduler_run_failures_total', { kind: 'maintenance' })).toBeGreaterThanOrEqual(1);
    // Commits by the scheduler (appends to shop.orders__quality) go through the instrumented catalog too.
    const successes = metric(m1, 'lakehouse_catalog_commits_total', { result: 'success' });
    expect(successes).toBeGreaterThanOrEqual(1 + evaluatedRuns); // the INSERT, then one append per run

    // Fix the critical problem: the next run succeeds (range:qty still fails, at warning severity).
    await sqlRows('DELETE FROM shop.orders WHERE email IS NULL');
    const fixedAt = Date.now();
    const ok = await waitFor(async () => (await runs()).find((r) => r.status === 'succeeded' && Date.parse(r.startedAt) > fixedAt), 30_000);
    expect(ok.rowsAffected).toBe(9);
    expect(ok.logs.map((l: { message: string }) => l.message).join('\n')).toContain('3 checks over 9 rows, 2 passed, 1 failed');
    const still = (await call('GET', '/api/v1/alerts?state=firing')).body.alerts.map((a: { key: string }) => a.key);
    expect(still).toEqual(['check:shop.orders:range:qty']);
    await alerting!.idle();
    const resolved = receiver.requests.map((r) => JSON.parse(r.body)).filter((n) => n.status === 'resolved');
    expect(resolved.map((n) => n.alert.key)).toEqual(['check:shop.orders:not_null:email']);
    const history = (await call('GET', '/api/v1/alerts/history?key=check:shop.orders:not_null:email')).body.history.map((h: { event: string }) => h.event);
    expect(history).toContain('resolved');
    expect(history).toContain('firing');

    // One more run with failOn=any fails on the warning check.
    const strict = await call('POST', '/api/v1/schedules', { name: 'orders-strict', kind: 'maintenance', params: { ...params, options: { failOn: 'any' } }, intervalSeconds: 86_400 });
    expect(strict.status, strict.text).toBe(201);
    const run = await call('POST', `/api/v1/schedules/${strict.body.id}/run`);
    const strictRun = await waitFor(async () => {
      const r = (await call('GET', `/api/v1/schedules/runs/${run.body.id}`)).body;
      return ['succeeded', 'failed'].includes(r.status) ? r : null;
    }, 30_000);
    expect(strictRun).toMatchObject({ status: 'failed' });
    expect(strictRun.error).toContain('range:qty');
  }, 120_000);
});
