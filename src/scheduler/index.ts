/**
 * The scheduler: jobs (SQL, maintenance, batch ingestion) on cron or interval schedules, run
 * exactly once per slot across service processes sharing one catalog database. See runner.ts
 * for the design, store.ts for the tables (migration 0003-scheduler).
 */
import type { FastifyInstance } from 'fastify';
import type { Catalog } from '../catalog/catalog.js';
import { hasRootLogger, moduleLogger } from '../observability/log-levels.js';
import { SchedulerRunner, type RunnerOptions } from './runner.js';
import { SchedulerStore } from './store.js';
import { sqlStoreOf, type SqlStoreRef } from '../catalog/sql-store-of.js';

export { SchedulerRunner } from './runner.js';
export type { RunnerOptions, RunnerLogger } from './runner.js';
export { SchedulerStore, DEFAULT_RETRY } from './store.js';
export type { JobSpec, JobRecord, RunRecord, RunStatus, JobKind, RetryPolicy, Concurrency, CatchUp, RunFilter, LogLine } from './store.js';
export { DEFAULT_EXECUTORS, MAINTENANCE_ACTIONS, validateParams } from './executors.js';
export type { Executor, ExecContext, ExecResult } from './executors.js';
export { slotsBetween, nextSlot, planSlots, validateSchedule } from './schedule.js';

/** Anything with the SQL catalog store's database handle (SqlCatalogStore, OwnStore). */
export type SqlStoreLike = SqlStoreRef;

/** The scheduler store over a SqlCatalog's database (or an explicit SQL store); null for other catalogs. */
export function schedulerStoreFor(catalog: Catalog, store?: SqlStoreLike | null): SchedulerStore | null {
  const s = store ?? sqlStoreOf(catalog);
  if (!s) return null;
  return new SchedulerStore(s.db, s.catalogName);
}

export interface SchedulerHandle {
  runner: SchedulerRunner | null;
  /** Graceful stop (see SchedulerRunner.stop). Idempotent. */
  stop(): Promise<void>;
}

export interface StartSchedulerOptions extends RunnerOptions {
  /** Stop the runner when this server closes (and log through its logger). */
  app?: FastifyInstance;
  /** `false` → do nothing (e.g. a read-only replica); default true. Also LAKEHOUSE_SCHEDULER=off. */
  enabled?: boolean;
}

/**
 * Runner timings from the environment, for operators and multi-process tests:
 * LAKEHOUSE_SCHEDULER_POLL_MS (how often due work is looked for, default 1000) and
 * LAKEHOUSE_SCHEDULER_LEASE_MS (how long a crashed process's runs wait before another takes them
 * over, default 30000). Invalid values are ignored.
 */
function envTimings(): Pick<RunnerOptions, 'pollMs' | 'leaseMs'> {
  const ms = (v: string | undefined, min: number) => {
    const n = Number(v);
    return v !== undefined && Number.isInteger(n) && n >= min ? n : undefined;
  };
  const out: Pick<RunnerOptions, 'pollMs' | 'leaseMs'> = {};
  const poll = ms(process.env.LAKEHOUSE_SCHEDULER_POLL_MS, 10);
  const lease = ms(process.env.LAKEHOUSE_SCHEDULER_LEASE_MS, 500);
  if (poll !== undefined) out.pollMs = poll;
  if (lease !== undefined) out.leaseMs = lease;
  return out;
}

/**
 * Starts this process's scheduler runner over the catalog's SQL store (migrated already by
 * openSqlCatalog). With `app`, the runner logs through it and stops in the server's onClose.
 */
export function startScheduler(catalog: Catalog, store?: SqlStoreLike | null, opts: StartSchedulerOptions = {}): SchedulerHandle {
  const { app, enabled, ...runnerOpts } = opts;
  const sched = schedulerStoreFor(catalog, store);
  const off = enabled === false || /^(0|off|false|no)$/i.test(process.env.LAKEHOUSE_SCHEDULER ?? '');
  if (!sched || off) {
    app?.log.info({ reason: off ? 'disabled' : 'no SQL catalog store' }, 'scheduler not started');
    return { runner: null, stop: async () => {} };
  }
  // With a server, log through its `scheduler` module logger (level settable at runtime).
  const log = app ? (hasRootLogger() ? moduleLogger('scheduler') : (app.log as RunnerOptions['log'])) : undefined;
  const runner = new SchedulerRunner(catalog, sched, { log, ...envTimings(), ...runnerOpts }).start();
  app?.log.info({ runner: runner.id }, 'scheduler started');
  let stopping: Promise<void> | null = null;
  const handle: SchedulerHandle = { runner, stop: () => (stopping ??= runner.stop()) };
  if (app) {
    try {
      app.addHook('onClose', async () => handle.stop());
    } catch (e) {
      // Only possible once the server is listening: then the caller must call stop() itself.
      app.log.warn({ err: e }, 'scheduler: could not hook into server close; call stop() on shutdown');
    }
  }
  return handle;
}
