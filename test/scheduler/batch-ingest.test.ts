import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnStore } from '../../src/api/own/store.js';
import { Duck } from '../../src/duck/db.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { QueryEngine } from '../../src/query/engine.js';
import { validateParams } from '../../src/scheduler/executors.js';
import { SchedulerRunner } from '../../src/scheduler/runner.js';
import type { RunRecord } from '../../src/scheduler/store.js';
import { schema } from '../maintenance/support.js';
import { ended, runOf, sqliteEnv, type Env } from './support.js';

/** Real batch-ingest jobs: local files through a registered storage source, and an HTTP server. */
describe('scheduler: batch-ingest jobs', () => {
  let env: Env;
  let runner: SchedulerRunner;
  let landing: string;
  beforeAll(async () => {
    env = await sqliteEnv();
    await env.catalog.createNamespace(['db']);
    for (const name of ['files', 'web', 'other']) {
      const id = { namespace: ['db'], name };
      await env.catalog.createTable(id, newTableMetadata({ schema, location: env.catalog.defaultTableLocation(id) }));
    }
    landing = `${env.dir}/landing`;
    mkdirSync(`${landing}/2026/12`, { recursive: true });
    await new OwnStore(env.store.db, env.store.catalogName).createSource('storage', 'landing', { type: 'local', uri: landing }, {});
    runner = new SchedulerRunner(env.catalog, env.store, { pollMs: 100 }).start();
  }, 60_000);
  afterAll(async () => {
    await runner?.stop();
    await env?.close();
  });

  const count = async (t: string, what = 'count(*)') => Number((await new QueryEngine(env.catalog).query(`SELECT ${what} FROM db.${t}`)).rows[0][0]);
  const runJob = async (id: string): Promise<RunRecord> => runOf(env.store, (await env.store.runNow(id)).id, ended, 60_000);
  const logText = (r: RunRecord) => r.logs.map((l) => l.message).join('\n');
  const csv = (from: number, n: number) => `id,cat,v\n${Array.from({ length: n }, (_, i) => `${from + i},${'abc'[(from + i) % 3]},${(from + i) / 2}`).join('\n')}\n`;

  it('a glob of local files: each file once, new files on later runs, bad rows dead-lettered', async () => {
    writeFileSync(`${landing}/2026/12/a.csv`, csv(0, 100));
    writeFileSync(`${landing}/2026/12/b.csv`, csv(100, 50));
    writeFileSync(`${landing}/2026/12/notes.txt`, 'not data');
    writeFileSync(`${landing}/2026/12/_SUCCESS`, '');
    const job = await env.store.createJob({ name: 'files', kind: 'batch-ingest', params: { namespace: 'db', table: 'files', path: `${landing}/**/*.csv` }, intervalSeconds: 3600 });
    const r1 = await runJob(job.id);
    expect(r1.status, r1.error ?? '').toBe('succeeded');
    expect([r1.rowsAffected, r1.filesAffected]).toEqual([150, 2]);
    expect(logText(r1)).toMatch(/2 files at .* \(via source:landing\)/);
    expect(await count('files')).toBe(150);

    // Nothing new: the run is a no-op (idempotent).
    const r2 = await runJob(job.id);
    expect([r2.status, r2.rowsAffected, r2.filesAffected]).toEqual(['succeeded', 0, 0]);
    expect(logText(r2)).toMatch(/2 files ingested before, skipped/);
    expect(await count('files')).toBe(150);

    // A new file (with one row that cannot be cast) lands; only it is ingested.
    writeFileSync(`${landing}/2026/12/c.csv`, `${csv(150, 30)}oops,a,1\n`);
    const r3 = await runJob(job.id);
    expect([r3.status, r3.rowsAffected, r3.filesAffected]).toEqual(['succeeded', 30, 1]);
    expect(logText(r3)).toMatch(/c\.csv: 30 rows, 1 dead letters/);
    expect(await count('files')).toBe(180);
    expect(await count('files', 'count(DISTINCT id)')).toBe(180);
    expect(await count('files__dlq')).toBe(1);

    // A commit whose ledger entry was lost (crash between the two) is found in the table's history.
    await (env.store.db as Kysely<any>).deleteFrom('lakehouse_ingested_files').where('location', 'like', '%c.csv').execute();
    const r4 = await runJob(job.id);
    expect([r4.status, r4.filesAffected]).toEqual(['succeeded', 0]);
    expect(logText(r4)).toMatch(/c\.csv was committed \(snapshot \d+\) but missing from the ingest ledger/);
    expect(await count('files')).toBe(180);
  }, 120_000);

  it('refuses paths outside the warehouse and registered sources; bad params fail validation', async () => {
    const outside = `${env.dir}/elsewhere`;
    mkdirSync(outside);
    writeFileSync(`${outside}/x.csv`, csv(0, 1));
    const job = await env.store.createJob({ name: 'outside', kind: 'batch-ingest', params: { namespace: 'db', table: 'other', path: `${outside}/x.csv` }, intervalSeconds: 3600 });
    const r = await runJob(job.id);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(/\[VALIDATION_FAILED\] location .* is not under the warehouse or a registered storage source/);
    const sneaky = await env.store.createJob({ name: 'dots', kind: 'batch-ingest', params: { namespace: 'db', table: 'other', path: `${landing}/../elsewhere/x.csv` }, intervalSeconds: 3600 });
    expect((await runJob(sneaky.id)).error).toMatch(/\.\. segments/);
    expect(await count('other')).toBe(0);
    expect(() => validateParams('batch-ingest', { namespace: 'db', table: 'x' })).toThrow(/exactly one of params.path .* and params.url/);
    expect(() => validateParams('batch-ingest', { namespace: 'db', table: 'x', url: 'ftp://h/x.csv' })).toThrow(/http or https/);
    expect(() => validateParams('batch-ingest', { namespace: 'db', table: 'x', path: '/a', format: 'xml' })).toThrow(/params.format/);
  }, 60_000);

  describe('from an HTTP URL', () => {
    let server: Server;
    let base: string;
    const requests: string[] = [];
    const files = new Map<string, { body: Buffer; etag: string }>();
    beforeAll(async () => {
      server = createServer((req, res) => {
        requests.push(req.url ?? '');
        const f = files.get(req.url ?? '');
        if (!f) {
          res.writeHead(404).end('no such file');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream', etag: f.etag, 'content-length': f.body.length }).end(f.body);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      // A Parquet export (written by DuckDB) and an NDJSON feed.
      const duck = await Duck.open({ threads: 1 });
      try {
        const pq = `${env.dir}/export.parquet`;
        await duck.run(`COPY (SELECT range AS id, 'p' AS cat, range * 1.5 AS v FROM range(1000, 1400)) TO '${pq}' (FORMAT parquet)`);
        files.set('/exports/day.parquet', { body: readFileSync(pq), etag: '"p1"' });
      } finally {
        duck.close();
      }
      files.set('/feed', { body: Buffer.from(Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: 5000 + i, cat: 'n', v: i })).join('\n')), etag: '"f1"' });
    });
    afterAll(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

    it('a Parquet URL is ingested once; later runs do not fetch it again', async () => {
      const job = await env.store.createJob({ name: 'web-parquet', kind: 'batch-ingest', params: { namespace: 'db', table: 'web', url: `${base}/exports/day.parquet` }, intervalSeconds: 3600 });
      const r1 = await runJob(job.id);
      expect(r1.status, r1.error ?? '').toBe('succeeded');
      expect([r1.rowsAffected, r1.filesAffected]).toEqual([400, 1]);
      const fetched = requests.length;
      const r2 = await runJob(job.id);
      expect([r2.status, r2.rowsAffected, r2.filesAffected]).toEqual(['succeeded', 0, 0]);
      expect(requests.length).toBe(fetched);
      expect(await count('web')).toBe(400);
      expect(await count('web', 'sum(v)')).toBe(Array.from({ length: 400 }, (_, i) => (1000 + i) * 1.5).reduce((a, b) => a + b, 0));
    }, 60_000);

    it('reingestChanged: a changed resource (new ETag) is ingested again, an unchanged one is not', async () => {
      const job = await env.store.createJob({ name: 'web-feed', kind: 'batch-ingest', params: { namespace: 'db', table: 'web', url: `${base}/feed`, format: 'ndjson', reingestChanged: true }, intervalSeconds: 3600 });
      expect((await runJob(job.id)).rowsAffected).toBe(20);
      const same = await runJob(job.id);
      expect([same.status, same.rowsAffected]).toEqual(['succeeded', 0]);
      expect(logText(same)).toMatch(/ingested before, skipped/);
      files.set('/feed', { body: Buffer.from(JSON.stringify({ id: 6000, cat: 'n', v: 1 })), etag: '"f2"' });
      const changed = await runJob(job.id);
      expect([changed.status, changed.rowsAffected, changed.filesAffected]).toEqual(['succeeded', 1, 1]);
      expect(await count('web')).toBe(421);
    }, 60_000);

    it('a missing URL fails the run with NOT_FOUND and commits nothing', async () => {
      const job = await env.store.createJob({ name: 'web-404', kind: 'batch-ingest', params: { namespace: 'db', table: 'web', url: `${base}/nothing.csv` }, intervalSeconds: 3600 });
      const r = await runJob(job.id);
      expect(r.status).toBe('failed');
      expect(r.error).toMatch(/\[NOT_FOUND\] GET .*\/nothing\.csv: HTTP 404/);
      expect(await count('web')).toBe(421);
    }, 60_000);
  });
});
