import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataType, tableFromIPC, type Table, type Vector } from 'apache-arrow';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { formatDecimal, formatTimeMicros, formatDate, formatTimestampMicros, type JsonValue } from '../../src/duck/result-json.js';
import { runPython } from '../interop/python.js';
import { startServer } from '../support/http.js';

// Arrow IPC results: the same query as JSON and as Arrow (stream and file), the Arrow bytes read
// back with apache-arrow's tableFromIPC and with pyarrow (an independent reader); every value
// must equal the JSON rendering, and the schema must carry the faithful Arrow types.
const STREAM = 'application/vnd.apache.arrow.stream';
const FILE = 'application/vnd.apache.arrow.file';

// One column of every type family, with nulls, extremes and sub-millisecond precision.
const CTAS = `CREATE TABLE arr.t AS SELECT * FROM (VALUES
  (1, 9223372036854775807::BIGINT, 12345.67::DECIMAL(9, 2), 12345678901234567890.123456::DECIMAL(38, 6),
   TIMESTAMP '2024-03-01 12:34:56.123456', TIMESTAMPTZ '2024-03-01 12:34:56.654321+00', DATE '2024-02-29', TIME '23:59:59.999999',
   'eä"x', '\\x00\\xff'::BLOB, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID, true, 3.1415927::FLOAT, -2.5::DOUBLE, 7::INTEGER,
   [1, 2, NULL]::BIGINT[], {'a': 1, 'b': 'x'}, MAP {'k1': 1.5::DOUBLE, 'k2': NULL}),
  (2, (-9223372036854775808)::BIGINT, -0.01::DECIMAL(9, 2), NULL, TIMESTAMP '1969-12-31 23:59:59.999999', NULL, DATE '1900-01-01', NULL,
   NULL, NULL, NULL, false, NULL, NULL, NULL, []::BIGINT[], {'a': NULL, 'b': NULL}, MAP {}::MAP(VARCHAR, DOUBLE)),
  (3, NULL, NULL, -1.000001::DECIMAL(38, 6), NULL, TIMESTAMPTZ '1970-01-01 00:00:00+00', NULL, TIME '00:00:00',
   '', '', NULL, NULL, 'NaN'::FLOAT, 'Infinity'::DOUBLE, -2147483648, NULL, NULL, NULL)
) v(id, big, dec, wide, ts, tstz, d, tm, s, bin, u, flag, f32, f64, i32, list, st, mp)`;

