import { sql, type Kysely, type Migration } from 'kysely';
import type { SqlDialectKind } from './index.js';

/**
 * External sources of kind `mysql` (MySQL/MariaDB, src/federation/mysql.ts): widens the check on
 * `lakehouse_external_sources.kind` from 0009. PostgreSQL drops and re-adds the check; SQLite
 * cannot alter a check, so the table is rebuilt with the same columns and rows.
 */
export function externalSourcesMysqlMigration(dialect: SqlDialectKind): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  const create = (db: Kysely<any>, table: string, kinds: string[]) =>
    db.schema
      .createTable(table)
      .addColumn('catalog_name', key, (c) => c.notNull())
      .addColumn('name', key, (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in (${sql.join(kinds.map((k) => sql.lit(k)))})`))
      .addColumn('config', 'text', (c) => c.notNull())
      .addColumn('secrets', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint(`${table}_pk`, ['catalog_name', 'name'])
      .execute();
  const rebuild = async (db: Kysely<any>, kinds: string[]) => {
    await create(db, 'lakehouse_external_sources_new', kinds);
    await sql`INSERT INTO lakehouse_external_sources_new SELECT catalog_name, name, kind, config, secrets, created_at, updated_at FROM lakehouse_external_sources`.execute(db);
    await db.schema.dropTable('lakehouse_external_sources').execute();
    await db.schema.alterTable('lakehouse_external_sources_new').renameTo('lakehouse_external_sources').execute();
  };
  return {
    async up(db: Kysely<any>): Promise<void> {
      if (dialect === 'postgres') {
        // 0009's column check got PostgreSQL's default name.
        await sql`ALTER TABLE lakehouse_external_sources DROP CONSTRAINT IF EXISTS lakehouse_external_sources_kind_check`.execute(db);
        await sql`ALTER TABLE lakehouse_external_sources ADD CONSTRAINT lakehouse_external_sources_kind_check CHECK (kind in ('postgres', 'mysql', 'files'))`.execute(db);
      } else {
        await rebuild(db, ['postgres', 'mysql', 'files']);
      }
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.deleteFrom('lakehouse_external_sources').where('kind', '=', 'mysql').execute();
      if (dialect === 'postgres') {
        await sql`ALTER TABLE lakehouse_external_sources DROP CONSTRAINT IF EXISTS lakehouse_external_sources_kind_check`.execute(db);
        await sql`ALTER TABLE lakehouse_external_sources ADD CONSTRAINT lakehouse_external_sources_kind_check CHECK (kind in ('postgres', 'files'))`.execute(db);
      } else {
        await rebuild(db, ['postgres', 'files']);
      }
    },
  };
}
