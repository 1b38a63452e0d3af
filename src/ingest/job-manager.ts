/**
 * Runs the stored ingestion job definitions (/api/v1/ingestion-jobs) as StreamingJobs inside the
 * service process: start, pause, resume, stop, reset, status and run history.
 *
 * - A job definition's `mapping` object is read as a RecordMapping (`columns`, `drop`,
 *   `unknownFields`) plus runner options: `enrich` (Kafka metadata columns), `commit`
 *   ({maxRecords, maxBytes, intervalMs}), `startFrom` ('earliest' | 'latest' | {timestampMs}).
 *   The consumer group is `lakehouse-job-<id>`; `kafka.job-id` in snapshots is the job id.
 * - Pause stops consuming after committing what is buffered and leaves the group; resume starts
 *   again from the offsets recorded in the table — so pause/resume (and stop/start, and a process
 *   restart) keep exactly-once: the table's snapshot offsets stay the only source of truth.
 * - Reset (job not running) commits an empty snapshot to the target table whose summary records
 *   the requested offsets (`kafka.offsets.<topic>`), through the same optimistic offsets commit as
 *   data batches; the next start seeks there. Re-reading older offsets re-ingests those records
 *   (that is what a reset asks for); dead letters below the DLQ table's watermark are not repeated.
 * - Status: state, per-partition committed offset / high watermark / lag, rows/s over the last
 *   minute of commits, last commit, recent errors, rows and dead letters of the current run, and
 *   the dead-letter table's total row count. History: every run, persisted in the catalog store
 *   (run-history.ts), so it survives restarts.
 * - Jobs whose definition is `enabled` with schedule `continuous` are started by startJobManager.
 */
import { identToString, type Catalog } from '../catalog/catalog.js';
import { checkJobAccess, type JobAccess } from '../security/run-as.js';
import type { TableIdent } from '../catalog/store.js';
import { isLakehouseError, lakehouseError } from '../core/errors.js';
import type { JobRecord, OwnStore } from '../api/own/store.js';
import { appendWithOffsets } from './commit.js';
import { deadLetterIdent } from './dead-letter.js';
import { createKafka, listTopics, offsetsForTimestamp, topicOffsets, type KafkaLog } from './kafka-client.js';
import type { RecordMapping } from './mapping.js';
import { mergeOffsets, recordedOffsets, setOffset, type TopicOffsets } from './offsets.js';
import { StreamingJob, type CommitInfo, type StreamingJobConfig } from './streaming-job.js';
import { RunHistoryStore, type RunRecord, type RunState } from './run-history.js';
import { moduleLogger } from '../observability/log-levels.js';
import { alertManagerFor } from '../observability/alerts/index.js';
import { qualityMonitorFor } from '../quality/index.js';

export type { RunRecord, RunState } from './run-history.js';

export interface PartitionStatus {
  topic: string;
  partition: number;
  /** Next offset to consume as recorded in the table (null: nothing recorded yet). */
  committedOffset: string | null;
  endOffset: string;
  lag: string;
}

export interface JobRunStatus {
  jobId: string;
  state: RunState;
  partitions: PartitionStatus[];
  /** Sum of the partitions' lags; null when the broker could not be asked. */
  totalLag: string | null;
  rowsPerSecond: number;
  lastCommitAt: string | null;
  rowsCommitted: number;
  deadLettersCommitted: number;
  deadLetterTableRows: number;
  commits: number;
  errors: { at: string; message: string }[];
}

export type ResetRequest = { offsets: Record<string, Record<string, number | string>> } | { timestampMs: number } | { position: 'earliest' | 'latest' };

interface Entry {
  id: string;
  state: RunState;
  job: StreamingJob | null;
  runs: RunRecord[];
  commits: { at: number; rows: number }[];
  errors: { at: string; message: string }[];
  op: Promise<unknown>;
  /** The last run-history write (writes are chained). */
  saving?: Promise<void>;
  savedAt?: number;
}

export interface JobManagerOptions {
  catalog: Catalog;
  store: OwnStore;
  log?: KafkaLog;
}

/** How often a running job's owner's grant is checked again (see watchGrant). */
const GRANT_CHECK_MS = 5000;

const quiet: KafkaLog = { warn: () => undefined, error: () => undefined };

export class JobManager {
  private readonly entries = new Map<string, Entry>();
  private closed = false;
  private readonly history_: RunHistoryStore;

  constructor(private readonly opts: JobManagerOptions) {
    this.history_ = new RunHistoryStore(opts.store.db, opts.store.catalogName);
  }

