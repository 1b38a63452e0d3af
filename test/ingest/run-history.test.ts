/**
 * Ingestion job run history survives a restart of the service: runs are written to the catalog
 * store (migration 0011), read back by a new service process on the same catalog database over
 * the REST API, and run numbers continue from there. Real Kafka broker, real HTTP.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/server.js';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { produce, record } from './support.js';
import { waitFor } from '../support/wait.js';

interface Service {
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

async function startService(dir: string): Promise<Service> {
  const catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
  const app = await buildServer({ catalog, logLevel: 'error', security: { anonymous: true, bootstrapOut: { write: () => true } } });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    async call(method, path, body) {
      const res = await fetch(`${base}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async close() {
      await app.close();
      await catalog.close();
    },
  };
}


describe('ingestion run history (persisted)', () => {
  let kafka: KafkaBroker;
  let dir: string;

  beforeAll(async () => {
    kafka = await startKafka();
    dir = mkdtempSync(join(tmpdir(), 'lh-runs-'));
    mkdirSync(`${dir}/wh`);
  }, 300_000);
  afterAll(async () => {
    await kafka?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs (rows, dead letters, commits, last commit, end state) survive a service restart; run numbers continue', async () => {
    const topic = 'runs-events';
    await produce(kafka.bootstrap, topic, (i) => (i % 100 === 0 ? `bad ${i}` : record(i)), 0, 2000);
    let svc = await startService(dir);
    let path = '';
    try {
      const t = await svc.call('POST', '/api/v1/tables', {
        namespace: 'runs', name: 'events',
        columns: [{ name: 'id', type: 'long', required: true }, { name: 'name', type: 'string' }, { name: 'amount', type: 'decimal(10,2)' }, { name: 'ts', type: 'timestamptz' }],
      });
      expect(t.status).toBe(201);
      const src = await svc.call('POST', '/api/v1/sources/kafka', { name: 'local', bootstrapServers: [kafka.bootstrap] });
      const job = await svc.call('POST', '/api/v1/ingestion-jobs', {
        name: 'runs', sourceId: src.body.id, topics: [topic], target: { namespace: 'runs', table: 'events' }, mapping: { commit: { intervalMs: 300 } }, schedule: 'manual',
      });
      expect(job.status).toBe(201);
      path = `/api/v1/ingestion-jobs/${job.body.id}`;
      expect((await svc.call('POST', `${path}/start`)).status).toBe(200);
      await waitFor('lag 0', async () => (await svc.call('GET', `${path}/status`)).body.totalLag === '0');
      expect((await svc.call('POST', `${path}/stop`)).body.state).toBe('stopped');
      // A run that is still going when the process stops: the stop ends it.
      await produce(kafka.bootstrap, topic, record, 2000, 2500);
      expect((await svc.call('POST', `${path}/start`)).status).toBe(200);
      await waitFor('lag 0 again', async () => (await svc.call('GET', `${path}/status`)).body.totalLag === '0');
    } finally {
      await svc.close();
    }

    svc = await startService(dir);
    try {
      const runs = (await svc.call('GET', `${path}/runs`)).body.runs;
      expect(runs.map((r: any) => [r.runId, r.state])).toEqual([[2, 'stopped'], [1, 'stopped']]);
      expect(runs[1]).toMatchObject({ rowsCommitted: 1980, deadLetters: 20 });
      expect(runs[0]).toMatchObject({ rowsCommitted: 500, deadLetters: 0 });
      for (const r of runs) {
        expect(r.commits).toBeGreaterThan(0);
        expect(Date.parse(r.lastCommitAt)).toBeGreaterThanOrEqual(Date.parse(r.startedAt));
        expect(Date.parse(r.endedAt)).toBeGreaterThanOrEqual(Date.parse(r.lastCommitAt));
      }
      expect((await svc.call('POST', `${path}/start`)).status).toBe(200);
      const now = (await svc.call('GET', `${path}/runs`)).body.runs;
      expect(now.map((r: any) => r.runId)).toEqual([3, 2, 1]);
      expect(['starting', 'running']).toContain(now[0].state);
      expect((await svc.call('POST', `${path}/stop`)).body.state).toBe('stopped');
    } finally {
      await svc.close();
    }
  }, 240_000);
});
