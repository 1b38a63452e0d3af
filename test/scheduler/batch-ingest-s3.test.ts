import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnStore } from '../../src/api/own/store.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { QueryEngine } from '../../src/query/engine.js';
import { SchedulerRunner } from '../../src/scheduler/runner.js';
import { S3FileIO } from '../../src/storage/s3.js';
import { schema } from '../maintenance/support.js';
import { startMoto, type Moto } from '../support/moto.js';
import { ended, runOf, sqliteEnv, type Env } from './support.js';

/**
 * A batch-ingest job over an S3 prefix (moto): the local warehouse's FileIO cannot read s3://, so
 * the job must reach the bucket through the registered storage source's endpoint and credentials.
 */
describe('scheduler: batch-ingest from S3 through a registered storage source', () => {
  let moto: Moto;
  let env: Env;
  let runner: SchedulerRunner;
  let io: S3FileIO;
  beforeAll(async () => {
    moto = await startMoto();
    await moto.createBucket('landing');
    io = new S3FileIO(moto.s3Options);
    env = await sqliteEnv();
    await env.catalog.createNamespace(['db']);
    const id = { namespace: ['db'], name: 'orders' };
    await env.catalog.createTable(id, newTableMetadata({ schema, location: env.catalog.defaultTableLocation(id) }));
    const own = new OwnStore(env.store.db, env.store.catalogName);
    await own.createSource(
      'storage',
      'landing-s3',
      { type: 's3', uri: 's3://landing/orders', s3: { endpoint: moto.endpoint, region: moto.region, accessKeyId: moto.accessKeyId, pathStyle: true } },
      { 's3.secretAccessKey': moto.secretAccessKey },
    );
    runner = new SchedulerRunner(env.catalog, env.store, { pollMs: 100 }).start();
  }, 300_000);
  afterAll(async () => {
    await runner?.stop();
    await env?.close();
    io?.destroy();
    await moto?.stop();
  });

  it('ingests each object under the prefix once', async () => {
    const put = (key: string, lines: object[]) => io.write(`s3://landing/orders/${key}`, new TextEncoder().encode(lines.map((l) => JSON.stringify(l)).join('\n')));
    await put('2026/12/01/a.ndjson', [{ id: 1, cat: 'a', v: 1.5 }, { id: 2, cat: 'b', v: 2.5 }]);
    await put('2026/12/02/b.ndjson', [{ id: 3, cat: 'c', v: 3.5 }]);
    const job = await env.store.createJob({ name: 's3', kind: 'batch-ingest', params: { namespace: 'db', table: 'orders', path: 's3://landing/orders/' }, intervalSeconds: 3600 });
    const run = async () => runOf(env.store, (await env.store.runNow(job.id)).id, ended, 60_000);
    const r1 = await run();
    expect(r1.status, r1.error ?? '').toBe('succeeded');
    expect([r1.rowsAffected, r1.filesAffected]).toEqual([3, 2]);
    expect(r1.logs.map((l) => l.message).join('\n')).toMatch(/2 files at s3:\/\/landing\/orders\/ \(via source:landing-s3\)/);
    await put('2026/12/03/c.ndjson', [{ id: 4, cat: 'a', v: 4.5 }]);
    const r2 = await run();
    expect([r2.status, r2.rowsAffected, r2.filesAffected]).toEqual(['succeeded', 1, 1]);
    const q = await new QueryEngine(env.catalog).query('SELECT count(*), sum(v) FROM db.orders');
    expect(q.rows).toEqual([[4, 12]]);
  }, 120_000);
});
