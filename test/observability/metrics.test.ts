import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/server.js';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { AlertManager } from '../../src/observability/alerts/manager.js';
import { alertStoreFor } from '../../src/observability/alerts/store.js';
import { Metrics } from '../../src/observability/metrics.js';
import { qualityMonitorFor } from '../../src/quality/index.js';
import { VENV_PYTHON } from '../interop/python.js';

/**
 * `/metrics` of a running server, scraped after real traffic and parsed with prometheus_client's
 * text-format parser (Python, from the project venv): it must parse, and hold the runtime
 * families (heap, event-loop lag, GC), HTTP by route and status, catalog commits, and the
 * alerting and data-quality families, with sane values. Ingestion, query and scheduler families
 * are registered by their own modules (not wired into this registry yet).
 */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number | string | null;
}
interface Family {
  name: string;
  type: string;
  samples: Sample[];
}

function parseExposition(text: string): Promise<Family[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(VENV_PYTHON, [join(import.meta.dirname, 'parse_metrics.py')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Family[]) : reject(new Error(`parser exited ${code}: ${err}`))));
    child.stdin.end(text);
  });
}

describe('/metrics', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let app: FastifyInstance;
  let base: string;
  let metrics: Metrics;
  beforeAll(async () => {
    if (!existsSync(VENV_PYTHON)) throw new Error(`${VENV_PYTHON} is missing: run scripts/venv.sh`);
    dir = mkdtempSync(join(tmpdir(), 'lh-metrics-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    metrics = new Metrics();
    app = await buildServer({ catalog, metrics, logLevel: 'silent', security: { anonymous: true, bootstrapOut: { write: () => true } } });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await catalog?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('parses with a Prometheus text-format parser and holds every family with sane values', async () => {
    const json = (method: string, path: string, body?: unknown) =>
      fetch(`${base}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    expect((await json('POST', '/v1/lakehouse/namespaces', { namespace: ['db'] })).status).toBe(200);
    const schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: false, type: 'long' }] };
    expect((await json('POST', '/v1/lakehouse/namespaces/db/tables', { name: 't', schema })).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const res = await json('POST', '/v1/lakehouse/namespaces/db/tables/t', { requirements: [], updates: [{ action: 'set-properties', updates: { n: String(i) } }] });
      expect(res.status).toBe(200);
    }
    expect((await json('GET', '/no/such/route')).status).toBe(404);
    expect((await json('GET', '/health')).status).toBe(200);

    // Data quality and alerting on the same registry: a failing check raises an alert.
    const alerts = new AlertManager({ store: alertStoreFor(catalog)!, metricsRegistry: metrics.registry });
    const monitor = qualityMonitorFor(catalog, { alerts, registry: metrics.registry, writeResults: false })!;
    const duck = await Duck.open();
    try {
      await duck.run('CREATE TABLE b AS SELECT range AS id FROM range(10)');
      await monitor.evaluateBatch({ namespace: ['db'], name: 't' }, duck, 'b', { checks: [{ kind: 'range', column: 'id', max: 5 }, { kind: 'not_null', column: 'id' }] });
    } finally {
      duck.close();
    }
    // Garbage, so that the GC histogram has observations.
    let keep = 0;
    for (let i = 0; i < 200; i++) keep += new Array(50_000).fill(i).length;
    expect(keep).toBe(10_000_000);
    await new Promise((r) => setTimeout(r, 50));

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const families = await parseExposition(await res.text());
    const fam = (name: string) => {
      const f = families.find((x) => x.name === name);
      expect(f, `family ${name}`).toBeDefined();
      return f!;
    };
    const value = (f: Family, sample: string, labels: Record<string, string> = {}) =>
      f.samples.filter((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + Number(s.value), 0);

    // Runtime.
    expect(value(fam('process_resident_memory_bytes'), 'process_resident_memory_bytes')).toBeGreaterThan(10e6);
    expect(value(fam('process_cpu_user_seconds'), 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    const heapUsed = value(fam('nodejs_heap_size_used_bytes'), 'nodejs_heap_size_used_bytes');
    expect(heapUsed).toBeGreaterThan(1e6);
    expect(heapUsed).toBeLessThanOrEqual(value(fam('nodejs_heap_size_total_bytes'), 'nodejs_heap_size_total_bytes'));
    const lag = value(fam('nodejs_eventloop_lag_seconds'), 'nodejs_eventloop_lag_seconds');
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(5);
    expect(fam('nodejs_eventloop_lag_p99_seconds').type).toBe('gauge');
    const gc = fam('nodejs_gc_duration_seconds');
    expect(gc.type).toBe('histogram');
    expect(value(gc, 'nodejs_gc_duration_seconds_count')).toBeGreaterThan(0);

    // HTTP by route pattern and status.
    const http = fam('http_request_duration_seconds');
    expect(value(http, 'http_request_duration_seconds_count', { route: '/v1/lakehouse/namespaces/:namespace/tables/:table', status_code: '200', method: 'POST' })).toBe(3);
    expect(value(http, 'http_request_duration_seconds_count', { route: 'unmatched', status_code: '404' })).toBe(1);
    expect(http.samples.some((s) => s.labels.route?.includes('/no/such'))).toBe(false);

    // Catalog commits.
    expect(value(fam('lakehouse_catalog_commits'), 'lakehouse_catalog_commits_total', { result: 'success' })).toBe(3);
    expect(value(fam('lakehouse_catalog_commit_duration_seconds'), 'lakehouse_catalog_commit_duration_seconds_count')).toBe(3);
    expect(value(fam('lakehouse_catalog_commit_conflicts'), 'lakehouse_catalog_commit_conflicts_total')).toBe(0);

    // Data quality and alerts.
    expect(value(fam('lakehouse_quality_checks'), 'lakehouse_quality_checks_total', { table: 'db.t', result: 'failed' })).toBe(1);
    expect(value(fam('lakehouse_quality_checks'), 'lakehouse_quality_checks_total', { table: 'db.t', result: 'passed' })).toBe(1);
    expect(fam('lakehouse_quality_anomalies').type).toBe('counter');
    expect(value(fam('lakehouse_alerts'), 'lakehouse_alerts', { state: 'firing' })).toBe(1);
    expect(value(fam('lakehouse_alert_notifications'), 'lakehouse_alert_notifications_total', { status: 'firing' })).toBe(1);
    expect(fam('lakehouse_alert_deliveries').type).toBe('counter');
  });
});
