/**
 * Exactly once across table maintenance (real Kafka broker): a job's offsets live in snapshot
 * summaries, so compaction and snapshot expiry between two runs must not lose them. After the
 * first run, compaction (a snapshot of its own) and expiry down to one snapshot leave only the
 * compaction's snapshot in the table's history; the second run must resume after the first run's
 * records — it reads only the new ones, no row twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { currentSnapshot } from '../../src/iceberg/metadata.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { recordedOffsets } from '../../src/ingest/offsets.js';
import { StreamingJob } from '../../src/ingest/streaming-job.js';
import { expireSnapshots } from '../../src/maintenance/expire-snapshots.js';
import { rewriteDataFiles } from '../../src/maintenance/rewrite-data-files.js';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { produce, quietLog, record, sql } from './support.js';

const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'name', required: false, type: 'string' },
    { id: 3, name: 'amount', required: false, type: 'decimal(12, 2)' },
    { id: 4, name: 'ts', required: false, type: 'timestamptz' },
  ],
};

describe('Kafka offsets survive compaction and snapshot expiry', () => {
  let kafka: KafkaBroker;
  let dir: string;
  let catalog: SqlCatalog;
  beforeAll(async () => {
    kafka = await startKafka();
    dir = mkdtempSync(join(tmpdir(), 'lh-offmaint-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/warehouse` });
    await catalog.createNamespace(['db']);
  });
  afterAll(async () => {
    await catalog?.close();
    await kafka?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a second run after compaction + expiry to one snapshot reads only the new records', async () => {
    const topic = 'offsets-maint';
    const ident = { namespace: ['db'], name: 'events' };
    const run = async () => {
      const job = await StreamingJob.start(
        { jobId: 'om', brokers: [kafka.bootstrap], topics: [topic], groupId: 'g-om', table: ident, createTable: { schema }, enrich: ['partition', 'offset'], commit: { maxRecords: 500 }, stopAtEnd: true },
        { catalog, log: quietLog },
      );
      await job.done;
      expect(job.status().state).toBe('stopped');
      return job.status().rowsCommitted;
    };
    await produce(kafka.bootstrap, topic, record, 0, 3000);
    expect(await run()).toBe(3000);
    const before = recordedOffsets((await catalog.loadTable(ident)).metadata, [topic]);

    const duck = await Duck.open();
    try {
      const r = await rewriteDataFiles(catalog, ident, duck, { minInputFiles: 2 });
      expect(r.rewrittenDataFiles).toBeGreaterThan(1);
    } finally {
      duck.close();
    }
    await expireSnapshots(catalog, ident, { olderThanMs: Date.now() + 1000, retainLast: 1 });
    const md = (await catalog.loadTable(ident)).metadata;
    expect(md.snapshots).toHaveLength(1);
    expect(currentSnapshot(md)!.summary.operation).toBe('replace');
    // The compaction's snapshot, now the whole history, still knows where the job stopped.
    expect(recordedOffsets(md, [topic])).toEqual(before);

    await produce(kafka.bootstrap, topic, record, 3000, 3500);
    expect(await run()).toBe(500);
    expect(await sql(catalog, ident, 'SELECT count(*), count(DISTINCT id), count(DISTINCT (_kafka_partition, _kafka_offset)) FROM t')).toEqual([[3500, 3500, 3500]]);
  }, 300_000);
});
