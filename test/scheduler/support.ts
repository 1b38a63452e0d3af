import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import type { ExecContext, ExecResult } from '../../src/scheduler/executors.js';
import { schedulerStoreFor } from '../../src/scheduler/index.js';
import type { SchedulerStore, RunRecord } from '../../src/scheduler/store.js';

export interface Env {
  dir: string;
  catalog: SqlCatalog;
  store: SchedulerStore;
  close(): Promise<void>;
}

/** A temp SQLite catalog (migrated) and its scheduler store. */
export async function sqliteEnv(): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'lh-sched-'));
  const catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
  return {
    dir,
    catalog,
    store: schedulerStoreFor(catalog)!,
    async close() {
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sleeps `ms` unless the signal fires first (then rejects with its reason). */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

export interface Execution {
  jobId: string;
  runId: string;
  scheduledFor: number;
  attempt: number;
  runnerId: string | null;
  start: number;
  end: number | null;
  outcome: 'ok' | 'error' | 'aborted' | null;
}

/** A test executor: records every execution; `behave` decides how long / whether it fails. */
export function recorder(behave: (ctx: ExecContext, n: number) => { ms: number; fail?: string } = () => ({ ms: 10 })) {
  const executions: Execution[] = [];
  const exec = async (ctx: ExecContext): Promise<ExecResult> => {
    const e: Execution = { jobId: ctx.job.id, runId: ctx.run.id, scheduledFor: ctx.run.scheduledFor, attempt: ctx.run.attempt, runnerId: ctx.run.runnerId, start: Date.now(), end: null, outcome: null };
    executions.push(e);
    const b = behave(ctx, executions.filter((x) => x.jobId === ctx.job.id).length);
    try {
      await abortableSleep(b.ms, ctx.signal);
    } catch (err) {
      e.end = Date.now();
      e.outcome = 'aborted';
      throw err;
    }
    e.end = Date.now();
    if (b.fail) {
      e.outcome = 'error';
      throw new Error(b.fail);
    }
    e.outcome = 'ok';
    ctx.log(`slept ${b.ms} ms`);
    return { rowsAffected: 1, filesAffected: 0 };
  };
  return { executions, exec };
}

export async function waitFor<T>(fn: () => Promise<T | null | undefined | false>, timeoutMs: number, stepMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`waitFor timed out after ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}

export async function runOf(store: SchedulerStore, id: string, done: (r: RunRecord) => boolean, timeoutMs = 10_000): Promise<RunRecord> {
  return waitFor(async () => {
    const r = await store.getRun(id);
    return r && done(r) ? r : null;
  }, timeoutMs);
}

export const ended = (r: RunRecord) => ['succeeded', 'failed', 'cancelled', 'skipped'].includes(r.status);
