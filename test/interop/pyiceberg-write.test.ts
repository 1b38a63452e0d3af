import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { LoadedTable } from '../../src/catalog/catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { toJsonValue, type JsonValue } from '../../src/duck/result-json.js';
import { buildPartitionSpec } from '../../src/iceberg/partition.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { deleteWhere, overwriteWhere } from '../../src/table/row-delta.js';
import { evolveSchema, updatePartitionSpec } from '../../src/table/table-admin.js';
import { appendSql } from '../../src/table/table-ops.js';
import { valuesEqual } from '../support/fixtures.js';
import { runPython } from './python.js';

// Us → PyIceberg: tables written by our code are read by PyIceberg (StaticTable.from_metadata on
// our metadata file, test/interop/pyiceberg-verify.py). PyIceberg's rows must equal the rows of the
// source relation as DuckDB computes them — not as our reader reads them back — and filtered
// PyIceberg scans (which prune with our partition values and column bounds) must not lose rows.

const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'b', required: false, type: 'boolean' },
    { id: 3, name: 'i', required: false, type: 'int' },
    { id: 4, name: 'f', required: false, type: 'float' },
    { id: 5, name: 'd', required: false, type: 'double' },
    { id: 6, name: 'amount', required: false, type: 'decimal(10, 2)' },
    { id: 7, name: 'big', required: false, type: 'decimal(38, 6)' },
    { id: 8, name: 'day', required: false, type: 'date' },
    { id: 9, name: 'tm', required: false, type: 'time' },
    { id: 10, name: 'ts', required: false, type: 'timestamp' },
    { id: 11, name: 'tstz', required: false, type: 'timestamptz' },
    { id: 12, name: 'cat', required: false, type: 'string' },
    { id: 13, name: 'u', required: false, type: 'uuid' },
    { id: 14, name: 'bin', required: false, type: 'binary' },
    { id: 16, name: 'tags', required: false, type: { type: 'list', 'element-id': 17, element: 'string', 'element-required': false } },
    {
      id: 18, name: 'st', required: false,
      type: { type: 'struct', fields: [{ id: 19, name: 'a', required: false, type: 'int' }, { id: 20, name: 'b', required: false, type: 'string' }] },
    },
    { id: 21, name: 'm', required: false, type: { type: 'map', 'key-id': 22, key: 'string', 'value-id': 23, value: 'long', 'value-required': false } },
  ],
};

/** Rows in schema order; row 7 of every 50 is all-NULL except id. */
const rows = (from: number, n: number) => `SELECT
    range AS id,
    CASE WHEN range % 50 = 7 THEN NULL ELSE range % 3 = 0 END AS b,
    CASE WHEN range % 50 = 7 THEN NULL ELSE (range * 7919 % 65536 - 32768)::INTEGER END AS i,
    CASE WHEN range % 50 = 7 THEN NULL ELSE (range / 3.0)::FLOAT END AS f,
    CASE WHEN range % 50 = 7 THEN NULL ELSE (range * -1.000001)::DOUBLE END AS d,
    CASE WHEN range % 50 = 7 THEN NULL ELSE ((range % 17) * 12.34 - 50)::DECIMAL(10,2) END AS amount,
    CASE WHEN range % 50 = 7 THEN NULL ELSE (range * 123456789.123456 - 1e12)::DECIMAL(38,6) END AS big,
    CASE WHEN range % 50 = 7 THEN NULL ELSE DATE '1969-12-25' + (range * 37 % 900)::INTEGER END AS day,
    CASE WHEN range % 50 = 7 THEN NULL ELSE TIME '00:00:00' + INTERVAL (range * 1234567891 % 86400000000) MICROSECOND END AS tm,
    CASE WHEN range % 50 = 7 THEN NULL ELSE TIMESTAMP '1969-12-31 20:00:00' + INTERVAL (range * 3600000013) MICROSECOND END AS ts,
    CASE WHEN range % 50 = 7 THEN NULL ELSE TIMESTAMPTZ '2024-02-28 00:00:00+00' + INTERVAL (range * 5) HOUR END AS tstz,
    CASE WHEN range % 50 = 7 THEN NULL ELSE ['alpha', 'beta', 'gamma', 'ünï', ''][range % 5 + 1] END AS cat,
    CASE WHEN range % 50 = 7 THEN NULL ELSE md5(range::VARCHAR)::UUID END AS u,
    CASE WHEN range % 50 = 7 THEN NULL ELSE from_hex(md5(range::VARCHAR)[1:(range % 8) * 2]) END AS bin,
    CASE WHEN range % 50 = 7 THEN NULL ELSE list_transform(range(range % 4), lambda x: 't' || x::VARCHAR) END AS tags,
    CASE WHEN range % 50 = 7 THEN NULL ELSE {'a': range::INTEGER, 'b': CASE WHEN range % 2 = 0 THEN NULL ELSE 's' || range END} END AS st,
    CASE WHEN range % 50 = 7 THEN NULL ELSE map_from_entries(list_transform(range(range % 3), lambda x: {'key': 'k' || x, 'value': range * x})) END AS m
  FROM range(${from}, ${from + n})`;