/** Arrow values in the JSON conventions, read from the raw buffers (get() rounds to ms). */
function arrowJson(v: Vector, row: number): JsonValue {
  const t = v.type as DataType;
  if (!v.isValid(row)) return null;
  if (DataType.isInt(t)) {
    const x = v.get(row) as number | bigint;
    return typeof x === 'bigint' ? (x <= BigInt(Number.MAX_SAFE_INTEGER) && x >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString()) : x;
  }
  if (DataType.isDecimal(t)) {
    const words = v.data[0].values as Uint32Array;
    let x = 0n;
    for (let w = 3; w >= 0; w--) x = (x << 32n) | BigInt(words[row * 4 + w]);
    return formatDecimal(BigInt.asIntN(128, x), t.scale);
  }
  if (DataType.isTimestamp(t)) {
    const x = (v.data[0].values as BigInt64Array)[row];
    return formatTimestampMicros(x) + (t.timezone ? 'Z' : '');
  }
  if (DataType.isDate(t)) return formatDate((v.data[0].values as Int32Array)[row]);
  if (DataType.isTime(t)) return formatTimeMicros((v.data[0].values as BigInt64Array)[row]);
  if (DataType.isFixedSizeBinary(t)) {
    const h = Buffer.from(v.get(row) as Uint8Array).toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  if (DataType.isBinary(t)) return Buffer.from(v.get(row) as Uint8Array).toString('hex');
  if (DataType.isFloat(t)) {
    const x = v.get(row) as number;
    return Number.isFinite(x) ? x : String(x);
  }
  if (DataType.isList(t) || DataType.isFixedSizeList(t)) {
    const inner = v.get(row) as Vector;
    return Array.from({ length: inner.length }, (_, i) => arrowJson(inner, i));
  }
  if (DataType.isMap(t)) {
    const m = v.get(row) as unknown as { [Symbol.iterator](): Iterator<[JsonValue, JsonValue]> };
    return [...m].map(([key, value]) => ({ key, value }));
  }
  if (DataType.isStruct(t)) {
    const s: Record<string, JsonValue> = {};
    t.children.forEach((f, i) => (s[f.name] = arrowJson(v.getChildAt(i)!, row)));
    return s;
  }
  return v.get(row) as JsonValue;
}

function rowsOf(table: Table): JsonValue[][] {
  const cols = table.schema.fields.map((_, i) => table.getChildAt(i)!);
  return Array.from({ length: table.numRows }, (_, r) => cols.map((c) => arrowJson(c, r)));
}

describe('query results as Arrow IPC', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let app: FastifyInstance;
  let base: string;
  const post = (body: unknown, accept = 'application/json') =>
    fetch(`${base}/api/v1/queries`, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify(body) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-qarrow-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    await catalog.createNamespace(['arr']);
    ({ app, base } = await startServer({ catalog, logLevel: 'warn', security: { anonymous: true } }));
    const r = await post({ sql: CTAS });
    expect(r.status, await r.clone().text()).toBe(200);
  });
  afterAll(async () => {
    await app?.close();
    await catalog?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('maps every column type faithfully and round-trips the values of the JSON result', async () => {
    const sql = 'SELECT * FROM arr.t ORDER BY id';
    const json = await (await post({ sql })).json();
    expect(json.rows).toHaveLength(3);
    const res = await post({ sql }, STREAM);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(STREAM);
    expect(res.headers.get('x-row-count')).toBe('3');
    const bytes = new Uint8Array(await res.arrayBuffer());
    const table = tableFromIPC(bytes);
    const types = Object.fromEntries(table.schema.fields.map((f) => [f.name, String(f.type)]));
    expect(types).toMatchObject({
      id: 'Int32',
      big: 'Int64',
      dec: 'Decimal[9e+2]',
      wide: 'Decimal[38e+6]',
      ts: 'Timestamp<MICROSECOND>',
      tstz: 'Timestamp<MICROSECOND, UTC>',
      d: 'Date32<DAY>',
      tm: 'Time64<MICROSECOND>',
      s: 'Utf8',
      bin: 'Binary',
      u: 'FixedSizeBinary[16]',
      flag: 'Bool',
      f32: 'Float32',
      f64: 'Float64',
      list: 'List<Int64>',
    });
    expect(types.st).toMatch(/^Struct<\{a:Int32, b:Utf8\}>$/);
    expect(types.mp).toMatch(/^Map<\{key:Utf8, value:Float64\}>$/);
    expect(table.schema.fields.find((f) => f.name === 'u')!.metadata.get('ARROW:extension:name')).toBe('arrow.uuid');
    expect(rowsOf(table)).toEqual(json.rows);
    // 64-bit values are bigints, not rounded doubles.
    expect(table.getChild('big')!.get(0)).toBe(9223372036854775807n);

    // pyarrow decodes the same bytes to the same values (and types).
    writeFileSync(join(dir, 'r.arrows'), bytes);
    const py = JSON.parse((await runPython('sql-arrow.py', [join(dir, 'r.arrows'), 'stream'])).stdout);
    expect(py.rows).toEqual(json.rows);
    const pyTypes = Object.fromEntries(py.schema.map(([n, t]: string[]) => [n, t]));
    expect(pyTypes).toMatchObject({
      big: 'int64',
      dec: 'decimal128(9, 2)',
      wide: 'decimal128(38, 6)',
      ts: 'timestamp[us]',
      tstz: 'timestamp[us, tz=UTC]',
      d: 'date32[day]',
      tm: 'time64[us]',
      u: 'extension<arrow.uuid>',
      list: 'list<element: int64>',
      st: 'struct<a: int32, b: string>',
      mp: 'map<string, double>',
    });
  }, 60_000);

  it('serves the Arrow file format and pages of async results, HUGEINT and empty results', async () => {
    const sql = 'SELECT id, sum(id) OVER (ORDER BY id) AS running, big FROM arr.t ORDER BY id';
    const json = await (await post({ sql })).json();
    expect(json.columns.map((c: { type: string }) => c.type)).toEqual(['INTEGER', 'HUGEINT', 'BIGINT']);
    const file = await post({ sql }, FILE);
    expect(file.headers.get('content-type')).toBe(FILE);
    const fileBytes = new Uint8Array(await file.arrayBuffer());
    expect(Buffer.from(fileBytes.subarray(0, 6)).toString()).toBe('ARROW1');
    const t = tableFromIPC(fileBytes);
    expect(String(t.schema.fields[1].type)).toBe('Decimal[38e0]');
    expect(rowsOf(t)).toEqual(json.rows.map((r: JsonValue[]) => [r[0], String(r[1]), r[2]]));
    writeFileSync(join(dir, 'r.arrow'), fileBytes);
    const py = JSON.parse((await runPython('sql-arrow.py', [join(dir, 'r.arrow'), 'file'])).stdout);
    expect(py.rows).toEqual(json.rows.map((r: JsonValue[]) => [r[0], String(r[1]), r[2]]));

    // Async: pages of 2 rows as Arrow, the token in a header.
    const sub = await (await post({ sql: 'SELECT id, ts FROM arr.t ORDER BY id', async: true })).json();
    let st: { state: string };
    do {
      await new Promise((r) => setTimeout(r, 50));
      st = await (await fetch(`${base}/api/v1/queries/${sub.queryId}`)).json();
    } while (st.state === 'queued' || st.state === 'running');
    const p1 = await fetch(`${base}/api/v1/queries/${sub.queryId}/results?pageSize=2`, { headers: { accept: STREAM } });
    const token = p1.headers.get('x-next-page-token');
    expect(token).toBeTruthy();
    const t1 = tableFromIPC(new Uint8Array(await p1.arrayBuffer()));
    const p2 = await fetch(`${base}/api/v1/queries/${sub.queryId}/results?pageSize=2&pageToken=${token}`, { headers: { accept: STREAM } });
    expect(p2.headers.get('x-next-page-token')).toBeNull();
    const t2 = tableFromIPC(new Uint8Array(await p2.arrayBuffer()));
    expect([...rowsOf(t1), ...rowsOf(t2)]).toEqual([
      [1, '2024-03-01T12:34:56.123456'],
      [2, '1969-12-31T23:59:59.999999'],
      [3, null],
    ]);

    // Accept negotiation: q-values decide, JSON by default.
    expect((await post({ sql: 'SELECT 1' }, `application/json;q=0.5, ${STREAM}`)).headers.get('content-type')).toBe(STREAM);
    expect((await post({ sql: 'SELECT 1' }, `${STREAM};q=0.1, application/json`)).headers.get('content-type')).toMatch(/^application\/json/);
    expect((await post({ sql: 'SELECT 1' }, `text/csv;q=0.2, ${FILE};q=0.8`)).headers.get('content-type')).toBe(FILE);
    expect((await post({ sql: 'SELECT 1' }, '*/*')).headers.get('content-type')).toMatch(/^application\/json/);

    // Fixed-size arrays, types without an Arrow counterpart (text, as in JSON), and a NULL (DuckDB types it INTEGER).
    const misc = 'SELECT [1, NULL]::INTEGER[2] AS arr, INTERVAL 1 DAY AS iv, NULL AS n';
    const miscJson = await (await post({ sql: misc })).json();
    const mt = tableFromIPC(new Uint8Array(await (await post({ sql: misc }, STREAM)).arrayBuffer()));
    expect(mt.schema.fields.map((f) => String(f.type))).toEqual(['FixedSizeList[2]<Int32>', 'Utf8', 'Int32']);
    expect(rowsOf(mt)).toEqual(miscJson.rows);

    // No rows: still a schema.
    const empty = tableFromIPC(new Uint8Array(await (await post({ sql: 'SELECT id, dec FROM arr.t WHERE id < 0' }, STREAM)).arrayBuffer()));
    expect(empty.numRows).toBe(0);
    expect(empty.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual(['id:Int32', 'dec:Decimal[9e+2]']);
  }, 60_000);
});
