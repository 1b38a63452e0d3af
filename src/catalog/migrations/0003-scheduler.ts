import { sql, type Kysely, type Migration } from 'kysely';
import type { SqlDialectKind } from './index.js';

/**
 * The scheduler (src/scheduler): job definitions, their runs, and per-job leases, scoped by
 * catalog name. Times are milliseconds since the epoch (bigint). Exactly-once claiming rests on
 * two constraints: one run row per (job, scheduled time) — the unique key below — and one lease
 * row per job (primary key), taken over only after it expired.
 */
export function schedulerMigration(dialect: SqlDialectKind): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('lakehouse_schedule_jobs')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('id', key, (c) => c.notNull())
        .addColumn('name', key, (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('sql', 'maintenance', 'batch-ingest')`))
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('cron', 'text')
        .addColumn('interval_seconds', 'integer')
        .addColumn('timezone', 'text', (c) => c.notNull())
        .addColumn('owner', 'text')
        .addColumn('description', 'text')
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('timeout_ms', 'bigint')
        .addColumn('retry', 'text', (c) => c.notNull())
        .addColumn('concurrency', 'text', (c) => c.notNull().check(sql`concurrency in ('skip', 'queue')`))
        .addColumn('catch_up', 'text', (c) => c.notNull().check(sql`catch_up in ('none', 'one', 'all')`))
        .addColumn('start_at', 'bigint', (c) => c.notNull())
        .addColumn('cursor_ms', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_schedule_jobs_pk', ['catalog_name', 'id'])
        .addUniqueConstraint('lakehouse_schedule_jobs_name_uq', ['catalog_name', 'name'])
        .addCheckConstraint('lakehouse_schedule_jobs_when_ck', sql`(cron is null) <> (interval_seconds is null)`)
        .execute();
      await db.schema
        .createTable('lakehouse_schedule_runs')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('id', key, (c) => c.notNull())
        .addColumn('job_id', key, (c) => c.notNull())
        .addColumn('scheduled_for', 'bigint', (c) => c.notNull())
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) =>
          c.notNull().check(sql`status in ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')`),
        )
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint')
        .addColumn('started_at', 'bigint')
        .addColumn('ended_at', 'bigint')
        .addColumn('rows_affected', 'bigint')
        .addColumn('files_affected', 'bigint')
        .addColumn('error', 'text')
        .addColumn('logs', 'text', (c) => c.notNull())
        .addColumn('runner_id', 'text')
        .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_schedule_runs_pk', ['catalog_name', 'id'])
        .addUniqueConstraint('lakehouse_schedule_runs_slot_uq', ['catalog_name', 'job_id', 'scheduled_for'])
        .addForeignKeyConstraint('lakehouse_schedule_runs_job_fk', ['catalog_name', 'job_id'], 'lakehouse_schedule_jobs', ['catalog_name', 'id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();
      await db.schema
        .createIndex('lakehouse_schedule_runs_status_idx')
        .ifNotExists()
        .on('lakehouse_schedule_runs')
        .columns(['catalog_name', 'status', 'scheduled_for'])
        .execute();
      await db.schema
        .createTable('lakehouse_schedule_leases')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('job_id', key, (c) => c.notNull())
        .addColumn('runner_id', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_schedule_leases_pk', ['catalog_name', 'job_id'])
        .addForeignKeyConstraint('lakehouse_schedule_leases_job_fk', ['catalog_name', 'job_id'], 'lakehouse_schedule_jobs', ['catalog_name', 'id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('lakehouse_schedule_leases').ifExists().execute();
      await db.schema.dropTable('lakehouse_schedule_runs').ifExists().execute();
      await db.schema.dropTable('lakehouse_schedule_jobs').ifExists().execute();
    },
  };
}
