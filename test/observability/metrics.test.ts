import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { AlertManager } from '../../src/observability/alerts/manager.js';
import { alertStoreFor } from '../../src/observability/alerts/store.js';
import { Metrics } from '../../src/observability/metrics.js';
import { qualityMonitorFor } from '../../src/quality/index.js';
import { startScheduler, type SchedulerHandle } from '../../src/scheduler/index.js';
import { VENV_PYTHON } from '../interop/python.js';
import { startServer, type Call } from '../support/http.js';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { produce } from '../ingest/support.js';
import { waitFor as waitForValue } from '../support/wait.js';

/**
 * `/metrics` of a running server, scraped after real traffic and parsed with prometheus_client's
 * text-format parser (Python, from the project venv): it must parse, and hold the runtime
 * families (heap, event-loop lag, GC), HTTP by route and status, catalog commits, and the
 * alerting and data-quality families, with sane values; then, after an ingestion job (real Kafka
 * broker), queries and scheduler runs, the ingestion, query, scheduler and table-health families.
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
  let call: Call;
  let metrics: Metrics;
  let kafka: KafkaBroker;
  let sched: SchedulerHandle | null = null;
  beforeAll(async () => {
    if (!existsSync(VENV_PYTHON)) throw new Error(`${VENV_PYTHON} is missing: run scripts/venv.sh`);
    const broker = startKafka();
    broker.catch(() => undefined);
    dir = mkdtempSync(join(tmpdir(), 'lh-metrics-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    // Walk the warehouse at every scrape (default: at most once a minute).
    metrics = new Metrics({ warehouse: { minIntervalMs: 0 } });
    ({ app, base, call } = await startServer({ catalog, metrics, logLevel: 'silent', security: { anonymous: true, bootstrapOut: { write: () => true } } }));
    kafka = await broker;
  }, 300_000);
  afterAll(async () => {
    await sched?.stop();
    await app?.close();
    await kafka?.stop();
    await catalog?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('parses with a Prometheus text-format parser and holds every family with sane values', async () => {
    expect((await call('POST', '/v1/lakehouse/namespaces', { namespace: ['db'] })).status).toBe(200);
    const schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: false, type: 'long' }] };
    expect((await call('POST', '/v1/lakehouse/namespaces/db/tables', { name: 't', schema })).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const res = await call('POST', '/v1/lakehouse/namespaces/db/tables/t', { requirements: [], updates: [{ action: 'set-properties', updates: { n: String(i) } }] });
      expect(res.status).toBe(200);
    }
    expect((await call('GET', '/no/such/route')).status).toBe(404);
    expect((await call('GET', '/health')).status).toBe(200);

    // Data quality and alerting on the same registry: a failing check raises an alert.
    const alerts = new AlertManager({ store: alertStoreFor(catalog)!, metricsRegistry: metrics.registry });
    const monitor = qualityMonitorFor(catalog, { alerts, writeResults: false })!;
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

  it('holds the ingestion, query, scheduler and table-health families after real traffic', async () => {
    const waitFor = <T>(what: string, fn: () => Promise<T | false | undefined>) => waitForValue(what, fn, 90_000, 200);

    // Ingestion: 2 partitions, two rounds of 500 records (ids 0-499, then 500-999), 10 malformed.
    const t = await call('POST', '/api/v1/tables', { namespace: 'db', name: 'events', columns: [{ name: 'id', type: 'long', required: true }, { name: 'v', type: 'string' }] });
    expect(t.status, t.text).toBe(201);
    const value = (i: number) => (i % 100 === 7 ? `not json ${i}` : JSON.stringify({ id: i, v: `value-${i}` }));
    await produce(kafka.bootstrap, 'metrics-events', value, 0, 500, 2);
    const src = await call('POST', '/api/v1/sources/kafka', { name: 'local', bootstrapServers: [kafka.bootstrap] });
    expect(src.status, src.text).toBe(201);
    // With data-quality checks: the job manager's jobs count in the quality families too.
    const job = await call('POST', '/api/v1/ingestion-jobs', {
      name: 'events',
      sourceId: src.body.id,
      topics: ['metrics-events'],
      target: { namespace: 'db', table: 'events' },
      mapping: { commit: { intervalMs: 200 } },
      quality: { checks: [{ kind: 'not_null', column: 'v' }, { kind: 'range', column: 'id', max: 600 }] },
      schedule: 'manual',
    });
    expect(job.status, job.text).toBe(201);
    const jobPath = `/api/v1/ingestion-jobs/${job.body.id}`;
    expect((await call('POST', `${jobPath}/start`)).body.state).toBe('running');
    await waitFor('first round', async () => (await call('GET', `${jobPath}/status`)).body.totalLag === '0');
    await produce(kafka.bootstrap, 'metrics-events', value, 500, 1000, 2);
    await waitFor('second round', async () => (await call('GET', `${jobPath}/status`)).body.totalLag === '0');

    // Queries: one that prunes the first round's files, one that fails.
    const q = await call('POST', '/api/v1/queries', { sql: 'SELECT count(*) FROM db.events WHERE id >= 500' });
    expect(q.status, q.text).toBe(200);
    expect(q.body.rows).toEqual([[495]]);
    expect((await call('POST', '/api/v1/queries', { sql: 'SELECT no_such_column FROM db.events' })).status).toBeGreaterThanOrEqual(400);

    // Concurrent writers to one table: the losers of each commit race rebase and retry, and every
    // retry is counted once (the snapshot producer reports it from its retry loop).
    expect((await call('POST', '/api/v1/tables', { namespace: 'db', name: 'hot', columns: [{ name: 'id', type: 'long' }] })).status).toBe(201);
    const inserts = await Promise.all(Array.from({ length: 6 }, (_, i) => call('POST', '/api/v1/queries', { sql: `INSERT INTO db.hot SELECT ${i}` })));
    for (const r of inserts) expect(r.status, r.text).toBe(200);
    expect((await call('POST', '/api/v1/queries', { sql: 'SELECT count(*) FROM db.hot' })).body.rows).toEqual([[6]]);

    // Scheduler: a run that succeeds and one that fails (no retries).
    sched = startScheduler(catalog, null, { app });
    const mk = async (name: string, sql: string) => {
      const r = await call('POST', '/api/v1/schedules', { name, kind: 'sql', params: { sql }, intervalSeconds: 86_400, retry: { maxAttempts: 1 } });
      expect(r.status, r.text).toBe(201);
      const run = await call('POST', `/api/v1/schedules/${r.body.id}/run`);
      expect(run.status, run.text).toBeLessThan(300);
      return r.body.id as string;
    };
    const ok = await mk('answer', 'SELECT 42');
    const bad = await mk('broken', 'SELECT * FROM db.no_such_table');
    for (const [id, want] of [[ok, 'succeeded'], [bad, 'failed']] as const) {
      await waitFor(`${want} run`, async () => (await call('GET', `/api/v1/schedules/${id}/runs`)).body.runs?.some((r: { status: string }) => r.status === want));
    }

    const families = await parseExposition(await (await fetch(`${base}/metrics`)).text());
    const fam = (name: string) => {
      const f = families.find((x) => x.name === name);
      expect(f, `family ${name}`).toBeDefined();
      return f!;
    };
    const value2 = (f: Family, sample: string, labels: Record<string, string> = {}) =>
      f.samples.filter((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + Number(s.value), 0);
    const jobId = job.body.id as string;

    // Ingestion per job.
    expect(value2(fam('lakehouse_ingest_records'), 'lakehouse_ingest_records_total', { job: jobId })).toBe(1000);
    expect(value2(fam('lakehouse_ingest_rows_committed'), 'lakehouse_ingest_rows_committed_total', { job: jobId, table: 'db.events' })).toBe(990);
    expect(value2(fam('lakehouse_ingest_dead_letters'), 'lakehouse_ingest_dead_letters_total', { job: jobId })).toBe(10);
    const lag = fam('lakehouse_ingest_lag_records').samples.filter((s) => s.labels.job === jobId);
    expect(lag.map((s) => s.labels.partition).sort()).toEqual(['0', '1']);
    expect(lag.every((s) => Number(s.value) === 0)).toBe(true);
    const commits = value2(fam('lakehouse_ingest_commit_latency_seconds'), 'lakehouse_ingest_commit_latency_seconds_count', { job: jobId });
    expect(commits).toBeGreaterThanOrEqual(2);
    const latencySum = value2(fam('lakehouse_ingest_commit_latency_seconds'), 'lakehouse_ingest_commit_latency_seconds_sum', { job: jobId });
    expect(latencySum / commits).toBeGreaterThan(0);
    expect(latencySum / commits).toBeLessThan(30);
    const freshness = value2(fam('lakehouse_ingest_freshness_seconds'), 'lakehouse_ingest_freshness_seconds', { job: jobId });
    expect(freshness).toBeGreaterThanOrEqual(0);
    expect(freshness).toBeLessThan(300);

    // Queries.
    expect(value2(fam('lakehouse_queries'), 'lakehouse_queries_total', { outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(value2(fam('lakehouse_queries'), 'lakehouse_queries_total', { outcome: 'failed' })).toBeGreaterThanOrEqual(1);
    expect(value2(fam('lakehouse_query_duration_seconds'), 'lakehouse_query_duration_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(value2(fam('lakehouse_query_bytes_scanned'), 'lakehouse_query_bytes_scanned_total')).toBeGreaterThan(0);
    expect(value2(fam('lakehouse_query_files_scanned'), 'lakehouse_query_files_scanned_total')).toBeGreaterThan(0);
    expect(value2(fam('lakehouse_query_files_pruned'), 'lakehouse_query_files_pruned_total')).toBeGreaterThan(0);

    // Scheduler.
    expect(value2(fam('lakehouse_scheduler_runs'), 'lakehouse_scheduler_runs_total', { kind: 'sql', outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(value2(fam('lakehouse_scheduler_runs'), 'lakehouse_scheduler_runs_total', { kind: 'sql', outcome: 'failed' })).toBeGreaterThanOrEqual(1);
    expect(value2(fam('lakehouse_scheduler_run_failures'), 'lakehouse_scheduler_run_failures_total', { kind: 'sql' })).toBeGreaterThanOrEqual(1);
    expect(value2(fam('lakehouse_scheduler_run_duration_seconds'), 'lakehouse_scheduler_run_duration_seconds_count', { kind: 'sql' })).toBeGreaterThanOrEqual(2);

    // Catalog commits (the job's commits went through the server's catalog) and retries.
    expect(value2(fam('lakehouse_catalog_commits'), 'lakehouse_catalog_commits_total', { result: 'success' })).toBeGreaterThanOrEqual(3 + commits);
    const retries = fam('lakehouse_catalog_commit_retries');
    expect(retries.type).toBe('counter');
    const conflicts = value2(fam('lakehouse_catalog_commit_conflicts'), 'lakehouse_catalog_commit_conflicts_total');
    expect(value2(retries, 'lakehouse_catalog_commit_retries_total', { table: 'db.hot' })).toBeGreaterThanOrEqual(1);
    // Only those inserts conflicted, and each conflict was retried: exactly one retry per conflict.
    expect(value2(retries, 'lakehouse_catalog_commit_retries_total')).toBe(conflicts);

    // Data quality of the ingestion job's batches (the job manager's monitor): 990 rows, ids 0-999 → 399 over 600.
    const checks = fam('lakehouse_quality_checks');
    expect(value2(checks, 'lakehouse_quality_checks_total', { table: 'db.events', result: 'passed' })).toBeGreaterThanOrEqual(commits);
    expect(value2(checks, 'lakehouse_quality_checks_total', { table: 'db.events', result: 'failed' })).toBeGreaterThanOrEqual(1);

    // Table health of the ingested table.
    const table = { table: 'db.events' };
    expect(value2(fam('lakehouse_table_data_files'), 'lakehouse_table_data_files', table)).toBeGreaterThanOrEqual(2);
    expect(value2(fam('lakehouse_table_small_files'), 'lakehouse_table_small_files', table)).toBeGreaterThanOrEqual(2);
    expect(value2(fam('lakehouse_table_delete_file_ratio'), 'lakehouse_table_delete_file_ratio', table)).toBe(0);
    expect(value2(fam('lakehouse_table_snapshots'), 'lakehouse_table_snapshots', table)).toBeGreaterThanOrEqual(2);
    expect(value2(fam('lakehouse_table_manifests'), 'lakehouse_table_manifests', table)).toBeGreaterThanOrEqual(1);
    expect(value2(fam('lakehouse_table_bytes'), 'lakehouse_table_bytes', table)).toBeGreaterThan(1000);

    // Warehouse size (every table's live bytes) and the local warehouse's disk.
    const tables = value2(fam('lakehouse_warehouse_tables'), 'lakehouse_warehouse_tables');
    expect(tables).toBeGreaterThanOrEqual(4); // db.t, db.events, its dead letters and quality results, db.hot
    const warehouseBytes = value2(fam('lakehouse_warehouse_bytes'), 'lakehouse_warehouse_bytes');
    expect(warehouseBytes).toBeGreaterThan(value2(fam('lakehouse_table_bytes'), 'lakehouse_table_bytes', table));
    const free = value2(fam('lakehouse_warehouse_disk_free_bytes'), 'lakehouse_warehouse_disk_free_bytes');
    expect(free).toBeGreaterThan(0);
    expect(free).toBeLessThanOrEqual(value2(fam('lakehouse_warehouse_disk_size_bytes'), 'lakehouse_warehouse_disk_size_bytes'));
    expect((await call('POST', `${jobPath}/stop`)).body.state).toBe('stopped');
  }, 300_000);
});
