import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { lakehouseError } from '../core/errors.js';
import { classifyConstraintError } from '../catalog/sql/sql-store.js';
import { firstSlotCursor } from './schedule.js';
import { nullableNumber as num } from '../catalog/sql/row-values.js';

/**
 * Persistence of scheduler jobs, runs and leases (migration 0003-scheduler) in the catalog
 * database, on SQLite and PostgreSQL alike. Times are ms since the epoch; PostgreSQL returns
 * bigint columns as strings, hence the Number() on every read.
 */
export type JobKind = 'sql' | 'maintenance' | 'batch-ingest';
export type Concurrency = 'skip' | 'queue';
export type CatchUp = 'none' | 'one' | 'all';
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';
export type RunTrigger = 'schedule' | 'manual' | 'catch-up';

export interface RetryPolicy {
  /** Attempts in all, first included (1 = no retry). */
  maxAttempts: number;
  /** Delay before the 2nd attempt. */
  backoffMs: number;
  /** Each further delay is the previous one times this. */
  multiplier: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 1, backoffMs: 1000, multiplier: 2 };

export interface JobSpec {
  name: string;
  kind: JobKind;
  params: Record<string, unknown>;
  /** Exactly one of cron / intervalSeconds. */
  cron?: string | null;
  intervalSeconds?: number | null;
  timezone?: string;
  owner?: string | null;
  /** The authenticated principal that defined the job; runs check its privileges (security/run-as.ts). */
  runAs?: string | null;
  description?: string | null;
  enabled?: boolean;
  timeoutMs?: number | null;
  retry?: Partial<RetryPolicy>;
  concurrency?: Concurrency;
  catchUp?: CatchUp;
  /** First possible slot (ms). Default: creation time (first slot after it). A past value makes earlier slots "missed" (catch-up policy). */
  startAt?: number | null;
}

export interface JobRecord {
  id: string;
  name: string;
  kind: JobKind;
  params: Record<string, unknown>;
  cron: string | null;
  intervalSeconds: number | null;
  timezone: string;
  owner: string | null;
  runAs: string | null;
  description: string | null;
  enabled: boolean;
  timeoutMs: number | null;
  retry: RetryPolicy;
  concurrency: Concurrency;
  catchUp: CatchUp;
  startAt: number;
  /** Slots up to and including this time have been materialized as runs (or deliberately dropped). */
  cursorMs: number;
  createdAt: string;
  updatedAt: string;
}

export interface LogLine {
  at: string;
  level: 'info' | 'warn' | 'error';
  message: string;
}

export interface RunRecord {
  id: string;
  jobId: string;
  scheduledFor: number;
  trigger: RunTrigger;
  status: RunStatus;
  attempt: number;
  nextAttemptAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
  rowsAffected: number | null;
  filesAffected: number | null;
  error: string | null;
  logs: LogLine[];
  runnerId: string | null;
  cancelRequested: boolean;
  createdAt: number;
}

interface JobsTable {
  catalog_name: string;
  id: string;
  name: string;
  kind: JobKind;
  params: string;
  cron: string | null;
  interval_seconds: number | null;
  timezone: string;
  owner: string | null;
  run_as: string | null;
  description: string | null;
  enabled: number;
  timeout_ms: number | string | null;
  retry: string;
  concurrency: Concurrency;
  catch_up: CatchUp;
  start_at: number | string;
  cursor_ms: number | string;
  created_at: string;
  updated_at: string;
}

interface RunsTable {
  catalog_name: string;
  id: string;
  job_id: string;
  scheduled_for: number | string;
  trigger: RunTrigger;
  status: RunStatus;
  attempt: number;
  next_attempt_at: number | string | null;
  started_at: number | string | null;
  ended_at: number | string | null;
  rows_affected: number | string | null;
  files_affected: number | string | null;
  error: string | null;
  logs: string;
  runner_id: string | null;
  cancel_requested: number;
  created_at: number | string;
}

interface LeasesTable {
  catalog_name: string;
  job_id: string;
  runner_id: string;
  expires_at: number | string;
}

export interface SchedulerDatabase {
  lakehouse_schedule_jobs: JobsTable;
  lakehouse_schedule_runs: RunsTable;
  lakehouse_schedule_leases: LeasesTable;
}

export const MAX_LOG_LINES = 200;

