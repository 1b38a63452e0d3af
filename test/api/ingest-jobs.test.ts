import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { produce, record, sql } from '../ingest/support.js';
import { startTestServer, type TestServer } from './own-support.js';

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('own API: running ingestion jobs against a real Kafka broker', () => {
  let kafka: KafkaBroker;
  let s: TestServer;
  beforeAll(async () => {
    [kafka, s] = await Promise.all([startKafka(), startTestServer('warn')]);
  }, 300_000);
  afterAll(async () => {
    await s?.close();
    await kafka?.stop();
  });

  it('start, status with lag falling to zero, pause, resume, stop, reset, run history', async () => {
    const topic = 'jobs-events';
    const ident = { namespace: ['jobs'], name: 'events' };
    const t = await s.call('POST', '/api/v1/tables', {
      namespace: 'jobs',
      name: 'events',
      columns: [
        { name: 'id', type: 'long', required: true },
        { name: 'name', type: 'string' },
        { name: 'amount', type: 'decimal(10,2)' },
        { name: 'ts', type: 'timestamptz' },
      ],
    });
    expect(t.status, t.text).toBe(201);
    // 10,000 records, every 100th malformed.
    await produce(kafka.bootstrap, topic, (i) => (i % 100 === 0 ? `not json ${i}` : record(i)), 0, 10_000);
    const src = await s.call('POST', '/api/v1/sources/kafka', { name: 'local', bootstrapServers: [kafka.bootstrap] });
    expect(src.status, src.text).toBe(201);
    const job = await s.call('POST', '/api/v1/ingestion-jobs', {
      name: 'events',
      sourceId: src.body.id,
      topics: [topic],
      target: { namespace: 'jobs', table: 'events' },
      mapping: { commit: { intervalMs: 300 } },
      schedule: 'manual',
    });
    expect(job.status, job.text).toBe(201);
    const id = job.body.id as string;
    const path = `/api/v1/ingestion-jobs/${id}`;

    const before = await s.call('GET', `${path}/status`);
    expect(before.status, before.text).toBe(200);
    expect(before.body).toMatchObject({ state: 'stopped', totalLag: '10000' });
    expect(before.body.partitions).toHaveLength(4);

    const t0 = Date.now();
    const started = await s.call('POST', `${path}/start`);
    expect(started.status, started.text).toBe(200);
    expect(started.body.state).toBe('running');
    expect((await s.call('POST', `${path}/start`)).status).toBe(409);
    const caught = await waitFor('lag 0', async () => {
      const st = (await s.call('GET', `${path}/status`)).body;
      return st.totalLag === '0' && st;
    });
    process.stderr.write(`job caught up on 10k records in ${Date.now() - t0} ms\n`);
    expect(caught.state).toBe('running');
    expect(caught.rowsCommitted).toBe(9900);
    expect(caught.deadLettersCommitted).toBe(100);
    expect(caught.deadLetterTableRows).toBe(100);
    expect(caught.lastCommitAt).not.toBeNull();
    expect(caught.partitions.every((p: any) => p.lag === '0' && p.committedOffset === p.endOffset)).toBe(true);
    expect(await sql(s.catalog, ident, 'SELECT count(*), count(DISTINCT id) FROM t')).toEqual([[9900, 9900]]);

    // Pause: the table stops moving, so lag builds up; resume continues exactly where it was.
    const paused = await s.call('POST', `${path}/pause`);
    expect(paused.body.state).toBe('paused');
    expect((await s.call('POST', `${path}/pause`)).status).toBe(409);
    await produce(kafka.bootstrap, topic, record, 10_000, 15_000);
    const lagging = (await s.call('GET', `${path}/status`)).body;
    expect(lagging).toMatchObject({ state: 'paused', totalLag: '5000' });
    expect((await s.call('POST', `${path}/resume`)).body.state).toBe('running');
    await waitFor('lag 0 after resume', async () => (await s.call('GET', `${path}/status`)).body.totalLag === '0');
    expect(await sql(s.catalog, ident, 'SELECT count(*), count(DISTINCT id) FROM t')).toEqual([[14900, 14900]]);

    // Reset needs a stopped job; to 'latest' skips what was produced meanwhile.
    expect((await s.call('POST', `${path}/reset`, { position: 'latest' })).status).toBe(409);
    expect((await s.call('POST', `${path}/stop`)).body.state).toBe('stopped');
    await produce(kafka.bootstrap, topic, record, 15_000, 16_000);
    expect((await s.call('GET', `${path}/status`)).body.totalLag).toBe('1000');
    const reset = await s.call('POST', `${path}/reset`, { position: 'latest' });
    expect(reset.status, reset.text).toBe(200);
    expect(reset.body.totalLag).toBe('0');
    // Explicit offsets: partition 0 back by 10 records re-reads exactly those 10.
    const p0 = reset.body.partitions.find((p: any) => p.partition === 0);
    const back = await s.call('POST', `${path}/reset`, { offsets: { [topic]: { '0': String(BigInt(p0.committedOffset) - 10n) } } });
    expect(back.body.totalLag).toBe('10');
    expect((await s.call('POST', `${path}/reset`, { offsets: { other: { '0': 1 } } })).status).toBe(400);
    await s.call('POST', `${path}/start`);
    await waitFor('lag 0 after reset', async () => (await s.call('GET', `${path}/status`)).body.totalLag === '0');
    expect(await sql(s.catalog, ident, 'SELECT count(*), count(DISTINCT id) FROM t')).toEqual([[14910, 14910]]);
    expect((await s.call('POST', `${path}/stop`)).body.state).toBe('stopped');

    const runs = (await s.call('GET', `${path}/runs`)).body.runs;
    expect(runs.map((r: any) => r.state)).toEqual(['stopped', 'stopped', 'paused']);
    expect(runs[2]).toMatchObject({ rowsCommitted: 9900, deadLetters: 100 });
    expect(runs[1].rowsCommitted).toBe(5000);
    expect(runs[0].rowsCommitted).toBe(10);
    expect((await s.call('GET', '/api/v1/ingestion-jobs/00000000-0000-4000-8000-000000000000/status')).status).toBe(404);
  }, 300_000);
});
