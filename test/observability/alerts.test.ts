import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalogStore, type SqlCatalogStore } from '../../src/catalog/open-store.js';
import { AlertManager, type AlertLogger } from '../../src/observability/alerts/manager.js';
import { AlertStore } from '../../src/observability/alerts/store.js';
import { verifySignature } from '../../src/observability/alerts/webhook.js';
import { startPostgres } from '../support/postgres.js';
import { startReceiver } from './support.js';

function memoryLogger(): AlertLogger & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}

const backends = [
  {
    name: 'sqlite',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'lh-alerts-'));
      return { url: `sqlite:${join(dir, 'catalog.db')}`, stop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  { name: 'postgres', setup: startPostgres },
];

describe.each(backends)('alerts on $name', ({ setup }) => {
  let env: { url: string; stop(): Promise<void> };
  let catalogStore: SqlCatalogStore;
  let store: AlertStore;
  beforeAll(async () => {
    env = await setup();
    catalogStore = await openCatalogStore(env.url, { migrate: true });
    store = new AlertStore(catalogStore.db, 'lakehouse');
  }, 120_000);
  afterAll(async () => {
    await catalogStore?.close();
    await env?.stop();
  });

  it('moves a rule through pending, firing (after its for-duration) and resolved, delivering signed webhooks with retry', async () => {
    const registry = new Registry();
    const lag = new Gauge({ name: 'lakehouse_ingest_lag_records', help: 'lag', labelNames: ['job', 'partition'], registers: [registry] });
    const receiver = await startReceiver([500]);
    try {
      const secret = 's3cret-key';
      await store.createWebhook({ name: 'ops', url: receiver.url, secret, maxAttempts: 3 });
      const rule = await store.createRule({
        name: 'IngestLagHigh',
        metric: 'lakehouse_ingest_lag_records',
        matchers: [{ name: 'job', op: '=~', value: 'orders-.*' }],
        aggregation: 'max',
        comparison: '>',
        threshold: 1000,
        forMs: 5 * 60_000,
        severity: 'critical',
        labels: { team: 'data' },
      });
      let now = Date.parse('2026-01-01T00:00:00Z');
      const log = memoryLogger();
      const m = new AlertManager({ store, registry, logger: log, now: () => now, delivery: { baseDelayMs: 10 } });
      lag.set({ job: 'orders-eu', partition: '0' }, 50);
      lag.set({ job: 'other', partition: '0' }, 99_999); // excluded by the matcher
      await m.evaluate();
      expect((await store.getState(`rule:${rule.id}`))!.state).toBe('inactive');

      lag.set({ job: 'orders-eu', partition: '1' }, 5000);
      await m.evaluate();
      expect((await store.getState(`rule:${rule.id}`))!.state).toBe('pending');
      now += 4 * 60_000;
      await m.evaluate();
      expect((await store.getState(`rule:${rule.id}`))!.state).toBe('pending');
      now += 60_000;
      await m.evaluate();
      const firing = (await store.getState(`rule:${rule.id}`))!;
      expect(firing).toMatchObject({ state: 'firing', value: 5000, severity: 'critical', labels: { alertname: 'IngestLagHigh', team: 'data' } });
      await m.idle();
      // First attempt answered 500, the retry got through with the same signed body.
      expect(receiver.requests.map((r) => r.status)).toEqual([500, 200]);
      for (const r of receiver.requests) expect(verifySignature(secret, r.body, r.headers['x-lakehouse-signature'] as string)).toBe(true);
      expect(verifySignature('wrong', receiver.requests[1].body, receiver.requests[1].headers['x-lakehouse-signature'] as string)).toBe(false);
      expect(JSON.parse(receiver.requests[1].body)).toMatchObject({ status: 'firing', alert: { name: 'IngestLagHigh', value: 5000 } });
      expect(log.lines.some((l) => l.level === 'error' && l.msg === 'alert firing: IngestLagHigh')).toBe(true);

      lag.set({ job: 'orders-eu', partition: '1' }, 10);
      now += 60_000;
      await m.evaluate();
      await m.idle();
      expect((await store.getState(`rule:${rule.id}`))!).toMatchObject({ state: 'inactive', resolvedAt: now });
      expect(JSON.parse(receiver.requests.at(-1)!.body)).toMatchObject({ status: 'resolved' });
      const events = (await store.listHistory({ ruleId: rule.id })).map((h) => h.event).reverse();
      expect(events).toEqual(['pending', 'firing', 'delivered', 'resolved', 'delivered']);
      const delivered = (await store.listHistory({ ruleId: rule.id, events: ['delivered'] })).at(-1)!;
      expect(delivered.detail).toMatchObject({ attempts: 2, httpStatus: 200 });
      // The webhook secret appears in no log line and no history entry.
      expect(JSON.stringify(log.lines)).not.toContain(secret);
      expect(JSON.stringify(await store.listHistory({ limit: 1000 }))).not.toContain(secret);
      await store.deleteRule(rule.id);
    } finally {
      for (const h of await store.listWebhooks()) await store.deleteWebhook(h.id);
      await receiver.close();
    }
  });

  it('evaluates an error ratio of rates, and freshness as the age of a timestamp gauge', async () => {
    const registry = new Registry();
    const requests = new Counter({ name: 'http_requests_total', help: 'requests', labelNames: ['status_code'], registers: [registry] });
    const lastCommit = new Gauge({ name: 'lakehouse_ingest_last_commit_timestamp_seconds', help: 'last commit', labelNames: ['job'], registers: [registry] });
    let now = Date.parse('2026-01-01T00:00:00Z');
    const m = new AlertManager({ store, registry, now: () => now });
    const errors = await store.createRule({
      name: 'ErrorRatioHigh',
      metric: 'http_requests_total',
      matchers: [{ name: 'status_code', op: '=~', value: '5..' }],
      fn: 'rate',
      denominator: { metric: 'http_requests_total' },
      comparison: '>',
      threshold: 0.05,
    });
    const stale = await store.createRule({ name: 'IngestStale', metric: 'lakehouse_ingest_last_commit_timestamp_seconds', aggregation: 'min', fn: 'age', comparison: '>', threshold: 600 });
    try {
      // A lifetime of errors before the window: the ratio of rates must not see them.
      requests.inc({ status_code: '500' }, 1000);
      requests.inc({ status_code: '200' }, 1000);
      lastCommit.set({ job: 'orders' }, now / 1000 - 60);
      await m.evaluate();
      expect((await store.getState(`rule:${errors.id}`))!).toMatchObject({ state: 'inactive', value: null }); // no rate before a second evaluation
      expect((await store.getState(`rule:${stale.id}`))!).toMatchObject({ state: 'inactive', value: 60 });

      now += 60_000;
      requests.inc({ status_code: '200' }, 990);
      requests.inc({ status_code: '503' }, 10);
      await m.evaluate();
      expect((await store.getState(`rule:${errors.id}`))!.value).toBeCloseTo(0.01, 6);
      expect((await store.getState(`rule:${errors.id}`))!.state).toBe('inactive');

      now += 60_000;
      requests.inc({ status_code: '200' }, 900);
      requests.inc({ status_code: '500' }, 100);
      await m.evaluate();
      const firing = (await store.getState(`rule:${errors.id}`))!;
      expect(firing).toMatchObject({ state: 'firing' });
      expect(firing.value).toBeCloseTo(0.1, 6);
      expect(firing.message).toBe('rate(sum(http_requests_total)) / rate(sum(http_requests_total)) = 0.1 (> 0.05)');
      // The ingestion job last committed 60 s before the start; 2 min later it is 180 s old, then 20 min.
      expect((await store.getState(`rule:${stale.id}`))!).toMatchObject({ state: 'inactive', value: 180 });
      now += 18 * 60_000;
      await m.evaluate();
      expect((await store.getState(`rule:${stale.id}`))!).toMatchObject({ state: 'firing', value: 1260 });
    } finally {
      await store.deleteRule(errors.id);
      await store.deleteRule(stale.id);
    }
  });

  it('alerts on warehouse growth (rate of a gauge, shrinking is no spike) and on failed scheduler runs', async () => {
    const registry = new Registry();
    const bytes = new Gauge({ name: 'lakehouse_warehouse_bytes', help: 'warehouse bytes', registers: [registry] });
    const failures = new Counter({ name: 'lakehouse_scheduler_run_failures_total', help: 'failures', labelNames: ['kind'], registers: [registry] });
    let now = Date.parse('2026-01-01T00:00:00Z');
    const m = new AlertManager({ store, registry, now: () => now });
    const growth = await store.createRule({ name: 'WarehouseGrowth', metric: 'lakehouse_warehouse_bytes', fn: 'rate', comparison: '>', threshold: 1e6, forMs: 120_000, severity: 'warning' });
    const failed = await store.createRule({ name: 'ScheduledRunsFailing', metric: 'lakehouse_scheduler_run_failures_total', fn: 'rate', comparison: '>', threshold: 0, severity: 'critical' });
    const state = async (id: string) => (await store.getState(`rule:${id}`))!;
    try {
      bytes.set(1e9);
      failures.inc({ kind: 'sql' }, 3); // failures before the first evaluation are history, not a rate
      await m.evaluate();
      expect(await state(growth.id)).toMatchObject({ state: 'inactive', value: null });
      expect(await state(failed.id)).toMatchObject({ state: 'inactive', value: null });

      now += 60_000;
      bytes.set(1e9 + 30e6); // 0.5 MB/s
      await m.evaluate();
      expect((await state(growth.id)).value).toBeCloseTo(0.5e6, 3);
      expect((await state(failed.id)).state).toBe('inactive');

      for (let i = 0; i < 3; i++) {
        now += 60_000;
        bytes.inc(180e6); // 3 MB/s, for three minutes
        await m.evaluate();
      }
      expect(await state(growth.id)).toMatchObject({ state: 'firing' });
      expect((await state(growth.id)).value).toBeCloseTo(3e6, 3);

      // Snapshot expiry halves the warehouse: a negative rate resolves the alert (a counter-style
      // "reset" would have read the whole 0.5 GB as growth and kept it firing).
      now += 60_000;
      bytes.set(0.5e9);
      await m.evaluate();
      expect(await state(growth.id)).toMatchObject({ state: 'inactive' });
      expect((await state(growth.id)).value).toBeLessThan(0);

      // A run failure fires at once (no for-duration); none in the next interval resolves it.
      now += 60_000;
      failures.inc({ kind: 'maintenance' });
      await m.evaluate();
      expect(await state(failed.id)).toMatchObject({ state: 'firing', severity: 'critical' });
      now += 60_000;
      await m.evaluate();
      expect(await state(failed.id)).toMatchObject({ state: 'inactive', value: 0 });
      const events = (await store.listHistory({ ruleId: failed.id })).map((h) => h.event).reverse();
      expect(events).toEqual(['firing', 'resolved']);
    } finally {
      await store.deleteRule(growth.id);
      await store.deleteRule(failed.id);
    }
  });

  it('silences matching alerts, and gives up on a webhook after its attempts and records it', async () => {
    const receiver = await startReceiver([503, 503, 503]);
    try {
      await store.createWebhook({ name: 'flaky', url: receiver.url, secret: 'k', maxAttempts: 3 });
      let now = 1_000_000;
      const m = new AlertManager({ store, now: () => now, delivery: { baseDelayMs: 5 } });
      await store.createSilence({ matchers: [{ name: 'table', op: '=', value: 'db.quiet' }], until: now + 60_000, comment: 'maintenance' });
      await m.raise({ key: 'anomaly:db.quiet:row_count', name: 'DataQualityAnomaly', severity: 'warning', labels: { table: 'db.quiet' } });
      await m.idle();
      expect(receiver.requests).toHaveLength(0);
      expect((await store.listHistory({ key: 'anomaly:db.quiet:row_count' })).map((h) => h.event).sort()).toEqual(['firing', 'silenced']);

      await m.raise({ key: 'anomaly:db.loud:row_count', name: 'DataQualityAnomaly', severity: 'warning', labels: { table: 'db.loud' } });
      // Raising again while firing does not notify again.
      await m.raise({ key: 'anomaly:db.loud:row_count', name: 'DataQualityAnomaly', severity: 'warning', labels: { table: 'db.loud' }, value: 2 });
      await m.idle();
      expect(receiver.requests).toHaveLength(3);
      const failed = await store.listHistory({ key: 'anomaly:db.loud:row_count', events: ['delivery-failed'] });
      expect(failed).toHaveLength(1);
      expect(failed[0].detail).toMatchObject({ attempts: 3, httpStatus: 503, error: 'HTTP 503' });

      // After the silence ends, the quiet table's alerts are delivered again.
      now += 120_000;
      await m.resolve('anomaly:db.quiet:row_count');
      await m.idle();
      expect(receiver.requests).toHaveLength(4);
      expect(JSON.parse(receiver.requests[3].body)).toMatchObject({ status: 'resolved', alert: { key: 'anomaly:db.quiet:row_count' } });
    } finally {
      for (const h of await store.listWebhooks()) await store.deleteWebhook(h.id);
      await receiver.close();
    }
  });
});
