import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import type { TableIdent } from '../../src/catalog/store.js';
import { Duck } from '../../src/duck/db.js';
import { currentSchema, defaultSpec } from '../../src/iceberg/metadata.js';
import { buildPartitionSpec } from '../../src/iceberg/partition.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { QueryEngine, type QueryResult } from '../../src/query/engine.js';
import { writeDataFiles } from '../../src/table/data-writer.js';
import { fastAppend } from '../../src/table/snapshot-producer.js';
import { appendSql } from '../../src/table/table-ops.js';
import { startTestServer, type TestServer } from '../api/own-support.js';

/**
 * Scan pruning beyond identity/day (test/query/engine.test.ts): the hour() transform, column
 * min/max bounds, null counts, and `catalog.namespace.table` names — each asserted through the
 * query stats (which files were read) and the exact answer (pruning never drops a matching row).
 */

const HOURS = 48;
/** One row per minute from 2024-03-01 00:00 UTC (`id` is the minute index), plus one null ts. */
const START = '2024-03-01 00:00:00+00';
const NULL_ID = HOURS * 60;
/** One file per hour and one for the null partition. */
const FILES = HOURS + 1;

async function createTable(catalog: SqlCatalog, ident: TableIdent, schema: Schema, partitionBy: string[] = []): Promise<void> {
  const spec = partitionBy.length ? buildPartitionSpec(schema, partitionBy) : undefined;
  await catalog.createTable(ident, newTableMetadata({ schema, spec, location: catalog.defaultTableLocation(ident) }));
}

/**
 * Appends rows without column metrics, as an engine writing with metrics mode `none` does (spec
 * "Manifests": counts and bounds are optional). Neither ts bounds nor null counts can then prune a
 * file, so whatever is pruned on ts was pruned by the partition tuple alone.
 */
async function appendWithoutMetrics(catalog: SqlCatalog, ident: TableIdent, duck: Duck, sourceSql: string): Promise<void> {
  const table = await catalog.loadTable(ident);
  const md = table.metadata;
  const files = await writeDataFiles({
    duck, io: table.io, location: md.location, schema: currentSchema(md), spec: defaultSpec(md), properties: md.properties, sourceSql,
  });
  await fastAppend(catalog, ident, files.map((f) => ({ ...f, valueCounts: undefined, nullValueCounts: undefined, nanValueCounts: undefined, lowerBounds: undefined, upperBounds: undefined })), {}, table);
}

/** Sizes of the table's live data files, to check that bytesScanned is exactly the surviving files. */
async function fileSizes(engine: QueryEngine, table: string): Promise<number[]> {
  const r = await engine.query(`SELECT file_size_in_bytes FROM ${table.replace(/\.(\w+)$/, '."$1$$files"')}`);
  return r.rows.map((row) => Number(row[0]));
}

function scanned(r: QueryResult): { files: number; pruned: number } {
  return { files: r.stats.filesScanned, pruned: r.stats.filesPruned };
}

