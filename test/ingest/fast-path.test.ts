/**
 * The SQL fast path (src/ingest/fast-path.ts) against the per-record JS mapping, on a real Kafka
 * broker: the same records — valid ones and every kind of edge a type or rule can hit — are
 * ingested twice, once with the fast path and once with `fastPath: false`, and both tables (and
 * both dead-letter tables, errors included) must hold exactly the same rows. The fast job must
 * really have typed rows in SQL (else this compares the JS path with itself).
 */
import { CompressionTypes } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { createKafka, ensureTopic } from '../../src/ingest/kafka-client.js';
import type { RecordMapping } from '../../src/ingest/mapping.js';
import { StreamingJob, type JobStatus } from '../../src/ingest/streaming-job.js';
import type { KafkaBroker } from '../support/kafka.js';
import { openBrokerCatalog, quietLog, sql } from './support.js';

const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'qty', required: false, type: 'int' },
    { id: 3, name: 'name', required: false, type: 'string' },
    { id: 4, name: 'amount', required: false, type: 'decimal(8, 2)' },
    { id: 5, name: 'ok', required: false, type: 'boolean' },
    { id: 6, name: 'score', required: false, type: 'double' },
    { id: 7, name: 'day', required: false, type: 'date' },
    { id: 8, name: 'ts', required: false, type: 'timestamptz' },
    { id: 9, name: 'uid', required: false, type: 'uuid' },
    { id: 10, name: 'blob', required: false, type: 'binary' },
    { id: 11, name: 'level', required: false, type: 'string' },
    { id: 12, name: 'code', required: false, type: 'string' },
    { id: 13, name: 'ratio', required: false, type: 'float' },
    { id: 14, name: 'at', required: false, type: 'timestamp' },
  ],
};

const mapping: RecordMapping = {
  columns: {
    name: 'user_name',
    qty: { min: 0, max: 1000 },
    level: { enum: ['low', 'high'] },
    code: { pattern: '^[A-Z]{2}-\\d+$' },
    score: { min: -1.5 },
    amount: { max: 5000 },
  },
};

