import { sql, type Kysely, type Migration } from 'kysely';
import type { SqlDialectKind } from './index.js';

/**
 * Data sources (Kafka clusters, storage locations) and ingestion job definitions of the own API
 * (`/api/v1/sources`, `/api/v1/ingestion-jobs`), scoped by catalog name like the Iceberg tables.
 * Settings are a JSON document (`config`); secrets are kept apart in `secrets` (JSON) so that
 * reads never select them by accident. A job references its source by foreign key.
 */
export function dataSourcesMigration(dialect: SqlDialectKind): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('lakehouse_data_sources')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('id', key, (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('kafka', 'storage')`))
        .addColumn('name', key, (c) => c.notNull())
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('secrets', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_data_sources_pk', ['catalog_name', 'id'])
        .addUniqueConstraint('lakehouse_data_sources_name_uq', ['catalog_name', 'kind', 'name'])
        .execute();
      await db.schema
        .createTable('lakehouse_ingestion_jobs')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('id', key, (c) => c.notNull())
        .addColumn('name', key, (c) => c.notNull())
        .addColumn('source_id', key, (c) => c.notNull())
        .addColumn('definition', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_ingestion_jobs_pk', ['catalog_name', 'id'])
        .addUniqueConstraint('lakehouse_ingestion_jobs_name_uq', ['catalog_name', 'name'])
        .addForeignKeyConstraint('lakehouse_ingestion_jobs_source_fk', ['catalog_name', 'source_id'], 'lakehouse_data_sources', ['catalog_name', 'id'])
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('lakehouse_ingestion_jobs').ifExists().execute();
      await db.schema.dropTable('lakehouse_data_sources').ifExists().execute();
    },
  };
}
