import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.js';
import { DEFAULT_EXECUTORS, type Executor } from './executors.js';
import { planSlots, slotsBetween } from './schedule.js';
import { appendLogs, logLine, type JobKind, type JobRecord, type LogLine, type RunRecord, type SchedulerStore } from './store.js';
import { observe } from '../observability/events.js';

/**
 * The scheduler runner: one per service process, all of them sharing the catalog database.
 *
 * Every `pollMs` a runner
 *  1. materializes due slots: for each enabled job it computes the slots in (cursor, now] and, in
 *     ONE transaction, moves the job's cursor by compare-and-swap and inserts one run row per slot
 *     it decided to run (unique key (job, scheduled_for)). Whichever runner wins the CAS decides
 *     that range; the others see the moved cursor and do nothing. So each slot gets at most one
 *     run row, and — since the cursor only moves together with the inserts — at least one
 *     decision (run / skipped / dropped by catch-up policy);
 *  2. claims work per job: it takes the job's lease (one row per job, taken over only once
 *     expired) and, holding it, moves the earliest due queued run to `running` with a conditional
 *     UPDATE (status = 'queued' and same attempt), executes it, and records the result with a
 *     conditional UPDATE (status = 'running', same runner and attempt). The lease is renewed
 *     every `heartbeatMs`; a runner that fails to renew (its lease was taken over) aborts the run
 *     and writes nothing.
 *
 * Crash takeover: a crashed runner stops renewing; once its lease expires another runner takes
 * it and finds the job's run still `running` under the dead runner. It records that attempt as
 * failed ("lease lost") and re-queues the SAME run row (attempt + 1, due at once) — a lost lease
 * always gets at least one re-run even when the retry policy allows a single attempt, and further
 * takeovers count against maxAttempts. The slot is thus neither lost nor doubled in the run
 * history. Side effects are at-least-once in that one case: an attempt that crashed after its
 * Iceberg commit but before recording success is re-run (SQL jobs should be idempotent, e.g.
 * MERGE; maintenance actions are naturally idempotent).
 *
 * Concurrency: one run per job at a time (the lease). `queue` runs slots that came due meanwhile
 * afterwards, in order; `skip` records a slot as `skipped` when it comes due while a run of the job
 * is `running`. Retries: a failed attempt is re-queued after backoffMs · multiplier^(attempt−1)
 * until maxAttempts. Timeout: the run's AbortSignal fires after timeoutMs and the attempt fails
 * with a timeout error (then the retry policy applies). Cancel: a queued run is cancelled by the
 * API directly; a running one is flagged and its runner aborts it at the next heartbeat.
 * Clocks: lease expiry and slots use each runner's clock, so runner clocks should agree to well
 * within leaseMs.
 */
export interface RunnerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface RunnerOptions {
  runnerId?: string;
  /** How often to look for due work (default 1000 ms). */
  pollMs?: number;
  /** Lease time-to-live (default 30 s); a crashed runner's runs are taken over after it. */
  leaseMs?: number;
  /** Lease renewal and cancel check period (default leaseMs / 3, at most 5 s). */
  heartbeatMs?: number;
  /** A slot older than this when first seen is "missed" and follows the catch-up policy (default 60 s). */
  graceMs?: number;
  /** Most missed runs queued by catch-up policy `all` (default 100, the latest). */
  maxCatchUp?: number;
  /** Jobs run at once by this runner (default 4). */
  maxConcurrentRuns?: number;
  /** Runs one lease holder executes back to back before letting go (default 10). */
  maxRunsPerLease?: number;
  /** How long stop() waits for runs in flight before interrupting them (they are re-queued; default 10 s). */
  stopTimeoutMs?: number;
  /** Replaces the executor of a job kind (tests, embedding). */
  executors?: Partial<Record<JobKind, Executor>>;
  now?: () => number;
  log?: RunnerLogger;
}

class Interrupt extends Error {
  constructor(
    readonly kind: 'timeout' | 'cancel' | 'lease-lost' | 'shutdown' | 'killed',
    message: string,
  ) {
    super(message);
  }
}

const NOOP_LOG: RunnerLogger = { info() {}, warn() {}, error() {} };

