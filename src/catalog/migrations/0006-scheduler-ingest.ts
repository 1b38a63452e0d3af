import { sql, type Kysely, type Migration } from 'kysely';
import type { SqlDialectKind } from './index.js';

/**
 * The ledger of scheduled batch ingestion (src/scheduler/ingest-ledger.ts): which source files
 * (storage locations or URLs) have landed in which table, so that a scheduled run over a folder
 * or glob ingests only files it has not ingested before. Keyed by the table's UUID, not its name,
 * so a table dropped and created again under the same name starts with an empty ledger.
 */
export function schedulerIngestMigration(dialect: SqlDialectKind): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('lakehouse_ingested_files')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('table_uuid', key, (c) => c.notNull())
        .addColumn('location', key, (c) => c.notNull())
        .addColumn('version', 'text')
        .addColumn('size', 'bigint')
        .addColumn('rows', 'bigint')
        .addColumn('snapshot_id', 'text')
        .addColumn('job_id', 'text')
        .addColumn('run_id', 'text')
        .addColumn('ingested_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_ingested_files_pk', ['catalog_name', 'table_uuid', 'location'])
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('lakehouse_ingested_files').ifExists().execute();
    },
  };
}
