import { sql, type Kysely, type Migration } from 'kysely';
import type { SqlDialectKind } from './index.js';

/**
 * The SQL query history (src/query/history-store.ts): one row per query submitted to the service,
 * scoped by catalog name, kept across restarts and shared by every service process on one catalog
 * database. Times are milliseconds since the epoch (bigint). `principal` stays null until requests
 * carry an authenticated identity.
 */
export function queryHistoryMigration(dialect: SqlDialectKind): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('lakehouse_query_history')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('id', key, (c) => c.notNull())
        .addColumn('sql', 'text', (c) => c.notNull())
        .addColumn('principal', 'text')
        .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')`))
        .addColumn('submitted_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('ended_at', 'bigint')
        .addColumn('duration_ms', 'bigint')
        .addColumn('row_count', 'bigint')
        .addColumn('truncated', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('bytes_scanned', 'bigint')
        .addColumn('files_scanned', 'bigint')
        .addColumn('files_pruned', 'bigint')
        .addColumn('stats', 'text')
        .addColumn('error_code', 'text')
        .addColumn('error_message', 'text')
        .addPrimaryKeyConstraint('lakehouse_query_history_pk', ['catalog_name', 'id'])
        .execute();
      // Listing is newest first, optionally by status.
      await db.schema
        .createIndex('lakehouse_query_history_submitted_idx')
        .ifNotExists()
        .on('lakehouse_query_history')
        .columns(['catalog_name', 'submitted_at'])
        .execute();
      await db.schema
        .createIndex('lakehouse_query_history_status_idx')
        .ifNotExists()
        .on('lakehouse_query_history')
        .columns(['catalog_name', 'status', 'submitted_at'])
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('lakehouse_query_history').ifExists().execute();
    },
  };
}