  /** Writes the run to the store (serialised per job; a failed write is logged, never fatal). */
  private persist(e: Entry, run: RunRecord): Promise<void> {
    const snapshot = { ...run };
    const p = (e.saving ?? Promise.resolve()).then(() => this.history_.save(e.id, snapshot)).catch((err: Error) => this.noteError(e, `saving run history: ${err.message}`));
    e.saving = p;
    return p;
  }

  private entry(id: string): Entry {
    let e = this.entries.get(id);
    if (!e) {
      e = { id, state: 'stopped', job: null, runs: [], commits: [], errors: [], op: Promise.resolve() };
      this.entries.set(id, e);
    }
    return e;
  }

  /** Serialises operations per job. */
  private serial<T>(e: Entry, fn: () => Promise<T>): Promise<T> {
    const p = e.op.then(fn, fn);
    e.op = p.catch(() => undefined);
    return p;
  }

  private async definition(id: string): Promise<{ rec: JobRecord; cfg: StreamingJobConfig }> {
    const rec = await this.opts.store.getJob(id);
    if (!rec) throw lakehouseError('NOT_FOUND', `no ingestion job ${id}`);
    const src = await this.opts.store.getSource('kafka', rec.sourceId);
    if (!src) throw lakehouseError('VALIDATION_FAILED', `ingestion job ${id}: its Kafka source ${rec.sourceId} is gone`);
    const d = rec.definition as { topics: string[]; topicPattern?: string; target: { namespace: string; table: string }; mapping?: Record<string, unknown> } & Pick<
      StreamingJobConfig,
      'format' | 'schemaRegistry' | 'quality'
    >;
    const m = (d.mapping ?? {}) as RecordMapping &
      Pick<StreamingJobConfig, 'enrich' | 'commit' | 'startFrom' | 'headerColumns' | 'derived' | 'schemaEvolution'>;
    const table: TableIdent = { namespace: d.target.namespace.split('.'), name: d.target.table };
    const cfg: StreamingJobConfig = {
      jobId: rec.id,
      brokers: (src.config.bootstrapServers as string[]) ?? [],
      topics: d.topics,
      topicPattern: d.topicPattern,
      groupId: `lakehouse-job-${rec.id}`,
      table,
      mapping: { columns: m.columns, drop: m.drop, unknownFields: m.unknownFields },
      enrich: m.enrich,
      headerColumns: m.headerColumns,
      derived: m.derived,
      schemaEvolution: m.schemaEvolution,
      commit: m.commit,
      startFrom: m.startFrom,
      format: d.format,
      schemaRegistry: d.schemaRegistry,
      quality: d.quality,
    };
    return { rec, cfg };
  }

  async start(id: string): Promise<JobRunStatus> {
    const e = this.entry(id);
    await this.serial(e, () => this.startRun(e, ['stopped', 'failed']));
    return this.status(id);
  }

  async resume(id: string): Promise<JobRunStatus> {
    const e = this.entry(id);
    await this.serial(e, () => this.startRun(e, ['paused']));
    return this.status(id);
  }

  async pause(id: string): Promise<JobRunStatus> {
    const e = this.entry(id);
    await this.serial(e, () => this.stopRun(e, 'paused'));
    return this.status(id);
  }

  async stop(id: string): Promise<JobRunStatus> {
    const e = this.entry(id);
    await this.serial(e, async () => {
      if (e.state === 'paused') e.state = 'stopped';
      else await this.stopRun(e, 'stopped');
    });
    return this.status(id);
  }

