import { sql, type Kysely, type Migration } from 'kysely';
import type { SqlDialectKind } from './index.js';

/**
 * External sources for federated SQL (src/federation): PostgreSQL databases and file sets that
 * queries name as `<source>.<schema>.<table>` next to Iceberg tables. Settings are a JSON document
 * (`config`); the only secret (a PostgreSQL password) lives in `secrets` (JSON), the one column
 * that ever holds one, so that reads never select it by accident and it can be encrypted at rest.
 */
export function externalSourcesMigration(dialect: SqlDialectKind): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('lakehouse_external_sources')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('name', key, (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('postgres', 'files')`))
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('secrets', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_external_sources_pk', ['catalog_name', 'name'])
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('lakehouse_external_sources').ifExists().execute();
    },
  };
}
