/**
 * Data-quality evaluation of one batch: the table's declarative checks plus rule-free anomaly
 * detection (the batch's profile scored against the table's adaptive baseline). Results go to
 * `<table>__quality`; failed checks and anomalies raise alerts, which resolve on the next batch
 * where they no longer hold. The caller decides what to do with a bad batch — an ingestion job
 * configured to quarantine commits it with `quarantineBatch` instead of appending to main.
 *
 * Baseline learning: a metric found anomalous does not enter its baseline (a quarantined batch
 * must not teach the baseline that 40 % nulls are normal); the batch's other metrics do, so one
 * odd metric does not starve the rest of history. A deliberate, lasting change of shape is
 * accepted by resetting the table's baseline (BaselineStore.reset).
 */
import { randomUUID } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.js';
import { identToString } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import type { Duck } from '../duck/db.js';
import type { RaisedAlert } from '../observability/alerts/manager.js';
import { observe } from '../observability/events.js';
import { learn, score, type BaselineOptions, type Sample } from './baseline.js';
import type { BaselineStore } from './baseline-store.js';
import { checksFromProperties, runChecks, type CheckResult, type CheckSpec } from './checks.js';
import { profileBatch, profileMetrics, type BatchProfile } from './profile.js';
import { appendQualityRows, type QualityRow } from './results-table.js';
import { bindTable } from '../table/table-ops.js';

/** Where alerts go (the AlertManager satisfies it). */
export interface AlertSink {
  raise(a: RaisedAlert): Promise<unknown>;
  resolve(key: string): Promise<void>;
  store: { listStates(): Promise<{ key: string; state: string }[]> };
}

export interface Anomaly {
  /** `row_count`, or `<measure>:<column>` (null_ratio, distinct_ratio, mean, min, max). */
  metric: string;
  column: string | null;
  value: number;
  expected: number | null;
  low: number | null;
  high: number | null;
  score: number | null;
  message: string;
}

export interface BatchEvaluation {
  checks: CheckResult[];
  anomalies: Anomaly[];
  profile: BatchProfile;
  /** True when a check of severity critical failed or an anomaly was found. */
  suspect: boolean;
}

export interface EvaluateOptions {
  /** When the batch was seen (ms); its UTC hour of day selects the seasonal baseline. Default now. */
  at?: number;
  batchId?: string;
  /** Checks to run; default: the table's `lakehouse.quality.checks` property. */
  checks?: CheckSpec[];
  /** Score the batch's profile against the baseline (default true); false: checks only. */
  anomalyDetection?: boolean;
}

export interface QualityMonitorOptions {
  catalog: Catalog;
  baselines: BaselineStore;
  alerts?: AlertSink;
  baseline?: BaselineOptions;
  /** Append results to `<table>__quality` (default true). */
  writeResults?: boolean;
  now?: () => number;
}

export const ANOMALY_ALERT = 'DataQualityAnomaly';
export const CHECK_ALERT = 'DataQualityCheckFailed';

export class QualityMonitor {
  readonly #o: QualityMonitorOptions;

  /** Metrics: each check and anomaly is `observe`d (events.ts); the server's Metrics counts them. */
  constructor(opts: QualityMonitorOptions) {
    this.#o = opts;
  }