  private async startRun(e: Entry, from: RunState[]): Promise<void> {
    if (this.closed) throw lakehouseError('SERVICE_UNAVAILABLE', 'the job manager is shutting down');
    if (!from.includes(e.state)) throw lakehouseError('RESOURCE_IN_USE', `ingestion job ${e.id} is ${e.state}`);
    const { rec, cfg } = await this.definition(e.id);
    // Runs as the principal that defined it (security/run-as.ts): without INSERT it does not start.
    await checkJobAccess(this.opts.catalog, { owner: rec.runAs, privilege: 'INSERT', table: cfg.table, job: `ingestion job '${rec.name}'` });
    await e.saving;
    const runId = Math.max((e.runs.at(-1)?.runId ?? 0) + 1, await this.history_.nextRunId(e.id).catch(() => 0));
    const run: RunRecord = { runId, startedAt: new Date().toISOString(), endedAt: null, state: 'starting', rowsCommitted: 0, deadLetters: 0, commits: 0, lastCommitAt: null };
    await this.persist(e, run);
    e.runs.push(run);
    if (e.runs.length > 50) e.runs.shift();
    e.state = 'starting';
    e.commits = [];
    // Observability: without an explicit log, the job logs through the service's `ingest` module
    // logger with its job id and table on every line.
    const jobLog = moduleLogger('ingest', { jobId: e.id, table: identToString(cfg.table) });
    const rest = (x?: Record<string, unknown>) => {
      const { jobId: _j, table: _t, ...r } = x ?? {}; // already bound
      return r;
    };
    const log: KafkaLog = {
      warn: (m, x) => (this.opts.log ? this.opts.log.warn(m, x) : jobLog.warn(rest(x), m)),
      error: (m, x) => {
        this.noteError(e, m);
        if (this.opts.log) this.opts.log.error(m, x);
        else jobLog.error(rest(x), m);
      },
    };
    // Data quality: the monitor raises alerts through the process's alert manager (when running).
    const quality = cfg.quality ? qualityMonitorFor(this.opts.catalog, { alerts: alertManagerFor(this.opts.catalog) ?? undefined }) : null;
    let job: StreamingJob;
    try {
      job = await StreamingJob.start(cfg, {
        catalog: this.opts.catalog,
        log,
        quality,
        onCommit: (c: CommitInfo) => {
          run.rowsCommitted += c.rows;
          run.deadLetters += c.deadLetters;
          run.commits++;
          run.lastCommitAt = new Date().toISOString();
          // Commits come every second or so: the stored run follows every few seconds.
          if (Date.now() - (e.savedAt ?? 0) >= 5000) {
            e.savedAt = Date.now();
            void this.persist(e, run);
          }
          e.commits.push({ at: Date.now(), rows: c.rows });
          const cut = Date.now() - 60_000;
          while (e.commits.length > 0 && e.commits[0].at < cut) e.commits.shift();
        },
      });
    } catch (err) {
      this.noteError(e, (err as Error).message);
      run.state = 'failed';
      run.error = (err as Error).message;
      run.endedAt = new Date().toISOString();
      e.state = 'failed';
      await this.persist(e, run);
      throw lakehouseError('BAD_REQUEST', `ingestion job ${e.id} did not start: ${(err as Error).message}`);
    }
    e.job = job;
    e.state = 'running';
    run.state = 'running';
    void this.persist(e, run);
    jobLog.info({ runId: run.runId, quality: cfg.quality ? true : undefined }, 'ingestion job started');
    this.watchGrant(e, job, { owner: rec.runAs, privilege: 'INSERT', table: cfg.table, job: `ingestion job '${rec.name}'` });
    // The run ends on its own when it fails (or, in bounded mode, catches up).
    job.done.then(
      () => this.ended(e, job, run, null),
      (err: Error) => this.ended(e, job, run, err),
    );
  }

  /**
   * A running job keeps its owner's privilege under watch: once the INSERT grant is revoked the
   * job stops within GRANT_CHECK_MS and its run fails (audited by checkJobAccess; `ended` records
   * it), as a scheduled job's next run would. A store that cannot answer is asked again next time.
   */
  private watchGrant(e: Entry, job: StreamingJob, access: JobAccess): void {
    if (!access.owner) return;
    const timer = setInterval(() => {
      if (e.job !== job) return clearInterval(timer);
      checkJobAccess(this.opts.catalog, access).catch((err: Error) => {
        if (!isLakehouseError(err) || err.code !== 'FORBIDDEN' || e.job !== job) return;
        clearInterval(timer);
        // Nothing more is written as the owner: what is buffered is dropped, not committed (the
        // table's offsets stay before it, so a restart by someone allowed re-reads it).
        void this.serial(e, async () => {
          if (e.job === job) await job.abort(err).catch(() => undefined);
        });
      });
    }, GRANT_CHECK_MS);
    timer.unref();
    void job.done.finally(() => clearInterval(timer)).catch(() => undefined);
  }

  private ended(e: Entry, job: StreamingJob, run: RunRecord, err: Error | null): void {
    run.endedAt ??= new Date().toISOString();
    const st = job.status();
    run.commits = st.commits;
    if (err) {
      run.state = 'failed';
      run.error = err.message;
      this.noteError(e, err.message);
    } else if (run.state === 'running') run.state = 'stopped';
    void this.persist(e, run);
    if (e.job === job) {
      e.job = null;
      if (err) e.state = 'failed';
      else if (e.state === 'running') e.state = 'stopped';
    }
  }