/** Valid records, and values at or past the edge of every type and rule. */
function records(): string[] {
  const out: string[] = [];
  for (let i = 0; i < 3000; i++) {
    out.push(JSON.stringify({
      id: i, qty: i % 1001, user_name: `user "${i}" \\ ü ${'\u{1F600}'}`, amount: ((i % 500000) / 100).toFixed(2), ok: i % 2 === 0, score: i / 7,
      day: `2024-0${1 + (i % 9)}-1${i % 10}`, ts: new Date(1_700_000_000_000 + i * 1234).toISOString(), uid: '0f8fad5b-d9cb-469f-a165-70867728950e',
      blob: Buffer.from(`b${i}`).toString('base64'), level: i % 3 === 0 ? 'low' : 'high', code: `AB-${i}`, ratio: i / 3, at: '2024-05-06 07:08:09.123',
    }));
  }
  const edge = [
    '{"id": 1e3}', '{"id": 1.0}', '{"id": 1.5}', '{"id": "7"}', '{"id": 9007199254740993}', '{"id": 9007199254740991}', '{"id": -0}', '{"id": null}', '{}',
    '{"id": 1, "qty": 2147483648}', '{"id": 1, "qty": -1}', '{"id": 1, "qty": 1001}', '{"id": 1, "qty": "5"}', '{"id": 1, "qty": true}', '{"id": 1, "qty": 12.0}', '{"id": 1, "qty": 2147483647}',
    '{"id": 1, "user_name": 5}', '{"id": 1, "user_name": {"a": 1}}', '{"id": 1, "user_name": "tab\\there \\u00e9 \\ud83d\\ude00 \\"q\\""}', '{"id": 1, "user_name": null}',
    '{"id": 1, "amount": "123456.78"}', '{"id": 1, "amount": "1.234"}', '{"id": 1, "amount": "1.230"}', '{"id": 1, "amount": 12.5}', '{"id": 1, "amount": "-0.5"}', '{"id": 1, "amount": "5000.01"}',
    '{"id": 1, "amount": ".5"}', '{"id": 1, "amount": " 1.5"}', '{"id": 1, "amount": "1e2"}', '{"id": 1, "amount": "0000012.30"}',
    // DuckDB's own rendering of a decimal skips the pattern (a shortcut): forms at and beside it.
    '{"id": 1, "amount": "0.00"}', '{"id": 1, "amount": "-0.00"}', '{"id": 1, "amount": "-1.50"}', '{"id": 1, "amount": "12"}', '{"id": 1, "amount": "1.2"}',
    '{"id": 1, "amount": "012.30"}', '{"id": 1, "amount": "-12.30"}', '{"id": 1, "amount": "+12.30"}', '{"id": 1, "amount": "999999.99"}', '{"id": 1, "amount": "1000000.00"}',
    '{"id": 1, "user_name": ""}', '{"id": 1, "user_name": "\\\\"}', '{"id": 1, "user_name": "{\\"a\\": 1}"}', '{"id": 1, "user_name": ["a"]}',
    '{"id": 1, "ok": "true"}', '{"id": 1, "ok": 1}', '{"id": 1, "ok": false}',
    '{"id": 1, "score": "1.5"}', '{"id": 1, "score": -1.6}', '{"id": 1, "score": -1.5}', '{"id": 1, "score": 1e308}', '{"id": 1, "score": 12345678901234567890}',
    '{"id": 1, "day": "2024-02-30"}', '{"id": 1, "day": "2024-2-3"}', '{"id": 1, "day": "2024-02-29"}', '{"id": 1, "day": 20240229}',
    '{"id": 1, "ts": "2024-01-01"}', '{"id": 1, "ts": "2024-01-01T10:00:00+05:30"}', '{"id": 1, "ts": "2024-01-01 10:00"}', '{"id": 1, "ts": "2024-02-30T00:00:00Z"}',
    '{"id": 1, "ts": "2024-01-01T25:00:00Z"}', '{"id": 1, "ts": 1700000000000}', '{"id": 1, "ts": "2024-01-01T10:00:00.123456789Z"}',
    '{"id": 1, "uid": "not-a-uuid"}', '{"id": 1, "uid": "0F8FAD5B-D9CB-469F-A165-70867728950E"}',
    '{"id": 1, "blob": "abc"}', '{"id": 1, "blob": "YWJj"}', '{"id": 1, "blob": "YW=j"}', '{"id": 1, "blob": "YQ=="}',
    '{"id": 1, "level": "mid"}', '{"id": 1, "level": "LOW"}', '{"id": 1, "level": 3}',
    '{"id": 1, "code": "AB-12"}', '{"id": 1, "code": "ab-12"}', '{"id": 1, "code": "XAB-12"}', '{"id": 1, "code": 12}',
    '{"id": 1, "ratio": 3.4028235e38}', '{"id": 1, "ratio": 1e39}', '{"id": 1, "ratio": 0.1}',
    '{"id": 1, "at": "2024-05-06T07:08:09Z"}', '{"id": 1, "at": "2024-05-06T07:08"}',
    '{"id": 1, "extra": [1, 2, {"x": null}], "user_name": "extra fields are ignored"}', '  {"id": 2}', '{"id": 3}  ', '{"id":4,\n"qty":5}',
    '[1, 2]', '5', '"str"', 'null', '',
  ];
  // Spread the edge cases through the valid records.
  edge.forEach((e, k) => out.splice(k * 40 + 7, 0, e));
  return out;
}

/** A derived column (SQL over the typed row); rows where it fails (qty 999: a name is no integer) are dead letters. */
const DERIVED = { label: `upper(level) || ':' || CAST(CASE WHEN qty = 999 THEN CAST(name AS INTEGER) ELSE qty + 1 END AS VARCHAR)` };

/** Records the JSON reader rejects (a batch holding one is mapped in JS as a whole). */
const MALFORMED = ['{"id": 5, bad', '{"id": 1, "id": 2}', '{"id": 1} {"id": 2}', '{"id": "\\x"}'];

async function send(bootstrap: string, topic: string, values: (string | Buffer)[]): Promise<void> {
  const kafka = createKafka({ brokers: [bootstrap], log: quietLog });
  await ensureTopic(kafka, topic, 2);
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < values.length; i += 1000) {
      await producer.send({ topic, acks: -1, messages: values.slice(i, i + 1000).map((value, k) => ({ key: `k${i + k}`, value })) });
    }
  } finally {
    await producer.disconnect();
  }
}

