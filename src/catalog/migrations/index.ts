/**
 * Versioned catalog migrations, provided in code (no migration folder to ship or find at run
 * time) to Kysely's Migrator. Names sort in application order; never rename or edit a released
 * migration — add a new one.
 */
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import { initialMigration } from './0001-initial.js';
import { dataSourcesMigration } from './0002-data-sources.js';
import { schedulerMigration } from './0003-scheduler.js';
import { queryHistoryMigration } from './0004-query-history.js';
import { securityMigration } from './0005-security.js';
import { schedulerIngestMigration } from './0006-scheduler-ingest.js';
import { observabilityMigration } from './0008-observability.js';
import { externalSourcesMigration } from './0009-external-sources.js';
import { encryptionKeysMigration } from './0010-encryption-keys.js';
import { ingestRunsMigration } from './0011-ingest-runs.js';
import { externalSourcesMysqlMigration } from './0012-external-sources-mysql.js';

export type SqlDialectKind = 'sqlite' | 'postgres';

export function catalogMigrations(dialect: SqlDialectKind): Record<string, Migration> {
  return {
    '0001-initial': initialMigration(dialect),
    '0002-data-sources': dataSourcesMigration(dialect),
    '0003-scheduler': schedulerMigration(dialect),
    '0004-query-history': queryHistoryMigration(dialect),
    '0005-security': securityMigration(dialect),
    '0006-scheduler-ingest': schedulerIngestMigration(dialect),
    // No 0007: the number was taken by work that never landed. Applied migrations are recorded by
    // name and run in name order, so the gap is harmless; renumbering would re-run 0008+ on upgrade.
    '0008-observability': observabilityMigration(dialect),
    '0009-external-sources': externalSourcesMigration(dialect),
    '0010-encryption-keys': encryptionKeysMigration(dialect),
    '0011-ingest-runs': ingestRunsMigration(dialect),
    '0012-external-sources-mysql': externalSourcesMysqlMigration(dialect),
  };
}

export class InCodeMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: SqlDialectKind) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    return catalogMigrations(this.dialect);
  }
}

/** Kysely's bookkeeping tables, prefixed so they don't collide with an application's own. */
export const MIGRATION_TABLE = 'lakehouse_catalog_migration';
export const MIGRATION_LOCK_TABLE = 'lakehouse_catalog_migration_lock';

/** Applies every pending migration; throws the first failure. Idempotent. */
export async function migrateToLatest(db: Kysely<any>, dialect: SqlDialectKind): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: new InCodeMigrationProvider(dialect),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const msg = error instanceof Error ? error.message : String(error);
    throw new Error(`catalog migration ${failed ? `'${failed.migrationName}' ` : ''}failed: ${msg}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
