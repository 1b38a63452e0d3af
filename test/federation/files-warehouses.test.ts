import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { fileIOFor } from '../../src/storage/registry.js';
import { startServer, type Call } from '../support/http.js';
import { startMoto, type Moto } from '../support/moto.js';

/**
 * One warehouse per storage location, and file sources, over real HTTP with S3 (moto): the
 * default warehouse is a local directory, namespace `cloud` keeps its tables on S3 (its
 * `location` property), and one SQL query joins a local table, an S3 table and files (a local
 * CSV, Parquet files under an S3 prefix) registered as an external source.
 */
describe('tables in different warehouses and file sources in one query', () => {
  let moto: Moto;
  let dir: string;
  let catalog: SqlCatalog;
  let app: FastifyInstance;
  let call: Call;
  const ok = (r: { status: number; text: string }, status = 200) => expect(r.status, r.text).toBe(status);
  const sql = (text: string) => call('POST', '/api/v1/queries', { sql: text });
  const s3 = () => ({ s3: { ...moto.s3Options } });

  beforeAll(async () => {
    moto = await startMoto();
    await moto.createBucket('lake2');
    dir = mkdtempSync(join(tmpdir(), 'lh-fed-'));
    mkdirSync(`${dir}/wh`);
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh`, storage: s3() });
    ({ app, call } = await startServer({ catalog, logLevel: 'silent', security: { anonymous: true } }));

    const field = (id: number, name: string, type: string) => ({ id, name, type, required: false });
    ok(await call('POST', '/v1/lakehouse/namespaces', { namespace: ['crm'] }));
    ok(await call('POST', '/v1/lakehouse/namespaces', { namespace: ['cloud'], properties: { location: 's3://lake2/warehouse/cloud' } }));
    ok(await call('POST', '/v1/lakehouse/namespaces/crm/tables', { name: 'customers', schema: { type: 'struct', 'schema-id': 0, fields: [field(1, 'id', 'long'), field(2, 'name', 'string'), field(3, 'region', 'string')] } }));
    ok(await call('POST', '/v1/lakehouse/namespaces/cloud/tables', { name: 'orders', schema: { type: 'struct', 'schema-id': 0, fields: [field(1, 'id', 'long'), field(2, 'customer_id', 'long'), field(3, 'amount', 'double')] } }));
    ok(await sql("INSERT INTO crm.customers VALUES (1, 'ann', 'eu'), (2, 'bob', 'us'), (3, 'cat', 'eu')"));
    ok(await sql('INSERT INTO cloud.orders VALUES (10, 1, 5.0), (11, 1, 7.5), (12, 2, 100.0), (13, 3, 1.0)'));

    // Files: a local CSV, and Parquet files under an S3 prefix (written by DuckDB, uploaded through our FileIO).
    writeFileSync(`${dir}/regions.csv`, 'region,label,vat\neu,Europe,0.2\nus,United States,0.0\napac,Asia-Pacific,0.1\n');
    const duck = await Duck.open();
    try {
      await duck.run(`COPY (SELECT * FROM (VALUES (1, 90), (2, 40)) t(customer_id, score)) TO '${dir}/s1.parquet' (FORMAT parquet)`);
      await duck.run(`COPY (SELECT * FROM (VALUES (3, 75)) t(customer_id, score)) TO '${dir}/s2.parquet' (FORMAT parquet)`);
    } finally {
      duck.close();
    }
    const io = fileIOFor('s3://lake2/', s3());
    await io.putLocalFile(`${dir}/s1.parquet`, 's3://lake2/scores/part-1.parquet');
    await io.putLocalFile(`${dir}/s2.parquet`, 's3://lake2/scores/part-2.parquet');
    await io.write('s3://lake2/scores/README.txt', new TextEncoder().encode('not a parquet file'));
    writeFileSync(`${dir}/tiers.json`, '{"region":"eu","tier":"gold"}\n{"region":"us","tier":"silver"}\n');
    ok(
      await call('POST', '/api/v1/external-sources', {
        name: 'files1',
        kind: 'files',
        files: {
          tables: [
            { name: 'regions', location: `${dir}/regions.csv`, format: 'csv' },
            { schema: 'cloud', name: 'scores', location: 's3://lake2/scores/', format: 'parquet' },
            { name: 'tiers', location: `${dir}/tiers.json`, format: 'json' },
          ],
        },
      }),
      201,
    );
  }, 300_000);

  afterAll(async () => {
    await app?.close();
    await catalog?.close();
    await moto?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('puts a namespace with a location on its own storage', async () => {
    const local = await call('GET', '/v1/lakehouse/namespaces/crm/tables/customers');
    const remote = await call('GET', '/v1/lakehouse/namespaces/cloud/tables/orders');
    ok(local);
    ok(remote);
    expect(local.body['metadata-location']).toMatch(new RegExp(`^${dir}/wh/`));
    expect(remote.body.metadata.location).toBe('s3://lake2/warehouse/cloud/orders');
    expect(remote.body['metadata-location']).toMatch(/^s3:\/\/lake2\/warehouse\/cloud\/orders\/metadata\//);
    const files = await fileIOFor('s3://lake2/', s3()).list('s3://lake2/warehouse/cloud/orders/data/');
    expect(files.length).toBeGreaterThan(0);
  });

  it('joins a table on local storage with a table on S3', async () => {
    const res = await sql('SELECT c.name, sum(o.amount) FROM crm.customers c JOIN cloud.orders o ON o.customer_id = c.id GROUP BY c.name ORDER BY c.name');
    ok(res);
    expect(res.body.rows).toEqual([
      ['ann', 12.5],
      ['bob', 100],
      ['cat', 1],
    ]);
  });

  it('joins file sources (local CSV, JSON, Parquet on S3) with Iceberg tables on both storages', async () => {
    const res = await sql(
      `SELECT c.name, r.label, s.score, t.tier, sum(o.amount) AS total
         FROM crm.customers c
         JOIN cloud.orders o ON o.customer_id = c.id
         JOIN files1.main.regions r ON r.region = c.region
         JOIN files1.cloud.scores s ON s.customer_id = c.id
         LEFT JOIN files1.main.tiers t ON t.region = c.region
        WHERE r.region = 'eu' AND s.score >= 50
        GROUP BY ALL ORDER BY c.name`,
    );
    ok(res);
    expect(res.body.rows).toEqual([
      ['ann', 'Europe', 90, 'gold', 12.5],
      ['cat', 'Europe', 75, 'gold', 1],
    ]);
    type Scan = { table: string; columns: string[]; sql: string; filterPushed: boolean; rows: number };
    const scans = Object.fromEntries((res.body.stats.external as Scan[]).map((x) => [x.table, x]));
    const regions = scans['files1.main.regions'];
    // Projection: `vat` is never read; filter: only the EU row is loaded.
    expect(regions.columns).toEqual(['region', 'label']);
    expect(regions.filterPushed).toBe(true);
    expect(regions.sql).toContain(`WHERE "region" = 'eu'`);
    expect(regions.rows).toBe(1);
    const scores = scans['files1.cloud.scores'];
    expect(scores.filterPushed).toBe(true);
    expect(scores.rows).toBe(2);
    expect(scores.sql).toContain('read_parquet');
    // The nullable side of the LEFT JOIN: nothing pushed.
    expect(scans['files1.main.tiers'].filterPushed).toBe(false);
  });

  it('refuses a file table the source does not define', async () => {
    expect((await sql('SELECT * FROM files1.main.nosuch')).status).toBe(404);
    const bad = await call('POST', '/api/v1/external-sources', { name: 'files2', kind: 'files', files: { tables: [{ name: 'x', location: 'ftp://host/x.csv', format: 'csv' }] } });
    expect(bad.status).toBe(400);
  });
});
