/** Helpers for ingestion tests: producing JSON records and counting table rows. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Catalog } from '../../src/catalog/catalog.js';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import type { TableIdent } from '../../src/catalog/store.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { createKafka, ensureTopic } from '../../src/ingest/kafka-client.js';
import { queryTable } from '../../src/table/scan-query.js';
import { startKafka, type KafkaBroker } from '../support/kafka.js';

export const quietLog = { warn: () => {}, error: (m: string) => process.stderr.write(`kafka: ${m}\n`) };

/**
 * A real broker and a SQLite catalog (namespace `db`, warehouse in a temp dir) for a test file:
 * open it in beforeAll, close it in afterAll.
 */
export async function openBrokerCatalog(prefix: string): Promise<{ kafka: KafkaBroker; catalog: SqlCatalog; dir: string; close(): Promise<void> }> {
  const kafka = await startKafka();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/warehouse` });
  await catalog.createNamespace(['db']);
  return {
    kafka,
    catalog,
    dir,
    async close() {
      await catalog.close();
      await kafka.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A table for `record(i)`'s fields (its `extra` field is not mapped). */
export const recordSchema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'name', required: false, type: 'string' },
    { id: 3, name: 'amount', required: false, type: 'decimal(12, 2)' },
    { id: 4, name: 'ts', required: false, type: 'timestamptz' },
  ],
};

/** The `i`-th test record (~110 bytes of JSON). */
export function record(i: number): string {
  return JSON.stringify({ id: i, name: `user-${i}`, amount: ((i % 100000) / 4).toFixed(2), ts: new Date(1_700_000_000_000 + i * 1000).toISOString(), extra: 'x'.repeat(16) });
}

/**
 * Produces `values` (keys `k<i>`, spread over the topic's partitions by key hash) in batches,
 * creating the topic with `partitions` partitions first.
 */
export async function produce(bootstrap: string, topic: string, values: (i: number) => string | Buffer, from: number, to: number, partitions = 4): Promise<number> {
  const kafka = createKafka({ brokers: [bootstrap], log: quietLog });
  await ensureTopic(kafka, topic, partitions);
  const producer = kafka.producer();
  await producer.connect();
  const t0 = Date.now();
  try {
    const B = 2000;
    const inflight: Promise<unknown>[] = [];
    for (let i = from; i < to; i += B) {
      const messages = [];
      for (let j = i; j < Math.min(to, i + B); j++) messages.push({ key: `k${j}`, value: values(j) });
      inflight.push(producer.send({ topic, messages, acks: -1 }));
      if (inflight.length >= 4) await inflight.shift();
    }
    await Promise.all(inflight);
  } finally {
    await producer.disconnect();
  }
  return Date.now() - t0;
}

export async function sql(catalog: Catalog, ident: TableIdent, query: string): Promise<unknown[][]> {
  const t = await catalog.loadTable(ident);
  const res = await queryTable({ io: t.io, metadata: t.metadata, resolve: (p) => p }, query);
  return res.rows;
}
