/**
 * Data quality of an ingestion batch (a job's `quality` config with a monitor): checks and
 * anomaly detection over the batch's rows as they will be written. A suspect batch can be sent to
 * the quarantine branch (see batch-commit.ts). An evaluation that itself fails is logged and does
 * not stop ingestion.
 */
import { identToString } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import type { Duck } from '../duck/db.js';
import type { CheckSpec, QualityMonitor } from '../quality/index.js';
import type { KafkaLog } from './kafka-client.js';

export interface IngestQuality {
  /** Checks run on every batch (default: the table's `lakehouse.quality.checks` property). */
  checks?: CheckSpec[];
  /** Score each batch's profile against the table's baseline (default true). */
  anomalyDetection?: boolean;
  /** Commit a suspect batch to the quarantine branch instead of main (default false). */
  quarantine?: boolean;
  /** Default `quarantine`. */
  branch?: string;
}

/** Why the batch (rows of `sourceSql`) must be quarantined, or null. */
export async function evaluateBatchQuality(
  ctx: { duck: Duck; table: TableIdent; jobId: string; quality?: IngestQuality; monitor?: QualityMonitor | null; log?: KafkaLog },
  sourceSql: string,
  batchId: string,
  at: number,
): Promise<string | null> {
  const q = ctx.quality;
  const monitor = ctx.monitor;
  if (!q || !monitor) return null;
  const view = '__ingest_quality';
  try {
    await ctx.duck.run(`CREATE OR REPLACE TEMP VIEW ${view} AS ${sourceSql}`);
    const ev = await monitor.evaluateBatch(ctx.table, ctx.duck, view, { at, batchId, checks: q.checks, anomalyDetection: q.anomalyDetection !== false });
    if (!ev.suspect || q.quarantine !== true) return null;
    const reasons = [...ev.anomalies.map((a) => a.message), ...ev.checks.filter((c) => !c.passed && c.severity === 'critical').map((c) => c.message)];
    return reasons.join('; ') || 'suspect batch';
  } catch (e) {
    ctx.log?.warn(`quality evaluation of batch ${batchId} failed: ${(e as Error).message}`, { jobId: ctx.jobId, table: identToString(ctx.table) });
    return null;
  } finally {
    await ctx.duck.run(`DROP VIEW IF EXISTS ${view}`).catch(() => undefined);
  }
}
