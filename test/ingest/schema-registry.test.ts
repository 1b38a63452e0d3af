/**
 * Schema-registry record formats against real peers: an Apache Kafka broker (scripts/start-kafka.sh)
 * and a Confluent-compatible registry (Apicurio Registry's /apis/ccompat/v7, scripts/
 * start-schema-registry.sh). Schemas are registered over the Confluent REST API, records are
 * Confluent-framed by the test with avsc and produced with kafkajs, consumed back and decoded by
 * src/ingest/formats — directly, and through streaming jobs into tables checked with SQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avsc from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import { isLakehouseError } from '../../src/core/errors.js';
import { createKafka } from '../../src/ingest/kafka-client.js';
import { DecodeError, frame, RecordDecoder } from '../../src/ingest/formats/index.js';
import { SchemaRegistryClient } from '../../src/ingest/schema-registry.js';
import { StreamingJob } from '../../src/ingest/streaming-job.js';
import { startTestServer } from '../api/own-support.js';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { freePort } from '../support/process.js';
import { startSchemaRegistry, type SchemaRegistryPeer } from '../support/schema-registry.js';
import { produce, quietLog, sql } from './support.js';

export const USER_V1 = {
  type: 'record',
  name: 'User',
  namespace: 'lakehouse.test',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'name', type: 'string' },
    { name: 'signup', type: { type: 'int', logicalType: 'date' } },
    { name: 'balance', type: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 } },
    { name: 'seen', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'tier', type: { type: 'enum', name: 'Tier', symbols: ['FREE', 'PRO'] } },
  ],
};
/** v2: a new optional field (with a default, so v1 data reads as v2). */
export const USER_V2 = { ...USER_V1, fields: [...USER_V1.fields, { name: 'email', type: ['null', 'string'], default: null }] };

export const EVENT_JSON_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Event',
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string', minLength: 1 },
    at: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'name'],
};

