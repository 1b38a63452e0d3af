import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../support/cli.js';
import { freePort, optionalPeer, spawnPeer, waitUntil, type Peer } from '../support/process.js';
import { REPO_ROOT } from '../support/moto.js';
import { startTrino, type Trino } from '../support/trino.js';

// Trino 476 (trino-server-core + the Iceberg plugin from Maven Central, on Java 25) as a client of
// `lakehouse serve` with OAuth2 client credentials: Trino reads a table our SQL wrote (with our
// position deletes), Trino creates a partitioned table (CTAS), inserts, deletes and updates, and our
// SQL reads Trino's writes; then Trino sees our append to its table.
//
// Two things Trino needs from the service, both in docs/engines.md: a `file://` warehouse (Trino's
// file systems refuse schemeless paths) and a `location` on the namespaces Trino creates tables in
// (without one Trino commits the table eagerly and then refuses its own non-empty location): the
// service reports one for every namespace, so a plain CREATE SCHEMA is enough.
//
// Runs when Trino is prepared (~515 MiB downloaded by `scripts/start-trino.sh --prepare`, which
// .ci/run does) and a Java 24+ is found; skipped otherwise, so a plain `npm test` on a fresh
// machine does not download it. LAKEHOUSE_TRINO=1 runs it regardless (failing when Trino cannot
// start), LAKEHOUSE_TRINO=0 skips it.
const suite = optionalPeer(join(REPO_ROOT, 'scripts/start-trino.sh'), 'LAKEHOUSE_TRINO', 'trino.test.ts (Trino 476, needs Java 24+)') ? describe : describe.skip;

/** Trino renders timestamp with time zone as '2024-01-01 00:00:00.000 UTC'; ours is ISO 8601. */
const isoOfTrino = (v: unknown) => (typeof v === 'string' && / UTC$/.test(v) ? `${v.replace(' UTC', '').replace(' ', 'T').replace(/\.0+$/, '')}Z` : v);

