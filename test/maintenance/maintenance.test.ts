import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import type { LoadedTable } from '../../src/catalog/catalog.js';
import type { TableIdent } from '../../src/catalog/store.js';
import { Duck } from '../../src/duck/db.js';
import { FileContent } from '../../src/iceberg/manifest-types.js';
import { currentSnapshot, snapshotById } from '../../src/iceberg/metadata.js';
import { buildPartitionSpec } from '../../src/iceberg/partition.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { deleteWhere } from '../../src/table/row-delta.js';
import { listManifests, planScan } from '../../src/table/scan-planner.js';
import { appendSql } from '../../src/table/table-ops.js';
import { createBranch, createTag, removeRef, setProperties } from '../../src/table/table-admin.js';
import {
  deleteObsoleteMetadata, dueActions, expireSnapshots, maintenancePolicy, referencedFiles, removeOrphanFiles, rewriteDataFiles,
  rewriteManifests, snapshotsToExpire, tableHealth,
} from '../../src/maintenance/index.js';
import { canonicalPath } from '../../src/maintenance/common.js';
import { commitEqualityDelete, count, hookedCatalog, rows, schema, snapshotRows } from './support.js';

describe('table maintenance', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let duck: Duck;
  let n = 0;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-maint-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    await catalog.createNamespace(['db']);
    duck = await Duck.open({ threads: 2 });
  });
  afterAll(async () => {
    duck.close();
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function table(opts: { partition?: string[]; batches: number; size: number; properties?: Record<string, string> }): Promise<{ ident: TableIdent; t: LoadedTable }> {
    const ident = { namespace: ['db'], name: `t${n++}` };
    const spec = opts.partition ? buildPartitionSpec(schema, opts.partition) : undefined;
    await catalog.createTable(ident, newTableMetadata({ schema, spec, location: catalog.defaultTableLocation(ident), properties: opts.properties }));
    let t = await catalog.loadTable(ident);
    for (let i = 0; i < opts.batches; i++) t = await appendSql(catalog, ident, duck, rows(i * opts.size, (i + 1) * opts.size));
    return { ident, t };
  }

  const plan = async (t: LoadedTable) => planScan(t.metadata, currentSnapshot(t.metadata)!, { io: t.io, resolve: (p) => p });

  it('bin-packs tiny files per partition, merging position deletes, as one replace snapshot', async () => {
    const { ident } = await table({ partition: ['cat'], batches: 8, size: 30 });
    const deleted = await deleteWhere(catalog, ident, duck, 'id % 7 = 0');
    const before = await snapshotRows(duck, deleted);
    const beforeSnap = currentSnapshot(deleted.metadata)!;
    expect((await plan(deleted)).deleteFiles.length).toBeGreaterThan(0);
    const h0 = await tableHealth(deleted);
    expect(h0).toMatchObject({ dataFiles: 24, smallFiles: 24 });

    const r = await rewriteDataFiles(catalog, ident, duck);
    expect(r.snapshotId).not.toBeNull();
    expect(r.groups.map((g) => g.status)).toEqual(['rewritten', 'rewritten', 'rewritten']);
    expect(r).toMatchObject({ rewrittenDataFiles: 24, addedDataFiles: 3, removedDeleteFiles: h0.deleteFiles });
    const t = r.table;
    const s = currentSnapshot(t.metadata)!;
    expect(s.summary).toMatchObject({ operation: 'replace', 'total-data-files': '3', 'total-delete-files': '0', 'total-records': String(before.length) });
    expect(await snapshotRows(duck, t)).toEqual(before);
    // The 8 appends' manifests and the delete manifest are merged, not rewritten one by one: one
    // manifest of added files plus one rewritten manifest per content (data, position deletes).
    const manifests = await listManifests(t.metadata, s, t.io, (x) => x);
    expect(manifests.length).toBeLessThanOrEqual(3);
    expect(manifests.reduce((n, m) => n + m.deletedFilesCount, 0)).toBe(24 + h0.deleteFiles);
    // partition values preserved: one file per cat, every row in the right one
    const p = await plan(t);
    expect(p.tasks.map((x) => x.file.partition[0]).sort()).toEqual(['a', 'b', 'c']);
    for (const task of p.tasks) {
      const [{ bad }] = await duck.rows(`SELECT count(*) FILTER (WHERE cat <> '${String(task.file.partition[0])}') AS bad FROM read_parquet('${task.file.filePath}')`);
      expect(Number(bad)).toBe(0);
      expect(task.dataSequenceNumber).toBe(BigInt(beforeSnap['sequence-number']));
    }
    // the old snapshot still reads the same rows (time travel through the old files + deletes)
    expect(await snapshotRows(duck, t, beforeSnap)).toEqual(before);
    // healthy now: nothing to do
    const again = await rewriteDataFiles(catalog, ident, duck);
    expect(again.snapshotId).toBeNull();
    expect(again.skippedPartitions).toBe(3);
  });

  it('sorts by the given sort order and honours partitionFilter / minInputFiles', async () => {
    const { ident } = await table({ partition: ['cat'], batches: 3, size: 30 });
    const none = await rewriteDataFiles(catalog, ident, duck);
    expect(none.snapshotId).toBeNull(); // 3 small files per partition < minInputFiles 5
    const r = await rewriteDataFiles(catalog, ident, duck, {
      minInputFiles: 2,
      partitionFilter: (p) => p.values.cat === 'b',
      sortOrder: { 'order-id': 1, fields: [{ transform: 'identity', 'source-id': 1, direction: 'desc', 'null-order': 'nulls-last' }] },
    });
    expect(r.groups).toHaveLength(1);
    const p = await plan(r.table);
    expect(p.tasks).toHaveLength(7);
    const b = p.tasks.find((x) => x.file.partition[0] === 'b' && x.snapshotId === r.snapshotId)!;
    const ids = (await duck.rows(`SELECT id FROM read_parquet('${b.file.filePath}') ORDER BY file_row_number`)).map((x) => Number(x.id));
    expect(ids).toEqual([...ids].sort((x, y) => y - x));
    expect(ids).toHaveLength(30);
  });

  it('keeps concurrent equality deletes applying to the rewritten rows (starting sequence number)', async () => {
    const { ident } = await table({ batches: 6, size: 10 });
    const eqDuck = await Duck.open({ threads: 1 });
    try {
      const hooked = hookedCatalog(catalog, async () => {
        await commitEqualityDelete(catalog, ident, eqDuck, [3, 15, 42]);
      });
      const r = await rewriteDataFiles(hooked, ident, duck);
      expect(r.groups[0].status).toBe('rewritten');
      expect(r.snapshotId).not.toBeNull();
      const t = await catalog.loadTable(ident);
      const ids = (await snapshotRows(duck, t)).map((x) => Number(x.split('|')[0]));
      const expected = Array.from({ length: 60 }, (_, i) => i).filter((i) => ![3, 15, 42].includes(i));
      expect(ids).toEqual(expected);
      const p = await plan(t);
      expect(p.tasks).toHaveLength(1);
      // the rewritten file has the starting sequence number, below the equality delete's
      expect(p.tasks[0].dataSequenceNumber).toBe(BigInt(r.startingSequenceNumber!));
      expect(p.deleteFiles).toHaveLength(1);
      expect(p.tasks[0].deletes.map((d) => d.file.content)).toEqual([FileContent.EQUALITY_DELETES]);
      expect(p.deleteFiles[0].dataSequenceNumber).toBeGreaterThan(p.tasks[0].dataSequenceNumber);
      // a second compaction merges the equality delete and drops it (no longer applies)
      const r2 = await rewriteDataFiles(catalog, ident, duck);
      expect(r2.removedDeleteFiles).toBe(1);
      expect((await snapshotRows(duck, r2.table)).map((x) => Number(x.split('|')[0]))).toEqual(expected);
      expect((await plan(r2.table)).deleteFiles).toHaveLength(0);
    } finally {
      eqDuck.close();
    }
  });

  it('gives up only the partition groups a concurrent position delete touched', async () => {
    const { ident } = await table({ partition: ['cat'], batches: 5, size: 30 });
    const other = await Duck.open({ threads: 1 });
    try {
      const hooked = hookedCatalog(catalog, async () => {
        await deleteWhere(catalog, ident, other, 'id = 0'); // cat 'a'
      });
      const r = await rewriteDataFiles(hooked, ident, duck);
      const byCat = Object.fromEntries(r.groups.map((g) => [String(g.partition[0]), g]));
      expect(byCat.a.status).toBe('conflict');
      expect(byCat.a.reason).toMatch(/delete file/);
      expect(byCat.b.status).toBe('rewritten');
      expect(byCat.c.status).toBe('rewritten');
      const t = await catalog.loadTable(ident);
      const ids = (await snapshotRows(duck, t)).map((x) => Number(x.split('|')[0]));
      expect(ids).toEqual(Array.from({ length: 149 }, (_, i) => i + 1));
      const p = await plan(t);
      expect(p.tasks.filter((x) => x.file.partition[0] === 'a')).toHaveLength(5);
      expect(p.tasks).toHaveLength(7);
      // nothing left behind by the abandoned group
      const referenced = await referencedFiles(t);
      const listed = (await t.io.list(`${t.metadata.location}/data`)).map((f) => canonicalPath(f.location));
      expect(listed.filter((f) => !referenced.has(f))).toEqual([]);
    } finally {
      other.close();
    }
  });

  it('expires snapshots but keeps ref heads, deleting only files no remaining snapshot reaches', async () => {
    const { ident, t: t0 } = await table({ batches: 6, size: 10 });
    const snaps = t0.metadata.snapshots;
    await createTag(catalog, ident, 'keep', snaps[2]['snapshot-id']);
    await createBranch(catalog, ident, 'dev', snaps[4]['snapshot-id'], { minSnapshotsToKeep: 2 });
    const compacted = await rewriteDataFiles(catalog, ident, duck, { minInputFiles: 2 });
    expect(snapshotsToExpire(compacted.table.metadata, { olderThanMs: Date.now() + 1, retainLast: 1 }).sort()).toEqual(
      [snaps[0], snaps[1], snaps[5]].map((s) => s['snapshot-id']).sort(),
    );
    await removeRef(catalog, ident, 'dev');
    const r = await expireSnapshots(catalog, ident, { olderThanMs: Date.now() + 1, retainLast: 1 });
    // kept: main head (compaction) and the tag; expired: appends 1, 2, 4, 5, 6
    expect(r.expiredSnapshotIds).toHaveLength(5);
    expect(r.table.metadata.snapshots.map((s) => s['snapshot-id']).sort()).toEqual([snaps[2]['snapshot-id'], compacted.snapshotId!].sort());
    expect(r).toMatchObject({ deletedDataFiles: 3, deletedManifests: 3, deletedManifestLists: 5, deletedDeleteFiles: 0 });
    const t = r.table;
    expect(await count(duck, t)).toEqual({ n: 60, distinct: 60 });
    expect(await count(duck, t, snapshotById(t.metadata, snaps[2]['snapshot-id']))).toEqual({ n: 30, distinct: 30 });
    for (const f of await referencedFiles(t, { liveOnly: true })) if (!f.endsWith('version-hint.text')) expect(existsSync(f), f).toBe(true);
    // dropping the tag lets its snapshot (and the files only it reached) go
    await removeRef(catalog, ident, 'keep');
    const r2 = await expireSnapshots(catalog, ident, { olderThanMs: Date.now() + 1 });
    expect(r2).toMatchObject({ deletedDataFiles: 3, deletedManifests: 3, deletedManifestLists: 1 });
    expect(r2.table.metadata.snapshots).toHaveLength(1);
    expect(await count(duck, r2.table)).toEqual({ n: 60, distinct: 60 });
    // defaults: 5-day max age keeps everything young
    const { ident: i2 } = await table({ batches: 3, size: 5 });
    expect((await expireSnapshots(catalog, i2)).expiredSnapshotIds).toEqual([]);
  });

  it('clusters manifests by partition without changing rows or sequence numbers, beside a concurrent append', async () => {
    const { ident, t: t0 } = await table({ partition: ['cat'], batches: 8, size: 9 });
    const seqBefore = new Map((await plan(t0)).tasks.map((x) => [x.file.filePath, x.dataSequenceNumber]));
    const other = await Duck.open({ threads: 1 });
    try {
      const hooked = hookedCatalog(catalog, async () => {
        await appendSql(catalog, ident, other, rows(1000, 1009));
      });
      const r = await rewriteManifests(hooked, ident, { targetManifestSizeBytes: 1024 * 1024 });
      expect(r).toMatchObject({ rewrittenManifests: 8, addedManifests: 1, entries: 24 });
      const t = r.table;
      expect(currentSnapshot(t.metadata)!.summary).toMatchObject({ operation: 'replace', 'total-records': '81', 'total-data-files': '27' });
      const ms = await listManifests(t.metadata, currentSnapshot(t.metadata)!, t.io, (p) => p);
      expect(ms).toHaveLength(2); // rewritten + the concurrent append's
      const after = (await plan(t)).tasks;
      expect(after).toHaveLength(27);
      for (const [path, seq] of seqBefore) expect(after.find((x) => x.file.filePath === path)!.dataSequenceNumber).toBe(seq);
      expect(await count(duck, t)).toEqual({ n: 81, distinct: 81 });
      // tiny target: one manifest per few entries, still clustered
      const r2 = await rewriteManifests(catalog, ident, { targetManifestSizeBytes: 1 });
      expect(r2.addedManifests).toBe(27);
      expect(await count(duck, r2.table)).toEqual({ n: 81, distinct: 81 });
    } finally {
      other.close();
    }
  });

  it('deletes metadata files that fell out of the metadata log, and orphans past the safety age', async () => {
    const { ident } = await table({ batches: 2, size: 5, properties: { 'write.metadata.previous-versions-max': '2', 'write.metadata.delete-after-commit.enabled': 'true' } });
    for (let i = 0; i < 3; i++) await appendSql(catalog, ident, duck, rows(100 + i, 101 + i));
    const t = await catalog.loadTable(ident);
    const mdFiles = async () => (await t.io.list(`${t.metadata.location}/metadata`)).filter((f) => f.location.endsWith('.metadata.json'));
    expect((await mdFiles()).length).toBe(6);
    const r = await deleteObsoleteMetadata(catalog, ident);
    expect(r.deleted).toHaveLength(3);
    expect((await mdFiles()).map((f) => canonicalPath(f.location)).sort()).toEqual(
      [t.metadataLocation, ...t.metadata['metadata-log'].map((e) => e['metadata-file'])].map(canonicalPath).sort(),
    );
    // orphans: dry run lists, the safety age protects young files
    writeFileSync(`${t.metadata.location}/data/orphan.parquet`, 'x');
    writeFileSync(`${t.metadata.location}/metadata/orphan-m0.avro`, 'x');
    expect((await removeOrphanFiles(catalog, ident)).orphanFiles).toEqual([]);
    await new Promise((res) => setTimeout(res, 20));
    const dry = await removeOrphanFiles(catalog, ident, { olderThanMs: Date.now(), dryRun: true });
    expect(dry.orphanFiles.map((f) => f.split('/').pop()).sort()).toEqual(['orphan-m0.avro', 'orphan.parquet']);
    expect(existsSync(`${t.metadata.location}/data/orphan.parquet`)).toBe(true);
    const real = await removeOrphanFiles(catalog, ident, { olderThanMs: Date.now() });
    expect(real.deletedFiles).toBe(2);
    expect(existsSync(`${t.metadata.location}/data/orphan.parquet`)).toBe(false);
    expect(await count(duck, await catalog.loadTable(ident))).toEqual({ n: 13, distinct: 13 });
  });

  it('reports health and which actions the table policy says are due', async () => {
    const { ident, t } = await table({ batches: 12, size: 5 });
    const h = await tableHealth(t);
    expect(h).toMatchObject({ dataFiles: 12, smallFiles: 12, deleteFiles: 0, deleteFileRatio: 0, snapshots: 12, manifests: 12, records: 60 });
    expect(h.avgFileSize).toBeCloseTo(h.totalBytes / 12);
    const policy = maintenancePolicy({ 'lakehouse.maintenance.max-snapshots': '10', 'lakehouse.maintenance.max-manifests': '20' });
    expect(dueActions(h, policy).actions).toEqual(['rewrite-data-files', 'expire-snapshots']);
    await setProperties(catalog, ident, { 'lakehouse.maintenance.enabled': 'false' });
    expect(dueActions(h, maintenancePolicy((await catalog.loadTable(ident)).metadata.properties)).actions).toEqual([]);
    const r = await rewriteDataFiles(catalog, ident, duck);
    const h2 = await tableHealth(r.table);
    expect(h2).toMatchObject({ dataFiles: 1, smallFiles: 1, records: 60 });
    expect(dueActions(h2, policy).actions).toEqual(['expire-snapshots']);
  });
});
