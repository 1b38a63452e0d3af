import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../../src/duck/result-json.js';
import { BIN, REPO_ROOT, runCli } from '../support/cli.js';
import { valuesEqual } from '../support/fixtures.js';
import { freePort, spawnPeer, waitUntil, type Peer } from '../support/process.js';
import { runPython } from './python.js';

// Apache Spark 3.5 (PySpark from .venv + iceberg-spark-runtime from Maven Central, fetched by
// scripts/spark/runtime-jar.sh) as a client of `lakehouse serve` with authentication on: Spark
// signs in with OAuth2 client credentials (`credential=<id>:<secret>` of the bootstrap API key,
// exchanged at /v1/oauth/tokens), and without them is refused. Spark creates a days(ts)-partitioned
// table, inserts, MERGEs and DELETEs (merge-on-read: position deletes); our SQL engine reads the same
// rows over the same catalog store; we INSERT with our SQL and a new Spark session sees it.

interface SparkRows {
  columns: string[];
  rows: JsonValue[][];
  timings: { session_start: number; work: number };
  delete_files?: [number, string, number][];
  snapshots?: string[];
  partitions?: number;
}

const TABLE = 'sparkns.events';
const CATS = ['a', 'b', 'c'];
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const T0 = Date.UTC(2024, 4, 1);

/** What the Spark writer's INSERT + MERGE + DELETE leave (see spark-rest.py). */
const EXPECTED: JsonValue[][] = [...Array(25).keys()]
  .filter((id) => id % 7 !== 3)
  .map((id) =>
    id < 15
      ? [id, CATS[id % 3], iso(T0 + id * 6 * 3600_000), (id * 0.25).toFixed(2), null]
      : id < 20
        ? [id, CATS[id % 3], iso(T0 + id * 6 * 3600_000), null, `m${id}`]
        : [id, 'z', '2024-05-10T12:00:00Z', id.toFixed(2), `m${id}`],
  );

function expectRows(actual: JsonValue[][], expected: JsonValue[][]): void {
  if (!valuesEqual(actual, expected)) expect(actual).toEqual(expected);
}

describe('Spark (Iceberg Spark runtime) against the lakehouse REST catalog', () => {
  let dir: string;
  let server: Peer;
  let uri: string;
  let jar: string;
  let env: NodeJS.ProcessEnv;
  let credential: string;
  beforeAll(async () => {
    const t = Date.now();
    jar = (await promisify(execFile)(join(REPO_ROOT, 'scripts/spark/runtime-jar.sh'), [], { timeout: 300_000 })).stdout.trim();
    console.log(`spark runtime jar ready in ${Date.now() - t} ms (${(statSync(jar).size / 2 ** 20).toFixed(1)} MiB)`);
    dir = mkdtempSync(join(tmpdir(), 'lh-spark-rest-'));
    const warehouse = join(dir, 'warehouse');
    const catalogUrl = `sqlite:${join(dir, 'catalog.db')}`;
    const port = await freePort();
    uri = `http://127.0.0.1:${port}`;
    env = { ...process.env, LAKEHOUSE_WAREHOUSE: warehouse, LAKEHOUSE_CATALOG_URL: catalogUrl, LAKEHOUSE_LOG_LEVEL: 'warn' };
    delete env.LAKEHOUSE_AUTH_ANONYMOUS;
    server = spawnPeer(process.execPath, [BIN, 'serve'], { env: { ...env, LAKEHOUSE_PORT: String(port) } });
    await waitUntil(server, 'lakehouse serve', async () => /credential=\S+/.test(server.output()) && (await fetch(`${uri}/health`).catch(() => null))?.ok === true, 60_000);
    credential = /credential=(\S+)/.exec(server.output())![1];
    // Our side runs its SQL through the same service (`lakehouse sql --url`) with the bootstrap admin key.
    env.LAKEHOUSE_TOKEN = /Bearer (lhk_\S+)/.exec(server.output())![1];
  }, 360_000);
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let written: SparkRows | undefined;

  it('the catalog refuses a client without credentials or with a wrong secret', async () => {
    expect((await fetch(`${uri}/v1/namespaces`)).status).toBe(401);
    const [id] = credential.split(':');
    const bad = await fetch(`${uri}/v1/oauth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: 'wrong', scope: 'catalog' }),
    });
    expect(bad.status).toBe(401);
  });

  it('Spark creates a days(ts)-partitioned table, inserts, merges and deletes (merge-on-read) through the server', async () => {
    const res = await runPython('spark-rest.py', ['write', uri, jar, TABLE, credential], { timeoutMs: 150_000 });
    written = JSON.parse(res.stdout) as SparkRows;
    console.log(`spark write: ${JSON.stringify(written.timings)}`);
    expect(written.columns).toEqual(['id', 'cat', 'ts', 'amount', 'note']);
    expectRows(written.rows, EXPECTED);
    expect(written.snapshots).toEqual(['append', 'overwrite', 'delete']);
    expect(written.delete_files!.length).toBeGreaterThan(0);
    expect(written.delete_files!.every(([content, format]) => content === 1 && format === 'PARQUET')).toBe(true);
    expect(written.partitions).toBe(6);
  }, 180_000);

  it('our SQL engine reads the rows Spark wrote (position deletes applied)', async () => {
    expect(written, 'previous test failed').toBeDefined();
    const res = await runCli(['sql', `SELECT * FROM ${TABLE} ORDER BY id`, '--format', 'json', '--url', uri], { env });
    expect(res.stderr).toBe('');
    const out = JSON.parse(res.stdout);
    expect(out.columns.map((c: { name: string }) => c.name)).toEqual(written!.columns);
    expectRows(out.rows, EXPECTED);
  });

  it('Spark sees what our SQL appended', async () => {
    expect(written, 'previous test failed').toBeDefined();
    const ins = await runCli(
      ['sql', `INSERT INTO ${TABLE} VALUES (100, 'ours', TIMESTAMPTZ '2024-06-01 00:00:00+00', 1.50, 'lh'), (101, 'ours', TIMESTAMPTZ '2024-06-02 06:00:00+00', NULL, NULL)`, '--url', uri],
      { env },
    );
    expect(ins.stderr).toBe('');
    expect(ins.code).toBe(0);
    const res = await runPython('spark-rest.py', ['read', uri, jar, TABLE, credential], { timeoutMs: 150_000 });
    const read = JSON.parse(res.stdout) as SparkRows;
    console.log(`spark read: ${JSON.stringify(read.timings)}`);
    expectRows(read.rows, [...EXPECTED, [100, 'ours', '2024-06-01T00:00:00Z', '1.50', 'lh'], [101, 'ours', '2024-06-02T06:00:00Z', null, null]]);
  }, 180_000);
});
