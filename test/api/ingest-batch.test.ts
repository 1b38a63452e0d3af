import { openAsBlob } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Duck, str } from '../../src/duck/db.js';
import { sql } from '../ingest/support.js';
import { startTestServer, type TestServer } from './own-support.js';

const COLUMNS = [
  { name: 'id', type: 'long', required: true },
  { name: 'name', type: 'string' },
  { name: 'amount', type: 'decimal(10,2)' },
  { name: 'ts', type: 'timestamptz' },
  { name: 'qty', type: 'int' },
];

describe('own API: batch ingestion', () => {
  let s: TestServer;
  let duck: Duck;
  beforeAll(async () => {
    s = await startTestServer('warn');
    duck = await Duck.open();
  });
  afterAll(async () => {
    duck?.close();
    await s?.close();
  });

  async function table(name: string): Promise<{ namespace: string[]; name: string }> {
    const r = await s.call('POST', '/api/v1/tables', { namespace: 'ing', name, columns: COLUMNS });
    expect(r.status, r.text).toBe(201);
    return { namespace: ['ing'], name };
  }

  async function upload(tableName: string, file: Blob, filename: string, fields: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    form.append('file', file, filename);
    const res = await fetch(`${s.base}/api/v1/tables/ing/${tableName}/ingest`, { method: 'POST', body: form });
    return { status: res.status, body: await res.json() };
  }

  const count = async (t: { namespace: string[]; name: string }, where = 'true') => Number((await sql(s.catalog, t, `SELECT count(*) FROM t WHERE ${where}`))[0][0]);
  const dlq = async (t: { namespace: string[]; name: string }) =>
    (await sql(s.catalog, { namespace: t.namespace, name: `${t.name}__dlq` }, `SELECT "offset", error, CAST(raw AS VARCHAR), topic FROM t ORDER BY "offset"`)) as [number, string, string, string][];

  it('uploads CSV (delimiter option): valid rows commit, malformed ones go to the DLQ with reasons', async () => {
    const t = await table('csv');
    const csv = [
      'id;name;amount;ts;qty',
      '1;a;1.50;2024-01-01T00:00:00Z;3',
      '2;b;2.25;2024-01-02T00:00:00Z;-1', // qty below min (mapping rule)
      'x;c;1;2024-01-01T00:00:00Z;1', // id not an integer
      ';d;1;2024-01-01T00:00:00Z;1', // id missing (required)
      '5;e;1;2024-01-01T00:00:00Z;1;extra', // too many columns
      '6;f;123456789012.5;2024-01-01T00:00:00Z;1', // decimal overflow
      '7;"g;h";3.00;2024-01-03 10:00:00+02:00;7',
    ].join('\n');
    const r = await upload('csv', new Blob([csv]), 'orders.csv', { delimiter: ';', mapping: JSON.stringify({ columns: { qty: { min: 0 } } }) });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ rowsCommitted: 2, rowsDeadLettered: 5, records: 7 });
    expect(typeof r.body.snapshotId).toBe('string');
    expect(await count(t)).toBe(2);
    expect(await sql(s.catalog, t, `SELECT id, name, CAST(amount AS VARCHAR), qty FROM t ORDER BY id`)).toEqual([
      [1, 'a', '1.50', 3],
      [7, 'g;h', '3.00', 7],
    ]);
    const letters = await dlq(t);
    expect(letters).toHaveLength(5);
    const errors = letters.map((l) => l[1]).join('\n');
    expect(errors).toMatch(/column qty: .* below the minimum 0/);
    expect(errors).toMatch(/column id: "x" is not/);
    expect(errors).toMatch(/column id: required value is missing/);
    expect(errors).toMatch(/CSV too many columns/);
    expect(errors).toMatch(/column amount: .*decimal\(10, 2\)/);
    expect(letters.every((l) => l[3] === 'upload:orders.csv')).toBe(true);
    expect(letters.find((l) => /CSV too many/.test(l[1]))![2]).toBe('5;e;1;2024-01-01T00:00:00Z;1;extra');
    // The DLQ commit comes first; the data commit (last) records the upload.
    const snaps = (await s.call('GET', '/api/v1/tables/ing/csv/snapshots')).body.snapshots;
    expect(snaps).toHaveLength(1);
  });

  it('uploads NDJSON and a JSON array; bad JSON lines are dead-lettered', async () => {
    const t = await table('nd');
    const nd = ['{"id":1,"name":"a","qty":1}', '{"id":2,', '{"id":"3","name":"c","ts":"2024-05-01T00:00:00Z"}', '', '{"id":4,"qty":"many"}', '[1]'].join('\n');
    const r = await upload('nd', new Blob([nd]), 'x.ndjson');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ rowsCommitted: 2, rowsDeadLettered: 3 });
    const errs = (await dlq(t)).map((l) => l[1]);
    expect(errs[0]).toMatch(/invalid JSON/);
    expect(errs[1]).toMatch(/column qty/);
    expect(errs[2]).toMatch(/not a JSON object/);

    const arr = JSON.stringify([{ id: 10, name: 'j', amount: '9.99' }, { id: 11, amount: 'bad' }, { id: 12 }]);
    const r2 = await upload('nd', new Blob([arr]), 'rows.json');
    expect(r2.status, JSON.stringify(r2.body)).toBe(200);
    expect(r2.body).toMatchObject({ rowsCommitted: 2, rowsDeadLettered: 1 });
    expect(await count(t)).toBe(4);
    expect(await count(t, `id = 10 AND amount = 9.99`)).toBe(1);
  });

  it('uploads Parquet', async () => {
    const t = await table('pq');
    const file = join(s.dir, 'in.parquet');
    await duck.run(
      `COPY (SELECT i::BIGINT AS id, 'n' || i AS name, (i / 4)::DECIMAL(10,2) AS amount, TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL 1 MINUTE AS ts, (i % 7)::INTEGER AS qty FROM range(10000) r(i)) TO ${str(file)} (FORMAT parquet)`,
    );
    const r = await upload('pq', await openAsBlob(file), 'in.parquet');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ rowsCommitted: 10000, rowsDeadLettered: 0, deadLetterSnapshotId: null });
    expect(await sql(s.catalog, t, `SELECT count(*), count(DISTINCT id), sum(qty), CAST(max(ts) AS VARCHAR) FROM t`)).toEqual([[10000, 10000, 29994, '2024-01-07 22:39:00+00']]);
  });

  it('a failed upload commits nothing', async () => {
    const t = await table('fail');
    const bad = await upload('fail', new Blob(['PAR1 definitely not parquet']), 'x.parquet');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/parquet/i);
    const badMap = await upload('fail', new Blob(['id\n1\n']), 'x.csv', { mapping: JSON.stringify({ columns: { nope: 'id' } }) });
    expect(badMap.status).toBe(400);
    const noBoundary = await fetch(`${s.base}/api/v1/tables/ing/fail/ingest?format=csv`, { method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: 'x' });
    expect(noBoundary.status).toBe(400);
    const noFormat = await upload('fail', new Blob(['1']), 'x.bin');
    expect(noFormat.status).toBe(400);
    expect((await s.call('GET', '/api/v1/tables/ing/fail')).body.currentSnapshot).toBeNull();
    expect(await s.catalog.tableExists({ namespace: ['ing'], name: 'fail__dlq' })).toBe(false);
    expect((await upload('nope', new Blob(['id\n1\n']), 'x.csv')).status).toBe(404);
    expect(await count(t)).toBe(0);
  });

  it('pushes rows as JSON and ingests a file from storage', async () => {
    const t = await table('push');
    const r = await s.call('POST', '/api/v1/tables/ing/push/ingest/rows', { rows: [{ id: 1, name: 'a' }, { ident: 2 }, { key: 3, name: 'c' }], mapping: { columns: { id: { from: 'key', default: 0 } } } });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ rowsCommitted: 3, rowsDeadLettered: 0 });
    const r2 = await s.call('POST', '/api/v1/tables/ing/push/ingest/rows', { rows: [{ id: 'z' }] });
    expect(r2.body).toMatchObject({ rowsCommitted: 0, rowsDeadLettered: 1 });
    expect(await sql(s.catalog, t, `SELECT id, name FROM t ORDER BY id, name`)).toEqual([[0, 'a'], [0, null], [3, 'c']]);

    const file = join(s.dir, 'landing', 'stored.csv');
    await mkdir(join(s.dir, 'landing'));
    await writeFile(file, 'id|name\n100|x\n101|y\n');
    const outside = await s.call('POST', '/api/v1/tables/ing/push/ingest/from-storage', { location: file, format: 'csv' });
    expect(outside.status).toBe(400);
    expect(outside.body.error.message).toMatch(/not under the warehouse/);
    expect((await s.call('POST', '/api/v1/tables/ing/push/ingest/from-storage', { location: `${s.dir}/wh/../landing/stored.csv`, format: 'csv' })).status).toBe(400);
    const src = await s.call('POST', '/api/v1/sources/storage', { name: 'landing', type: 'local', uri: join(s.dir, 'landing') });
    expect(src.status, src.text).toBe(201);
    const r3 = await s.call('POST', '/api/v1/tables/ing/push/ingest/from-storage', { location: file, format: 'csv', delimiter: '|' });
    expect(r3.status, r3.text).toBe(200);
    expect(r3.body).toMatchObject({ rowsCommitted: 2, rowsDeadLettered: 0 });
    expect(await count(t, 'id >= 100')).toBe(2);
    const r4 = await s.call('POST', '/api/v1/tables/ing/push/ingest/from-storage', { location: `${file}.missing`, format: 'csv' });
    expect(r4.status).toBe(404);
  });

  it('streams a ~50 MB CSV upload into one commit', async () => {
    const t = await table('big');
    const file = join(s.dir, 'big.csv');
    const N = 900_000;
    await duck.run(
      `COPY (SELECT i AS id, 'customer-' || i || '-' || repeat('x', 8) AS name, (i % 100000) / 4 AS amount, '2024-01-01T00:00:00Z' AS ts, i % 1000 AS qty FROM range(${N}) r(i)) TO ${str(file)} (FORMAT csv, HEADER true)`,
    );
    const size = (await stat(file)).size;
    expect(size).toBeGreaterThan(45 * 1024 * 1024);
    const t0 = Date.now();
    const r = await upload('big', await openAsBlob(file), 'big.csv');
    const ms = Date.now() - t0;
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ rowsCommitted: N, rowsDeadLettered: 0 });
    expect(await sql(s.catalog, t, `SELECT count(*), count(DISTINCT id), sum(qty) FROM t`)).toEqual([[N, N, (N / 1000) * 499500]]);
    process.stderr.write(`50MB CSV: ${(size / 1e6).toFixed(1)} MB, ${N} rows in ${ms} ms (${Math.round(N / (ms / 1000))} rows/s)\n`);
  }, 300_000);
});
