import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { isLakehouseError } from '../../src/core/errors.js';
import { Duck } from '../../src/duck/db.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { AlertManager } from '../../src/observability/alerts/manager.js';
import { alertStoreFor } from '../../src/observability/alerts/store.js';
import { CHECKS_PROPERTY, qualityIdent, qualityMonitorFor, runChecks, type CheckSpec } from '../../src/quality/index.js';
import { appendSql, bindTable } from '../../src/table/table-ops.js';

const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: false, type: 'long' },
    { id: 2, name: 'email', required: false, type: 'string' },
    { id: 3, name: 'qty', required: false, type: 'int' },
    { id: 4, name: 'price', required: false, type: 'double' },
    { id: 5, name: 'status', required: false, type: 'string' },
    { id: 6, name: 'ts', required: false, type: 'timestamptz' },
  ],
};

describe('declarative quality checks', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let duck: Duck;
  const now = Date.parse('2026-05-01T12:00:00Z');
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-checks-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    await catalog.createNamespace(['db']);
    duck = await Duck.open();
    // 10 rows: id 7 duplicated, one null email, one malformed email, qty -1, status 'lost', price*qty check fails on one row.
    await duck.run(`CREATE TABLE b AS SELECT * FROM (VALUES
      (1, 'a@x.io', 1, 10.0, 'new', TIMESTAMPTZ '2026-05-01 11:50:00+00'),
      (2, 'b@x.io', 2, 10.0, 'paid', TIMESTAMPTZ '2026-05-01 11:40:00+00'),
      (3, NULL, 3, 10.0, 'paid', TIMESTAMPTZ '2026-05-01 11:30:00+00'),
      (4, 'not-an-email', 4, 10.0, 'paid', TIMESTAMPTZ '2026-05-01 11:20:00+00'),
      (5, 'e@x.io', -1, 10.0, 'shipped', TIMESTAMPTZ '2026-05-01 11:10:00+00'),
      (6, 'f@x.io', 6, 10.0, 'lost', TIMESTAMPTZ '2026-05-01 11:00:00+00'),
      (7, 'g@x.io', 7, 10.0, 'new', TIMESTAMPTZ '2026-05-01 10:50:00+00'),
      (7, 'h@x.io', 8, 10.0, 'new', TIMESTAMPTZ '2026-05-01 10:40:00+00'),
      (9, 'i@x.io', 9, NULL, 'new', TIMESTAMPTZ '2026-05-01 10:30:00+00'),
      (10, 'j@x.io', 10, 10.0, 'new', TIMESTAMPTZ '2026-05-01 10:20:00+00')
    ) AS t(id, email, qty, price, status, ts)`);
  });
  afterAll(async () => {
    duck?.close();
    await catalog?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('evaluates every kind of check with exact failing-row counts', async () => {
    const checks: CheckSpec[] = [
      { kind: 'not_null', column: 'email' },
      { kind: 'not_null', column: 'id' },
      { kind: 'unique', columns: ['id'] },
      { kind: 'unique', columns: ['id', 'email'] },
      { kind: 'range', column: 'qty', min: 0, max: 100 },
      { kind: 'accepted_values', column: 'status', values: ['new', 'paid', 'shipped'] },
      { kind: 'regex', column: 'email', pattern: '[^@]+@[^@]+\\.[a-z]+' },
      { kind: 'freshness', column: 'ts', maxAgeSeconds: 900 },
      { kind: 'freshness', column: 'ts', maxAgeSeconds: 300, name: 'fresh-5min' },
      { kind: 'row_count', min: 1, max: 100 },
      { kind: 'row_count', min: 50, name: 'enough-rows', severity: 'critical' },
      { kind: 'sql', expression: 'price * qty < 95', name: 'order-value' },
    ];
    const r = await runChecks(duck, 'b', checks, now);
    const by = Object.fromEntries(r.map((c) => [c.name, c]));
    expect(by['not_null:email']).toMatchObject({ passed: false, failingRows: 1, totalRows: 10 });
    expect(by['not_null:id']).toMatchObject({ passed: true, failingRows: 0 });
    expect(by['unique:id']).toMatchObject({ passed: false, failingRows: 2 });
    expect(by['unique:id,email']).toMatchObject({ passed: true });
    expect(by['range:qty']).toMatchObject({ passed: false, failingRows: 1 });
    expect(by['accepted_values:status']).toMatchObject({ passed: false, failingRows: 1 });
    expect(by['regex:email']).toMatchObject({ passed: false, failingRows: 1 });
    expect(by['freshness:ts']).toMatchObject({ passed: true, observed: 600 });
    expect(by['fresh-5min']).toMatchObject({ passed: false, observed: 600 });
    expect(by['row_count']).toMatchObject({ passed: true, observed: 10 });
    expect(by['enough-rows']).toMatchObject({ passed: false, severity: 'critical' });
    // qty 10 × 10.0 = 100 fails; qty 9 with a NULL price is NULL, which fails too.
    expect(by['order-value']).toMatchObject({ passed: false, failingRows: 2 });
  });

  it('refuses SQL checks that are not a single expression over the row', async () => {
    for (const expression of ["qty > 0) FROM read_csv('/etc/passwd') --", 'qty IN (SELECT 1)', "exists(SELECT * FROM read_text('/etc/passwd'))", 'qty > 0; DROP TABLE b', 'qty >']) {
      const err = await runChecks(duck, 'b', [{ kind: 'sql', expression }]).catch((e: unknown) => e);
      expect(isLakehouseError(err, 'VALIDATION_FAILED'), `${expression}: ${String(err)}`).toBe(true);
    }
  });

  it("runs the table's checks from its property, stores results in <table>__quality and alerts on failures", async () => {
    const ident = { namespace: ['db'], name: 'orders' };
    const props = { [CHECKS_PROPERTY]: JSON.stringify([{ kind: 'not_null', column: 'email', severity: 'critical' }, { kind: 'range', column: 'qty', min: 0 }]) };
    await catalog.createTable(ident, newTableMetadata({ schema, location: catalog.defaultTableLocation(ident), properties: props }));
    const alerts = new AlertManager({ store: alertStoreFor(catalog)!, now: () => now });
    const monitor = qualityMonitorFor(catalog, { alerts, now: () => now })!;
    const ev = await monitor.evaluateBatch(ident, duck, 'b', { batchId: 'batch-1' });
    expect(ev.checks.map((c) => [c.name, c.passed])).toEqual([
      ['not_null:email', false],
      ['range:qty', false],
    ]);
    expect(ev.suspect).toBe(true); // a critical check failed
    await bindTable(duck, 'q', await catalog.loadTable(qualityIdent(ident)));
    const rows = await duck.rows(`SELECT batch_id, kind, name, passed, failing_rows, total_rows, severity FROM q ORDER BY name`);
    expect(rows).toEqual([
      { batch_id: 'batch-1', kind: 'check', name: 'not_null:email', passed: false, failing_rows: 1n, total_rows: 10n, severity: 'critical' },
      { batch_id: 'batch-1', kind: 'check', name: 'range:qty', passed: false, failing_rows: 1n, total_rows: 10n, severity: 'warning' },
    ]);
    const states = await alerts.store.listStates();
    expect(states.filter((s) => s.state === 'firing').map((s) => s.key).sort()).toEqual(['check:db.orders:not_null:email', 'check:db.orders:range:qty']);

    // A clean batch resolves them.
    await duck.run(`CREATE TABLE clean AS SELECT * FROM b WHERE email IS NOT NULL AND qty >= 0`);
    const ok = await monitor.evaluateBatch(ident, duck, 'clean', { batchId: 'batch-2' });
    expect(ok.checks.every((c) => c.passed)).toBe(true);
    expect((await alerts.store.listStates()).filter((s) => s.state === 'firing')).toEqual([]);

    // A scheduled run checks the whole table (both batches appended to main): 1 null email of 18 rows.
    await appendSql(catalog, ident, duck, 'SELECT * FROM b');
    await appendSql(catalog, ident, duck, 'SELECT * FROM clean');
    const whole = await monitor.evaluateTable(ident, duck, { batchId: 'run-1' });
    expect(whole.map((c) => [c.name, c.passed, c.failingRows, c.totalRows])).toEqual([
      ['not_null:email', false, 1, 18],
      ['range:qty', false, 1, 18],
    ]);
    await bindTable(duck, 'q2', await catalog.loadTable(qualityIdent(ident)));
    const [{ n }] = await duck.rows(`SELECT count(*) AS n FROM q2 WHERE batch_id = 'run-1'`);
    expect(n).toBe(2n);
    expect((await alerts.store.listStates()).filter((s) => s.state === 'firing').map((s) => s.key).sort()).toEqual(['check:db.orders:not_null:email', 'check:db.orders:range:qty']);
  });
});