export class SchedulerRunner {
  readonly id: string;
  readonly #o: Required<Omit<RunnerOptions, 'runnerId' | 'executors' | 'now' | 'log' | 'heartbeatMs'>> & { heartbeatMs: number };
  readonly #executors: Record<JobKind, Executor>;
  readonly #now: () => number;
  readonly #log: RunnerLogger;
  #timer: NodeJS.Timeout | null = null;
  #tick: Promise<void> | null = null;
  #stopped = true;
  /** stop() was called: finish, take no new work. */
  #stopping = false;
  #dead = false;
  /** Jobs this runner is processing (holding or acquiring the lease). */
  readonly #active = new Map<string, Promise<void>>();
  /** Runs executing here, by run id. */
  readonly #executing = new Map<string, AbortController>();

  constructor(
    readonly catalog: Catalog,
    readonly store: SchedulerStore,
    opts: RunnerOptions = {},
  ) {
    this.id = opts.runnerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const leaseMs = opts.leaseMs ?? 30_000;
    this.#o = {
      pollMs: opts.pollMs ?? 1000,
      leaseMs,
      heartbeatMs: opts.heartbeatMs ?? Math.min(5000, Math.max(50, Math.floor(leaseMs / 3))),
      graceMs: opts.graceMs ?? 60_000,
      maxCatchUp: opts.maxCatchUp ?? 100,
      maxConcurrentRuns: opts.maxConcurrentRuns ?? 4,
      maxRunsPerLease: opts.maxRunsPerLease ?? 10,
      stopTimeoutMs: opts.stopTimeoutMs ?? 10_000,
    };
    this.#executors = { ...DEFAULT_EXECUTORS, ...(opts.executors ?? {}) };
    this.#now = opts.now ?? Date.now;
    this.#log = opts.log ?? NOOP_LOG;
  }

  get running(): boolean {
    return !this.#stopped;
  }

  start(): this {
    if (this.#dead) throw new Error('a killed runner cannot be restarted');
    if (!this.#stopped) return this;
    this.#stopped = false;
    this.#schedule(0);
    return this;
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#tick = this.tick()
        .catch((e) => this.#log.error({ err: e, runner: this.id }, 'scheduler tick failed'))
        .finally(() => {
          this.#tick = null;
          // ±20% jitter, so runners sharing a database do not lock into one phase.
          this.#schedule(Math.round(this.#o.pollMs * (0.8 + Math.random() * 0.4)));
        });
    }, delay);
    this.#timer.unref?.();
  }

  /**
   * Graceful stop: no new work; runs in flight get `stopTimeoutMs` to finish, then are interrupted
   * and re-queued (same attempt) for another runner; leases are released.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#tick;
    const all = () => Promise.allSettled([...this.#active.values()]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([all().then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), this.#o.stopTimeoutMs)))]);
    clearTimeout(timer);
    if (timedOut) {
      for (const c of this.#executing.values()) c.abort(new Interrupt('shutdown', `interrupted: runner ${this.id} shutting down`));
      await all();
    }
  }

  /** Simulates a crash: everything stops at once and nothing more is written (no lease release, runs stay `running`). */
  kill(): void {
    this.#dead = true;
    this.#stopped = true;
    this.#stopping = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const c of this.#executing.values()) c.abort(new Interrupt('killed', 'runner killed'));
  }

  /** One scheduling pass (materialize due slots, start claimable work). Exposed for tests. */
  async tick(): Promise<void> {
    if (this.#dead) return;
    const now = this.#now();
    for (const job of await this.store.listJobs({ enabledOnly: true })) {
      if (this.#dead) return;
      try {
        await this.#materialize(job, now);
      } catch (e) {
        this.#log.error({ err: e, job: job.id, runner: this.id }, 'scheduler: materializing slots failed');
      }
    }
    if (this.#stopping || this.#dead) return;
    const candidates = await this.store.claimable(now);
    const jobIds = [...new Set(candidates.map((r) => r.jobId))];
    for (const jobId of jobIds) {
      if (this.#active.has(jobId) || this.#active.size >= this.#o.maxConcurrentRuns) continue;
      const p = this.#processJob(jobId)
        .catch((e) => this.#log.error({ err: e, job: jobId, runner: this.id }, 'scheduler: job processing failed'))
        .finally(() => this.#active.delete(jobId));
      this.#active.set(jobId, p);
    }
  }

  async #materialize(job: JobRecord, now: number): Promise<void> {
    const due = slotsBetween(job, job.cursorMs, now, this.#o.maxCatchUp + 200);
    if (due.slots.length === 0 && due.dropped === 0) return;
    const running = job.concurrency === 'skip' ? await this.store.hasRunning(job.id) : false;
    const plan = planSlots(job, due, now, { graceMs: this.#o.graceMs, maxCatchUp: this.#o.maxCatchUp, running });
    const won = await this.store.materialize(job.id, job.cursorMs, now, plan.runs, now);
    if (won && plan.missedDropped > 0) {
      this.#log.warn({ job: job.id, name: job.name, missed: plan.missedDropped, catchUp: job.catchUp }, 'scheduler: missed runs not caught up');
    }
  }

  async #processJob(jobId: string): Promise<void> {
    let now = this.#now();
    if (!(await this.store.acquireLease(jobId, this.id, now, this.#o.leaseMs))) return;
    try {
      const job = await this.store.getJob(jobId);
      if (!job) return;
      // Holding the lease, any `running` run of this job not executing here lost its runner.
      for (const r of await this.store.listRuns({ jobId, status: ['running'] })) {
        if (!this.#executing.has(r.id)) await this.#recoverOrphan(job, r);
      }
      for (let i = 0; i < this.#o.maxRunsPerLease && !this.#stopping && !this.#dead; i++) {
        now = this.#now();
        const queued = await this.store.listRuns({ jobId, status: ['queued'], order: 'asc', limit: 50 });
        const next = queued.find((r) => r.nextAttemptAt === null || r.nextAttemptAt <= now);
        if (!next) break;
        const fresh = (await this.store.getJob(jobId)) ?? job;
        const lost = await this.#execute(fresh, next);
        if (lost) return;
        if (!(await this.store.renewLease(jobId, this.id, this.#now(), this.#o.leaseMs))) return;
      }
    } finally {
      if (!this.#dead) await this.store.releaseLease(jobId, this.id).catch(() => {});
    }
  }

  async #recoverOrphan(job: JobRecord, r: RunRecord): Promise<void> {
    const now = this.#now();
    const msg = `attempt ${r.attempt} lost: runner ${r.runnerId ?? '?'} stopped renewing its lease (crashed or stalled); taken over by ${this.id}`;
    const expect = { status: 'running' as const, runnerId: r.runnerId, attempt: r.attempt };
    if (r.cancelRequested) {
      await this.store.transition(r.id, expect, { status: 'cancelled', endedAt: now, error: 'cancelled', logs: appendLogs(r.logs, [logLine(msg, 'warn', now)]) });
      return;
    }
    const allowed = Math.max(job.retry.maxAttempts, 2);
    const retry = r.attempt < allowed;
    const ok = await this.store.transition(
      r.id,
      expect,
      retry
        ? { status: 'queued', attempt: r.attempt + 1, nextAttemptAt: now, runnerId: null, error: msg, logs: appendLogs(r.logs, [logLine(`${msg}; re-queued`, 'warn', now)]) }
        : { status: 'failed', endedAt: now, error: msg, logs: appendLogs(r.logs, [logLine(`${msg}; no attempts left`, 'error', now)]) },
    );
    if (ok) this.#log.warn({ job: job.id, run: r.id, from: r.runnerId, runner: this.id, retry }, 'scheduler: took over a run of a lost runner');
  }

  /** Claims and executes one queued run; returns true when the lease was lost meanwhile. */
  async #execute(job: JobRecord, run: RunRecord): Promise<boolean> {
    const started = this.#now();
    const startLog = logLine(`attempt ${run.attempt} started on ${this.id}`, 'info', started);
    const claimed = await this.store.transition(
      run.id,
      { status: 'queued', attempt: run.attempt },
      { status: 'running', runnerId: this.id, startedAt: started, endedAt: null, nextAttemptAt: null, logs: appendLogs(run.logs, [startLog]) },
    );
    if (!claimed) return false;
    const controller = new AbortController();
    this.#executing.set(run.id, controller);
    const lines: LogLine[] = [];
    const log = (message: string, level: LogLine['level'] = 'info') => {
      if (lines.length < 500) lines.push(logLine(message, level, this.#now()));
    };
    const heartbeat = setInterval(() => {
      void (async () => {
        if (this.#dead || controller.signal.aborted) return;
        try {
          if (!(await this.store.renewLease(job.id, this.id, this.#now(), this.#o.leaseMs))) {
            controller.abort(new Interrupt('lease-lost', `runner ${this.id} lost the lease of job ${job.id}`));
            return;
          }
          const cur = await this.store.getRun(run.id);
          if (cur?.cancelRequested) controller.abort(new Interrupt('cancel', 'cancelled on request'));
        } catch (e) {
          this.#log.warn({ err: e, run: run.id }, 'scheduler: heartbeat failed');
        }
      })();
    }, this.#o.heartbeatMs);
    const timeout = job.timeoutMs ? setTimeout(() => controller.abort(new Interrupt('timeout', `timed out after ${job.timeoutMs} ms`)), job.timeoutMs) : null;
    let result: Awaited<ReturnType<Executor>> | null = null;
    let error: unknown = null;
    try {
      const running = { ...run, status: 'running' as const, runnerId: this.id, startedAt: started };
      const work = this.#executors[job.kind]({ catalog: this.catalog, store: this.store, job, run: running, signal: controller.signal, log });
      work.catch(() => {});
      const interrupted = new Promise<never>((_, reject) => {
        if (controller.signal.aborted) reject(controller.signal.reason);
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
      });
      interrupted.catch(() => {});
      result = await Promise.race([work, interrupted]);
    } catch (e) {
      error = e;
    } finally {
      clearInterval(heartbeat);
      if (timeout) clearTimeout(timeout);
      this.#executing.delete(run.id);
    }
    if (this.#dead) return true;
    const ended = this.#now();
    const expect = { status: 'running' as const, runnerId: this.id, attempt: run.attempt };
    const base = appendLogs(run.logs, [startLog, ...lines]);
    if (error === null && controller.signal.aborted && controller.signal.reason instanceof Interrupt) error = controller.signal.reason;
    // Observability (src/observability/events.ts): one event per attempt, by kind and outcome.
    {
      const k = error instanceof Interrupt ? error.kind : null;
      const outcome =
        error === null ? 'succeeded' : k === 'cancel' ? 'cancelled' : k === 'shutdown' ? 'interrupted' : k === 'lease-lost' ? 'lease-lost' : run.attempt < job.retry.maxAttempts ? 'retrying' : 'failed';
      observe({ type: 'scheduler.run', kind: job.kind, outcome, seconds: (ended - started) / 1000 });
      if (outcome === 'failed' || outcome === 'retrying') {
        this.#log.warn({ job: job.id, name: job.name, kind: job.kind, run: run.id, attempt: run.attempt, err: error }, outcome === 'failed' ? 'scheduler: run failed' : 'scheduler: run failed; will retry');
      }
    }
    if (error === null) {
      await this.store.transition(run.id, expect, {
        status: 'succeeded',
        endedAt: ended,
        rowsAffected: result?.rowsAffected ?? null,
        filesAffected: result?.filesAffected ?? null,
        error: null,
        logs: appendLogs(base, [logLine(`succeeded in ${ended - started} ms`, 'info', ended)]),
      });
      return false;
    }
    const kind = error instanceof Interrupt ? error.kind : null;
    const message = error instanceof Error ? `${(error as { code?: string }).code ? `[${(error as { code?: string }).code}] ` : ''}${error.message}` : String(error);
    if (kind === 'lease-lost') {
      this.#log.warn({ job: job.id, run: run.id, runner: this.id }, 'scheduler: lease lost during a run; left to the new holder');
      return true;
    }
    if (kind === 'cancel') {
      await this.store.transition(run.id, expect, { status: 'cancelled', endedAt: ended, error: 'cancelled', logs: appendLogs(base, [logLine('cancelled on request', 'warn', ended)]) });
      return false;
    }
    if (kind === 'shutdown') {
      await this.store.transition(run.id, expect, {
        status: 'queued',
        runnerId: null,
        startedAt: null,
        nextAttemptAt: ended,
        logs: appendLogs(base, [logLine(`${message}; re-queued (same attempt)`, 'warn', ended)]),
      });
      return false;
    }
    const retry = run.attempt < job.retry.maxAttempts;
    if (retry) {
      const delay = Math.round(job.retry.backoffMs * job.retry.multiplier ** (run.attempt - 1));
      await this.store.transition(run.id, expect, {
        status: 'queued',
        attempt: run.attempt + 1,
        nextAttemptAt: ended + delay,
        runnerId: null,
        error: message,
        logs: appendLogs(base, [logLine(`attempt ${run.attempt} failed: ${message}; retry in ${delay} ms`, 'warn', ended)]),
      });
    } else {
      await this.store.transition(run.id, expect, {
        status: 'failed',
        endedAt: ended,
        error: message,
        logs: appendLogs(base, [logLine(`attempt ${run.attempt} failed: ${message}`, 'error', ended)]),
      });
    }
    return false;
  }
}
