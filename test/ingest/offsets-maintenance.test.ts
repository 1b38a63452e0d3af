/**
 * Exactly once across table maintenance (real Kafka broker): a job's offsets live in snapshot
 * summaries, so compaction and snapshot expiry between two runs must not lose them. After the
 * first run, compaction (a snapshot of its own) and expiry down to one snapshot leave only the
 * compaction's snapshot in the table's history; the second run must resume after the first run's
 * records — it reads only the new ones, no row twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { currentSnapshot } from '../../src/iceberg/metadata.js';
import { recordedOffsets } from '../../src/ingest/offsets.js';
import { StreamingJob } from '../../src/ingest/streaming-job.js';
import { expireSnapshots } from '../../src/maintenance/expire-snapshots.js';
import { rewriteDataFiles } from '../../src/maintenance/rewrite-data-files.js';
import type { KafkaBroker } from '../support/kafka.js';
import { openBrokerCatalog, produce, quietLog, record, recordSchema, sql } from './support.js';

const schema = recordSchema;

describe('Kafka offsets survive compaction and snapshot expiry', () => {
  let kafka: KafkaBroker;
  let catalog: SqlCatalog;
  let env: Awaited<ReturnType<typeof openBrokerCatalog>> | undefined;
  beforeAll(async () => {
    ({ kafka, catalog } = env = await openBrokerCatalog('lh-offmaint-'));
  });
  afterAll(() => env?.close());

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
