import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { produce, record } from '../ingest/support.js';
import { waitFor } from '../scheduler/support.js';
import { startSecureServer, type SecureServer } from './support.js';

/**
 * An ingestion job runs as the principal that defined it, for as long as it runs: a job started
 * by `etl` ingests while etl may write the table; once etl's grants are revoked the running job
 * stops within seconds (run failed, naming the missing privilege, audited), records produced
 * afterwards never land, and starting it again (even by the admin) is refused while the owner
 * still lacks INSERT. Real Kafka broker, real HTTP, authentication on.
 */
describe('a running ingestion job loses its owner’s grant', () => {
  let kafka: KafkaBroker;
  let s: SecureServer;
  let etl = '';
  const grantIds: string[] = [];
  const admin = (body?: unknown) => ({ token: s.adminKey, body });

  beforeAll(async () => {
    [kafka, s] = await Promise.all([startKafka(), startSecureServer()]);
    const ok = (r: { status: number; text: string }, status = 200) => expect(r.status, r.text).toBe(status);
    ok(await s.call('POST', '/api/v1/tables', admin({ namespace: 'ops', name: 'clicks', columns: [{ name: 'id', type: 'long', required: true }, { name: 'name', type: 'string' }] })), 201);
    ok(await s.call('POST', '/api/v1/security/principals', admin({ name: 'etl' })), 201);
    etl = (await s.call('POST', '/api/v1/security/api-keys', admin({ principal: 'etl' }))).body.key;
    // MANAGE on the catalog defines and operates jobs (and implies writing); INSERT on the table alone would do for the run.
    for (const [privilege, securable] of [['MANAGE', { type: 'catalog' }], ['INSERT', { type: 'table', namespace: 'ops', table: 'clicks' }]] as const) {
      const g = await s.call('POST', '/api/v1/security/grants', admin({ grantee: { type: 'principal', name: 'etl' }, privilege, securable }));
      ok(g, 201);
      grantIds.push(g.body.id);
    }
  }, 300_000);
  afterAll(async () => {
    await s?.close();
    await kafka?.stop();
  });

  it('stops the job, fails the run (audited), lands nothing more, and refuses a restart', async () => {
    const topic = 'runas-clicks';
    const count = async () => (await s.call('POST', '/api/v1/queries', admin({ sql: 'SELECT count(*) FROM ops.clicks' }))).body.rows[0][0];
    await produce(kafka.bootstrap, topic, record, 0, 500);
    const src = await s.call('POST', '/api/v1/sources/kafka', { token: etl, body: { name: 'local', bootstrapServers: [kafka.bootstrap] } });
    expect(src.status, src.text).toBe(201);
    const job = await s.call('POST', '/api/v1/ingestion-jobs', {
      token: etl,
      body: { name: 'clicks', sourceId: src.body.id, topics: [topic], target: { namespace: 'ops', table: 'clicks' }, mapping: { commit: { intervalMs: 200 } }, schedule: 'manual' },
    });
    expect(job.status, job.text).toBe(201);
    const path = `/api/v1/ingestion-jobs/${job.body.id}`;
    expect((await s.call('POST', `${path}/start`, { token: etl })).status).toBe(200);
    await waitFor(async () => (await s.call('GET', `${path}/status`, { token: etl })).body.totalLag === '0', 60_000);
    expect(await count()).toBe(500);

    for (const id of grantIds) expect((await s.call('DELETE', `/api/v1/security/grants/${id}`, { token: s.adminKey })).status).toBe(204);
    const failed = await waitFor(async () => {
      const st = (await s.call('GET', `${path}/status`, { token: s.adminKey })).body;
      return st.state === 'failed' && st;
    }, 30_000);
    expect(failed.errors.map((e: { message: string }) => e.message).join('\n')).toMatch(/ingestion job 'clicks' runs as 'etl', who lacks INSERT on ops\.clicks/);
    const runs = (await s.call('GET', `${path}/runs`, { token: s.adminKey })).body.runs;
    expect(runs.at(-1)).toMatchObject({ state: 'failed', rowsCommitted: 500 });

    await produce(kafka.bootstrap, topic, record, 500, 800);
    const restart = await s.call('POST', `${path}/start`, { token: s.adminKey });
    expect(restart.status).toBe(403);
    expect(restart.body.error).toMatchObject({ code: 403, type: 'ForbiddenException' });
    expect(restart.body.error.message).toMatch(/runs as 'etl', who lacks INSERT/);
    expect(await count()).toBe(500);
    const audit = await s.call('GET', '/api/v1/security/audit?action=job.run&outcome=denied', { token: s.adminKey });
    expect(audit.body.records.length).toBeGreaterThanOrEqual(2);
    expect(audit.body.records.every((r: { principal: string }) => r.principal === 'etl')).toBe(true);
  }, 180_000);
});
