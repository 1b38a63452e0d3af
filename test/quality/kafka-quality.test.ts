import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, ensureTopic } from '../../src/ingest/kafka-client.js';
import { startAlerting, type AlertManager } from '../../src/observability/alerts/index.js';
import { Metrics } from '../../src/observability/metrics.js';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { quietLog, sql } from '../ingest/support.js';
import { startTestServer, type TestServer } from '../api/own-support.js';
import { startReceiver } from '../observability/support.js';
import { waitFor } from '../support/wait.js';

/**
 * Data quality inside a real streaming ingestion job (defined and run through the API, real Kafka
 * broker): normal batches build the table's baseline (none of them flagged: false positives are
 * counted from the quality results table and reported), then a batch with 40 % nulls in one column
 * is flagged and — quarantine on — lands on the `quarantine` branch while main's offsets still
 * move past it (a restart does not replay it), and the anomaly alert reaches a real webhook; then
 * a batch with 10× the rows is flagged and quarantined the same way.
 *
 * Size: the 200 normal batches (LAKEHOUSE_DQ_NORMAL_BATCHES overrides; the baseline gives
 * verdicts after 24 samples); ~30 s on 2 cores.
 */
const BATCH = 200;
const NORMAL_BATCHES = Number(process.env.LAKEHOUSE_DQ_NORMAL_BATCHES ?? 200);


