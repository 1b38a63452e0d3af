import { sql, type Kysely, type Migration } from 'kysely';
import type { SqlDialectKind } from './index.js';

/**
 * Run history of streaming ingestion jobs (src/ingest/run-history.ts): one row per run of a job
 * in the service — start, end, how it ended, rows, dead letters, commits, last commit, error — so
 * the history survives restarts and every process on one catalog database sees the same runs.
 * Times are milliseconds since the epoch (bigint). Rows of a deleted job go with it (foreign key).
 */
export function ingestRunsMigration(dialect: SqlDialectKind): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('lakehouse_ingest_runs')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('job_id', key, (c) => c.notNull())
        .addColumn('run_id', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('starting', 'running', 'paused', 'stopping', 'stopped', 'failed')`))
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('ended_at', 'bigint')
        .addColumn('rows_committed', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('dead_letters', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('commits', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('last_commit_at', 'bigint')
        .addColumn('error', 'text')
        .addColumn('host', 'text')
        .addPrimaryKeyConstraint('lakehouse_ingest_runs_pk', ['catalog_name', 'job_id', 'run_id'])
        .addForeignKeyConstraint('lakehouse_ingest_runs_job_fk', ['catalog_name', 'job_id'], 'lakehouse_ingestion_jobs', ['catalog_name', 'id'], (fk) => fk.onDelete('cascade'))
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('lakehouse_ingest_runs').ifExists().execute();
    },
  };
}
