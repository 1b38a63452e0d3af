/**
 * Metric families fed by observed events (events.ts): ingestion per job, queries, scheduler runs,
 * catalog commit retries, data quality. Label sets stay bounded: job ids, table names, topic partitions, job
 * kinds and fixed outcomes — never query text or run ids.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ObservedEvent } from './events.js';

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export class PipelineMetrics {
  readonly #records: Counter<'job'>;
  readonly #rows: Counter<'job' | 'table'>;
  readonly #deadLetters: Counter<'job'>;
  readonly #quarantined: Counter<'job'>;
  readonly #batches: Counter<'job'>;
  readonly #lag: Gauge<'job' | 'topic' | 'partition'>;
  readonly #commitLatency: Histogram<'job'>;
  /** Newest committed record time per job (ms); freshness is computed at scrape. */
  readonly #newest = new Map<string, number>();
  readonly #queries: Counter<'outcome'>;
  readonly #queryDuration: Histogram<'outcome'>;
  readonly #bytesScanned: Counter;
  readonly #filesScanned: Counter;
  readonly #filesPruned: Counter;
  readonly #runs: Counter<'kind' | 'outcome'>;
  readonly #runFailures: Counter<'kind'>;
  readonly #runDuration: Histogram<'kind' | 'outcome'>;
  readonly #retries: Counter<'table'>;
  readonly #checks: Counter<'table' | 'result'>;
  readonly #anomalies: Counter<'table' | 'metric'>;
  /** Lag label sets per job, to drop them when the job stops. */
  readonly #lagLabels = new Map<string, Map<string, Record<string, string>>>();

  constructor(registry: Registry, private readonly now: () => number = Date.now) {
    const registers = [registry];
    this.#records = new Counter({ name: 'lakehouse_ingest_records_total', help: 'Records consumed into committed batches, per ingestion job (rows + dead letters)', labelNames: ['job'], registers });
    this.#rows = new Counter({ name: 'lakehouse_ingest_rows_committed_total', help: 'Rows committed to the target table (main), per ingestion job', labelNames: ['job', 'table'], registers });
    this.#deadLetters = new Counter({ name: 'lakehouse_ingest_dead_letters_total', help: 'Records committed to the dead-letter table, per ingestion job', labelNames: ['job'], registers });
    this.#quarantined = new Counter({ name: 'lakehouse_ingest_quarantined_rows_total', help: 'Rows committed to the quarantine branch instead of main, per ingestion job', labelNames: ['job'], registers });
    this.#batches = new Counter({ name: 'lakehouse_ingest_batches_total', help: 'Batches committed, per ingestion job', labelNames: ['job'], registers });
    this.#lag = new Gauge({ name: 'lakehouse_ingest_lag_records', help: 'Records between the committed offset and the high watermark, per job and partition', labelNames: ['job', 'topic', 'partition'], registers });
    this.#commitLatency = new Histogram({ name: 'lakehouse_ingest_commit_latency_seconds', help: "From a batch's first record to its commit, per ingestion job", labelNames: ['job'], buckets: SECONDS, registers });
    const newest = this.#newest;
    const clock = this.now;
    new Gauge({
      name: 'lakehouse_ingest_freshness_seconds',
      help: 'Now minus the newest committed record time (Kafka timestamp), per ingestion job',
      labelNames: ['job'],
      registers,
      collect() {
        this.reset();
        for (const [job, ms] of newest) this.set({ job }, Math.max(0, (clock() - ms) / 1000));
      },
    });
    this.#queries = new Counter({ name: 'lakehouse_queries_total', help: 'SQL queries by outcome (succeeded, failed, cancelled)', labelNames: ['outcome'], registers });
    this.#queryDuration = new Histogram({ name: 'lakehouse_query_duration_seconds', help: 'SQL query execution time by outcome', labelNames: ['outcome'], buckets: SECONDS, registers });
    this.#bytesScanned = new Counter({ name: 'lakehouse_query_bytes_scanned_total', help: 'Bytes of data and delete files scanned by successful queries', registers });
    this.#filesScanned = new Counter({ name: 'lakehouse_query_files_scanned_total', help: 'Data files scanned by successful queries', registers });
    this.#filesPruned = new Counter({ name: 'lakehouse_query_files_pruned_total', help: 'Data files skipped by partition and column-statistics pruning', registers });
    this.#runs = new Counter({ name: 'lakehouse_scheduler_runs_total', help: 'Scheduled job run attempts by kind and outcome', labelNames: ['kind', 'outcome'], registers });
    this.#runFailures = new Counter({ name: 'lakehouse_scheduler_run_failures_total', help: 'Scheduled job run attempts that failed (retried or final), by kind', labelNames: ['kind'], registers });
    this.#runDuration = new Histogram({ name: 'lakehouse_scheduler_run_duration_seconds', help: 'Scheduled job run attempt duration by kind and outcome', labelNames: ['kind', 'outcome'], buckets: SECONDS, registers });
    this.#retries = new Counter({ name: 'lakehouse_catalog_commit_retries_total', help: 'Table commits retried after a conflict, by table', labelNames: ['table'], registers });
    this.#checks = new Counter({ name: 'lakehouse_quality_checks_total', help: 'Data-quality check evaluations by result (passed, failed)', labelNames: ['table', 'result'], registers });
    this.#anomalies = new Counter({ name: 'lakehouse_quality_anomalies_total', help: 'Batches whose profile metric departed from its baseline', labelNames: ['table', 'metric'], registers });
  }

  on(e: ObservedEvent): void {
    switch (e.type) {
      case 'ingest.batch':
        this.#batches.inc({ job: e.jobId });
        this.#records.inc({ job: e.jobId }, e.records);
        this.#rows.inc({ job: e.jobId, table: e.table }, e.rows);
        this.#deadLetters.inc({ job: e.jobId }, e.deadLetters);
        this.#quarantined.inc({ job: e.jobId }, e.quarantined);
        this.#commitLatency.observe({ job: e.jobId }, e.commitSeconds);
        if (e.newestRecordMs !== null) this.#newest.set(e.jobId, Math.max(this.#newest.get(e.jobId) ?? 0, e.newestRecordMs));
        return;
      case 'ingest.lag':
      {
        const labels = { job: e.jobId, topic: e.topic, partition: String(e.partition) };
        this.#lag.set(labels, e.lag);
        const known = this.#lagLabels.get(e.jobId) ?? new Map<string, Record<string, string>>();
        known.set(`${e.topic}\u0000${e.partition}`, labels);
        this.#lagLabels.set(e.jobId, known);
        return;
      }
      case 'ingest.stopped':
        // Lag of a stopped job is not measured any more; freshness keeps growing (that is the point).
        for (const labels of this.#lagLabels.get(e.jobId)?.values() ?? []) this.#lag.remove(labels);
        this.#lagLabels.delete(e.jobId);
        return;
      case 'query':
        this.#queries.inc({ outcome: e.outcome });
        this.#queryDuration.observe({ outcome: e.outcome }, e.seconds);
        if (e.outcome === 'succeeded') {
          this.#bytesScanned.inc(e.bytesScanned);
          this.#filesScanned.inc(e.filesScanned);
          this.#filesPruned.inc(e.filesPruned);
        }
        return;
      case 'scheduler.run':
        this.#runs.inc({ kind: e.kind, outcome: e.outcome });
        if (e.outcome === 'failed' || e.outcome === 'retrying') this.#runFailures.inc({ kind: e.kind });
        this.#runDuration.observe({ kind: e.kind, outcome: e.outcome }, e.seconds);
        return;
      case 'catalog.retry':
        this.#retries.inc({ table: e.table });
        return;
      case 'quality.check':
        this.#checks.inc({ table: e.table, result: e.passed ? 'passed' : 'failed' });
        return;
      case 'quality.anomaly':
        this.#anomalies.inc({ table: e.table, metric: e.metric });
        return;
      default:
    }
  }
}