  private async stopRun(e: Entry, to: 'paused' | 'stopped'): Promise<void> {
    if (e.state !== 'running' && e.state !== 'starting') {
      if (to === 'paused') throw lakehouseError('RESOURCE_IN_USE', `ingestion job ${e.id} is ${e.state}, not running`);
      return;
    }
    const job = e.job;
    const run = e.runs.at(-1);
    e.state = 'stopping';
    if (run) run.state = to;
    try {
      await job?.stop();
      e.state = job?.status().state === 'failed' ? 'failed' : to;
    } catch (err) {
      e.state = 'failed';
      this.noteError(e, (err as Error).message);
    }
    if (run) run.endedAt = new Date().toISOString();
    if (e.state === 'failed' && run) {
      run.state = 'failed';
      run.error = job?.status().error;
    }
    if (run) await this.persist(e, run);
    e.job = null;
  }

  private noteError(e: Entry, message: string): void {
    e.errors.push({ at: new Date().toISOString(), message });
    if (e.errors.length > 20) e.errors.shift();
  }

  /** Records `req`'s offsets in the target table so the next start consumes from there. */
  async reset(id: string, req: ResetRequest): Promise<JobRunStatus> {
    const e = this.entry(id);
    await this.serial(e, async () => {
      if (!['stopped', 'paused', 'failed'].includes(e.state)) throw lakehouseError('RESOURCE_IN_USE', `ingestion job ${id} is ${e.state}; stop or pause it before a reset`);
      const { cfg } = await this.definition(id);
      const kafka = createKafka({ brokers: cfg.brokers, clientId: `lakehouse-${id}-reset`, log: quiet });
      const target: TopicOffsets = new Map();
      const topics = await this.topicsOf(cfg);
      if ('offsets' in req) {
        for (const [topic, parts] of Object.entries(req.offsets)) {
          if (!topics.includes(topic)) throw lakehouseError('VALIDATION_FAILED', `topic ${topic} is not one of the job's topics`);
          for (const [p, off] of Object.entries(parts)) {
            if (!/^\d+$/.test(p) || !/^\d+$/.test(String(off))) throw lakehouseError('VALIDATION_FAILED', `bad offset ${topic}/${p}=${String(off)}`);
            setOffset(target, topic, Number(p), BigInt(off));
          }
        }
      } else if ('timestampMs' in req) {
        for (const topic of topics) for (const [p, off] of await offsetsForTimestamp(kafka, topic, req.timestampMs)) setOffset(target, topic, p, off);
      } else {
        for (const [topic, parts] of await topicOffsets(kafka, topics)) for (const [p, r] of parts) setOffset(target, topic, p, req.position === 'latest' ? r.high : r.low);
      }
      await appendWithOffsets(this.opts.catalog, cfg.table, [], {
        jobId: id,
        topics,
        summary: { 'kafka.reset': 'true' },
        resolve: (parent) => mergeOffsets(parent, target),
      });
    });
    return this.status(id);
  }