function toJob(r: JobsTable): JobRecord {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    params: JSON.parse(r.params) as Record<string, unknown>,
    cron: r.cron,
    intervalSeconds: num(r.interval_seconds),
    timezone: r.timezone,
    owner: r.owner,
    runAs: r.run_as ?? null,
    description: r.description,
    enabled: Number(r.enabled) === 1,
    timeoutMs: num(r.timeout_ms),
    retry: JSON.parse(r.retry) as RetryPolicy,
    concurrency: r.concurrency,
    catchUp: r.catch_up,
    startAt: Number(r.start_at),
    cursorMs: Number(r.cursor_ms),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toRun(r: RunsTable): RunRecord {
  return {
    id: r.id,
    jobId: r.job_id,
    scheduledFor: Number(r.scheduled_for),
    trigger: r.trigger,
    status: r.status,
    attempt: Number(r.attempt),
    nextAttemptAt: num(r.next_attempt_at),
    startedAt: num(r.started_at),
    endedAt: num(r.ended_at),
    rowsAffected: num(r.rows_affected),
    filesAffected: num(r.files_affected),
    error: r.error,
    logs: JSON.parse(r.logs) as LogLine[],
    runnerId: r.runner_id,
    cancelRequested: Number(r.cancel_requested) === 1,
    createdAt: Number(r.created_at),
  };
}

export function logLine(message: string, level: LogLine['level'] = 'info', at = Date.now()): LogLine {
  return { at: new Date(at).toISOString(), level, message };
}

export function appendLogs(logs: LogLine[], more: LogLine[]): LogLine[] {
  const all = [...logs, ...more];
  return all.length > MAX_LOG_LINES ? [all[0], logLine(`… ${all.length - MAX_LOG_LINES + 1} lines dropped`, 'warn'), ...all.slice(-(MAX_LOG_LINES - 2))] : all;
}

export interface RunFilter {
  jobId?: string;
  status?: RunStatus[];
  /** scheduled_for >= since */
  since?: number;
  /** scheduled_for < until */
  until?: number;
  limit?: number;
  /** Default 'desc' (newest first). */
  order?: 'asc' | 'desc';
}

export interface NewRun {
  jobId: string;
  scheduledFor: number;
  trigger: RunTrigger;
  status: 'queued' | 'skipped';
  error?: string | null;
  logs?: LogLine[];
}

export class SchedulerStore {
  readonly db: Kysely<SchedulerDatabase>;

  constructor(
    db: Kysely<any>,
    readonly catalogName: string,
  ) {
    this.db = db as Kysely<SchedulerDatabase>;
  }

  // --------------------------------------------------------------------------------------- jobs

  async listJobs(opts: { enabledOnly?: boolean; owner?: string } = {}): Promise<JobRecord[]> {
    let q = this.db.selectFrom('lakehouse_schedule_jobs').selectAll().where('catalog_name', '=', this.catalogName);
    if (opts.enabledOnly) q = q.where('enabled', '=', 1);
    if (opts.owner !== undefined) q = q.where('owner', '=', opts.owner);
    return (await q.orderBy('name').execute()).map(toJob);
  }

  async getJob(id: string): Promise<JobRecord | null> {
    const row = await this.db.selectFrom('lakehouse_schedule_jobs').selectAll().where('catalog_name', '=', this.catalogName).where('id', '=', id).executeTakeFirst();
    return row ? toJob(row) : null;
  }

  #row(spec: JobSpec, id: string, created: string, now: number): JobsTable {
    const startAt = spec.startAt ?? now;
    return {
      catalog_name: this.catalogName,
      id,
      name: spec.name,
      kind: spec.kind,
      params: JSON.stringify(spec.params ?? {}),
      cron: spec.cron ?? null,
      interval_seconds: spec.intervalSeconds ?? null,
      timezone: spec.timezone ?? 'UTC',
      owner: spec.owner ?? null,
      run_as: spec.runAs ?? null,
      description: spec.description ?? null,
      enabled: spec.enabled === false ? 0 : 1,
      timeout_ms: spec.timeoutMs ?? null,
      retry: JSON.stringify({ ...DEFAULT_RETRY, ...(spec.retry ?? {}) }),
      concurrency: spec.concurrency ?? 'queue',
      catch_up: spec.catchUp ?? 'one',
      start_at: startAt,
      cursor_ms: firstSlotCursor(startAt, spec.startAt != null, now),
      created_at: created,
      updated_at: new Date(now).toISOString(),
    };
  }

  async createJob(spec: JobSpec, now = Date.now()): Promise<JobRecord> {
    const row = this.#row(spec, randomUUID(), new Date(now).toISOString(), now);
    await this.#guard(`schedule ${JSON.stringify(spec.name)}`, () => this.db.insertInto('lakehouse_schedule_jobs').values(row).execute());
    return toJob(row);
  }

  /**
   * Replaces a job's definition. When the schedule (cron, interval, time zone, start) changes, the
   * cursor restarts from now (or the new start), so the new schedule does not "catch up".
   */
  async replaceJob(id: string, spec: JobSpec, now = Date.now()): Promise<JobRecord> {
    const old = await this.getJob(id);
    if (!old) throw lakehouseError('NOT_FOUND', `no schedule ${id}`);
    const row = this.#row(spec, id, old.createdAt, now);
    const sameSchedule =
      (spec.cron ?? null) === old.cron &&
      (spec.intervalSeconds ?? null) === old.intervalSeconds &&
      (spec.timezone ?? 'UTC') === old.timezone &&
      (spec.startAt == null || spec.startAt === old.startAt);
    if (sameSchedule) {
      row.start_at = old.startAt;
      row.cursor_ms = old.cursorMs;
    }
    const { catalog_name: _c, id: _i, created_at: _cr, ...set } = row;
    const res = await this.#guard(`schedule ${JSON.stringify(spec.name)}`, () =>
      this.db.updateTable('lakehouse_schedule_jobs').set(set).where('catalog_name', '=', this.catalogName).where('id', '=', id).executeTakeFirst(),
    );
    if (Number(res.numUpdatedRows) === 0) throw lakehouseError('NOT_FOUND', `no schedule ${id}`);
    return (await this.getJob(id))!;
  }

  async deleteJob(id: string): Promise<void> {
    // Runs and the lease go with the job (ON DELETE CASCADE; SQLite needs foreign_keys=ON, so delete explicitly too).
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('lakehouse_schedule_leases').where('catalog_name', '=', this.catalogName).where('job_id', '=', id).execute();
      await tx.deleteFrom('lakehouse_schedule_runs').where('catalog_name', '=', this.catalogName).where('job_id', '=', id).execute();
      const res = await tx.deleteFrom('lakehouse_schedule_jobs').where('catalog_name', '=', this.catalogName).where('id', '=', id).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) throw lakehouseError('NOT_FOUND', `no schedule ${id}`);
    });
  }

  /**
   * Atomically advances a job's cursor from `from` to `to` and inserts the runs decided for the
   * slots in between. Returns false (nothing written) when another runner moved the cursor first:
   * each slot range is decided by exactly one runner, and the unique (job, scheduled_for) key
   * guards the rows themselves.
   */
  async materialize(jobId: string, from: number, to: number, runs: NewRun[], now = Date.now()): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const res = await tx
        .updateTable('lakehouse_schedule_jobs')
        .set({ cursor_ms: to })
        .where('catalog_name', '=', this.catalogName)
        .where('id', '=', jobId)
        .where('cursor_ms', '=', from)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
      if (runs.length > 0) {
        for (let i = 0; i < runs.length; i += 200) {
          await tx
            .insertInto('lakehouse_schedule_runs')
            .values(runs.slice(i, i + 200).map((r) => this.#newRunRow(r, now)))
            .onConflict((oc) => oc.columns(['catalog_name', 'job_id', 'scheduled_for']).doNothing())
            .execute();
        }
      }
      return true;
    });
  }

  #newRunRow(r: NewRun, now: number): RunsTable {
    return {
      catalog_name: this.catalogName,
      id: randomUUID(),
      job_id: r.jobId,
      scheduled_for: r.scheduledFor,
      trigger: r.trigger,
      status: r.status,
      attempt: 1,
      next_attempt_at: null,
      started_at: null,
      ended_at: r.status === 'skipped' ? now : null,
      rows_affected: null,
      files_affected: null,
      error: r.error ?? null,
      logs: JSON.stringify(r.logs ?? []),
      runner_id: null,
      cancel_requested: 0,
      created_at: now,
    };
  }

  /** Queues a manual run ("run now"), scheduled for now. */
  async runNow(jobId: string, now = Date.now(), by?: string): Promise<RunRecord> {
    if (!(await this.getJob(jobId))) throw lakehouseError('NOT_FOUND', `no schedule ${jobId}`);
    for (let t = now; t < now + 1000; t++) {
      const row = this.#newRunRow({ jobId, scheduledFor: t, trigger: 'manual', status: 'queued', logs: [logLine(`queued manually${by ? ` by ${by}` : ''}`, 'info', now)] }, now);
      const res = await this.db
        .insertInto('lakehouse_schedule_runs')
        .values(row)
        .onConflict((oc) => oc.columns(['catalog_name', 'job_id', 'scheduled_for']).doNothing())
        .executeTakeFirst();
      if (Number(res.numInsertedOrUpdatedRows ?? 0n) === 1) return toRun(row);
    }
    throw lakehouseError('RESOURCE_IN_USE', `could not queue a run for schedule ${jobId}`);
  }

  // --------------------------------------------------------------------------------------- runs

  async getRun(id: string): Promise<RunRecord | null> {
    const row = await this.db.selectFrom('lakehouse_schedule_runs').selectAll().where('catalog_name', '=', this.catalogName).where('id', '=', id).executeTakeFirst();
    return row ? toRun(row) : null;
  }

  async listRuns(f: RunFilter = {}): Promise<RunRecord[]> {
    let q = this.db.selectFrom('lakehouse_schedule_runs').selectAll().where('catalog_name', '=', this.catalogName);
    if (f.jobId) q = q.where('job_id', '=', f.jobId);
    if (f.status?.length) q = q.where('status', 'in', f.status);
    if (f.since !== undefined) q = q.where('scheduled_for', '>=', f.since);
    if (f.until !== undefined) q = q.where('scheduled_for', '<', f.until);
    const dir = f.order ?? 'desc';
    q = q.orderBy('scheduled_for', dir).orderBy('job_id', dir);
    if (f.limit !== undefined) q = q.limit(f.limit);
    return (await q.execute()).map(toRun);
  }

  /** Queued runs whose (retry) time has come, plus running runs whose job lease is gone or expired. */
  async claimable(now: number, limit = 100): Promise<RunRecord[]> {
    const queued = await this.db
      .selectFrom('lakehouse_schedule_runs')
      .selectAll()
      .where('catalog_name', '=', this.catalogName)
      .where('status', '=', 'queued')
      .where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', now)]))
      .orderBy('scheduled_for')
      .limit(limit)
      .execute();
    const orphans = await this.db
      .selectFrom('lakehouse_schedule_runs as r')
      .leftJoin('lakehouse_schedule_leases as l', (j) => j.onRef('l.catalog_name', '=', 'r.catalog_name').onRef('l.job_id', '=', 'r.job_id'))
      .selectAll('r')
      .where('r.catalog_name', '=', this.catalogName)
      .where('r.status', '=', 'running')
      .where((eb) => eb.or([eb('l.expires_at', 'is', null), eb('l.expires_at', '<', now)]))
      .limit(limit)
      .execute();
    return [...orphans, ...queued].map(toRun);
  }

  async hasRunning(jobId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('lakehouse_schedule_runs')
      .select('id')
      .where('catalog_name', '=', this.catalogName)
      .where('job_id', '=', jobId)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return !!row;
  }

  /**
   * Conditionally moves a run from one state to another: only when it is still in `expect`
   * (status, and runner/attempt when given). Returns whether this call made the change.
   */
  async transition(
    id: string,
    expect: { status: RunStatus; runnerId?: string | null; attempt?: number },
    set: Partial<{
      status: RunStatus;
      attempt: number;
      nextAttemptAt: number | null;
      startedAt: number | null;
      endedAt: number | null;
      rowsAffected: number | null;
      filesAffected: number | null;
      error: string | null;
      logs: LogLine[];
      runnerId: string | null;
      cancelRequested: boolean;
    }>,
  ): Promise<boolean> {
    const s: Partial<RunsTable> = {};
    if (set.status !== undefined) s.status = set.status;
    if (set.attempt !== undefined) s.attempt = set.attempt;
    if (set.nextAttemptAt !== undefined) s.next_attempt_at = set.nextAttemptAt;
    if (set.startedAt !== undefined) s.started_at = set.startedAt;
    if (set.endedAt !== undefined) s.ended_at = set.endedAt;
    if (set.rowsAffected !== undefined) s.rows_affected = set.rowsAffected;
    if (set.filesAffected !== undefined) s.files_affected = set.filesAffected;
    if (set.error !== undefined) s.error = set.error;
    if (set.logs !== undefined) s.logs = JSON.stringify(set.logs);
    if (set.runnerId !== undefined) s.runner_id = set.runnerId;
    if (set.cancelRequested !== undefined) s.cancel_requested = set.cancelRequested ? 1 : 0;
    let q = this.db.updateTable('lakehouse_schedule_runs').set(s).where('catalog_name', '=', this.catalogName).where('id', '=', id).where('status', '=', expect.status);
    if (expect.runnerId !== undefined) q = expect.runnerId === null ? q.where('runner_id', 'is', null) : q.where('runner_id', '=', expect.runnerId);
    if (expect.attempt !== undefined) q = q.where('attempt', '=', expect.attempt);
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  /**
   * Cancels a run: a queued run becomes `cancelled` at once; a running one is flagged and its
   * runner aborts it (status `cancelled` once it stopped). Finished runs cannot be cancelled.
   */
  async cancelRun(id: string, now = Date.now()): Promise<RunRecord> {
    for (let i = 0; i < 5; i++) {
      const run = await this.getRun(id);
      if (!run) throw lakehouseError('NOT_FOUND', `no run ${id}`);
      if (run.status === 'queued') {
        const ok = await this.transition(id, { status: 'queued', attempt: run.attempt }, {
          status: 'cancelled',
          endedAt: now,
          cancelRequested: true,
          logs: appendLogs(run.logs, [logLine('cancelled before it started', 'info', now)]),
        });
        if (ok) return (await this.getRun(id))!;
      } else if (run.status === 'running') {
        if (run.cancelRequested) return run;
        const ok = await this.transition(id, { status: 'running', attempt: run.attempt, runnerId: run.runnerId }, { cancelRequested: true });
        if (ok) return (await this.getRun(id))!;
      } else {
        throw lakehouseError('RESOURCE_IN_USE', `run ${id} already ended (${run.status})`);
      }
    }
    throw lakehouseError('RESOURCE_IN_USE', `run ${id} is changing state; try again`);
  }

  // ------------------------------------------------------------------------------------- leases

  /**
   * Takes the job's lease for `runnerId` until `now + ttlMs`: inserts it, or takes over a lease
   * that expired (or that this runner already holds). One statement; the primary key on
   * (catalog, job) makes concurrent attempts serialize, and exactly one wins.
   */
  async acquireLease(jobId: string, runnerId: string, now: number, ttlMs: number): Promise<boolean> {
    const res = await this.db
      .insertInto('lakehouse_schedule_leases')
      .values({ catalog_name: this.catalogName, job_id: jobId, runner_id: runnerId, expires_at: now + ttlMs })
      .onConflict((oc) =>
        oc
          .columns(['catalog_name', 'job_id'])
          .doUpdateSet({ runner_id: runnerId, expires_at: now + ttlMs })
          .where((eb) => eb.or([eb('lakehouse_schedule_leases.expires_at', '<', now), eb('lakehouse_schedule_leases.runner_id', '=', runnerId)])),
      )
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  /** Extends a held lease; false when it is no longer ours (expired and taken over). */
  async renewLease(jobId: string, runnerId: string, now: number, ttlMs: number): Promise<boolean> {
    const res = await this.db
      .updateTable('lakehouse_schedule_leases')
      .set({ expires_at: now + ttlMs })
      .where('catalog_name', '=', this.catalogName)
      .where('job_id', '=', jobId)
      .where('runner_id', '=', runnerId)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async releaseLease(jobId: string, runnerId: string): Promise<void> {
    await this.db.deleteFrom('lakehouse_schedule_leases').where('catalog_name', '=', this.catalogName).where('job_id', '=', jobId).where('runner_id', '=', runnerId).execute();
  }

  async #guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (classifyConstraintError(e) === 'unique') throw lakehouseError('ALREADY_EXISTS', `${what} already exists`);
      throw e;
    }
  }
}