interface PyScan {
  columns: string[];
  rows: JsonValue[][];
  files: number;
}

interface PyRead extends PyScan {
  format_version: number;
  filtered: (PyScan & { filter: string })[];
}

describe('tables written by lakehouse, read by PyIceberg', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let duck: Duck;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-pyiceberg-write-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/warehouse` });
    await catalog.createNamespace(['db']);
    duck = await Duck.open();
  });
  afterAll(async () => {
    duck?.close();
    await catalog?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** PyIceberg's full scan, plus one filtered scan per filter. */
  async function pyRead(t: LoadedTable, filters: string[] = []): Promise<PyRead> {
    const res = await runPython('pyiceberg-verify.py', [t.metadataLocation, 'id', ...filters]);
    return JSON.parse(res.stdout) as PyRead;
  }

  /** The expected rows: DuckDB over the source relation (independent of our reader). */
  async function expectedRows(sql: string): Promise<{ columns: string[]; rows: JsonValue[][] }> {
    const r = await duck.conn.runAndReadAll(`SELECT * FROM (${sql}) ORDER BY id`);
    return { columns: r.columnNames(), rows: r.getRows().map((row) => row.map(toJsonValue)) };
  }

  function expectSameRows(actual: JsonValue[][], expected: JsonValue[][]): void {
    expect(actual.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      if (!valuesEqual(actual[i], expected[i])) expect({ row: i, values: actual[i] }).toEqual({ row: i, values: expected[i] });
    }
  }

  async function create(name: string, partitionBy: string[] = [], properties: Record<string, string> = {}, formatVersion: 1 | 2 = 2) {
    const ident = { namespace: ['db'], name };
    const spec = partitionBy.length ? buildPartitionSpec(schema, partitionBy) : undefined;
    await catalog.createTable(ident, newTableMetadata({ schema, spec, location: catalog.defaultTableLocation(ident), properties, formatVersion }));
    return ident;
  }

  it('every type, unpartitioned, two appends', async () => {
    const ident = await create('typed');
    await appendSql(catalog, ident, duck, rows(0, 60));
    const t = await appendSql(catalog, ident, duck, rows(60, 40));
    const py = await pyRead(t, ["cat = 'gamma' and amount >= 0"]);
    const exp = await expectedRows(`${rows(0, 60)} UNION ALL ${rows(60, 40)}`);
    expect(py.columns).toEqual(exp.columns);
    expect(py.files).toBe(2);
    expectSameRows(py.rows, exp.rows);
    // Bounds-based pruning in PyIceberg must keep every matching row.
    expectSameRows(py.filtered[0].rows, (await expectedRows(`SELECT * FROM (${rows(0, 100)}) WHERE cat = 'gamma' AND amount >= 0`)).rows);
  });

  for (const [name, partitionBy, filters] of [
    ['parted_day_bucket_identity', ['day(tstz)', 'bucket(4, id)', 'cat'], [['id = 17', 'id = 17'], ["cat = 'beta'", "cat = 'beta'"], ["tstz >= '2024-03-05T00:00:00+00:00'", "tstz >= TIMESTAMPTZ '2024-03-05 00:00:00+00'"]]],
    [
      'parted_more_transforms',
      ['month(day)', 'year(ts)', 'hour(tstz)', 'truncate(2, cat)', 'bucket(3, u)', 'amount'],
      [
        ["u = '" + 'c81e728d-9d4c-2f63-6f06-7f89cc14862c' + "'", "u = 'c81e728d-9d4c-2f63-6f06-7f89cc14862c'::UUID"],
        ['amount = 24.04', 'amount = 24.04'],
        ["day < '1970-06-01'", "day < DATE '1970-06-01'"],
        ["ts >= '1970-01-03T00:00:00'", "ts >= TIMESTAMP '1970-01-03 00:00:00'"],
        ["cat = 'alpha'", "cat = 'alpha'"],
        ['big > -990000000000', 'big > -990000000000'],
      ],
    ],
  ] as [string, string[], [string, string][]][]) {
    it(`partitioned: ${partitionBy.join(', ')}`, async () => {
      const ident = await create(name, partitionBy);
      await appendSql(catalog, ident, duck, rows(0, 70));
      const t = await appendSql(catalog, ident, duck, rows(70, 30));
      const py = await pyRead(t, filters.map(([f]) => f));
      expect(py.files).toBeGreaterThan(4);
      expectSameRows(py.rows, (await expectedRows(rows(0, 100))).rows);
      for (const [i, [pyFilter, sqlFilter]] of filters.entries()) {
        const f = py.filtered[i];
        expect(f.files, pyFilter).toBeLessThan(py.files);
        const exp = (await expectedRows(`SELECT * FROM (${rows(0, 100)}) WHERE ${sqlFilter}`)).rows;
        expect(exp.length, sqlFilter).toBeGreaterThan(0);
        expect(f.rows.length, pyFilter).toBe(exp.length);
        expectSameRows(f.rows, exp);
      }
    });
  }

  it('format v1, identity partition', async () => {
    const ident = await create('v1', ['cat'], {}, 1);
    await appendSql(catalog, ident, duck, rows(0, 30));
    const t = await appendSql(catalog, ident, duck, rows(30, 30));
    const py = await pyRead(t, ["cat = 'ünï'"]);
    expect(py.format_version).toBe(1);
    expectSameRows(py.rows, (await expectedRows(rows(0, 60))).rows);
    expectSameRows(py.filtered[0].rows, (await expectedRows(`SELECT * FROM (${rows(0, 60)}) WHERE cat = 'ünï'`)).rows);
  });

  it('after schema evolution (add, rename, drop, promote, nested add)', async () => {
    const ident = await create('evolved', ['bucket(2, id)']);
    await appendSql(catalog, ident, duck, rows(0, 20));
    await evolveSchema(catalog, ident, (u) =>
      u.addColumn(null, 'extra', 'string').addColumn('st', 'c', 'double').renameColumn('cat', 'category').renameColumn(['st', 'a'], 'a2')
        .deleteColumn('bin').updateColumnType('i', 'long').updateColumnType('f', 'double'),
    );
    const cols = (from: number, n: number, extra: string, c: string) => `SELECT id, b, i::BIGINT AS i, f::DOUBLE AS f, d, amount, big, day, tm, ts, tstz,
        cat AS category, u, tags, CASE WHEN st IS NULL THEN NULL ELSE {'a2': st.a, 'b': st.b, 'c': ${c}} END AS st, m, ${extra} AS extra FROM (${rows(from, n)})`;
    const t = await appendSql(catalog, ident, duck, cols(20, 20, "'x' || id", 'id / 4'));
    const py = await pyRead(t);
    const exp = await expectedRows(`${cols(0, 20, 'NULL::VARCHAR', 'NULL::DOUBLE')} UNION ALL ${cols(20, 20, "'x' || id", 'id / 4')}`);
    expect(py.columns).toEqual(exp.columns);
    // Old files hold i as INT32 and f as FLOAT: promoted values, read as long / double.
    expectSameRows(py.rows, exp.rows);
  });

  it('after merge-on-read deletes (position delete files) and an overwrite', async () => {
    const ident = await create('deletes_mor', ['cat'], { 'write.delete.mode': 'merge-on-read' });
    await appendSql(catalog, ident, duck, rows(0, 50));
    await appendSql(catalog, ident, duck, rows(50, 50));
    let t = await deleteWhere(catalog, ident, duck, 'id % 4 = 0');
    expect(t.metadata.snapshots?.at(-1)?.summary['added-position-deletes']).toBe('25');
    t = await deleteWhere(catalog, ident, duck, "cat = 'beta'");
    t = await overwriteWhere(catalog, ident, duck, 'id >= 90', `SELECT * REPLACE (id + 1000 AS id) FROM (${rows(90, 5)})`);
    const py = await pyRead(t);
    const exp = await expectedRows(
      `SELECT * FROM (${rows(0, 100)}) WHERE NOT (id % 4 = 0) AND cat IS DISTINCT FROM 'beta' AND id < 90
       UNION ALL SELECT * REPLACE (id + 1000 AS id) FROM (${rows(90, 5)})`,
    );
    expectSameRows(py.rows, exp.rows);
  });

  // DuckDB cannot write Parquet FIXED_LEN_BYTE_ARRAY(L), which the spec requires for fixed(L) and
  // PyIceberg enforces; the writer refuses such columns rather than write files others reject.
  it('refuses to write a fixed[4] column instead of writing a file PyIceberg rejects', async () => {
    const ident = { namespace: ['db'], name: 'fixed_col' };
    const fixedSchema: Schema = {
      type: 'struct', 'schema-id': 0,
      fields: [{ id: 1, name: 'id', required: true, type: 'long' }, { id: 2, name: 'fx', required: false, type: 'fixed[4]' }],
    };
    await catalog.createTable(ident, newTableMetadata({ schema: fixedSchema, location: catalog.defaultTableLocation(ident) }));
    const src = `SELECT range AS id, from_hex(md5(range::VARCHAR)[1:8]) AS fx FROM range(5)`;
    await expect(appendSql(catalog, ident, duck, src)).rejects.toMatchObject({ code: 'UNSUPPORTED_OPERATION' });
    const t = await catalog.loadTable(ident);
    expect(t.metadata.snapshots).toHaveLength(0);
  });

  it('after copy-on-write deletes', async () => {
    const ident = await create('deletes_cow', ['bucket(3, id)'], { 'write.delete.mode': 'copy-on-write' });
    await appendSql(catalog, ident, duck, rows(0, 60));
    const t = await deleteWhere(catalog, ident, duck, 'id % 4 = 1 OR id > 55');
    const py = await pyRead(t);
    expectSameRows(py.rows, (await expectedRows(`SELECT * FROM (${rows(0, 60)}) WHERE NOT (id % 4 = 1 OR id > 55)`)).rows);
  });

  it('after a partition-spec change (data under three specs)', async () => {
    const ident = await create('spec_change', ['day(tstz)']);
    await appendSql(catalog, ident, duck, rows(0, 30));
    await updatePartitionSpec(catalog, ident, ['bucket(8, id)', 'cat']);
    await appendSql(catalog, ident, duck, rows(30, 30));
    await updatePartitionSpec(catalog, ident, []);
    await appendSql(catalog, ident, duck, rows(60, 30));
    const t = await deleteWhere(catalog, ident, duck, 'id % 10 = 3');
    const filters = [['id = 44', 'id = 44'], ["cat = 'gamma'", "cat = 'gamma'"], ["tstz < '2024-03-01T00:00:00+00:00'", "tstz < TIMESTAMPTZ '2024-03-01 00:00:00+00'"]];
    const py = await pyRead(t, filters.map(([f]) => f));
    expectSameRows(py.rows, (await expectedRows(`SELECT * FROM (${rows(0, 90)}) WHERE id % 10 <> 3`)).rows);
    for (const [i, [, sqlFilter]] of filters.entries()) {
      expectSameRows(py.filtered[i].rows, (await expectedRows(`SELECT * FROM (${rows(0, 90)}) WHERE id % 10 <> 3 AND ${sqlFilter}`)).rows);
    }
  });
});