  async status(id: string): Promise<JobRunStatus> {
    const { cfg } = await this.definition(id);
    const e = this.entry(id);
    const partitions: PartitionStatus[] = [];
    // Null when the broker could not be asked: an unknown lag must not read as "caught up".
    let total: bigint | null = null;
    let committed: TopicOffsets = new Map();
    let dlqRows = 0;
    const { catalog } = this.opts;
    const topics = await this.topicsOf(cfg);
    if (await catalog.tableExists(cfg.table)) committed = recordedOffsets((await catalog.loadTable(cfg.table)).metadata, topics);
    const dlqIdent = deadLetterIdent(cfg.table);
    if (await catalog.tableExists(dlqIdent)) {
      const md = (await catalog.loadTable(dlqIdent)).metadata;
      const cur = md.snapshots.find((s) => s['snapshot-id'] === md['current-snapshot-id']);
      dlqRows = Number((cur?.summary as unknown as Record<string, string> | undefined)?.['total-records'] ?? 0);
    }
    try {
      const kafka = createKafka({ brokers: cfg.brokers, clientId: `lakehouse-${id}-status`, log: quiet });
      let sum = 0n;
      const from = cfg.startFrom;
      for (const [topic, parts] of await topicOffsets(kafka, topics)) {
        // Partitions without recorded offsets (a job not started yet) lag from where they would start.
        const byTime = typeof from === 'object' && [...parts.keys()].some((p) => committed.get(topic)?.get(p) === undefined) ? await offsetsForTimestamp(kafka, topic, from.timestampMs) : null;
        for (const [p, r] of [...parts].sort((a, b) => a[0] - b[0])) {
          const at = committed.get(topic)?.get(p);
          const base = at ?? (byTime ? byTime.get(p) ?? r.high : from === 'latest' ? r.high : r.low);
          const lag = r.high > base ? r.high - base : 0n;
          sum += lag;
          partitions.push({ topic, partition: p, committedOffset: at === undefined ? null : at.toString(), endOffset: r.high.toString(), lag: lag.toString() });
        }
      }
      total = sum;
    } catch (err) {
      partitions.length = 0;
      this.noteError(e, `status: ${(err as Error).message}`);
    }
    const st = e.job?.status();
    const run = e.runs.at(-1);
    const cut = Date.now() - 60_000;
    const recent = e.commits.filter((c) => c.at >= cut);
    const span = recent.length > 0 ? Math.max(1, (Date.now() - Math.max(cut, Date.parse(run?.startedAt ?? '') || cut)) / 1000) : 1;
    return {
      jobId: id,
      state: e.state,
      partitions,
      totalLag: total === null ? null : total.toString(),
      rowsPerSecond: Math.round(recent.reduce((a, c) => a + c.rows, 0) / span),
      lastCommitAt: st?.lastCommitAt ? new Date(st.lastCommitAt).toISOString() : e.commits.length > 0 ? new Date(e.commits.at(-1)!.at).toISOString() : null,
      rowsCommitted: run?.rowsCommitted ?? 0,
      deadLettersCommitted: run?.deadLetters ?? 0,
      deadLetterTableRows: dlqRows,
      commits: run?.commits ?? 0,
      errors: [...e.errors, ...(st?.error ? [{ at: new Date().toISOString(), message: st.error }] : [])],
    };
  }

  /** The job's topics now: the listed ones plus those matching its pattern. */
  private async topicsOf(cfg: StreamingJobConfig): Promise<string[]> {
    if (!cfg.topicPattern) return cfg.topics;
    const re = new RegExp(`^(?:${cfg.topicPattern})$`);
    try {
      const all = await listTopics(createKafka({ brokers: cfg.brokers, clientId: `lakehouse-${cfg.jobId}-status`, log: quiet }));
      return [...new Set([...cfg.topics, ...all.filter((t) => re.test(t))])].sort();
    } catch {
      return cfg.topics;
    }
  }

  async history(id: string): Promise<RunRecord[]> {
    if (!(await this.opts.store.getJob(id))) throw lakehouseError('NOT_FOUND', `no ingestion job ${id}`);
    const e = this.entries.get(id);
    await e?.saving;
    // This process's current run as it is now (the stored row may be a few seconds behind).
    const live = e?.job ? e.runs.at(-1) : undefined;
    return (await this.history_.list(id)).map((r) => (live && r.runId === live.runId ? { ...live } : r));
  }

  /** Starts the definitions marked enabled + continuous (errors are recorded, not thrown). */
  async startEnabled(): Promise<void> {
    for (const rec of await this.opts.store.listJobs()) {
      if (rec.definition.enabled === true && rec.definition.schedule === 'continuous') await this.start(rec.id).catch(() => undefined);
    }
  }

  /** Stops every running job (committing what is buffered). */
  async stopAll(): Promise<void> {
    this.closed = true;
    if (managers.get(this.opts.store.db) === this) managers.delete(this.opts.store.db);
    await Promise.all([...this.entries.values()].map((e) => this.serial(e, () => this.stopRun(e, 'stopped')).catch(() => undefined)));
  }
}

const managers = new WeakMap<object, JobManager>();

/** The process's job manager for a store (created on first use). */
export function jobManagerFor(catalog: Catalog, store: OwnStore): JobManager {
  let m = managers.get(store.db);
  if (!m) {
    m = new JobManager({ catalog, store });
    managers.set(store.db, m);
  }
  return m;
}

/**
 * Starts the service's job manager: enabled continuous jobs start now; `stop()` stops them all.
 * Catalogs without the SQL store have no job definitions (a no-op manager).
 */
export async function startJobManager(opts: { catalog: Catalog; log?: KafkaLog }): Promise<{ manager: JobManager | null; stop(): Promise<void> }> {
  const { ownStoreFor } = await import('../api/own/index.js');
  const store = ownStoreFor(opts.catalog);
  if (!store) return { manager: null, stop: async () => undefined };
  const manager = jobManagerFor(opts.catalog, store);
  await manager.startEnabled();
  return { manager, stop: () => manager.stopAll() };
}
