/**
 * Where a streaming job starts reading, against a real Apache Kafka broker (issue 5: "the start
 * position (earliest, latest, timestamp)" and "reset to an offset or timestamp"):
 * - startFrom 'latest' skips what the topic held before the start, and that start stays fixed in
 *   the table, so a restart does not skip what a quiet partition received meanwhile;
 * - startFrom a timestamp starts each partition at its first offset whose timestamp is >= it
 *   (Kafka's ListOffsets by time), through the REST API;
 * - a reset to a timestamp (REST API, stopped job) records those offsets in the table and the next
 *   run re-reads from there: rows re-read land again, dead letters below the dead-letter table's
 *   watermark do not (job-manager.ts, streaming-job.ts).
 * Records go to explicit partitions with explicit timestamps, so every expected count is exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Schema } from '../../src/iceberg/schema.js';
import { createKafka, ensureTopic } from '../../src/ingest/kafka-client.js';
import { recordedOffsets } from '../../src/ingest/offsets.js';
import { StreamingJob, type StreamingJobConfig } from '../../src/ingest/streaming-job.js';
import { startTestServer, type TestServer } from '../api/own-support.js';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { quietLog, sql } from './support.js';
import { waitFor } from '../support/wait.js';

interface Msg {
  partition: number;
  value: string;
  /** Kafka record timestamp (ms); the broker keeps it (CreateTime topics). */
  timestamp?: number;
}

async function sendTo(bootstrap: string, topic: string, partitions: number, msgs: Msg[]): Promise<void> {
  const kafka = createKafka({ brokers: [bootstrap], log: quietLog });
  await ensureTopic(kafka, topic, partitions);
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: msgs.map((m) => ({ partition: m.partition, value: m.value, timestamp: m.timestamp === undefined ? undefined : String(m.timestamp) })),
    });
  } finally {
    await producer.disconnect();
  }
}

const row = (id: number) => JSON.stringify({ id, name: `user-${id}` });

/** Polls until `fn` gives a value; the timeout is only a backstop against a hung job. */