describe('scan pruning: hour(), min/max, null counts and three-part names', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let engine: QueryEngine;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-prune-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    engine = new QueryEngine(catalog);
    await catalog.createNamespace(['db']);
    const duck = await Duck.open();
    try {
      const hourly = { namespace: ['db'], name: 'hourly' };
      await createTable(catalog, hourly, {
        type: 'struct', 'schema-id': 0,
        fields: [{ id: 1, name: 'id', required: true, type: 'long' }, { id: 2, name: 'ts', required: false, type: 'timestamptz' }],
      }, ['hour(ts)']);
      await appendWithoutMetrics(catalog, hourly, duck,
        `SELECT range AS id, TIMESTAMPTZ '${START}' + INTERVAL (range) MINUTE AS ts FROM range(${HOURS * 60})
         UNION ALL SELECT ${NULL_ID}, NULL`);

      // Four appends, one file each, with disjoint id ranges [0,1000) … [3000,4000), added out of order.
      const ranges = { namespace: ['db'], name: 'ranges' };
      await createTable(catalog, ranges, {
        type: 'struct', 'schema-id': 0,
        fields: [{ id: 1, name: 'id', required: true, type: 'long' }, { id: 2, name: 'v', required: false, type: 'string' }],
      });
      for (const k of [2, 0, 3, 1]) {
        await appendSql(catalog, ranges, duck, `SELECT range AS id, 'v' || range AS v FROM range(${k * 1000}, ${(k + 1) * 1000})`);
      }

      // Three files: c entirely null, c never null, c null on even ids.
      const nulls = { namespace: ['db'], name: 'nulls' };
      await createTable(catalog, nulls, {
        type: 'struct', 'schema-id': 0,
        fields: [{ id: 1, name: 'id', required: true, type: 'long' }, { id: 2, name: 'c', required: false, type: 'string' }],
      });
      await appendSql(catalog, nulls, duck, `SELECT range AS id, NULL::VARCHAR AS c FROM range(0, 100)`);
      await appendSql(catalog, nulls, duck, `SELECT range AS id, 'b' || range AS c FROM range(100, 200)`);
      await appendSql(catalog, nulls, duck, `SELECT range AS id, CASE WHEN range % 2 = 0 THEN NULL ELSE 'c' || range END AS c FROM range(200, 300)`);
    } finally {
      duck.close();
    }
  });
  afterAll(async () => {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('hour(ts) partitions, pruned by the partition tuple alone', () => {
    let sizes: number[];
    beforeAll(async () => {
      sizes = await fileSizes(engine, 'db.hourly');
      expect(sizes).toHaveLength(FILES);
      // The premise of this block: the manifests carry no metrics to prune by.
      const metrics = await engine.query(`SELECT count(*) FROM db."hourly$files"
        WHERE coalesce(cardinality(value_counts), 0) + coalesce(cardinality(null_value_counts), 0)
            + coalesce(cardinality(lower_bounds), 0) + coalesce(cardinality(upper_bounds), 0) > 0`);
      expect(metrics.rows).toEqual([[0]]);
    });

    async function hours(where: string): Promise<QueryResult> {
      return engine.query(`SELECT count(*), min(id), max(id) FROM db.hourly WHERE ${where}`);
    }
    const reads = (files: number) => ({ files, pruned: FILES - files });

    it('the whole table is read without a filter', async () => {
      const r = await engine.query('SELECT count(*) FROM db.hourly');
      expect(r.rows).toEqual([[HOURS * 60 + 1]]);
      expect(scanned(r)).toEqual(reads(FILES));
      expect(r.stats.bytesScanned).toBe(r.stats.totalBytes);
      expect(r.stats.totalBytes).toBe(sizes.reduce((a, b) => a + b, 0));
    });

    it('a one-hour half-open range reads only that hour', async () => {
      const r = await hours(`ts >= TIMESTAMPTZ '2024-03-01 05:00:00+00' AND ts < TIMESTAMPTZ '2024-03-01 06:00:00+00'`);
      expect(r.rows).toEqual([[60, 300, 359]]);
      expect(scanned(r)).toEqual(reads(1));
      expect(sizes).toContain(r.stats.bytesScanned);
      // `ts > v` projects to hour(ts) ≥ hour(v + 1µs): the hour ending at v is not read.
      const gt = await hours(`ts > TIMESTAMPTZ '2024-03-01 05:59:59.999999+00' AND ts < TIMESTAMPTZ '2024-03-01 07:00:00+00'`);
      expect(gt.rows).toEqual([[60, 360, 419]]);
      expect(scanned(gt)).toEqual(reads(1));
    });

    it('a range spanning two hours reads both, and only both', async () => {
      const r = await hours(`ts BETWEEN TIMESTAMPTZ '2024-03-01 05:30:00+00' AND TIMESTAMPTZ '2024-03-01 06:29:00+00'`);
      expect(r.rows).toEqual([[60, 330, 389]]);
      expect(scanned(r)).toEqual(reads(2));
      expect(r.stats.bytesScanned / r.stats.totalBytes).toBeLessThan(3 / FILES);
      // An inclusive upper bound on the hour boundary keeps the next hour: its first row matches.
      const edge = await hours(`ts >= TIMESTAMPTZ '2024-03-01 05:00:00+00' AND ts <= TIMESTAMPTZ '2024-03-01 06:00:00+00'`);
      expect(edge.rows).toEqual([[61, 300, 360]]);
      expect(scanned(edge)).toEqual(reads(2));
      // A strict bound one microsecond past the boundary keeps it too.
      const past = await hours(`ts >= TIMESTAMPTZ '2024-03-01 05:00:00+00' AND ts < TIMESTAMPTZ '2024-03-01 06:00:00.000001+00'`);
      expect(past.rows).toEqual([[61, 300, 360]]);
      expect(scanned(past)).toEqual(reads(2));
    });

    it('equality, zone offsets, zone-less and date literals project to the right hours', async () => {
      const eq = await hours(`ts = TIMESTAMPTZ '2024-03-02 13:17:00+00'`);
      expect(eq.rows).toEqual([[1, 37 * 60 + 17, 37 * 60 + 17]]);
      expect(scanned(eq)).toEqual(reads(1));
      // 07:00+02 is 05:00 UTC.
      const zoned = await hours(`ts >= TIMESTAMPTZ '2024-03-01 07:00:00+02' AND ts < TIMESTAMPTZ '2024-03-01 08:00:00+02'`);
      expect(zoned.rows).toEqual([[60, 300, 359]]);
      expect(scanned(zoned)).toEqual(reads(1));
      // The query session runs in UTC: a zone-less literal is a UTC instant.
      const plain = await hours(`ts >= TIMESTAMP '2024-03-01 10:00:00' AND ts < TIMESTAMP '2024-03-01 12:00:00'`);
      expect(plain.rows).toEqual([[120, 600, 719]]);
      expect(scanned(plain)).toEqual(reads(2));
      const day = await hours(`ts >= DATE '2024-03-02'`);
      expect(day.rows).toEqual([[24 * 60, 24 * 60, HOURS * 60 - 1]]);
      expect(scanned(day)).toEqual(reads(24));
      const before = await hours(`ts < TIMESTAMPTZ '${START}'`);
      expect(before.rows).toEqual([[0, null, null]]);
      expect(scanned(before)).toEqual(reads(0));
      const inList = await hours(`ts IN (TIMESTAMPTZ '2024-03-01 00:59:00+00', TIMESTAMPTZ '2024-03-02 23:00:00+00')`);
      expect(inList.rows).toEqual([[2, 59, 47 * 60]]);
      expect(scanned(inList)).toEqual(reads(2));
    });

    it('IS NULL reads only the null partition; IS NOT NULL skips it', async () => {
      const isNull = await hours('ts IS NULL');
      expect(isNull.rows).toEqual([[1, NULL_ID, NULL_ID]]);
      expect(scanned(isNull)).toEqual(reads(1));
      const notNull = await hours('ts IS NOT NULL');
      expect(notNull.rows).toEqual([[HOURS * 60, 0, HOURS * 60 - 1]]);
      expect(scanned(notNull)).toEqual(reads(HOURS));
    });
  });

  describe('min/max pruning on an unpartitioned table', () => {
    it('BETWEEN inside one file reads that file only', async () => {
      const sizes = await fileSizes(engine, 'db.ranges');
      expect(sizes).toHaveLength(4);
      const r = await engine.query('SELECT count(*), sum(id), min(v), max(v) FROM db.ranges WHERE id BETWEEN 1200 AND 1300');
      expect(r.rows).toEqual([[101, (1200 + 1300) * 101 / 2, 'v1200', 'v1300']]);
      expect(scanned(r)).toEqual({ files: 1, pruned: 3 });
      expect(sizes).toContain(r.stats.bytesScanned);
      expect(r.stats.totalBytes).toBe(sizes.reduce((a, b) => a + b, 0));
    });

    it('bounds are inclusive: a range touching two files reads both', async () => {
      const r = await engine.query('SELECT id FROM db.ranges WHERE id BETWEEN 999 AND 1000 ORDER BY id');
      expect(r.rows).toEqual([[999], [1000]]);
      expect(scanned(r)).toEqual({ files: 2, pruned: 2 });
      // 2999 is the upper bound of [2000,3000): `> 2999` excludes that file, `>= 2999` keeps it.
      const gt = await engine.query('SELECT count(*), min(id) FROM db.ranges WHERE id > 2999');
      expect(gt.rows).toEqual([[1000, 3000]]);
      expect(scanned(gt)).toEqual({ files: 1, pruned: 3 });
      const gte = await engine.query('SELECT count(*), min(id) FROM db.ranges WHERE 2999 <= id');
      expect(gte.rows).toEqual([[1001, 2999]]);
      expect(scanned(gte)).toEqual({ files: 2, pruned: 2 });
    });

    it('IN lists and string bounds prune too; a predicate it cannot use prunes nothing', async () => {
      const inList = await engine.query('SELECT count(*) FROM db.ranges WHERE id IN (5, 3500)');
      expect(inList.rows).toEqual([[2]]);
      expect(scanned(inList)).toEqual({ files: 2, pruned: 2 });
      // 'v' || id sorts as text: 'v2500' lies within ['v2000','v2999'] and ['v0','v999'] only.
      const str = await engine.query(`SELECT id FROM db.ranges WHERE v = 'v2500'`);
      expect(str.rows).toEqual([[2500]]);
      expect(scanned(str)).toEqual({ files: 2, pruned: 2 });
      const fn = await engine.query('SELECT count(*) FROM db.ranges WHERE id + 0 BETWEEN 1200 AND 1300');
      expect(fn.rows).toEqual([[101]]);
      expect(scanned(fn)).toEqual({ files: 4, pruned: 0 });
    });
  });

  describe('null-count pruning', () => {
    it('IS NULL skips the file with no nulls', async () => {
      const r = await engine.query('SELECT count(*), min(id), max(id) FROM db.nulls WHERE c IS NULL');
      expect(r.rows).toEqual([[150, 0, 298]]);
      expect(scanned(r)).toEqual({ files: 2, pruned: 1 });
    });

    it('IS NOT NULL skips the file that is all null', async () => {
      const r = await engine.query('SELECT count(*), min(id), max(id) FROM db.nulls WHERE c IS NOT NULL');
      expect(r.rows).toEqual([[150, 100, 299]]);
      expect(scanned(r)).toEqual({ files: 2, pruned: 1 });
    });

    it('a comparison skips the all-null file and, by bounds, the others', async () => {
      const r = await engine.query(`SELECT id FROM db.nulls WHERE c = 'b150'`);
      expect(r.rows).toEqual([[150]]);
      expect(scanned(r)).toEqual({ files: 1, pruned: 2 });
      const both = await engine.query('SELECT count(*) FROM db.nulls WHERE c IS NULL AND id >= 100');
      expect(both.rows).toEqual([[50]]);
      expect(scanned(both)).toEqual({ files: 1, pruned: 2 });
    });
  });

  describe('catalog.namespace.table', () => {
    it('the configured catalog name qualifies a table, with pruning intact', async () => {
      expect(catalog.name).toBe('lakehouse');
      const r = await engine.query('SELECT count(*), sum(id) FROM lakehouse.db.ranges WHERE id BETWEEN 1200 AND 1300');
      expect(r.rows).toEqual([[101, 126250]]);
      expect(scanned(r)).toEqual({ files: 1, pruned: 3 });
      expect(r.stats.tables).toEqual(['db.ranges']);
      // Case-insensitive like every SQL identifier; qualified columns and aliases resolve.
      const upper = await engine.query(`SELECT r.id FROM LAKEHOUSE.db.ranges AS r WHERE r.v = 'v7'`);
      expect(upper.rows).toEqual([[7]]);
      expect(scanned(upper)).toEqual({ files: 1, pruned: 3 });
      const qualified = await engine.query('SELECT ranges.id FROM lakehouse.db.ranges WHERE ranges.id = 3999');
      expect(qualified.rows).toEqual([[3999]]);
    });

    it('mixes with two-part and default-namespace names in one query', async () => {
      const r = await engine.query(
        'SELECT count(*) FROM lakehouse.db.ranges r JOIN db.nulls n USING (id) JOIN nulls m USING (id) WHERE n.c IS NOT NULL',
        { defaultNamespace: ['db'] },
      );
      expect(r.rows).toEqual([[150]]);
    });

    it('an unknown catalog is refused with NO_SUCH_TABLE naming it', async () => {
      for (const name of ['other', 'memory', 'system', 'temp']) {
        await expect(engine.query(`SELECT count(*) FROM ${name}.db.ranges`), name)
          .rejects.toMatchObject({ code: 'NO_SUCH_TABLE', message: expect.stringContaining(`unknown catalog ${name}`) });
      }
      await expect(engine.query('SELECT count(*) FROM lakehouse.db.missing')).rejects.toMatchObject({ code: 'NO_SUCH_TABLE' });
    });

    it('a catalog configured under another name answers to that name only', async () => {
      const other = await openSqlCatalog({ storeUrl: `sqlite:${dir}/analytics.db`, warehouse: `${dir}/wh2`, name: 'analytics' });
      try {
        await other.createNamespace(['sales']);
        const t = { namespace: ['sales'], name: 'orders' };
        await createTable(other, t, { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: true, type: 'long' }] });
        const duck = await Duck.open();
        try {
          await appendSql(other, t, duck, 'SELECT range AS id FROM range(10)');
        } finally {
          duck.close();
        }
        const e = new QueryEngine(other);
        expect((await e.query('SELECT count(*) FROM analytics.sales.orders')).rows).toEqual([[10]]);
        await expect(e.query('SELECT count(*) FROM lakehouse.sales.orders')).rejects.toMatchObject({ code: 'NO_SUCH_TABLE', message: expect.stringContaining('unknown catalog lakehouse') });
      } finally {
        await other.close();
      }
    });
  });
});