/** Seeded PRNG (mulberry32), so the "normal" noise is reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('data quality in a Kafka ingestion job', () => {
  let kafka: KafkaBroker;
  let s: TestServer;
  let alerts: AlertManager | null = null;
  beforeAll(async () => {
    [kafka, s] = await Promise.all([startKafka(), startTestServer('warn')]);
  }, 300_000);
  afterAll(async () => {
    await alerts?.stop();
    await s?.close();
    await kafka?.stop();
  });

  it('quarantines the 40 %-null and the 10× batch on a branch, keeps offsets exactly-once, and alerts a webhook', async () => {
    const topic = 'quality-orders';
    const ident = { namespace: ['dq'], name: 'orders' };
    const metrics = new Metrics({ defaultMetrics: false });
    alerts = startAlerting(s.catalog, { registry: metrics.registry, intervalMs: 60_000 });
    expect(alerts).not.toBeNull();
    const receiver = await startReceiver();
    const hook = await s.call('POST', '/api/v1/alerts/webhooks', { name: 'dq-team', url: receiver.url, secret: 'whsec-0123456789abcdef' });
    expect(hook.status, hook.text).toBe(201);

    const t = await s.call('POST', '/api/v1/tables', {
      namespace: 'dq',
      name: 'orders',
      columns: [
        { name: 'id', type: 'long', required: true },
        { name: 'email', type: 'string' },
        { name: 'amount', type: 'double' },
      ],
    });
    expect(t.status, t.text).toBe(201);
    const src = await s.call('POST', '/api/v1/sources/kafka', { name: 'local', bootstrapServers: [kafka.bootstrap] });
    expect(src.status, src.text).toBe(201);
    const def = {
      name: 'orders',
      sourceId: src.body.id,
      topics: [topic],
      target: { namespace: 'dq', table: 'orders' },
      // One commit per BATCH records: each produced batch is exactly one ingested batch.
      mapping: { commit: { maxRecords: BATCH, intervalMs: 600_000 } },
      schedule: 'manual',
      quality: { quarantine: true, checks: [{ kind: 'range', column: 'amount', min: 0 }] },
    };
    // Bad definitions are 400s.
    expect((await s.call('POST', '/api/v1/ingestion-jobs', { ...def, quality: { checks: [{ kind: 'nope' }] } })).status).toBe(400);
    expect((await s.call('POST', '/api/v1/ingestion-jobs', { ...def, quality: { checks: [{ kind: 'range' }] } })).status).toBe(400);
    expect((await s.call('POST', '/api/v1/ingestion-jobs', { ...def, quality: { branch: 'main' } })).status).toBe(400);
    const job = await s.call('POST', '/api/v1/ingestion-jobs', def);
    expect(job.status, job.text).toBe(201);
    const path = `/api/v1/ingestion-jobs/${job.body.id}`;

    const k = createKafka({ brokers: [kafka.bootstrap], log: quietLog });
    await ensureTopic(k, topic, 1);
    const producer = k.producer();
    await producer.connect();
    const rnd = prng(8);
    let next = 0;
    const produceBatch = async (nullRatio: number, size = BATCH) => {
      const messages = [];
      for (let i = 0; i < size; i++, next++) {
        const email = rnd() < nullRatio ? null : `user${next}@example.com`;
        messages.push({ key: `k${next}`, value: JSON.stringify({ id: next, email, amount: Math.round(rnd() * 10_000) / 100 }) });
      }
      await producer.send({ topic, messages, acks: -1 });
    };
    const mainRows = async () => Number((await sql(s.catalog, ident, 'SELECT count(*) FROM t'))[0][0]);
    const status = async () => (await s.call('GET', `${path}/status`)).body;
    const caughtUp = () => waitFor('lag 0', async () => (await status()).totalLag === '0');
    const logs = s.logs;

    try {
      expect((await s.call('POST', `${path}/start`)).body.state).toBe('running');
      // Normal batches, null ratio 2-5 % in `email`, produced at once: the job cuts its backlog
      // into batches of exactly maxRecords.
      for (let b = 0; b < NORMAL_BATCHES; b++) await produceBatch(0.02 + 0.03 * rnd());
      await waitFor('normal batches', async () => (await status()).totalLag === '0' && (await mainRows()) === NORMAL_BATCHES * BATCH, 240_000);
      const normal = await s.catalog.loadTable(ident);
      const appended = normal.metadata.snapshots.map((x) => (x.summary as unknown as Record<string, string>)['added-records']).filter(Boolean);
      expect(appended).toEqual(Array(NORMAL_BATCHES).fill(String(BATCH)));
      const falsePositives = await s.call('POST', '/api/v1/queries', { sql: "SELECT count(DISTINCT batch_id) FROM dq.orders__quality WHERE kind = 'anomaly'" });
      expect(falsePositives.status, falsePositives.text).toBe(200);
      console.log(`data quality: ${falsePositives.body.rows[0][0]} false positives in ${NORMAL_BATCHES} normal batches`);
      expect(Number(falsePositives.body.rows[0][0])).toBe(0);
      const before = await s.catalog.loadTable(ident);
      expect(before.metadata.refs.quarantine).toBeUndefined();
      expect(receiver.requests).toHaveLength(0); // no false positive, no failed check

      // The bad batch: 40 % nulls in email.
      await produceBatch(0.4);
      await caughtUp();
      const after = await s.catalog.loadTable(ident);
      const qRef = after.metadata.refs.quarantine;
      expect(qRef, 'quarantine branch').toBeDefined();
      const qSnap = after.metadata.snapshots.find((x) => x['snapshot-id'] === qRef['snapshot-id'])!;
      const qSummary = qSnap.summary as unknown as Record<string, string>;
      expect(qSummary['added-records']).toBe(String(BATCH));
      expect(qSummary['lakehouse.quarantine.reason']).toContain('null_ratio:email');
      // Main: no rows added, but its head carries the batch's offsets.
      expect(await mainRows()).toBe(NORMAL_BATCHES * BATCH);
      const head = after.metadata.snapshots.find((x) => x['snapshot-id'] === after.metadata['current-snapshot-id'])!;
      const headSummary = head.summary as unknown as Record<string, string>;
      expect(headSummary['lakehouse.quarantine.rows']).toBe(String(BATCH));
      expect(JSON.parse(headSummary[`kafka.offsets.${topic}`])).toEqual({ '0': (NORMAL_BATCHES + 1) * BATCH });

      // The job's log names the job and table on its quarantine line.
      const qLine = logs.find((l) => String(l.msg).includes('quarantined on branch quarantine'));
      expect(qLine).toMatchObject({ module: 'ingest', jobId: job.body.id, table: 'dq.orders' });

      // The anomaly alert reaches the webhook.
      const delivered = await waitFor('anomaly webhook', async () => receiver.requests.find((r) => r.body.includes('DataQualityAnomaly')), 30_000);
      const payload = JSON.parse(delivered.body);
      expect(JSON.stringify(payload)).toContain('null_ratio:email');
      expect(JSON.stringify(payload)).toContain('dq.orders');

      // Restart: nothing replayed; the next normal batch goes to main.
      expect((await s.call('POST', `${path}/stop`)).body.state).toBe('stopped');
      expect((await s.call('POST', `${path}/start`)).body.state).toBe('running');
      await produceBatch(0.03);
      await caughtUp();
      expect(await mainRows()).toBe((NORMAL_BATCHES + 1) * BATCH);
      const final = await s.catalog.loadTable(ident);
      expect(final.metadata.refs.quarantine['snapshot-id']).toBe(qRef['snapshot-id']);
      expect(Number(((await sql(s.catalog, ident, 'SELECT count(DISTINCT id), max(id) FROM t'))[0] as number[])[0])).toBe((NORMAL_BATCHES + 1) * BATCH);
      // The quality results table recorded the anomaly.
      const q = await s.call('POST', '/api/v1/queries', { sql: "SELECT count(*) AS n FROM dq.orders__quality WHERE kind = 'anomaly' AND name = 'null_ratio:email'" });
      expect(q.status, q.text).toBe(200);
      expect(Number(q.body.rows[0][0])).toBeGreaterThanOrEqual(1);

      // A batch with 10× the rows (the job now cuts batches at 10 × BATCH records): flagged on
      // row_count, quarantined on top of the first quarantined batch, alerted.
      expect((await s.call('POST', `${path}/stop`)).body.state).toBe('stopped');
      const bigger = await s.call('PUT', path, { ...def, mapping: { commit: { maxRecords: 10 * BATCH, intervalMs: 600_000 } } });
      expect(bigger.status, bigger.text).toBe(200);
      expect((await s.call('POST', `${path}/start`)).body.state).toBe('running');
      await produceBatch(0.03, 10 * BATCH);
      await caughtUp();
      const big = await s.catalog.loadTable(ident);
      const bigRef = big.metadata.refs.quarantine;
      expect(bigRef['snapshot-id']).not.toBe(qRef['snapshot-id']);
      const bigSnap = big.metadata.snapshots.find((x) => x['snapshot-id'] === bigRef['snapshot-id'])!;
      const bigSummary = bigSnap.summary as unknown as Record<string, string>;
      expect(bigSummary['added-records']).toBe(String(10 * BATCH));
      expect(bigSummary['lakehouse.quarantine.reason']).toContain('row_count');
      expect(await mainRows()).toBe((NORMAL_BATCHES + 1) * BATCH);
      await waitFor('row_count webhook', async () => receiver.requests.find((r) => r.body.includes('DataQualityAnomaly') && r.body.includes('"metric":"row_count"')), 30_000);
    } finally {
      await s.call('POST', `${path}/stop`);
      await producer.disconnect();
      await receiver.close();
    }
  }, 300_000);
});