describe('job start positions and reset to a timestamp (real broker)', () => {
  let kafka: KafkaBroker;
  let s: TestServer;
  beforeAll(async () => {
    [kafka, s] = await Promise.all([startKafka(), startTestServer('warn')]);
  }, 300_000);
  afterAll(async () => {
    await s?.close();
    await kafka?.stop();
  });

  it("startFrom 'latest': what was there before the start is skipped, what comes after the join is read; the start is kept across a restart", async () => {
    const topic = 'sp-latest';
    const ident = { namespace: ['sp'], name: 'latest' };
    await s.catalog.createNamespace(['sp']);
    // Before the start: ids 0..29 on partition 0, 30..59 on partition 1.
    await sendTo(kafka.bootstrap, topic, 2, Array.from({ length: 60 }, (_, i) => ({ partition: i < 30 ? 0 : 1, value: row(i) })));
    const schema: Schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: true, type: 'long' }, { id: 2, name: 'name', required: false, type: 'string' }] };
    const cfg: StreamingJobConfig = {
      jobId: 'sp-latest', brokers: [kafka.bootstrap], topics: [topic], groupId: 'g-sp-latest', table: ident,
      createTable: { schema }, enrich: ['partition', 'offset'], commit: { intervalMs: 200 }, startFrom: 'latest',
    };
    let joined!: () => void;
    const join = new Promise<void>((r) => (joined = r));
    const job = await StreamingJob.start(cfg, { catalog: s.catalog, log: quietLog, onAssign: (parts) => parts.length === 2 && joined() });
    try {
      // The resolved start is in the table before anything is read (streaming-job.ts recordStart).
      const md = (await s.catalog.loadTable(ident)).metadata;
      expect(Object.fromEntries(recordedOffsets(md, [topic]).get(topic)!)).toEqual({ 0: 30n, 1: 30n });
      expect((md.snapshots.at(-1)!.summary as unknown as Record<string, string>)['kafka.start']).toBe('latest');
      await join;
      await sendTo(kafka.bootstrap, topic, 2, Array.from({ length: 40 }, (_, i) => ({ partition: 0, value: row(100 + i) })));
      await waitFor('40 rows', async () => {
        const st = job.status();
        if (st.state !== 'running') throw new Error(`job ${st.state}: ${st.error ?? ''}`);
        return st.rowsCommitted >= 40;
      });
    } finally {
      await job.stop();
    }
    expect(job.status().rowsCommitted).toBe(40);
    expect(await sql(s.catalog, ident, 'SELECT count(*), count(DISTINCT id), min(id), max(id), min(_kafka_offset)::INTEGER, max(_kafka_offset)::INTEGER, max(_kafka_partition) FROM t')).toEqual([[40, 40, 100, 139, 30, 69, 0]]);

    // Stopped: partition 1, which had nothing since the start, receives ids 200..219 and partition 0
    // ids 220..229. A restart (same definition) reads all of them: 'latest' meant the first start.
    await sendTo(kafka.bootstrap, topic, 2, [
      ...Array.from({ length: 20 }, (_, i) => ({ partition: 1, value: row(200 + i) })),
      ...Array.from({ length: 10 }, (_, i) => ({ partition: 0, value: row(220 + i) })),
    ]);
    const again = await StreamingJob.start({ ...cfg, stopAtEnd: true }, { catalog: s.catalog, log: quietLog });
    await again.done;
    expect(again.status().rowsCommitted).toBe(30);
    expect(await sql(s.catalog, ident, 'SELECT _kafka_partition, count(*), count(DISTINCT id), min(id), max(id) FROM t GROUP BY 1 ORDER BY 1')).toEqual([
      [0, 50, 50, 100, 229],
      [1, 20, 20, 200, 219],
    ]);
  }, 240_000);

  it('startFrom a timestamp and a reset to a timestamp, through the REST API: exactly the records from the first offset with timestamp >= T', async () => {
    const topic = 'sp-time';
    const path = (id: string) => `/api/v1/ingestion-jobs/${id}`;
    // Recent timestamps: Kafka 4 refuses records more than an hour in the future
    // (log.message.timestamp.after.max.ms).
    const base = Date.now() - 600_000;
    const T = base + 12_000;
    const msgs: Msg[] = [];
    for (let i = 0; i < 20; i++) {
      msgs.push({ partition: 0, value: row(i), timestamp: base + i * 1000 }); // offsets 12..19 at or after T
      msgs.push({ partition: 1, value: row(1000 + i), timestamp: base + i * 100 }); // all before T
      msgs.push({ partition: 2, value: row(2000 + i), timestamp: base + i * 1000 }); // offsets 12..19 at or after T
    }
    // Partition 0, offset 20: malformed (a dead letter). Partition 2, offset 20: older than T but
    // after the first offset at or after T, so read (by offset, not filtered by time).
    msgs.push({ partition: 0, value: 'not json', timestamp: base + 19_500 });
    msgs.push({ partition: 2, value: row(2020), timestamp: base });
    await sendTo(kafka.bootstrap, topic, 3, msgs);

    const src = await s.call('POST', '/api/v1/sources/kafka', { name: 'sp-local', bootstrapServers: [kafka.bootstrap] });
    expect(src.status, src.text).toBe(201);
    const def = (startFrom: unknown) => ({
      name: 'sp-time', sourceId: src.body.id, topics: [topic], target: { namespace: 'sp', table: 'bytime' }, schedule: 'manual',
      mapping: { startFrom, enrich: ['partition', 'offset', 'timestamp'], commit: { intervalMs: 300 } },
    });
    for (const bad of ['latset', { timestampMs: 'yesterday' }, { timestampMs: -1 }, { timestamp: T }]) {
      const r = await s.call('POST', '/api/v1/ingestion-jobs', def(bad));
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.message).toMatch(/mapping.startFrom/);
    }
    const job = await s.call('POST', '/api/v1/ingestion-jobs', def({ timestampMs: T }));
    expect(job.status, job.text).toBe(201);
    const id = job.body.id as string;

    // Not started: lag counts from where each partition will start (p0 9 records, p1 none, p2 9).
    const before = await s.call('GET', `${path(id)}/status`);
    expect(before.body).toMatchObject({ state: 'stopped', totalLag: '18' });

    expect((await s.call('POST', `${path(id)}/start`)).body.state).toBe('running');
    // The table does not exist yet: it is inferred from the first record (and records the start).
    const caught = await waitFor('the first run to catch up', async () => {
      const st = (await s.call('GET', `${path(id)}/status`)).body;
      if (st.state !== 'running') throw new Error(`job ${st.state}: ${JSON.stringify(st.errors)}`);
      return st.totalLag === '0' && st.rowsCommitted + st.deadLettersCommitted === 18 && st;
    });
    expect(caught).toMatchObject({ rowsCommitted: 17, deadLettersCommitted: 1, deadLetterTableRows: 1 });
    expect(caught.partitions.map((p: any) => [p.partition, p.committedOffset])).toEqual([[0, '21'], [1, '20'], [2, '21']]);
    const ident = { namespace: ['sp'], name: 'bytime' };
    const perPartition = `SELECT _kafka_partition, count(*), count(DISTINCT id), min(_kafka_offset)::INTEGER, max(_kafka_offset)::INTEGER,
      count(*) FILTER (WHERE epoch_ms(_kafka_timestamp) < ${T}) FROM t GROUP BY 1 ORDER BY 1`;
    expect(await sql(s.catalog, ident, perPartition)).toEqual([
      [0, 8, 8, 12, 19, 0],
      [2, 9, 9, 12, 20, 1],
    ]);
    expect((await s.call('POST', `${path(id)}/stop`)).body.state).toBe('stopped');

    // While stopped, partition 1 receives 3 records (now at or after T).
    await sendTo(kafka.bootstrap, topic, 3, [0, 1, 2].map((i) => ({ partition: 1, value: row(1100 + i), timestamp: base + 30_000 + i })));
    // A reset needs a stopped job; a timestamp after every record moves every partition to its end.
    const future = await s.call('POST', `${path(id)}/reset`, { timestampMs: Date.now() + 3_600_000 });
    expect(future.status, future.text).toBe(200);
    expect(future.body.totalLag).toBe('0');
    expect(future.body.partitions.map((p: any) => [p.partition, p.committedOffset])).toEqual([[0, '21'], [1, '23'], [2, '21']]);
    // Back to T2: p0 from offset 15 (5 rows + the dead letter), p1 from 20 (the 3 new records),
    // p2 from 15 (6 rows, the late record included).
    const T2 = base + 15_000;
    const reset = await s.call('POST', `${path(id)}/reset`, { timestampMs: T2 });
    expect(reset.status, reset.text).toBe(200);
    expect(reset.body.partitions.map((p: any) => [p.partition, p.committedOffset, p.lag])).toEqual([[0, '15', '6'], [1, '20', '3'], [2, '15', '6']]);
    expect(reset.body.totalLag).toBe('15');
    const head = (await s.catalog.loadTable(ident)).metadata;
    expect((head.snapshots.at(-1)!.summary as unknown as Record<string, string>)['kafka.reset']).toBe('true');

    expect((await s.call('POST', `${path(id)}/start`)).body.state).toBe('running');
    const rerun = await waitFor('the re-read to catch up', async () => {
      const st = (await s.call('GET', `${path(id)}/status`)).body;
      if (st.state !== 'running') throw new Error(`job ${st.state}: ${JSON.stringify(st.errors)}`);
      return st.totalLag === '0' && st.rowsCommitted === 14 && st;
    });
    expect((await s.call('POST', `${path(id)}/stop`)).body.state).toBe('stopped');
    // A reset re-ingests what it re-reads (rows appear again: that is what it asks for); the dead
    // letter is below the dead-letter table's watermark, so it is not written twice.
    expect(rerun).toMatchObject({ rowsCommitted: 14, deadLettersCommitted: 0, deadLetterTableRows: 1 });
    expect(await sql(s.catalog, ident, perPartition)).toEqual([
      [0, 13, 8, 12, 19, 0],
      [1, 3, 3, 20, 22, 0],
      [2, 15, 9, 12, 20, 2],
    ]);
    expect(await sql(s.catalog, ident, 'SELECT count(*), count(DISTINCT id) FROM t')).toEqual([[31, 20]]);
    expect(await sql(s.catalog, { namespace: ['sp'], name: 'bytime__dlq' }, 'SELECT "partition", "offset"::INTEGER FROM t')).toEqual([[0, 20]]);
  }, 240_000);
  it("startFrom 'latest' with a topic pattern: a topic found later is read from its start, and that start survives a crash before its first commit", async () => {
    const ident = { namespace: ['spp'], name: 'pattern' };
    await s.catalog.createNamespace(['spp']);
    await sendTo(kafka.bootstrap, 'spp-one', 1, [{ partition: 0, value: row(1) }]);
    const schema: Schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: true, type: 'long' }, { id: 2, name: 'name', required: false, type: 'string' }] };
    const cfg: StreamingJobConfig = {
      jobId: 'sp-pattern', brokers: [kafka.bootstrap], topics: [], topicPattern: 'spp-.*', topicRefreshMs: 300, groupId: 'g-sp-pattern', table: ident,
      createTable: { schema }, enrich: ['topic'], commit: { intervalMs: 600_000, maxRecords: 1_000_000 }, startFrom: 'latest',
    };
    // The first run's commits of the data table fail once asked to: a crash that loses the batch.
    let crash = false;
    const crashing = new Proxy(s.catalog, {
      get(target, key) {
        if (key === 'commitTable') {
          return async (id: { namespace: string[]; name: string }, req: Parameters<typeof target.commitTable>[1]) => {
            if (crash && id.name === 'pattern') throw new Error('simulated crash');
            return target.commitTable(id, req);
          };
        }
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const job = await StreamingJob.start(cfg, { catalog: crashing, log: quietLog });
    // A topic created while the job runs: found by the pattern, read from its start.
    await sendTo(kafka.bootstrap, 'spp-two', 2, Array.from({ length: 10 }, (_, i) => ({ partition: i % 2, value: row(100 + i) })));
    await waitFor('the new topic read', async () => {
      const st = job.status();
      if (st.state !== 'running') throw new Error(`job ${st.state}: ${st.error ?? ''}`);
      return st.rawFetchRecords >= 10;
    });
    // Where the new topic starts is in the table already (not only in the job's memory).
    const md = (await s.catalog.loadTable(ident)).metadata;
    expect(Object.fromEntries(recordedOffsets(md, ['spp-two']).get('spp-two')!)).toEqual({ 0: 0n, 1: 0n });
    crash = true;
    await job.stop().catch(() => undefined);
    await job.done.catch(() => undefined);
    expect(job.status().state).toBe('failed');
    expect(await sql(s.catalog, ident, 'SELECT count(*) FROM t')).toEqual([[0]]);

    // The restart resolves 'latest' only for what has no recorded start: spp-two is read from 0.
    const again = await StreamingJob.start({ ...cfg, stopAtEnd: true }, { catalog: s.catalog, log: quietLog });
    await again.done;
    expect(await sql(s.catalog, ident, 'SELECT _kafka_topic, count(*), min(id), max(id) FROM t GROUP BY 1')).toEqual([['spp-two', 10, 100, 109]]);
  }, 240_000);
});
