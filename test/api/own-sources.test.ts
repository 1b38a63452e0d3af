import { createServer, type Server } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './own-support.js';

describe('own API: data sources and ingestion jobs', () => {
  let s: TestServer;
  let broker: Server;
  let brokerPort: number;
  beforeAll(async () => {
    s = await startTestServer('info');
    broker = createServer((sock) => sock.end());
    await new Promise<void>((r) => broker.listen(0, '127.0.0.1', r));
    brokerPort = (broker.address() as { port: number }).port;
  });
  afterAll(async () => {
    await s?.close();
    await new Promise((r) => broker?.close(r));
  });

  it('stores Kafka clusters with write-only secrets and tests their bootstrap servers', async () => {
    const created = await s.call('POST', '/api/v1/sources/kafka', {
      name: 'events',
      bootstrapServers: [`127.0.0.1:${brokerPort}`, '127.0.0.1:1'],
      security: { protocol: 'SASL_SSL', sasl: { mechanism: 'SCRAM-SHA-512', username: 'ingest', password: 'hunter2-secret' }, tls: { clientKey: 'KEY-secret' } },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.text).not.toContain('hunter2');
    expect(created.text).not.toContain('KEY-secret');
    expect(created.body.security.sasl).toEqual({ mechanism: 'SCRAM-SHA-512', username: 'ingest', password: '********' });
    const id = created.body.id;
    const got = await s.call('GET', `/api/v1/sources/kafka/${id}`);
    expect(got.text).not.toContain('hunter2');
    expect((await s.call('GET', '/api/v1/sources/kafka')).body.sources).toHaveLength(1);
    expect((await s.call('POST', '/api/v1/sources/kafka', { name: 'events', bootstrapServers: ['a:1'] })).status).toBe(409);

    // Replace without the password keeps it; the stored secret is what the DB holds.
    const put = await s.call('PUT', `/api/v1/sources/kafka/${id}`, {
      name: 'events',
      bootstrapServers: [`127.0.0.1:${brokerPort}`, '127.0.0.1:1'],
      security: { protocol: 'SASL_SSL', sasl: { mechanism: 'SCRAM-SHA-512', username: 'ingest2' } },
    });
    expect(put.status, put.text).toBe(200);
    expect(put.body.security.sasl.password).toBe('********');
    const row = await ((s.catalog.store as any).db).selectFrom('lakehouse_data_sources').selectAll().executeTakeFirst();
    expect(JSON.parse(row.secrets)).toEqual({ 'security.sasl.password': 'hunter2-secret' });
    expect(row.config).not.toContain('hunter2');

    const test = await s.call('POST', `/api/v1/sources/kafka/${id}/test?timeoutMs=1000`);
    expect(test.status).toBe(200);
    expect(test.body.ok).toBe(false);
    expect(test.body.checks.map((c: any) => c.ok)).toEqual([true, false]);
    expect(test.body.checks[1].error).toMatch(/ECONNREFUSED/);
    // Secrets are never logged.
    expect(JSON.stringify(s.logs)).not.toContain('hunter2');
  });

  it('stores storage locations and lists them in a connection test', async () => {
    const loc = `${s.dir}/landing`;
    mkdirSync(loc);
    writeFileSync(`${loc}/a.json`, '{}');
    const bad = await s.call('POST', '/api/v1/sources/storage', { name: 'x', type: 's3', uri: loc });
    expect(bad.status).toBe(400);
    const s3 = await s.call('POST', '/api/v1/sources/storage', {
      name: 'lake', type: 's3', uri: 's3://bucket/prefix', s3: { endpoint: 'http://127.0.0.1:1', accessKeyId: 'AK', secretAccessKey: 'SK-secret', pathStyle: true },
    });
    expect(s3.status, s3.text).toBe(201);
    expect(s3.body.s3).toEqual({ endpoint: 'http://127.0.0.1:1', accessKeyId: 'AK', secretAccessKey: '********', pathStyle: true });
    const local = await s.call('POST', '/api/v1/sources/storage', { name: 'landing', type: 'local', uri: loc });
    const t = await s.call('POST', `/api/v1/sources/storage/${local.body.id}/test`);
    expect(t.body).toMatchObject({ ok: true, checks: [{ ok: true, detail: '1 entries' }] });
    const t3 = await s.call('POST', `/api/v1/sources/storage/${s3.body.id}/test?timeoutMs=1500`);
    expect(t3.status).toBe(200);
    expect(t3.body.ok).toBe(false);
    expect((await s.call('DELETE', `/api/v1/sources/storage/${s3.body.id}`)).status).toBe(204);
    expect((await s.call('GET', `/api/v1/sources/storage/${s3.body.id}`)).status).toBe(404);
  });

  it('manages ingestion job definitions referencing a Kafka source', async () => {
    const src = (await s.call('GET', '/api/v1/sources/kafka')).body.sources[0];
    const job = {
      name: 'orders-ingest',
      sourceId: src.id,
      topics: ['orders'],
      target: { namespace: 'sales', table: 'orders' },
      mapping: { id: '$.order_id', ts: '$.created_at' },
      schedule: 'continuous',
    };
    const c = await s.call('POST', '/api/v1/ingestion-jobs', job);
    expect(c.status, c.text).toBe(201);
    expect(c.body).toMatchObject({ ...job, enabled: false });
    expect((await s.call('POST', '/api/v1/ingestion-jobs', { ...job, name: 'x', sourceId: '00000000-0000-4000-8000-000000000000' })).status).toBe(400);
    const u = await s.call('PUT', `/api/v1/ingestion-jobs/${c.body.id}`, { ...job, schedule: '*/5 * * * *', enabled: true });
    expect(u.body).toMatchObject({ schedule: '*/5 * * * *', enabled: true });
    expect((await s.call('GET', '/api/v1/ingestion-jobs')).body.jobs).toHaveLength(1);
    // A source in use cannot be deleted.
    expect((await s.call('DELETE', `/api/v1/sources/kafka/${src.id}`)).status).toBe(409);
    expect((await s.call('DELETE', `/api/v1/ingestion-jobs/${c.body.id}`)).status).toBe(204);
    expect((await s.call('DELETE', `/api/v1/sources/kafka/${src.id}`)).status).toBe(204);
  });
});

describe('own store on PostgreSQL (migration 0002)', () => {
  it('stores sources and jobs, refuses deleting a source in use', async () => {
    const { startPostgres } = await import('../support/postgres.js');
    const { openCatalogStore } = await import('../../src/catalog/open-store.js');
    const { OwnStore } = await import('../../src/api/own/store.js');
    const pg = await startPostgres();
    const store = await openCatalogStore(pg.url, { migrate: true });
    try {
      const own = new OwnStore(store.db, store.catalogName);
      const src = await own.createSource('kafka', 'k', { bootstrapServers: ['a:1'] }, { 'security.sasl.password': 'p' });
      await expect(own.createSource('kafka', 'k', {}, {})).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      const job = await own.createJob('j', src.id, { topics: ['t'] });
      await expect(own.deleteSource('kafka', src.id)).rejects.toMatchObject({ code: 'RESOURCE_IN_USE' });
      expect((await own.getSource('kafka', src.id))!.secrets).toEqual({ 'security.sasl.password': 'p' });
      await own.deleteJob(job.id);
      await own.deleteSource('kafka', src.id);
      expect(await own.listSources('kafka')).toEqual([]);
    } finally {
      await store.close();
      await pg.stop();
    }
  });
});
