import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { commitTypedBatch, type TableState, type TypedBatch } from '../../src/ingest/batch-commit.js';
import { OffsetConflictError } from '../../src/ingest/commit.js';
import { recordedOffsets, type TopicOffsets } from '../../src/ingest/offsets.js';

/**
 * The exactly-once guard of a Kafka batch commit, on a real SQLite catalog: a batch commits only
 * when it starts exactly where the table's recorded offsets end. One that would repeat records
 * (starts before) or skip them (starts after) is an OffsetConflictError and changes nothing —
 * even when the job's own view of the table is current (the consumer position is what drifted).
 */
describe('Kafka batch commit: the batch must start where the table’s offsets end', () => {
  let dir: string;
  let catalog: SqlCatalog;
  const ident = { namespace: ['k'], name: 'events' };
  const topic = 'events';
  const offsets = (p0: number, p1?: number): TopicOffsets => new Map([[topic, new Map([[0, BigInt(p0)], ...(p1 === undefined ? [] : ([[1, BigInt(p1)]] as [number, bigint][]))])]]);
  const batch = (id: string, from: TopicOffsets, end: TopicOffsets, records: number): TypedBatch => ({ id, from, end, records, letters: [], dataFiles: [], rows: 0, suspect: null });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-bc-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    await catalog.createNamespace(['k']);
    const schema = { type: 'struct' as const, 'schema-id': 0, fields: [{ id: 1, name: 'id', type: 'long', required: false }] };
    await catalog.createTable(ident, newTableMetadata({ schema: schema as never, location: catalog.defaultTableLocation(ident) }));
  });
  afterAll(async () => {
    await catalog?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits contiguous batches and refuses one that repeats or skips records, changing nothing', async () => {
    const target = { catalog, duck: null as never, jobId: 'j', table: ident, dlqIdent: { namespace: ['k'], name: 'events__dlq' }, topics: [topic], stageDir: dir };
    const st: TableState = { target: await catalog.loadTable(ident), dlq: null as never, tableWm: new Map(), dlqWm: new Map() };
    const beat = async () => undefined;
    const tableOffsets = async () => recordedOffsets((await catalog.loadTable(ident)).metadata, [topic]).get(topic);

    // First batch: nothing recorded yet, any start is taken (the job's start position).
    expect(await commitTypedBatch(target, st, batch('b1', offsets(0, 0), offsets(5, 3), 8), beat)).toMatchObject({ committed: true });
    // The next one continues exactly there.
    expect(await commitTypedBatch(target, st, batch('b2', offsets(5, 3), offsets(9, 4), 5), beat)).toMatchObject({ committed: true });
    expect(await tableOffsets()).toEqual(new Map([[0, 9n], [1, 4n]]));
    const snapshots = (await catalog.loadTable(ident)).metadata.snapshots.length;

    // The job's view is current (tableWm), but the batch re-reads partition 0 from 5: refused.
    await expect(commitTypedBatch(target, st, batch('b3', offsets(5, 4), offsets(12, 6), 9), beat)).rejects.toBeInstanceOf(OffsetConflictError);
    await expect(commitTypedBatch(target, st, batch('b3', offsets(5, 4), offsets(12, 6), 9), beat)).rejects.toThrow(/events\/0: batch starts at 5 but the table's offsets end at 9/);
    // Starting past the table's end would skip records 9..10: refused as well.
    await expect(commitTypedBatch(target, st, batch('b4', offsets(11), offsets(12), 1), beat)).rejects.toBeInstanceOf(OffsetConflictError);
    expect((await catalog.loadTable(ident)).metadata.snapshots.length).toBe(snapshots);
    expect(await tableOffsets()).toEqual(new Map([[0, 9n], [1, 4n]]));

    // A partition the table has no offset for yet (a new one) may start anywhere beside a contiguous one.
    const fresh = new Map([[topic, new Map([[0, 9n], [2, 0n]])]]);
    const freshEnd = new Map([[topic, new Map([[0, 10n], [2, 2n]])]]);
    expect(await commitTypedBatch(target, st, batch('b5', fresh, freshEnd, 3), beat)).toMatchObject({ committed: true });
    expect(await tableOffsets()).toEqual(new Map([[0, 10n], [1, 4n], [2, 2n]]));
  });
});
