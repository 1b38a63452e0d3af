import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { currentSnapshot, defaultSpec } from '../../src/iceberg/metadata.js';
import { QueryEngine } from '../../src/query/engine.js';
import { installFileFetch } from '../support/file-fetch.js';
import { icebergRead } from 'icebird';

// Write statements through the SQL engine, each one Iceberg commit, read back by our engine and
// by an independent reader (icebird).
describe('SQL write statements', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let engine: QueryEngine;
  let restore: () => void;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-writes-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    engine = new QueryEngine(catalog);
    await catalog.createNamespace(['shop']);
    restore = installFileFetch();
  });
  afterAll(async () => {
    restore();
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const rows = async (sql: string) => (await engine.query(sql, { defaultNamespace: ['shop'] })).rows;
  const snapshots = async (name: string) => (await catalog.loadTable({ namespace: ['shop'], name })).metadata.snapshots.length;
  const viaIcebird = async (name: string) => {
    const t = await catalog.loadTable({ namespace: ['shop'], name });
    const file = t.metadataLocation.slice(t.metadataLocation.lastIndexOf('/') + 1);
    return (await icebergRead({ tableUrl: t.metadata.location, metadataFileName: file })) as Record<string, unknown>[];
  };

  it('CREATE TABLE … WITH (partitioning) AS SELECT', async () => {
    const r = await engine.query(
      `CREATE TABLE shop.orders WITH (partitioning = ARRAY['bucket(4, id)', 'region'], 'write.target-file-size-bytes' = '134217728') AS
       SELECT range::BIGINT AS id, ['eu', 'us'][range % 2 + 1] AS region, (range * 1.5)::DECIMAL(10, 2) AS amount,
              TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL (range) MINUTE AS ts FROM range(100)`,
    );
    expect(r.rows).toEqual([[100]]);
    const t = await catalog.loadTable({ namespace: ['shop'], name: 'orders' });
    expect(defaultSpec(t.metadata).fields.map((f) => f.transform)).toEqual(['bucket[4]', 'identity']);
    expect(t.metadata.properties['write.target-file-size-bytes']).toBe('134217728');
    expect(await rows('SELECT count(*), sum(amount), min(ts) FROM orders')).toEqual([[100, '7425.00', '2024-01-01T00:00:00Z']]);
    await expect(engine.query('CREATE TABLE shop.orders AS SELECT 1 AS x')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect((await engine.query('CREATE TABLE IF NOT EXISTS shop.orders AS SELECT 1 AS x')).rows).toEqual([[0]]);
  });

  it('INSERT INTO … VALUES and … SELECT (positional, with a column list)', async () => {
    const before = await snapshots('orders');
    expect((await engine.query(`INSERT INTO shop.orders VALUES (1000, 'apac', 9.99, TIMESTAMPTZ '2024-02-01 00:00:00+00'), (1001, 'apac', 0.01, NULL)`)).rows).toEqual([[2]]);
    expect((await engine.query(`INSERT INTO shop.orders (id, region) SELECT id + 2000, region FROM shop.orders WHERE id < 10`)).rows).toEqual([[10]]);
    expect(await snapshots('orders')).toBe(before + 2);
    expect(await rows(`SELECT count(*), count(amount) FROM orders WHERE id >= 1000`)).toEqual([[12, 2]]);
    await expect(engine.query(`INSERT INTO shop.orders (nope) VALUES (1)`)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('DELETE FROM … WHERE (whole files and position deletes) and UPDATE', async () => {
    expect((await engine.query(`DELETE FROM shop.orders WHERE region = 'apac'`)).rows).toEqual([[2]]);
    expect(await rows(`SELECT count(*) FROM orders WHERE region = 'apac'`)).toEqual([[0]]);
    const del = await engine.query(`DELETE FROM shop.orders WHERE id % 10 = 3 AND id < 100`);
    expect(del.rows).toEqual([[10]]);
    expect((await engine.query(`UPDATE shop.orders SET amount = amount * 2, region = upper(region) WHERE id < 5`)).rows).toEqual([[4]]);
    const after = await rows(`SELECT id, region, amount FROM orders WHERE id < 5 ORDER BY id`);
    expect(after).toEqual([[0, 'EU', '0.00'], [1, 'US', '3.00'], [2, 'EU', '6.00'], [4, 'EU', '12.00']]);
    expect(await rows('SELECT count(*) FROM orders')).toEqual([[100 - 10 + 10]]);
    const t = await catalog.loadTable({ namespace: ['shop'], name: 'orders' });
    expect(currentSnapshot(t.metadata)!.summary.operation).toBe('overwrite');
    // An independent reader agrees after deletes and updates.
    const theirs = await viaIcebird('orders');
    expect(theirs.length).toBe(100);
    expect(theirs.filter((r) => Number(r.id) < 5).map((r) => r.region).sort()).toEqual(['EU', 'EU', 'EU', 'US']);
  });

  it('time travel sees the table before the writes', async () => {
    const t = await catalog.loadTable({ namespace: ['shop'], name: 'orders' });
    const first = t.metadata.snapshots[0]['snapshot-id'];
    expect(await rows(`SELECT count(*) FROM orders FOR VERSION AS OF ${first}`)).toEqual([[100]]);
  });

  it('MERGE INTO … USING … ON … WHEN MATCHED / NOT MATCHED', async () => {
    await engine.query(`CREATE TABLE shop.changes AS SELECT * FROM (VALUES (0::BIGINT, 'XX', 1.00::DECIMAL(10,2)), (5000::BIGINT, 'new', 2.00::DECIMAL(10,2))) v(id, region, amount)`);
    const r = await engine.query(`MERGE INTO shop.orders o USING shop.changes c ON o.id = c.id
      WHEN MATCHED THEN UPDATE SET region = c.region, amount = c.amount
      WHEN NOT MATCHED THEN INSERT (id, region, amount) VALUES (c.id, c.region, c.amount)`);
    expect(r.rows).toEqual([[2]]);
    expect(await rows(`SELECT id, region, amount FROM orders WHERE id IN (0, 5000) ORDER BY id`)).toEqual([[0, 'XX', '1.00'], [5000, 'new', '2.00']]);
    expect(await rows('SELECT count(*) FROM orders')).toEqual([[101]]);
  });

  it('refuses other statements', async () => {
    for (const sql of ['DROP TABLE shop.orders', 'ALTER TABLE shop.orders ADD COLUMN x INT', 'TRUNCATE shop.orders', 'VACUUM']) {
      await expect(engine.query(sql), sql).rejects.toMatchObject({ code: 'UNSUPPORTED_OPERATION' });
    }
    await expect(engine.query(`INSERT INTO shop.orders SELECT * FROM read_parquet('/etc/passwd')`)).rejects.toMatchObject({ code: 'UNSUPPORTED_OPERATION' });
    await expect(engine.query(`DELETE FROM shop.orders WHERE id IN (SELECT 1 FROM read_csv('/etc/passwd'))`)).rejects.toMatchObject({ code: 'UNSUPPORTED_OPERATION' });
  });
});
