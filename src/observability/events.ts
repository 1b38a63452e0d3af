/**
 * The process-wide observation hook. Ingestion, queries, the scheduler, data quality and the
 * snapshot producer's commit retries only `observe(...)`
 * plain events; whoever exposes metrics (a server's `Metrics`) subscribes. This keeps prom-client
 * out of those modules, and a process without a server (the CLI, a test driving a job directly)
 * pays one empty loop per event. Listeners must not throw into the emitting code path: a
 * listener's error is swallowed (metrics must never fail a commit or a query).
 */
import type { TableIdent } from '../catalog/store.js';

export type ObservedEvent =
  /** One committed batch of a streaming ingestion job. */
  | {
      type: 'ingest.batch';
      jobId: string;
      table: string;
      /** Records consumed into the batch (rows + dead letters). */
      records: number;
      rows: number;
      deadLetters: number;
      /** Rows sent to the quarantine branch instead of main. */
      quarantined: number;
      /** From the batch's first record to its commit. */
      commitSeconds: number;
      /** Newest Kafka record timestamp in the batch (ms), when records carry one. */
      newestRecordMs: number | null;
    }
  /** Records behind the partition's high watermark, as of the job's last look. */
  | { type: 'ingest.lag'; jobId: string; topic: string; partition: number; lag: number }
  /** A job run ended: its per-partition gauges go stale and are dropped. */
  | { type: 'ingest.stopped'; jobId: string }
  | { type: 'query'; outcome: 'succeeded' | 'failed' | 'cancelled'; seconds: number; bytesScanned: number; filesScanned: number; filesPruned: number }
  | { type: 'scheduler.run'; kind: string; outcome: 'succeeded' | 'failed' | 'retrying' | 'cancelled' | 'interrupted' | 'lease-lost'; seconds: number }
  /** One data-quality check evaluated over a batch or a table. */
  | { type: 'quality.check'; table: string; passed: boolean }
  /** A batch's profile metric departed from its baseline. */
  | { type: 'quality.anomaly'; table: string; metric: string }
  /** A table commit was retried after a conflict (the writer rebased and tried again). */
  | { type: 'catalog.retry'; table: string }
  /** A table changed (its health gauges are worth recomputing). */
  | { type: 'table.touched'; table: TableIdent };

export type ObservedListener = (e: ObservedEvent) => void;

const listeners = new Set<ObservedListener>();

export function observe(e: ObservedEvent): void {
  for (const l of listeners) {
    try {
      l(e);
    } catch {
      /* a metrics listener must not break the caller */
    }
  }
}

/** Subscribes; returns the unsubscribe function. */
export function onObserved(l: ObservedListener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