describe('SQL fast path = JS mapping (real broker)', () => {
  let kafka: KafkaBroker;
  let catalog: SqlCatalog;
  let env: Awaited<ReturnType<typeof openBrokerCatalog>> | undefined;
  beforeAll(async () => {
    ({ kafka, catalog } = env = await openBrokerCatalog('lh-fastpath-'));
  });
  afterAll(() => env?.close());

  const warnings: string[] = [];
  const log = { warn: (m: string) => warnings.push(m), error: quietLog.error };

  async function ingest(topic: string, name: string, fastPath: boolean, extra: { derived?: Record<string, string>; maxRecords?: number; rawFetch?: boolean } = {}): Promise<JobStatus> {
    const job = await StreamingJob.start(
      {
        jobId: name, brokers: [kafka.bootstrap], topics: [topic], groupId: `g-${name}`, table: { namespace: ['db'], name },
        createTable: { schema }, mapping, enrich: ['topic', 'partition', 'offset', 'ingested_at'], derived: extra.derived,
        commit: { maxRecords: extra.maxRecords ?? 1000 }, stopAtEnd: true, fastPath, consumer: { rawFetch: extra.rawFetch },
      },
      { catalog, log },
    );
    await job.done;
    return job.status();
  }

  const cols = schema.fields.map((f) => `"${f.name}"`).join(', ');
  const rowsOf = (name: string) => sql(catalog, { namespace: ['db'], name }, `SELECT ${cols}, _kafka_topic, _kafka_partition, _kafka_offset, label FROM t ORDER BY _kafka_partition, _kafka_offset`);
  const lettersOf = (name: string) => sql(catalog, { namespace: ['db'], name: `${name}__dlq` }, `SELECT partition, "offset", error, decode(raw), decode("key") FROM t ORDER BY partition, "offset"`);

  it('types, rules, enrichment and derived columns: the same rows and dead letters as the JS mapping', async () => {
    const values = records();
    await send(kafka.bootstrap, 'fp-edge', values);
    const fast = await ingest('fp-edge', 'fast', true, { derived: DERIVED });
    const slow = await ingest('fp-edge', 'slow', false, { derived: DERIVED });
    expect(fast.fastPath).toBeNull();
    expect(slow.fastPath).toBe('disabled by the job');
    expect(slow.fastPathRows).toBe(0);
    // Every record here is valid JSON: no batch falls back as a whole.
    expect(warnings.filter((w) => w.includes('could not read'))).toEqual([]);
    expect(fast.fastPathRows).toBeGreaterThan(2900);
    // The fast job read every record with its own fetch loop (raw-consumer.ts), the other through kafkajs.
    expect(fast.rawFetchRecords).toBe(values.length);
    expect(slow.rawFetchRecords).toBe(0);
    expect(fast.rowsCommitted + fast.deadLettersCommitted).toBe(values.length);
    expect([fast.rowsCommitted, fast.deadLettersCommitted]).toEqual([slow.rowsCommitted, slow.deadLettersCommitted]);
    expect(fast.deadLettersCommitted).toBeGreaterThan(30);
    const [fr, sr] = [await rowsOf('fast'), await rowsOf('slow')];
    expect(fr.length).toBe(fast.rowsCommitted);
    expect(fr).toEqual(sr);
    const [fl, sl] = [await lettersOf('fast'), await lettersOf('slow')];
    expect(fl).toEqual(sl);
    // Spot checks that the comparison is about real values.
    expect(fr.some((r) => r[2] !== null && String(r[2]).includes('\u{1F600}'))).toBe(true);
    expect(fl.some((r) => String(r[2]).includes('qty') && String(r[2]).includes('maximum'))).toBe(true);
    expect(fl.some((r) => String(r[2]).startsWith('derived columns'))).toBe(true);
  }, 240_000);

  it('a batch with records the JSON reader rejects is mapped in JS: same outcome', async () => {
    const values = records().slice(0, 2000);
    // All in the first 400 records (of either partition): later batches (of 500) are clean.
    MALFORMED.forEach((m, k) => values.splice(50 + k * 80, 0, m));
    // Invalid UTF-8 inside a string.
    values.splice(390, 0, Buffer.concat([Buffer.from('{"id": 77, "user_name": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]) as unknown as string);
    await send(kafka.bootstrap, 'fp-bad', values);
    const fast = await ingest('fp-bad', 'fast_bad', true, { derived: DERIVED, maxRecords: 500 });
    const slow = await ingest('fp-bad', 'slow_bad', false, { derived: DERIVED, maxRecords: 500 });
    expect(fast.rowsCommitted + fast.deadLettersCommitted).toBe(values.length);
    expect([fast.rowsCommitted, fast.deadLettersCommitted]).toEqual([slow.rowsCommitted, slow.deadLettersCommitted]);
    expect(await rowsOf('fast_bad')).toEqual(await rowsOf('slow_bad'));
    expect(await lettersOf('fast_bad')).toEqual(await lettersOf('slow_bad'));
    expect(warnings.filter((w) => w.includes('could not read')).length).toBeGreaterThanOrEqual(1);
    // Batches without a malformed record still took the fast path.
    expect(fast.fastPathRows).toBeGreaterThan(0);
    expect(fast.fastPathRows).toBeLessThan(fast.rowsCommitted);
  }, 240_000);

  it('own fetch loop = kafkajs consumer; a compressed or transactional batch hands the job to kafkajs', async () => {
    const topic = 'fp-raw';
    const values = records().slice(0, 1500);
    await send(kafka.bootstrap, topic, values);
    const k = createKafka({ brokers: [kafka.bootstrap], log: quietLog });
    const producer = k.producer();
    await producer.connect();
    // A gzip batch, then plain records (they come after the hand-over, through kafkajs).
    const gz = Array.from({ length: 300 }, (_, i) => JSON.stringify({ id: 50_000 + i, user_name: `gz ${i}`, qty: i % 7 }));
    await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: gz.map((value, i) => ({ key: `g${i}`, value })) });
    const after = Array.from({ length: 700 }, (_, i) => JSON.stringify({ id: 60_000 + i, qty: i % 5 }));
    await producer.send({ topic, acks: -1, messages: after.map((value, i) => ({ key: `a${i}`, value })) });
    await producer.disconnect();
    const total = values.length + gz.length + after.length;

    const raw = await ingest(topic, 'raw_fetch', true, { derived: DERIVED, maxRecords: 400 });
    const viaKafkajs = await ingest(topic, 'kafkajs_fetch', true, { derived: DERIVED, maxRecords: 400, rawFetch: false });
    expect(viaKafkajs.rawFetchRecords).toBe(0);
    expect(raw.rawFetchRecords).toBeGreaterThan(0);
    expect(raw.rawFetchRecords).toBeLessThan(total);
    expect(warnings.some((w) => w.startsWith('reading through kafkajs from now on') && w.includes('compressed (gzip)'))).toBe(true);
    expect(raw.rowsCommitted + raw.deadLettersCommitted).toBe(total);
    expect([raw.rowsCommitted, raw.deadLettersCommitted]).toEqual([viaKafkajs.rowsCommitted, viaKafkajs.deadLettersCommitted]);
    expect(await rowsOf('raw_fetch')).toEqual(await rowsOf('kafkajs_fetch'));
    expect(await lettersOf('raw_fetch')).toEqual(await lettersOf('kafkajs_fetch'));
    // Exactly once across the hand-over: every key once.
    const [[n, distinct]] = await sql(catalog, { namespace: ['db'], name: 'raw_fetch' }, 'SELECT count(*), count(DISTINCT _kafka_partition * 1000000 + _kafka_offset) FROM t');
    expect(Number(n)).toBe(raw.rowsCommitted);
    expect(Number(distinct)).toBe(raw.rowsCommitted);
  }, 240_000);

  it('own fetch loop: transactional records (committed and aborted) hand the job to kafkajs, which skips the aborted ones', async () => {
    const topic = 'fp-raw-tx';
    await send(kafka.bootstrap, topic, Array.from({ length: 600 }, (_, i) => JSON.stringify({ id: i })));
    const k = createKafka({ brokers: [kafka.bootstrap], log: quietLog });
    const tx = k.producer({ transactionalId: 'fp-raw-tx', idempotent: true, maxInFlightRequests: 1 });
    await tx.connect();
    const committed = await tx.transaction();
    await committed.send({ topic, acks: -1, messages: Array.from({ length: 40 }, (_, i) => ({ key: `t${i}`, value: JSON.stringify({ id: 10_000 + i }) })) });
    await committed.commit();
    const aborted = await tx.transaction();
    await aborted.send({ topic, acks: -1, messages: Array.from({ length: 30 }, (_, i) => ({ key: `x${i}`, value: JSON.stringify({ id: 20_000 + i }) })) });
    await aborted.abort();
    await tx.disconnect();
    await send(kafka.bootstrap, topic, Array.from({ length: 100 }, (_, i) => JSON.stringify({ id: 30_000 + i })));

    const st = await ingest(topic, 'raw_tx', true, { maxRecords: 200 });
    expect(st.rawFetchRecords).toBeGreaterThanOrEqual(600);
    expect(warnings.some((w) => w.includes('transactional batch'))).toBe(true);
    const ids = (await sql(catalog, { namespace: ['db'], name: 'raw_tx' }, 'SELECT id FROM t ORDER BY id')).map((r) => Number(r[0]));
    expect(ids.length).toBe(740);
    expect(new Set(ids).size).toBe(740);
    expect(ids.filter((x) => x >= 20_000 && x < 30_000)).toEqual([]);
    expect(ids.filter((x) => x >= 10_000 && x < 20_000).length).toBe(40);
  }, 240_000);
});