suite('Trino (Iceberg connector) against the lakehouse REST catalog', () => {
  let dir: string;
  let warehouse: string;
  let server: Peer;
  let uri: string;
  let adminKey: string;
  let trino: Trino;

  const sql = async (statement: string) => {
    const res = await fetch(`${uri}/api/v1/queries`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sql: statement }),
    });
    const body = (await res.json()) as { columns: { name: string }[]; rows: unknown[][]; error?: { message: string } };
    if (!res.ok) throw new Error(`${statement}: HTTP ${res.status} ${body.error?.message}`);
    return body;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-trino-'));
    mkdirSync(join(dir, 'warehouse'));
    warehouse = `file://${join(dir, 'warehouse')}`;
    const port = await freePort();
    uri = `http://127.0.0.1:${port}`;
    server = spawnPeer(process.execPath, [BIN, 'serve'], {
      env: {
        ...process.env,
        LAKEHOUSE_PORT: String(port),
        LAKEHOUSE_WAREHOUSE: warehouse,
        LAKEHOUSE_CATALOG_URL: `sqlite:${join(dir, 'catalog.db')}`,
        LAKEHOUSE_LOG_LEVEL: 'warn',
      },
    });
    await waitUntil(server, 'lakehouse serve', async () => /credential=\S+/.test(server.output()) && (await fetch(`${uri}/health`)).ok, 60_000);
    adminKey = /Bearer (lhk_\S+)/.exec(server.output())![1];
    const credential = /credential=(\S+)/.exec(server.output())![1];
    trino = await startTrino({ rest: uri, credential });
    console.log(`trino ready in ${trino.startMs} ms, JVM RSS ${Math.round(((await trino.rssKb()) ?? 0) / 1024)} MiB`);
  }, 400_000);
  afterAll(async () => {
    if (trino) console.log(`trino JVM RSS at the end ${Math.round(((await trino.rssKb()) ?? 0) / 1024)} MiB`);
    await trino?.stop();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('Trino reads a table our SQL wrote, with our position deletes applied', async () => {
    await fetch(`${uri}/v1/lakehouse/namespaces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ namespace: ['ours'] }),
    });
    await sql(
      `CREATE TABLE ours.events AS SELECT i::INT AS id, i::BIGINT * 10000000000 AS big, 'n' || i AS name, (i * 1.25)::DECIMAL(10,2) AS amount,
         i / 4 AS ratio, i % 2 = 0 AS even, DATE '2024-02-01' + i::INT AS day, TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_hours(i::INT) AS ts,
         CASE WHEN i = 3 THEN NULL ELSE 'x' END AS maybe FROM range(6) r(i)`,
    );
    await sql(`INSERT INTO ours.events VALUES (10, 70000000000, 'ten', 9.99, 0.5, true, DATE '2024-03-01', TIMESTAMPTZ '2024-03-01 12:30:00+00', 'y')`);
    await sql('DELETE FROM ours.events WHERE id = 2');
    const res = await trino.query('SELECT * FROM lakehouse.ours.events ORDER BY id');
    expect(res.columns.map((c) => `${c.name} ${c.type}`)).toEqual([
      'id integer', 'big bigint', 'name varchar', 'amount decimal(10, 2)', 'ratio double', 'even boolean', 'day date',
      'ts timestamp with time zone', 'maybe varchar',
    ]);
    const ours = await sql('SELECT * FROM ours.events ORDER BY id');
    expect(ours.rows.map((r) => r[0])).toEqual([0, 1, 3, 4, 5, 10]);
    // Same rows, compared value by value in a common rendering (numbers, decimal strings, ISO times).
    const norm = (rows: unknown[][]) => rows.map((r) => r.map(isoOfTrino));
    expect(norm(res.rows)).toEqual(norm(ours.rows));
    expect(res.rows.find((r) => r[0] === 10)).toEqual([10, 70000000000, 'ten', '9.99', 0.5, true, '2024-03-01', '2024-03-01 12:30:00.000 UTC', 'y']);
  });

  it('Trino creates (CTAS, partitioned), inserts, deletes and updates; our SQL reads what it wrote', async () => {
    await trino.query('CREATE SCHEMA lakehouse.tr');
    const ctas = await trino.query(
      "CREATE TABLE lakehouse.tr.copy WITH (partitioning = ARRAY['day(ts)']) AS SELECT id, name, amount * 2 AS amount2, ts FROM lakehouse.ours.events WHERE id < 10",
    );
    expect(ctas.updateCount).toBe(5);
    expect((await trino.query("INSERT INTO lakehouse.tr.copy VALUES (100, 'trino', DECIMAL '9.50', TIMESTAMP '2024-03-01 10:00:00 UTC')")).updateCount).toBe(1);
    expect((await trino.query('DELETE FROM lakehouse.tr.copy WHERE id = 3')).updateCount).toBe(1);
    expect((await trino.query("UPDATE lakehouse.tr.copy SET name = 'upd' WHERE id = 4")).updateCount).toBe(1);
    const ours = await sql('SELECT id, name, amount2, ts FROM tr.copy ORDER BY id');
    expect(ours.rows).toEqual([
      [0, 'n0', '0.00', '2024-01-01T00:00:00Z'],
      [1, 'n1', '2.50', '2024-01-01T01:00:00Z'],
      [4, 'upd', '10.00', '2024-01-01T04:00:00Z'],
      [5, 'n5', '12.50', '2024-01-01T05:00:00Z'],
      [100, 'trino', '9.50', '2024-03-01T10:00:00Z'],
    ]);
    // Trino's partition spec (day(ts)) is the table's, as our catalog stores it.
    const meta = (await (await fetch(`${uri}/v1/lakehouse/namespaces/tr/tables/copy`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as {
      metadata: { 'partition-specs': { fields: { transform: string }[] }[] };
    };
    expect(meta.metadata['partition-specs'].at(-1)!.fields.map((f) => f.transform)).toEqual(['day']);
  });

  it('Trino sees our append to its table', async () => {
    await sql(`INSERT INTO tr.copy VALUES (200, 'ours', 1.00, TIMESTAMPTZ '2024-04-01 00:00:00+00')`);
    const res = await trino.query('SELECT id, name, CAST(amount2 AS varchar), ts FROM lakehouse.tr.copy WHERE id >= 100 ORDER BY id');
    expect(res.rows.map((r) => r.map(isoOfTrino))).toEqual([
      [100, 'trino', '9.50', '2024-03-01T10:00:00Z'],
      [200, 'ours', '1.00', '2024-04-01T00:00:00Z'],
    ]);
  });
});