  async evaluateBatch(tableIdent: TableIdent, duck: Duck, relation: string, opts: EvaluateOptions = {}): Promise<BatchEvaluation> {
    const now = this.#o.now?.() ?? Date.now();
    const at = opts.at ?? now;
    const hour = new Date(at).getUTCHours();
    const table = identToString(tableIdent);
    const specs = opts.checks ?? (await this.#tableChecks(tableIdent));
    const checks = await runChecks(duck, relation, specs, at);
    const profile = await profileBatch(duck, relation);

    const detect = opts.anomalyDetection !== false;
    const windows = detect ? await this.#o.baselines.load(table) : new Map<string, Sample[]>();
    const anomalies: Anomaly[] = [];
    const metrics = detect ? profileMetrics(profile) : new Map<string, number>();
    for (const [metric, value] of metrics) {
      const v = score(metric, windows.get(metric) ?? [], value, hour, this.#o.baseline);
      if (!v.anomalous) continue;
      const column = metric.includes(':') ? metric.slice(metric.indexOf(':') + 1) : null;
      anomalies.push({
        metric,
        column,
        value,
        expected: v.expected,
        low: v.low,
        high: v.high,
        score: v.score,
        message: `${metric} = ${fmt(value)} outside the expected ${fmt(v.low)} … ${fmt(v.high)} (baseline ${fmt(v.expected)}, score ${fmt(v.score)})`,
      });
    }
    const flagged = new Set(anomalies.map((a) => a.metric));
    const updated = new Map<string, Sample[]>();
    for (const [metric, value] of metrics) if (!flagged.has(metric)) updated.set(metric, learn(windows.get(metric) ?? [], value, hour, this.#o.baseline));
    if (detect) await this.#o.baselines.save(table, updated, now);

    for (const a of anomalies) observe({ type: 'quality.anomaly', table, metric: a.metric });
    for (const c of checks) observe({ type: 'quality.check', table, passed: c.passed });
    if (this.#o.writeResults !== false) await appendQualityRows(this.#o.catalog, tableIdent, duck, this.#rows(at, opts.batchId ?? null, checks, anomalies));
    if (this.#o.alerts) await this.#alert(table, opts.batchId ?? null, checks, anomalies, new Set(metrics.keys()));
    return { checks, anomalies, profile, suspect: anomalies.length > 0 || checks.some((c) => !c.passed && c.severity === 'critical') };
  }

  /**
   * Runs the table's checks over its current snapshot (a scheduled run, through the same DuckDB
   * read path as the SQL engine). No profile: baselines describe batches, not whole tables.
   */
  async evaluateTable(tableIdent: TableIdent, duck: Duck, opts: Omit<EvaluateOptions, 'at'> = {}): Promise<CheckResult[]> {
    const now = this.#o.now?.() ?? Date.now();
    const table = identToString(tableIdent);
    const specs = opts.checks ?? (await this.#tableChecks(tableIdent));
    if (specs.length === 0) return [];
    const view = `__quality_${randomUUID().replaceAll('-', '')}`;
    await bindTable(duck, view, await this.#o.catalog.loadTable(tableIdent));
    let checks: CheckResult[];
    try {
      checks = await runChecks(duck, view, specs, now);
    } finally {
      await duck.run(`DROP VIEW IF EXISTS ${view}`).catch(() => undefined);
    }
    for (const c of checks) observe({ type: 'quality.check', table, passed: c.passed });
    if (this.#o.writeResults !== false) await appendQualityRows(this.#o.catalog, tableIdent, duck, this.#rows(now, opts.batchId ?? null, checks, []));
    if (this.#o.alerts) await this.#alert(table, opts.batchId ?? null, checks, [], new Set());
    return checks;
  }

  async #tableChecks(ident: TableIdent): Promise<CheckSpec[]> {
    if (!(await this.#o.catalog.tableExists(ident))) return [];
    return checksFromProperties((await this.#o.catalog.loadTable(ident)).metadata.properties);
  }

  #rows(at: number, batchId: string | null, checks: CheckResult[], anomalies: Anomaly[]): QualityRow[] {
    return [
      ...checks.map(
        (c): QualityRow => ({
          evaluatedAt: at,
          batchId,
          kind: 'check',
          name: c.name,
          column: c.column,
          passed: c.passed,
          severity: c.severity,
          observed: c.observed,
          expected: c.expected,
          score: null,
          failingRows: c.failingRows,
          totalRows: c.totalRows,
          message: c.message,
        }),
      ),
      ...anomalies.map(
        (a): QualityRow => ({
          evaluatedAt: at,
          batchId,
          kind: 'anomaly',
          name: a.metric,
          column: a.column,
          passed: false,
          severity: 'warning',
          observed: a.value,
          expected: a.low === null ? null : `${fmt(a.low)} … ${fmt(a.high)}`,
          score: a.score,
          failingRows: null,
          totalRows: null,
          message: a.message,
        }),
      ),
    ];
  }

  async #alert(table: string, batchId: string | null, checks: CheckResult[], anomalies: Anomaly[], evaluated: Set<string>): Promise<void> {
    const sink = this.#o.alerts!;
    const raised = new Set<string>();
    for (const a of anomalies) {
      const key = `anomaly:${table}:${a.metric}`;
      raised.add(key);
      await sink.raise({ key, name: ANOMALY_ALERT, severity: 'warning', labels: { table, metric: a.metric, ...(a.column ? { column: a.column } : {}), ...(batchId ? { batch: batchId } : {}) }, value: a.value, message: a.message });
    }
    for (const c of checks.filter((x) => !x.passed)) {
      const key = `check:${table}:${c.name}`;
      raised.add(key);
      await sink.raise({ key, name: CHECK_ALERT, severity: c.severity, labels: { table, check: c.name, kind: c.kind, ...(batchId ? { batch: batchId } : {}) }, value: c.observed, message: c.message });
    }
    // Resolve this table's alerts whose metric or check was evaluated and is fine now.
    const checkNames = new Set(checks.map((c) => c.name));
    for (const s of await sink.store.listStates()) {
      if (s.state !== 'firing' || raised.has(s.key)) continue;
      if (s.key.startsWith(`anomaly:${table}:`) && evaluated.has(s.key.slice(`anomaly:${table}:`.length))) await sink.resolve(s.key);
      else if (s.key.startsWith(`check:${table}:`) && checkNames.has(s.key.slice(`check:${table}:`.length))) await sink.resolve(s.key);
    }
  }
}

function fmt(v: number | null): string {
  if (v === null) return 'n/a';
  return Math.abs(v) >= 1000 || Number.isInteger(v) ? String(Math.round(v)) : v.toPrecision(4);
}