describe('three-part names through POST /api/v1/queries', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('warn');
    const r = await s.call('POST', '/api/v1/tables', {
      namespace: 'qp',
      name: 't',
      columns: [{ name: 'id', type: 'long', required: true }],
    });
    expect(r.status, r.text).toBe(201);
    const duck = await Duck.open();
    try {
      for (const k of [0, 1]) await appendSql(s.catalog, { namespace: ['qp'], name: 't' }, duck, `SELECT range AS id FROM range(${k * 50}, ${(k + 1) * 50})`);
    } finally {
      duck.close();
    }
  });
  afterAll(async () => {
    await s?.close();
  });

  it('answers lakehouse.qp.t with pruning stats, and names an unknown catalog', async () => {
    const r = await s.call('POST', '/api/v1/queries', { sql: 'SELECT count(*) AS n FROM lakehouse.qp.t WHERE id >= 60' });
    expect(r.status, r.text).toBe(200);
    expect(r.body.rows).toEqual([[40]]);
    expect(r.body.stats).toMatchObject({ tables: ['qp.t'], filesScanned: 1, filesPruned: 1 });
    const bad = await s.call('POST', '/api/v1/queries', { sql: 'SELECT count(*) FROM elsewhere.qp.t' });
    expect(bad.status, bad.text).toBe(404);
    expect(bad.body.error).toMatchObject({ type: 'NoSuchTableException', code: 404 });
    expect(bad.body.error.message).toContain('unknown catalog elsewhere');
  });
});
