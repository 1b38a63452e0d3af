import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck, str } from '../../src/duck/db.js';
import { toJsonValue } from '../../src/duck/result-json.js';
import { startServer } from '../support/http.js';

// Parquet results: the same query as JSON and as Parquet; DuckDB's read_parquet (an independent
// reader of the bytes) must see the query's column types and the JSON rendering's values.
const PARQUET = 'application/vnd.apache.parquet';

const SQL = `SELECT * FROM (VALUES
  (1, 9223372036854775807::BIGINT, 12345.67::DECIMAL(9, 2), TIMESTAMP '2024-03-01 12:34:56.123456', TIMESTAMPTZ '2024-03-01 12:34:56.654321+00',
   DATE '2024-02-29', TIME '23:59:59.999999', 'eä"x', '\\x00\\xff'::BLOB, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID, true, 'NaN'::DOUBLE,
   [1, 2, NULL]::BIGINT[], {'a': 1, 'b': 'x'}, MAP {'k1': 1.5::DOUBLE, 'k2': NULL}),
  (2, NULL, -0.01::DECIMAL(9, 2), NULL, NULL, NULL, NULL, NULL, ''::BLOB, NULL, NULL, -2.5::DOUBLE, []::BIGINT[], {'a': NULL, 'b': NULL}, MAP {}::MAP(VARCHAR, DOUBLE))
) v(id, big, dec, ts, tstz, d, tm, s, bin, u, flag, f64, list, st, mp) ORDER BY id`;

const ourTempDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith('lakehouse-parquet-'));

describe('query results as Parquet', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let app: FastifyInstance;
  let base: string;
  let duck: Duck;
  const post = (body: unknown, accept = 'application/json') =>
    fetch(`${base}/api/v1/queries`, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify(body) });

  async function readBack(bytes: Buffer, name: string) {
    const file = join(dir, name);
    writeFileSync(file, bytes);
    const types = (await duck.rows(`DESCRIBE SELECT * FROM read_parquet(${str(file)})`)).map((r) => `${r.column_name} ${r.column_type}`);
    const rows = (await duck.conn.runAndReadAll(`SELECT * FROM read_parquet(${str(file)})`)).getRows().map((r) => r.map(toJsonValue));
    return { types, rows };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-qparquet-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    ({ app, base } = await startServer({ catalog, logLevel: 'warn', security: { anonymous: true } }));
    duck = await Duck.open();
  });
  afterAll(async () => {
    duck?.close();
    await app?.close();
    await catalog?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the column types and the values of the JSON result, and removes its temporary file', async () => {
    const before = ourTempDirs();
    const json = await (await post({ sql: SQL })).json();
    const res = await post({ sql: SQL }, `${PARQUET}, application/json;q=0.5`);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('content-type')).toBe(PARQUET);
    expect(res.headers.get('x-row-count')).toBe('2');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
    const back = await readBack(bytes, 'r.parquet');
    // DESCRIBE leaves struct field names unquoted where the result's type names quote them.
    expect(back.types).toEqual(json.columns.map((c: { name: string; type: string }) => `${c.name} ${c.type.replaceAll('"', '')}`));
    expect(back.rows).toEqual(json.rows);
    await expect.poll(() => ourTempDirs().filter((d) => !before.includes(d)), { timeout: 5000 }).toEqual([]);
  });

  it('writes the columns of an empty result and pages with the next-page token', async () => {
    const empty = await post({ sql: 'SELECT 1::INTEGER AS a, 2.5::DECIMAL(4, 1) AS b WHERE false' }, PARQUET);
    expect(empty.status).toBe(200);
    const e = await readBack(Buffer.from(await empty.arrayBuffer()), 'empty.parquet');
    expect(e).toEqual({ types: ['a INTEGER', 'b DECIMAL(4,1)'], rows: [] });

    const first = await post({ sql: 'SELECT range AS n FROM range(5)', pageSize: 3 }, PARQUET);
    const token = first.headers.get('x-next-page-token');
    expect(token).toBeTruthy();
    expect((await readBack(Buffer.from(await first.arrayBuffer()), 'p1.parquet')).rows).toEqual([[0], [1], [2]]);
    const rest = await fetch(`${base}/api/v1/queries/${first.headers.get('x-query-id')}/results?pageToken=${encodeURIComponent(token!)}`, { headers: { accept: PARQUET } });
    expect(rest.status).toBe(200);
    expect((await readBack(Buffer.from(await rest.arrayBuffer()), 'p2.parquet')).rows).toEqual([[3], [4]]);
  });

  it('answers 406 for values whose JSON form it cannot type back (a union)', async () => {
    const res = await post({ sql: "SELECT union_value(k := 'x') AS u" }, PARQUET);
    expect(res.status).toBe(406);
    expect((await res.json()).error.type).toBe('UnsupportedOperationException');
  });
});
