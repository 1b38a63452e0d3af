import { sql, type Kysely, type Migration } from 'kysely';
import type { SqlDialectKind } from './index.js';

/**
 * Security at rest and of background work (issue 6).
 *
 * Data-encryption keys of encrypted tables (src/security/encryption/key-store.ts), stored only
 * wrapped by the master key. One row per key version of a table; data files name the key they
 * were written with (`key_id`, in their manifest entry's `key_metadata`), so old versions stay
 * until no file refers to them. Keyed by the table's location, which is what the file writers
 * know about a table.
 *
 * `run_as` on scheduled and ingestion jobs: the authenticated principal that defined the job,
 * whose privileges each run checks (src/security/run-as.ts). Null for jobs defined before.
 */
export function encryptionKeysMigration(dialect: SqlDialectKind): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('lakehouse_table_keys')
        .ifNotExists()
        .addColumn('key_id', key, (c) => c.primaryKey())
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('table_location', key, (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('wrapped_key', 'text', (c) => c.notNull())
        .addColumn('master_key_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('lakehouse_table_keys_version_uq', ['catalog_name', 'table_location', 'version'])
        .execute();
      for (const t of ['lakehouse_schedule_jobs', 'lakehouse_ingestion_jobs']) await db.schema.alterTable(t).addColumn('run_as', 'text').execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      for (const t of ['lakehouse_schedule_jobs', 'lakehouse_ingestion_jobs']) await db.schema.alterTable(t).dropColumn('run_as').execute();
      await db.schema.dropTable('lakehouse_table_keys').ifExists().execute();
    },
  };
}
