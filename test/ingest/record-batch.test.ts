/**
 * The record-batch decoder (src/ingest/record-batch.ts) on real broker output: record batches
 * fetched raw (src/ingest/raw-fetch.ts, Fetch v4) from a real Kafka broker decode to exactly what
 * kafkajs' consumer delivers for the same offsets — values, keys, timestamps, headers — with the
 * fast-path-eligible values joined as NDJSON lines; a gzip batch and a transactional batch are
 * reported for fallback at their offsets; the transaction's control batch is skipped; a batch cut
 * off at the end of a response ends the decode there, and so does a size limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionTypes } from 'kafkajs';
import { createKafka, ensureTopic } from '../../src/ingest/kafka-client.js';
import { RawFetchConnection } from '../../src/ingest/raw-fetch.js';
import { decodeRecords, type DecodedRecords } from '../../src/ingest/record-batch.js';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { quietLog } from './support.js';

let broker: KafkaBroker;
const TOPIC = 'record-batch';

interface Seen {
  offset: string;
  timestamp: string;
  key: string | null;
  value: string | null;
  headers: Record<string, unknown>;
}

const show = (b: Buffer | null) => (b === null ? null : b.toString('latin1'));
const showHeaders = (h: Record<string, unknown>) => JSON.parse(JSON.stringify(h, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('latin1') : v)));

/** What kafkajs' consumer delivers for the topic's one partition. */
async function consumeWithKafkajs(count: number): Promise<Seen[]> {
  const kafka = createKafka({ brokers: [broker.bootstrap], log: quietLog });
  const consumer = kafka.consumer({ groupId: `rb-${Date.now()}` });
  const seen: Seen[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message: m }) => {
            // At least once: a rebalance re-delivers from the last committed offset. Each once here.
            if (seen.some((x) => x.offset === m.offset)) return;
            seen.push({ offset: m.offset, timestamp: m.timestamp, key: show(m.key), value: show(m.value), headers: showHeaders(m.headers ?? {}) });
            if (seen.length >= count) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

/** The decoded records as kafkajs shows them (NDJSON rows and others merged in offset order). */
function asSeen(d: DecodedRecords): Seen[] {
  const rows: Seen[] = [];
  const ndjsonRow = (r: number): Seen => {
    return { offset: d.offset(r).toString(), timestamp: String(d.timestamps[r]), key: show(d.key(r)), value: show(d.value(r)), headers: {} };
  };
  let o = 0;
  for (let r = 0; r <= d.starts.length; r++) {
    for (; o < d.others.length && d.others[o].at === r; o++) {
      const m = d.others[o].message;
      rows.push({ offset: m.offset, timestamp: m.timestamp, key: show(m.key), value: show(m.value), headers: showHeaders(m.headers ?? {}) });
    }
    if (r < d.starts.length) rows.push(ndjsonRow(r));
  }
  return rows;
}

describe('record-batch decoder on real broker output', () => {
  let produced = 0;
  let gzipAt = -1;
  let txAt = -1;

  beforeAll(async () => {
    broker = await startKafka();
    const kafka = createKafka({ brokers: [broker.bootstrap], log: quietLog });
    await ensureTopic(kafka, TOPIC, 1);
    const producer = kafka.producer();
    await producer.connect();
    const send = async (messages: { key?: string | null; value: string | Buffer | null; headers?: Record<string, string | string[]> }[], compression?: CompressionTypes) => {
      const [r] = await producer.send({ topic: TOPIC, messages, compression, acks: -1 });
      produced += messages.length;
      return Number(r.baseOffset);
    };
    await send(Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ id: i, note: `é ${i}` }) })));
    await send([
      { key: null, value: '{"id":100}' },
      { key: 'n', value: null }, // tombstone
      { value: '[1,2]' }, // not an object
      { value: '{"id":101}\n' }, // a raw newline: not one NDJSON line
      { value: '' },
      { value: '{' },
      { value: '{"id":102}', headers: { h: 'x', multi: ['a', 'b'] } },
      { key: '', value: '{"id":103}' },
    ]);
    gzipAt = await send(Array.from({ length: 10 }, (_, i) => ({ key: `g${i}`, value: JSON.stringify({ id: 200 + i }) })), CompressionTypes.GZIP);
    await send(Array.from({ length: 5 }, (_, i) => ({ value: JSON.stringify({ id: 300 + i }) })));
    // A transaction: its data batch is transactional, and a control batch (the commit marker) follows.
    const txProducer = kafka.producer({ transactionalId: 'rb-tx', idempotent: true, maxInFlightRequests: 1 });
    await txProducer.connect();
    const tx = await txProducer.transaction();
    const [r] = await tx.send({ topic: TOPIC, messages: [{ value: '{"id":400}' }, { value: '{"id":401}' }], acks: -1 });
    txAt = Number(r.baseOffset);
    produced += 2;
    await tx.commit();
    await txProducer.disconnect();
    await send([{ value: '{"id":500}' }]);
    await producer.disconnect();
  }, 300_000);

  afterAll(async () => {
    await broker?.stop();
  });

  it('decodes what kafkajs delivers, stopping at compressed and transactional batches', async () => {
    const expected = await consumeWithKafkajs(produced);
    const conn = await RawFetchConnection.open(broker.bootstrap);
    const decoded: Seen[] = [];
    const stops: { offset: bigint; end: bigint; reason: string }[] = [];
    let controlSkipped = false;
    try {
      let at = 0n;
      for (let guard = 0; guard < 100; guard++) {
        const [part] = await conn.fetch([{ topic: TOPIC, partitions: [{ partition: 0, offset: at, maxBytes: 1 << 20 }] }], { maxWaitMs: 100 });
        expect(part.errorCode).toBe(0);
        if (at >= part.highWatermark) break;
        const d = decodeRecords(part.records, at);
        decoded.push(...asSeen(d));
        if (d.stop) {
          stops.push(d.stop);
          // The caller reads a stopped range another way (kafkajs); here: take kafkajs' records for it.
          decoded.push(...expected.filter((e) => BigInt(e.offset) >= d.stop!.offset && BigInt(e.offset) < d.stop!.end));
          at = d.stop.end;
        } else {
          // Offsets with no record (the commit marker) were passed over.
          if (d.next > BigInt(decoded.at(-1)?.offset ?? -1) + 1n) controlSkipped = true;
          at = d.next;
        }
      }
    } finally {
      conn.close();
    }
    expect(stops.map((s) => [Number(s.offset), s.reason])).toEqual([
      [gzipAt, 'compressed (gzip)'],
      [txAt, 'transactional batch'],
    ]);
    expect(Number(stops[0].end - stops[0].offset)).toBe(10);
    expect(controlSkipped).toBe(true);
    expect(decoded).toEqual(expected);
    // The fast-path-eligible values are NDJSON lines; the others came back as messages.
    const values = expected.map((e) => e.value);
    expect(values).toContain(null);
    expect(values).toContain('{"id":101}\n');
  }, 120_000);

  it('starts inside a batch at the fetch offset, and ends before a batch cut off by the response', async () => {
    const conn = await RawFetchConnection.open(broker.bootstrap);
    try {
      const [part] = await conn.fetch([{ topic: TOPIC, partitions: [{ partition: 0, offset: 3n, maxBytes: 1 << 20 }] }], { maxWaitMs: 100 });
      const d = decodeRecords(part.records, 3n);
      expect(d.segments[0].base).toBe(3n);
      expect(d.ndjson.toString().split('\n')[0]).toBe(JSON.stringify({ id: 3, note: 'é 3' }));
      const whole = decodeRecords(part.records, 0n);
      expect(whole.next).toBe(48n); // up to the gzip batch
      // The first batch (40 records) is followed by the second (8): cut the second short.
      const firstEnd = 12 + part.records.readInt32BE(8);
      const cut = decodeRecords(part.records.subarray(0, firstEnd + 20), 0n);
      expect(cut.next).toBe(40n);
      expect(cut.starts.length + cut.others.length).toBe(40);
      expect(cut.stop).toBeNull();
      // A size limit (a commit's maxRecords) ends the decode inside a batch, or across two.
      const lim = decodeRecords(part.records, 0n, 10);
      expect([lim.starts.length + lim.others.length, lim.next]).toEqual([10, 10n]);
      const across = decodeRecords(part.records, 35n, 8);
      expect([across.starts.length + across.others.length, across.next, across.segments[0].base]).toEqual([8, 43n, 35n]);
      expect(across.others.map((o) => o.message.offset)).toEqual(['41', '42']);
    } finally {
      conn.close();
    }
  }, 60_000);
});
