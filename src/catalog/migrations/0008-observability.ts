import { sql, type Kysely, type Migration } from 'kysely';
import type { SqlDialectKind } from './index.js';

/**
 * Alerting and data-quality state (src/observability/alerts, src/quality), scoped by catalog name:
 * - alert rules (thresholds over Prometheus metric families), webhooks (secret kept in its own
 *   column so reads that list webhooks never need it), silences;
 * - alert state: one row per alert key (`rule:<id>`, or `anomaly:<table>:<metric>` for
 *   data-quality anomalies), the state machine's current position;
 * - alert history: every transition and every delivery outcome, append-only;
 * - quality baselines: the rolling window of one profile metric of one table.
 * Times are milliseconds since the epoch (bigint; PostgreSQL returns them as strings).
 */
export function observabilityMigration(dialect: SqlDialectKind): Migration {
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  const real = dialect === 'postgres' ? sql`double precision` : sql`real`;
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('lakehouse_alert_rules')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('id', key, (c) => c.notNull())
        .addColumn('name', key, (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('metric', 'text', (c) => c.notNull())
        .addColumn('matchers', 'text', (c) => c.notNull())
        .addColumn('aggregation', 'text', (c) => c.notNull())
        .addColumn('comparison', 'text', (c) => c.notNull())
        .addColumn('fn', 'text', (c) => c.notNull().check(sql`fn in ('value', 'rate', 'age')`))
        .addColumn('denominator', 'text')
        .addColumn('threshold', real, (c) => c.notNull())
        .addColumn('for_ms', 'bigint', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull().check(sql`severity in ('info', 'warning', 'critical')`))
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_alert_rules_pk', ['catalog_name', 'id'])
        .addUniqueConstraint('lakehouse_alert_rules_name_uq', ['catalog_name', 'name'])
        .execute();
      await db.schema
        .createTable('lakehouse_alert_webhooks')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('id', key, (c) => c.notNull())
        .addColumn('name', key, (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('min_severity', 'text', (c) => c.notNull())
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_alert_webhooks_pk', ['catalog_name', 'id'])
        .addUniqueConstraint('lakehouse_alert_webhooks_name_uq', ['catalog_name', 'name'])
        .execute();
      await db.schema
        .createTable('lakehouse_alert_silences')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('id', key, (c) => c.notNull())
        .addColumn('matchers', 'text', (c) => c.notNull())
        .addColumn('until_ms', 'bigint', (c) => c.notNull())
        .addColumn('comment', 'text')
        .addColumn('created_by', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_alert_silences_pk', ['catalog_name', 'id'])
        .execute();
      await db.schema
        .createTable('lakehouse_alert_state')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('alert_key', key, (c) => c.notNull())
        .addColumn('rule_id', key)
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('inactive', 'pending', 'firing')`))
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('value', real)
        .addColumn('message', 'text')
        .addColumn('active_since', 'bigint')
        .addColumn('fired_at', 'bigint')
        .addColumn('resolved_at', 'bigint')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_alert_state_pk', ['catalog_name', 'alert_key'])
        .execute();
      await db.schema
        .createTable('lakehouse_alert_history')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('id', key, (c) => c.notNull())
        .addColumn('alert_key', key, (c) => c.notNull())
        .addColumn('rule_id', key)
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) =>
          c.notNull().check(sql`event in ('pending', 'firing', 'resolved', 'silenced', 'delivered', 'delivery-failed')`),
        )
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('labels', 'text', (c) => c.notNull())
        .addColumn('value', real)
        .addColumn('message', 'text')
        .addColumn('detail', 'text')
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_alert_history_pk', ['catalog_name', 'id'])
        .execute();
      await db.schema.createIndex('lakehouse_alert_history_at_idx').ifNotExists().on('lakehouse_alert_history').columns(['catalog_name', 'at']).execute();
      await db.schema
        .createTable('lakehouse_quality_baselines')
        .ifNotExists()
        .addColumn('catalog_name', key, (c) => c.notNull())
        .addColumn('table_ident', key, (c) => c.notNull())
        .addColumn('metric', key, (c) => c.notNull())
        .addColumn('samples', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('lakehouse_quality_baselines_pk', ['catalog_name', 'table_ident', 'metric'])
        .execute();
    },
    async down(db: Kysely<any>): Promise<void> {
      for (const t of [
        'lakehouse_quality_baselines',
        'lakehouse_alert_history',
        'lakehouse_alert_state',
        'lakehouse_alert_silences',
        'lakehouse_alert_webhooks',
        'lakehouse_alert_rules',
      ]) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  };
}
