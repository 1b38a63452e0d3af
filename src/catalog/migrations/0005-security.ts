import { sql, type Kysely, type Migration } from 'kysely';
import type { SqlDialectKind } from './index.js';

/**
 * Security (src/security): principals, roles and memberships, grants, API keys (hashes only),
 * column masks and row filters per role and table, service settings (the token signing secret),
 * and the append-only audit log whose records chain by sha256 (`seq` is gapless per catalog: the
 * primary key makes two writers racing for the same position fail, and the loser re-reads).
 */
export function securityMigration(dialect: SqlDialectKind): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('lakehouse_sec_principals')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('name', key, (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('user', 'service')`))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_sec_principals_pk', ['catalog_name', 'name'])
        .execute();
      await db.schema
        .createTable('lakehouse_sec_roles')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('name', key, (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_sec_roles_pk', ['catalog_name', 'name'])
        .execute();
      await db.schema
        .createTable('lakehouse_sec_memberships')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('role', key, (c) => c.notNull())
        .addColumn('principal', key, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_sec_memberships_pk', ['catalog_name', 'role', 'principal'])
        .addForeignKeyConstraint('lakehouse_sec_memberships_role_fk', ['catalog_name', 'role'], 'lakehouse_sec_roles', ['catalog_name', 'name'], (fk) =>
          fk.onDelete('cascade'),
        )
        .addForeignKeyConstraint('lakehouse_sec_memberships_principal_fk', ['catalog_name', 'principal'], 'lakehouse_sec_principals', ['catalog_name', 'name'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();
      // Securable: catalog (namespace and table null), namespace (table null), table, column.
      // Namespace levels are joined by the unit separator, as in the catalog tables.
      await db.schema
        .createTable('lakehouse_sec_grants')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('id', key, (c) => c.notNull())
        .addColumn('grantee_type', 'text', (c) => c.notNull().check(sql`grantee_type in ('role', 'principal')`))
        .addColumn('grantee', key, (c) => c.notNull())
        .addColumn('privilege', 'text', (c) => c.notNull())
        .addColumn('securable_type', 'text', (c) => c.notNull().check(sql`securable_type in ('catalog', 'namespace', 'table', 'column')`))
        .addColumn('namespace', key, (c) => c.notNull().defaultTo(''))
        .addColumn('table_name', key, (c) => c.notNull().defaultTo(''))
        .addColumn('column_name', key, (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_sec_grants_pk', ['catalog_name', 'id'])
        .addUniqueConstraint('lakehouse_sec_grants_uq', [
          'catalog_name',
          'grantee_type',
          'grantee',
          'privilege',
          'securable_type',
          'namespace',
          'table_name',
          'column_name',
        ])
        .execute();
      await db.schema
        .createTable('lakehouse_sec_api_keys')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('id', key, (c) => c.notNull())
        .addColumn('principal', key, (c) => c.notNull())
        .addColumn('secret_sha256', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('revoked_at', 'text')
        .addPrimaryKeyConstraint('lakehouse_sec_api_keys_pk', ['catalog_name', 'id'])
        .addForeignKeyConstraint('lakehouse_sec_api_keys_principal_fk', ['catalog_name', 'principal'], 'lakehouse_sec_principals', ['catalog_name', 'name'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();
      await db.schema
        .createTable('lakehouse_sec_column_masks')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('id', key, (c) => c.notNull())
        .addColumn('role', key, (c) => c.notNull())
        .addColumn('namespace', key, (c) => c.notNull())
        .addColumn('table_name', key, (c) => c.notNull())
        .addColumn('column_name', key, (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('null', 'hash', 'redact', 'partial')`))
        .addColumn('params', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_sec_column_masks_pk', ['catalog_name', 'id'])
        .addUniqueConstraint('lakehouse_sec_column_masks_uq', ['catalog_name', 'role', 'namespace', 'table_name', 'column_name'])
        .addForeignKeyConstraint('lakehouse_sec_column_masks_role_fk', ['catalog_name', 'role'], 'lakehouse_sec_roles', ['catalog_name', 'name'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();
      await db.schema
        .createTable('lakehouse_sec_row_filters')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('id', key, (c) => c.notNull())
        .addColumn('role', key, (c) => c.notNull())
        .addColumn('namespace', key, (c) => c.notNull())
        .addColumn('table_name', key, (c) => c.notNull())
        .addColumn('predicate', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_sec_row_filters_pk', ['catalog_name', 'id'])
        .addForeignKeyConstraint('lakehouse_sec_row_filters_role_fk', ['catalog_name', 'role'], 'lakehouse_sec_roles', ['catalog_name', 'name'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();
      await db.schema
        .createTable('lakehouse_sec_settings')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('name', key, (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_sec_settings_pk', ['catalog_name', 'name'])
        .execute();
      await db.schema
        .createTable('lakehouse_sec_audit')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('principal', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('resource', 'text')
        .addColumn('columns', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('request_id', 'text')
        .addColumn('detail', 'text')
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_sec_audit_pk', ['catalog_name', 'seq'])
        .execute();
      await db.schema.createIndex('lakehouse_sec_audit_at_idx').ifNotExists().on('lakehouse_sec_audit').columns(['catalog_name', 'at']).execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      for (const t of [
        'lakehouse_sec_audit',
        'lakehouse_sec_settings',
        'lakehouse_sec_row_filters',
        'lakehouse_sec_column_masks',
        'lakehouse_sec_api_keys',
        'lakehouse_sec_grants',
        'lakehouse_sec_memberships',
        'lakehouse_sec_roles',
        'lakehouse_sec_principals',
      ]) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  };
}
