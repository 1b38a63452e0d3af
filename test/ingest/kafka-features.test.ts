/**
 * Streaming job features against a real Apache Kafka broker: topic patterns (new matching topics
 * picked up while running), header enrichment, derived SQL columns, a target table inferred from
 * the records, and schema evolution from records (add, widen, else dead-letter).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { currentSchema } from '../../src/iceberg/metadata.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { createKafka, ensureTopic } from '../../src/ingest/kafka-client.js';
import { StreamingJob } from '../../src/ingest/streaming-job.js';
import type { KafkaBroker } from '../support/kafka.js';
import { openBrokerCatalog, produce, quietLog, record, sql } from './support.js';

async function send(bootstrap: string, topic: string, messages: { key?: string; value: string; headers?: Record<string, string> }[], partitions = 1): Promise<void> {
  const kafka = createKafka({ brokers: [bootstrap], log: quietLog });
  await ensureTopic(kafka, topic, partitions);
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages, acks: -1 });
  } finally {
    await producer.disconnect();
  }
}

async function until(what: string, cond: () => boolean, job: StreamingJob, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    const st = job.status();
    if (st.state !== 'running') throw new Error(`job ${st.state} while waiting for ${what}: ${st.error ?? ''}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(st)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('streaming job features (real broker)', () => {
  let kafka: KafkaBroker;
  let catalog: SqlCatalog;
  let env: Awaited<ReturnType<typeof openBrokerCatalog>> | undefined;
  beforeAll(async () => {
    ({ kafka, catalog } = env = await openBrokerCatalog('lh-ingest-feat-'));
  });
  afterAll(() => env?.close());

  it('a topic pattern consumes every matching topic, including one created while the job runs', async () => {
    const ident = { namespace: ['db'], name: 'pattern' };
    await produce(kafka.bootstrap, 'feat-p-one', record, 0, 500, 2);
    await produce(kafka.bootstrap, 'feat-p-two', record, 500, 1000, 2);
    await produce(kafka.bootstrap, 'other-p-three', record, 5000, 5100, 1); // does not match
    const schema: Schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: true, type: 'long' }, { id: 2, name: 'name', required: false, type: 'string' }] };
    const job = await StreamingJob.start(
      {
        jobId: 'pattern', brokers: [kafka.bootstrap], topics: [], topicPattern: 'feat-p-.*', topicRefreshMs: 500, groupId: 'g-pattern', table: ident,
        createTable: { schema }, enrich: ['topic', 'offset'], commit: { maxRecords: 400, intervalMs: 200 },
      },
      { catalog, log: quietLog },
    );
    try {
      await until('the first two topics', () => job.status().rowsCommitted >= 1000, job);
      await produce(kafka.bootstrap, 'feat-p-new', record, 1000, 1300, 3);
      await until('the new topic', () => job.status().rowsCommitted >= 1300, job);
    } finally {
      await job.stop();
    }
    expect(await sql(catalog, ident, 'SELECT _kafka_topic, count(*), count(DISTINCT id) FROM t GROUP BY 1 ORDER BY 1')).toEqual([
      ['feat-p-new', 300, 300],
      ['feat-p-one', 500, 500],
      ['feat-p-two', 500, 500],
    ]);
    const t = await catalog.loadTable(ident);
    const summary = t.metadata.snapshots.at(-1)!.summary as unknown as Record<string, string>;
    expect(Object.keys(summary).filter((k) => k.startsWith('kafka.offsets.')).sort()).toEqual(['kafka.offsets.feat-p-new', 'kafka.offsets.feat-p-one', 'kafka.offsets.feat-p-two']);
    const offs = JSON.parse(summary['kafka.offsets.feat-p-new']) as Record<string, number>;
    expect(Object.keys(offs).sort()).toEqual(['0', '1', '2']);
    expect(Object.values(offs).reduce((a, b) => a + b, 0)).toBe(300);
  }, 240_000);

  it('creates the table from the first record; fills header columns and derived SQL columns; a row whose expression fails is a dead letter', async () => {
    const topic = 'feat-infer';
    const ident = { namespace: ['db'], name: 'inferred' };
    const N = 300;
    const messages = Array.from({ length: N }, (_, i) => ({
      key: `k${i}`,
      value: JSON.stringify({ id: i, name: `user-${i}`, score: i + 0.5, code: i === 150 ? 'x' : String(i % 7), tags: ['a', i] }),
      headers: { 'x-source': `sensor-${i % 3}`, trace: `t${i}` },
    }));
    await send(kafka.bootstrap, topic, messages);
    const job = await StreamingJob.start(
      {
        jobId: 'infer', brokers: [kafka.bootstrap], topics: [topic], groupId: 'g-infer', table: ident,
        enrich: ['headers', 'offset'], headerColumns: { source: 'x-source' },
        derived: { name_upper: 'upper(name)', id_mod: 'id % 10', code_int: 'CAST(code AS INTEGER)' },
        commit: { maxRecords: 1000, intervalMs: 200 }, stopAtEnd: true,
      },
      { catalog, log: quietLog },
    );
    await job.done;
    const schema = currentSchema((await catalog.loadTable(ident)).metadata);
    const types = Object.fromEntries(schema.fields.map((f) => [f.name, typeof f.type === 'string' ? f.type : f.type.type]));
    expect(types).toEqual({
      id: 'long', name: 'string', score: 'double', code: 'string', tags: 'string',
      _kafka_headers: 'map', _kafka_offset: 'long', source: 'string', name_upper: 'string', id_mod: 'long', code_int: 'int',
    });
    expect(await sql(catalog, ident, `SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE name_upper = upper(name)), count(*) FILTER (WHERE id_mod = id % 10),
      count(*) FILTER (WHERE code_int = id % 7), count(DISTINCT source), count(*) FILTER (WHERE cardinality(_kafka_headers) = 2 AND list_contains(map_values(_kafka_headers), 't' || id)),
      min(tags) FILTER (WHERE id = 1) FROM t`)).toEqual([[N - 1, N - 1, N - 1, N - 1, N - 1, 3, N - 1, '["a",1]']]);
    const dlq = await sql(catalog, { namespace: ['db'], name: 'inferred__dlq' }, 'SELECT "offset", error FROM t');
    expect(dlq.length).toBe(1);
    expect(Number(dlq[0][0])).toBe(150);
    expect(String(dlq[0][1])).toMatch(/^derived columns: .*Conversion Error/);
  }, 240_000);

  it('schema evolution from records: new fields add columns, widenable values widen, the rest is dead-lettered', async () => {
    const topic = 'feat-evolve';
    const ident = { namespace: ['db'], name: 'evolving' };
    const schema: Schema = {
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 1, name: 'id', required: true, type: 'long' },
        { id: 2, name: 'cnt', required: false, type: 'int' },
        { id: 3, name: 'price', required: false, type: 'decimal(6, 2)' },
        { id: 4, name: 'ratio', required: false, type: 'float' },
      ],
    };
    const plain = (i: number) => ({ id: i, cnt: i, price: '12.50', ratio: 0.5 });
    const values: Record<string, unknown>[] = [];
    for (let i = 0; i < 50; i++) values.push(plain(i));
    values.push({ ...plain(50), cnt: 3_000_000_000 }); // int → long
    values.push({ ...plain(51), price: '12345.67' }); // decimal(6,2) → decimal(7,2)
    values.push({ ...plain(52), city: 'Oslo' }); // new column
    values.push({ ...plain(53), cnt: 'abc' }); // string in a long column: dead letter
    values.push({ ...plain(54), cnt: 1.5 }); // fraction in an integer column: dead letter
    values.push({ ...plain(55), price: '1.234' }); // more scale: dead letter
    values.push({ ...plain(56), ratio: 0.1 }); // not exact as float: float → double
    values.push({ ...plain(57), meta: { a: 1 } }); // nested new field: JSON text
    for (let i = 58; i < 80; i++) values.push({ ...plain(i), city: 'Rome' });
    await send(kafka.bootstrap, topic, values.map((v) => ({ value: JSON.stringify(v) })));
    const job = await StreamingJob.start(
      {
        jobId: 'evolve', brokers: [kafka.bootstrap], topics: [topic], groupId: 'g-evolve', table: ident,
        createTable: { schema }, schemaEvolution: true, derived: { id2: 'id * 2' }, commit: { maxRecords: 1000, intervalMs: 200 }, stopAtEnd: true,
      },
      { catalog, log: quietLog },
    );
    await job.done;
    const st = job.status();
    expect(st.state, st.error).toBe('stopped');
    const after = currentSchema((await catalog.loadTable(ident)).metadata);
    expect(after.fields.map((f) => [f.name, f.type])).toEqual([
      ['id', 'long'], ['cnt', 'long'], ['price', 'decimal(7, 2)'], ['ratio', 'double'], ['id2', 'long'], ['city', 'string'], ['meta', 'string'],
    ]);
    expect(st.schemaChanges).toBe(5); // cnt, price, city, ratio, meta (id2 came with the table)
    expect(await sql(catalog, ident, `SELECT count(*), max(cnt) = 3000000000, max(price) = 12345.67, count(*) FILTER (WHERE city = 'Rome'), max(city) FILTER (WHERE id = 52),
      max(meta), count(*) FILTER (WHERE id2 = id * 2), max(ratio) FILTER (WHERE id = 56) = 0.1 FROM t`))
      .toEqual([[77, true, true, 22, 'Oslo', '{"a":1}', 77, true]]);
    const dlq = await sql(catalog, { namespace: ['db'], name: 'evolving__dlq' }, 'SELECT "offset", error FROM t ORDER BY 1');
    expect(dlq.map((r) => Number(r[0]))).toEqual([53, 54, 55]);
    expect(String(dlq[2][1])).toMatch(/scale/);
  }, 240_000);
});
