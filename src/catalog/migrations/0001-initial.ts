import { sql, type Kysely, type Migration } from 'kysely';
import type { SqlDialectKind } from './index.js';

/**
 * The initial catalog schema. Plain `text` columns everywhere (valid on SQLite and PostgreSQL);
 * on PostgreSQL the key columns use the "C" collation so ordering (and therefore paging) is by
 * code point, exactly like SQLite's default BINARY collation, whatever the database locale.
 */
export function initialMigration(dialect: SqlDialectKind): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('iceberg_namespaces')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('namespace', key, (c) => c.notNull())
        .addColumn('parent_namespace', key)
        .addPrimaryKeyConstraint('iceberg_namespaces_pk', ['catalog_name', 'namespace'])
        // A child needs its parent; top-level rows have a NULL parent, which a (MATCH SIMPLE)
        // composite foreign key does not check.
        .addForeignKeyConstraint(
          'iceberg_namespaces_parent_fk',
          ['catalog_name', 'parent_namespace'],
          'iceberg_namespaces',
          ['catalog_name', 'namespace'],
        )
        .execute();
      await db.schema
        .createIndex('iceberg_namespaces_parent_idx')
        .ifNotExists()
        .on('iceberg_namespaces')
        .columns(['catalog_name', 'parent_namespace', 'namespace'])
        .execute();

      await db.schema
        .createTable('iceberg_namespace_properties')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('namespace', key, (c) => c.notNull())
        .addColumn('property_key', key, (c) => c.notNull())
        .addColumn('property_value', 'text')
        .addPrimaryKeyConstraint('iceberg_namespace_properties_pk', ['catalog_name', 'namespace', 'property_key'])
        .addForeignKeyConstraint(
          'iceberg_namespace_properties_ns_fk',
          ['catalog_name', 'namespace'],
          'iceberg_namespaces',
          ['catalog_name', 'namespace'],
          (fk) => fk.onDelete('cascade'),
        )
        .execute();

      // Tables and views share one name space: the primary key leaves out iceberg_type.
      await db.schema
        .createTable('iceberg_tables')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('table_namespace', key, (c) => c.notNull())
        .addColumn('table_name', key, (c) => c.notNull())
        .addColumn('metadata_location', 'text', (c) => c.notNull())
        .addColumn('previous_metadata_location', 'text')
        .addColumn('iceberg_type', 'text', (c) =>
          c.notNull().defaultTo('TABLE').check(sql`iceberg_type in ('TABLE', 'VIEW')`),
        )
        .addPrimaryKeyConstraint('iceberg_tables_pk', ['catalog_name', 'table_namespace', 'table_name'])
        .addForeignKeyConstraint(
          'iceberg_tables_ns_fk',
          ['catalog_name', 'table_namespace'],
          'iceberg_namespaces',
          ['catalog_name', 'namespace'],
        )
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.dropTable('iceberg_tables').ifExists().execute();
      await db.schema.dropTable('iceberg_namespace_properties').ifExists().execute();
      await db.schema.dropTable('iceberg_namespaces').ifExists().execute();
    },
  };
}
