/**
 * Persisted run history of streaming ingestion jobs (table `lakehouse_ingest_runs`, migration
 * 0011): the job manager writes a run when it starts, on each state change, after commits (at
 * most every few seconds) and when it ends, so `GET /api/v1/ingestion-jobs/:id/runs` and
 * `lakehouse jobs runs` show runs across restarts and across the service processes of one
 * catalog database. A run left `running`/`starting` by a process that died shows as it was last
 * written (its end is unknown).
 */
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';

export type RunState = 'starting' | 'running' | 'paused' | 'stopping' | 'stopped' | 'failed';

export interface RunRecord {
  runId: number;
  startedAt: string;
  endedAt: string | null;
  /** How the run ended: stopped, paused, failed (or its state while it runs). */
  state: RunState;
  rowsCommitted: number;
  deadLetters: number;
  commits: number;
  lastCommitAt: string | null;
  error?: string;
}

interface RunRow {
  catalog_name: string;
  job_id: string;
  run_id: number;
  state: string;
  started_at: number | bigint | string;
  ended_at: number | bigint | string | null;
  rows_committed: number | bigint | string;
  dead_letters: number | bigint | string;
  commits: number | bigint | string;
  last_commit_at: number | bigint | string | null;
  error: string | null;
  host: string | null;
}

interface RunsDatabase {
  lakehouse_ingest_runs: RunRow;
}

const ms = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso));
const iso = (v: number | bigint | string | null): string | null => (v === null ? null : new Date(Number(v)).toISOString());

export class RunHistoryStore {
  private readonly db: Kysely<RunsDatabase>;

  constructor(db: Kysely<any>, private readonly catalogName: string) {
    this.db = db as Kysely<RunsDatabase>;
  }

  /** The next run number of `jobId` (1 for its first run). */
  async nextRunId(jobId: string): Promise<number> {
    const row = await this.db
      .selectFrom('lakehouse_ingest_runs')
      .select((eb) => eb.fn.max('run_id').as('max'))
      .where('catalog_name', '=', this.catalogName)
      .where('job_id', '=', jobId)
      .executeTakeFirst();
    return Number(row?.max ?? 0) + 1;
  }

  /** Inserts or updates one run. */
  async save(jobId: string, run: RunRecord): Promise<void> {
    const values = {
      state: run.state,
      started_at: ms(run.startedAt)!,
      ended_at: ms(run.endedAt),
      rows_committed: run.rowsCommitted,
      dead_letters: run.deadLetters,
      commits: run.commits,
      last_commit_at: ms(run.lastCommitAt),
      error: run.error ?? null,
    };
    await this.db
      .insertInto('lakehouse_ingest_runs')
      .values({ catalog_name: this.catalogName, job_id: jobId, run_id: run.runId, host: `${hostname()}:${process.pid}`, ...values })
      .onConflict((oc) => oc.columns(['catalog_name', 'job_id', 'run_id']).doUpdateSet(values))
      .execute();
  }

  /** Newest first. */
  async list(jobId: string, limit = 50): Promise<RunRecord[]> {
    const rows = await this.db
      .selectFrom('lakehouse_ingest_runs')
      .selectAll()
      .where('catalog_name', '=', this.catalogName)
      .where('job_id', '=', jobId)
      .orderBy('run_id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      runId: Number(r.run_id),
      startedAt: iso(r.started_at)!,
      endedAt: iso(r.ended_at),
      state: r.state as RunState,
      rowsCommitted: Number(r.rows_committed),
      deadLetters: Number(r.dead_letters),
      commits: Number(r.commits),
      lastCommitAt: iso(r.last_commit_at),
      ...(r.error !== null ? { error: r.error } : {}),
    }));
  }
}