/** Unscaled two's complement bytes of `cents` (a decimal(…, 2) value). */
export function cents(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** The i-th user as a producer without logical-type support writes it (days, micros, raw bytes). */
export function userValue(i: number, v2: boolean): Record<string, unknown> {
  const u: Record<string, unknown> = {
    id: i,
    name: `user-${i}`,
    signup: 19_000 + i, // 2022-01-08 + i days
    balance: cents(i * 101 - 250),
    seen: 1_700_000_000_000_000 + i * 1_000_001,
    tier: i % 2 ? 'PRO' : 'FREE',
  };
  if (v2) u.email = i % 3 ? `u${i}@example.com` : null;
  return u;
}

async function consumeAll(bootstrap: string, topic: string, count: number): Promise<{ value: Buffer | null; offset: string; partition: number }[]> {
  const kafka = createKafka({ brokers: [bootstrap], log: quietLog });
  const consumer = kafka.consumer({ groupId: `read-${topic}-${Date.now()}` });
  const out: { value: Buffer | null; offset: string; partition: number }[] = [];
  const delivered = new Set<string>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${out.length} of ${count} records consumed from ${topic}`)), 60_000);
      void consumer
        .run({
          eachMessage: async ({ message, partition }) => {
            // Kafka consumers deliver at least once: after a rebalance (a loaded CI machine can
            // miss a heartbeat) records come again from the last committed offset. Each once here.
            const k = `${partition}:${message.offset}`;
            if (delivered.has(k)) return;
            delivered.add(k);
            out.push({ value: message.value, offset: message.offset, partition });
            if (out.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

function outcome(d: RecordDecoder, topic: string, v: Buffer | null): unknown {
  try {
    return d.decode(topic, v!);
  } catch (e) {
    if (e instanceof DecodeError) return { error: e.reason };
    throw e;
  }
}

describe('schema registry formats (real Kafka broker + Confluent-compatible registry)', () => {
  let kafka: KafkaBroker;
  let registry: SchemaRegistryPeer;
  let v1Id: number;
  let v2Id: number;
  let jsonId: number;

  beforeAll(async () => {
    [kafka, registry] = await Promise.all([startKafka(), startSchemaRegistry()]);
    v1Id = await registry.register('users-value', USER_V1);
    v2Id = await registry.register('users-value', USER_V2);
    jsonId = await registry.register('events-value', EVENT_JSON_SCHEMA, 'JSON');
  }, 900_000);
  afterAll(async () => {
    await Promise.all([kafka?.stop(), registry?.stop()]);
  });

  it('registry client: schemas by id (cached), latest versions, clear errors', async () => {
    const client = new SchemaRegistryClient({ url: registry.url });
    expect(new Set([v1Id, v2Id, jsonId]).size).toBe(3);
    const s1 = await client.requireById(v1Id);
    expect(s1.schemaType).toBe('AVRO');
    expect(JSON.parse(s1.schema)).toEqual(USER_V1);
    expect(client.getById(v1Id)).toBe(client.getById(v1Id)); // one look-up per id
    expect((await client.requireById(jsonId)).schemaType).toBe('JSON');
    const latest = await client.version('users-value');
    expect([latest?.id, latest?.version]).toEqual([v2Id, 2]);
    expect(await client.version('no-such-subject-value')).toBeNull();
    expect(await client.getById(987_654)).toBeNull();
    await expect(client.requireById(987_654)).rejects.toMatchObject({ code: 'NOT_FOUND', details: { reason: 'schema-not-found', schemaId: 987_654 } });

    // Not the API base (a 404 page without a registry error code) is not "unknown schema".
    const wrongBase = new SchemaRegistryClient({ url: registry.url.replace(/\/apis\/ccompat\/v7$/, '/nope'), attempts: 1 });
    const e1 = await wrongBase.getById(v1Id).catch((e: unknown) => e);
    expect(isLakehouseError(e1, 'BAD_REQUEST')).toBe(true);
    expect((e1 as Error).message).toMatch(/without a registry error code/);
    // Nobody listening: SERVICE_UNAVAILABLE after the retries, and the failure is not cached.
    const down = new SchemaRegistryClient({ url: `http://127.0.0.1:${await freePort()}`, attempts: 2, timeoutMs: 2000 });
    const e2 = await down.getById(1).catch((e: unknown) => e);
    expect(e2).toMatchObject({ code: 'SERVICE_UNAVAILABLE', details: { reason: 'registry-unavailable' } });
    expect((e2 as Error).message).toMatch(/did not answer GET \/schemas\/ids\/1 after 2 attempts/);
    // Credentials go out as HTTP basic auth; this registry allows anonymous reads, so they are accepted.
    const withAuth = new SchemaRegistryClient({ url: registry.url, username: 'alice', password: 's3cret' });
    expect((await withAuth.requireById(v1Id)).id).toBe(v1Id);
  });

  it('decodes Avro records of two schema versions from Kafka; undecodable ones are DecodeErrors', async () => {
    const w1 = avsc.Type.forSchema(USER_V1 as avsc.Schema);
    const w2 = avsc.Type.forSchema(USER_V2 as avsc.Schema);
    const topic = 'users';
    // 0-3: v1, 4-7: v2, then one of each kind of bad record.
    const bad: Buffer[] = [
      Buffer.from('{"id": 99}'), // plain JSON: no magic byte
      frame(987_654, w1.toBuffer(userValue(98, false))), // unknown schema id
      frame(v2Id, w2.toBuffer(userValue(97, true)).subarray(0, 6)), // truncated Avro
      frame(jsonId, Buffer.from('{"id": 96, "name": "x"}')), // a JSON Schema id in an Avro topic
    ];
    const values = (i: number): Buffer => (i < 4 ? frame(v1Id, w1.toBuffer(userValue(i, false))) : i < 8 ? frame(v2Id, w2.toBuffer(userValue(i, true))) : bad[i - 8]);
    await produce(kafka.bootstrap, topic, values, 0, 12, 2);
    const got = await consumeAll(kafka.bootstrap, topic, 12);

    const decoder = new RecordDecoder('avro', { url: registry.url });
    await decoder.prepare(topic, got.map((m) => m.value));
    const results = got.map((m) => outcome(decoder, topic, m.value));
    const rows = results.filter((r): r is Record<string, unknown> => !(r as { error?: string }).error).sort((a, b) => (a.id as number) - (b.id as number));
    expect(rows).toHaveLength(8);
    // v1 data read as v2 (the subject's latest): the new field takes its default.
    expect(rows[1]).toEqual({
      id: 1,
      name: 'user-1',
      signup: '2022-01-09',
      balance: '-1.49',
      seen: '2023-11-14T22:13:21.000001Z',
      tier: 'PRO',
      email: null,
    });
    expect(rows[5]).toEqual({ id: 5, name: 'user-5', signup: '2022-01-13', balance: '2.55', seen: '2023-11-14T22:13:25.000005Z', tier: 'PRO', email: 'u5@example.com' });
    expect(rows.map((r) => r.email)).toEqual([null, null, null, null, 'u4@example.com', 'u5@example.com', null, 'u7@example.com']);
    const errors = results.filter((r) => (r as { error?: string }).error).map((r) => (r as { error: string }).error).sort();
    expect(errors).toEqual(['avro-invalid', 'bad-magic-byte', 'schema-type-mismatch', 'unknown-schema-id']);

    // The table a job would create from the subject: v2, the new field optional.
    const schema = await decoder.tableSchema(topic);
    expect(schema?.fields.map((f) => [f.name, f.type, f.required])).toEqual([
      ['id', 'long', true],
      ['name', 'string', true],
      ['signup', 'date', true],
      ['balance', 'decimal(10, 2)', true],
      ['seen', 'timestamptz', true],
      ['tier', 'string', true],
      ['email', 'string', false],
    ]);
    expect(await decoder.tableSchema('no-subject-for-this-topic')).toBeNull();
  });

  it('validates JSON Schema records from Kafka against the registered schema', async () => {
    const topic = 'events';
    const good = (i: number) => frame(jsonId, Buffer.from(JSON.stringify({ id: i, name: `e${i}`, at: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString() })));
    const bad = [
      frame(jsonId, Buffer.from('{"id": 10, "name": ""}')), // minLength
      frame(jsonId, Buffer.from('{"id": 11, "name": "x", "at": "yesterday"}')), // format date-time
      frame(jsonId, Buffer.from('{"id": 12,')), // not JSON
      frame(v1Id, Buffer.from('{"id": 13, "name": "x"}')), // an Avro schema id
    ];
    await produce(kafka.bootstrap, topic, (i) => (i < 3 ? good(i) : bad[i - 3]), 0, 7, 1);
    const got = await consumeAll(kafka.bootstrap, topic, 7);
    const decoder = new RecordDecoder('json-schema', new SchemaRegistryClient({ url: registry.url }));
    await decoder.prepare(topic, got.map((m) => m.value));
    const results = got.map((m) => outcome(decoder, topic, m.value));
    expect(results).toEqual([
      { id: 0, name: 'e0', at: '2024-01-01T00:00:00.000Z' },
      { id: 1, name: 'e1', at: '2024-01-01T00:00:01.000Z' },
      { id: 2, name: 'e2', at: '2024-01-01T00:00:02.000Z' },
      { error: 'json-schema-violation' },
      { error: 'json-schema-violation' },
      { error: 'json-invalid' },
      { error: 'schema-type-mismatch' },
    ]);
    // The message says what was wrong, for the dead-letter table.
    expect(() => decoder.decode(topic, got[3].value!)).toThrow(/^json-schema-violation: schema id \d+: \/name must NOT have fewer than 1 characters$/);
    expect(() => decoder.decode(topic, got[4].value!)).toThrow(/\/at must match format "date-time"/);
    expect((await decoder.tableSchema(topic))?.fields.map((f) => [f.name, f.type, f.required])).toEqual([
      ['id', 'long', true],
      ['name', 'string', true],
      ['at', 'timestamptz', false],
    ]);
  });

  it('a streaming job ingests Avro (v1 and v2) into a table created from the registered schema; undecodable records go to the DLQ', async () => {
    const topic = 'users-e2e';
    const subjectV1 = await registry.register(`${topic}-value`, USER_V1);
    const subjectV2 = await registry.register(`${topic}-value`, USER_V2);
    const w1 = avsc.Type.forSchema(USER_V1 as avsc.Schema);
    const w2 = avsc.Type.forSchema(USER_V2 as avsc.Schema);
    // 0-39 v1, 40-79 v2, 80-84 not framed, 85-87 unknown schema id, 88-89 truncated.
    const value = (i: number): Buffer => {
      if (i < 40) return frame(subjectV1, w1.toBuffer(userValue(i, false)));
      if (i < 80) return frame(subjectV2, w2.toBuffer(userValue(i, true)));
      if (i < 85) return Buffer.from(JSON.stringify(userValue(i, false)));
      if (i < 88) return frame(4_000_000 + i, w1.toBuffer(userValue(i, false)));
      return frame(subjectV2, w2.toBuffer(userValue(i, true)).subarray(0, 4));
    };
    await produce(kafka.bootstrap, topic, value, 0, 90);

    const dir = mkdtempSync(join(tmpdir(), 'lh-sr-'));
    const catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/warehouse` });
    try {
      await catalog.createNamespace(['db']);
      const ident = { namespace: ['db'], name: 'users' };
      const job = await StreamingJob.start(
        {
          jobId: 'sr-avro', brokers: [kafka.bootstrap], topics: [topic], groupId: 'g-sr-avro', table: ident,
          format: 'avro', schemaRegistry: { url: registry.url }, enrich: ['offset'], stopAtEnd: true,
        },
        { catalog, log: quietLog },
      );
      await job.done;
      expect(job.status()).toMatchObject({ state: 'stopped', rowsCommitted: 80, deadLettersCommitted: 10 });
      // The table's schema is the subject's latest (v2) mapped to Iceberg.
      const t = await catalog.loadTable(ident);
      const fields = t.metadata.schemas.find((s) => s['schema-id'] === t.metadata['current-schema-id'])!.fields;
      expect(fields.map((f) => [f.name, f.type, f.required])).toEqual([
        ['id', 'long', true], ['name', 'string', true], ['signup', 'date', true], ['balance', 'decimal(10, 2)', true],
        ['seen', 'timestamptz', true], ['tier', 'string', true], ['email', 'string', false], ['_kafka_offset', 'long', false],
      ]);
      expect(await sql(catalog, ident, 'SELECT count(*), count(DISTINCT id), sum(id), count(email), CAST(sum(balance) AS VARCHAR) FROM t')).toEqual([
        [80, 80, 3160, 27, "2991.60"],
      ]);
      expect(await sql(catalog, ident, "SELECT name, CAST(signup AS VARCHAR), CAST(balance AS VARCHAR), epoch_us(seen), tier, email FROM t WHERE id IN (1, 41) ORDER BY id")).toEqual([
        ['user-1', '2022-01-09', '-1.49', 1_700_000_001_000_001, 'PRO', null],
        ['user-41', '2022-02-18', '38.91', 1_700_000_041_000_041, 'PRO', 'u41@example.com'],
      ]);
      const dlq = { namespace: ['db'], name: 'users__dlq' };
      const letters = (await sql(catalog, dlq, 'SELECT split_part(error, \':\', 1) AS reason, count(*), count(DISTINCT (partition, "offset")) FROM t GROUP BY reason ORDER BY reason')) as unknown[][];
      expect(letters).toEqual([['avro-invalid', 2, 2], ['bad-magic-byte', 5, 5], ['unknown-schema-id', 3, 3]]);
    } finally {
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('a streaming job ingests JSON Schema records; records violating the schema go to the DLQ', async () => {
    const topic = 'events-e2e';
    const id = await registry.register(`${topic}-value`, EVENT_JSON_SCHEMA, 'JSON');
    const value = (i: number): Buffer =>
      i < 30
        ? frame(id, Buffer.from(JSON.stringify({ id: i, name: `e${i}`, at: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString() })))
        : frame(id, Buffer.from(JSON.stringify({ id: i, name: '' }))); // minLength 1
    await produce(kafka.bootstrap, topic, value, 0, 33);
    const dir = mkdtempSync(join(tmpdir(), 'lh-sr-'));
    const catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/warehouse` });
    try {
      await catalog.createNamespace(['db']);
      const ident = { namespace: ['db'], name: 'events' };
      const job = await StreamingJob.start(
        { jobId: 'sr-json', brokers: [kafka.bootstrap], topics: [topic], groupId: 'g-sr-json', table: ident, format: 'json-schema', schemaRegistry: { url: registry.url }, stopAtEnd: true },
        { catalog, log: quietLog },
      );
      await job.done;
      expect(await sql(catalog, ident, `SELECT count(*), sum(id), max("at") = TIMESTAMPTZ '2024-01-01 00:00:29+00' FROM t`)).toEqual([[30, 435, true]]);
      expect(await sql(catalog, { namespace: ['db'], name: 'events__dlq' }, 'SELECT count(*), min(error) FROM t')).toEqual([
        [3, `json-schema-violation: schema id ${id}: /name must NOT have fewer than 1 characters`],
      ]);
    } finally {
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('the ingestion-jobs API runs an avro job: format and schemaRegistry in the definition, password write-only', async () => {
    const s = await startTestServer('warn');
    try {
      await s.catalog.createNamespace(['api']);
      const topic = 'users-api';
      const id = await registry.register(`${topic}-value`, USER_V2);
      const w2 = avsc.Type.forSchema(USER_V2 as avsc.Schema);
      await produce(kafka.bootstrap, topic, (i) => (i < 50 ? frame(id, w2.toBuffer(userValue(i, true))) : Buffer.from('not framed')), 0, 53);
      const src = await s.call('POST', '/api/v1/sources/kafka', { name: 'local', bootstrapServers: [kafka.bootstrap] });
      expect(src.status, src.text).toBe(201);
      const def = { name: 'users', sourceId: src.body.id, topics: [topic], target: { namespace: 'api', table: 'users' }, mapping: {}, schedule: 'manual' };
      const missing = await s.call('POST', '/api/v1/ingestion-jobs', { ...def, format: 'avro' });
      expect([missing.status, missing.body.error?.message]).toEqual([400, 'format avro needs a schemaRegistry']);
      const job = await s.call('POST', '/api/v1/ingestion-jobs', { ...def, format: 'avro', schemaRegistry: { url: registry.url, username: 'ingest', password: 's3cret' } });
      expect(job.status, job.text).toBe(201);
      expect(job.body.schemaRegistry).toEqual({ url: registry.url, username: 'ingest', password: '********' });
      const path = `/api/v1/ingestion-jobs/${job.body.id}`;
      // A replace that leaves the password out keeps it (still masked on read).
      const put = await s.call('PUT', path, { ...def, format: 'avro', schemaRegistry: { url: registry.url, username: 'ingest' } });
      expect([put.status, put.body.schemaRegistry?.password]).toEqual([200, '********']);

      expect((await s.call('POST', `${path}/start`)).status).toBe(200);
      const deadline = Date.now() + 120_000;
      let st: any;
      do {
        await new Promise((r) => setTimeout(r, 500));
        st = (await s.call('GET', `${path}/status`)).body;
        // A failed job will not recover: stop waiting and show its status (errors) below.
      } while (st.state !== 'failed' && !(st.totalLag === '0' && st.rowsCommitted + st.deadLettersCommitted === 53) && Date.now() < deadline);
      expect(st).toMatchObject({ state: 'running', rowsCommitted: 50, deadLettersCommitted: 3 });
      expect((await s.call('POST', `${path}/stop`)).status).toBe(200);
      expect(await sql(s.catalog, { namespace: ['api'], name: 'users' }, 'SELECT count(*), count(DISTINCT id), count(email), CAST(min(signup) AS VARCHAR) FROM t')).toEqual([[50, 50, 33, '2022-01-08']]);
    } finally {
      await s.close();
    }
  }, 300_000);
});
