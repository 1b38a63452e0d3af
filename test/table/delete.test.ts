import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import type { Catalog, LoadedTable } from '../../src/catalog/catalog.js';
import type { TableIdent } from '../../src/catalog/store.js';
import { isLakehouseError, lakehouseError } from '../../src/core/errors.js';
import { Duck } from '../../src/duck/db.js';
import { readManifest } from '../../src/iceberg/manifest.js';
import { FileContent, ManifestContent, ManifestEntryStatus } from '../../src/iceberg/manifest-types.js';
import { currentSnapshot } from '../../src/iceberg/metadata.js';
import { buildPartitionSpec } from '../../src/iceberg/partition.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { deleteWhere, overwriteWhere, replaceAll } from '../../src/table/row-delta.js';
import { DELETE_FILE_PATH_ID, DELETE_POS_ID } from '../../src/table/position-delete-writer.js';
import { listManifests, planScan } from '../../src/table/scan-planner.js';
import { queryTable } from '../../src/table/scan-query.js';
import { appendSql, bindTable } from '../../src/table/table-ops.js';
import { installFileFetch } from '../support/file-fetch.js';

const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'cat', required: false, type: 'string' },
    { id: 3, name: 'v', required: false, type: 'double' },
  ],
};

const rows = (from: number, to: number) =>
  `SELECT range AS id, CASE range % 3 WHEN 0 THEN 'a' WHEN 1 THEN 'b' ELSE 'c' END AS cat, range / 2.0 AS v FROM range(${from}, ${to})`;

const src = (t: LoadedTable) => ({ io: t.io, metadata: t.metadata, resolve: (p: string) => p });

async function ids(t: LoadedTable): Promise<number[]> {
  const r = await queryTable(src(t), 'SELECT id FROM t ORDER BY id');
  return r.rows.map((x) => Number(x[0]));
}

function range(a: number, b: number, keep: (i: number) => boolean = () => true): number[] {
  const out: number[] = [];
  for (let i = a; i < b; i++) if (keep(i)) out.push(i);
  return out;
}

const summary = (t: LoadedTable) => currentSnapshot(t.metadata)!.summary;

/** Entries of every manifest of the current snapshot, with the manifest they came from. */
async function manifestEntries(t: LoadedTable) {
  const ms = await listManifests(t.metadata, currentSnapshot(t.metadata)!, t.io, (p) => p);
  const out = [];
  for (const m of ms) {
    const { entries } = readManifest(await t.io.read(m.manifestPath), { file: m.manifestPath });
    for (const e of entries) out.push({ manifest: m, entry: e });
  }
  return { manifests: ms, entries: out };
}

/** A catalog whose commitTable runs `before` once (e.g. a concurrent writer) or fails. */
function hookedCatalog(inner: SqlCatalog, before: () => Promise<void>): Catalog {
  let fired = false;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'commitTable') {
        return async (ident: TableIdent, req: Parameters<Catalog['commitTable']>[1]) => {
          if (!fired) {
            fired = true;
            await before();
          }
          return target.commitTable(ident, req);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('row-level deletes and overwrites', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let duck: Duck;
  let n = 0;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-delete-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    await catalog.createNamespace(['db']);
    duck = await Duck.open();
  });
  afterAll(async () => {
    duck.close();
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function table(opts: { partition?: string[]; formatVersion?: 1 | 2; batches?: [number, number][] } = {}): Promise<{ ident: TableIdent; t: LoadedTable }> {
    const ident = { namespace: ['db'], name: `t${n++}` };
    const spec = opts.partition ? buildPartitionSpec(schema, opts.partition) : undefined;
    await catalog.createTable(ident, newTableMetadata({ schema, spec, formatVersion: opts.formatVersion, location: catalog.defaultTableLocation(ident) }));
    let t = await catalog.loadTable(ident);
    for (const [a, b] of opts.batches ?? [[0, 100], [100, 200]]) t = await appendSql(catalog, ident, duck, rows(a, b));
    return { ident, t };
  }

  it('removes a whole data file without writing delete files', async () => {
    const { ident, t: before } = await table();
    const untouched = (await manifestEntries(before)).manifests.find((m) => m.addedSnapshotId === before.metadata.snapshots[0]['snapshot-id'])!;
    const t = await deleteWhere(catalog, ident, duck, 'id >= 100');
    const s = summary(t);
    expect(s.operation).toBe('delete');
    expect(s['deleted-data-files']).toBe('1');
    expect(s['deleted-records']).toBe('100');
    expect(s['added-delete-files']).toBeUndefined();
    expect(s['total-records']).toBe('100');
    expect(s['total-data-files']).toBe('1');
    expect(await ids(t)).toEqual(range(0, 100));
    const { manifests, entries } = await manifestEntries(t);
    // The manifest of the untouched file is carried over as is (same path).
    expect(manifests.map((m) => m.manifestPath)).toContain(untouched.manifestPath);
    const deleted = entries.filter((e) => e.entry.status === ManifestEntryStatus.DELETED);
    expect(deleted).toHaveLength(1);
    expect(deleted[0].entry.snapshotId).toBe(currentSnapshot(t.metadata)!['snapshot-id']);
    expect(deleted[0].manifest.deletedFilesCount).toBe(1);
  });

  it('a delete touching the files of many small commits merges their manifests into one', async () => {
    const batches = Array.from({ length: 12 }, (_, i) => [i * 10, i * 10 + 10] as [number, number]);
    const { ident, t: before } = await table({ batches });
    expect((await manifestEntries(before)).manifests).toHaveLength(12);
    // The first six commits' files go whole; none is touched partly.
    const t = await deleteWhere(catalog, ident, duck, 'id < 60');
    expect(await ids(t)).toEqual(range(60, 120));
    const { manifests, entries } = await manifestEntries(t);
    // Six untouched manifests carried as they were, plus one merged manifest for the six touched.
    expect(manifests).toHaveLength(7);
    const merged = manifests.filter((m) => m.deletedFilesCount > 0);
    expect(merged).toHaveLength(1);
    expect(merged[0].deletedFilesCount).toBe(6);
    const live = entries.filter((e) => e.entry.status !== ManifestEntryStatus.DELETED);
    expect(live.map((e) => e.entry.dataFile.recordCount).reduce((a, b) => a + b, 0n)).toBe(60n);
  });

  it('writes a position delete file for a partly matching file, and never re-deletes rows', async () => {
    const { ident } = await table();
    let t = await deleteWhere(catalog, ident, duck, 'id % 10 = 0');
    let s = summary(t);
    expect(s.operation).toBe('delete');
    expect(s['added-delete-files']).toBe('2');
    expect(s['added-position-deletes']).toBe('20');
    expect(s['total-position-deletes']).toBe('20');
    expect(s['total-records']).toBe('200');
    expect(s['deleted-data-files']).toBeUndefined();
    expect(await ids(t)).toEqual(range(0, 200, (i) => i % 10 !== 0));

    // Through bindTable as well.
    await bindTable(duck, 'bound', t);
    const r = await duck.rows('SELECT count(*) AS c, sum(id) AS s FROM bound');
    expect(Number(r[0].c)).toBe(180);

    // The delete file: Parquet with the reserved field ids, sorted by file_path, pos.
    const plan = await planScan(t.metadata, currentSnapshot(t.metadata)!, { io: t.io, resolve: (p) => p });
    const del = plan.deleteFiles[0];
    expect(del.file.content).toBe(FileContent.POSITION_DELETES);
    const dataPaths = plan.tasks.map((x) => x.file.filePath);
    expect(dataPaths).toContain(del.file.referencedDataFile);
    const ps = await duck.rows(`SELECT name, field_id FROM parquet_schema('${del.location}') WHERE name IN ('file_path', 'pos') ORDER BY name`);
    expect(ps.map((x) => [x.name, Number(x.field_id)])).toEqual([['file_path', DELETE_FILE_PATH_ID], ['pos', DELETE_POS_ID]]);
    const content = await duck.rows(`SELECT file_path, pos FROM read_parquet('${del.location}')`);
    expect(content).toHaveLength(10);
    const sorted = [...content].sort((a, b) => Number(a.pos as bigint) - Number(b.pos as bigint));
    expect(content).toEqual(sorted);
    const dm = (await manifestEntries(t)).manifests.filter((m) => m.content === ManifestContent.DELETES);
    expect(dm).toHaveLength(1);

    // Rows already deleted are not deleted again.
    t = await deleteWhere(catalog, ident, duck, 'id % 5 = 0');
    s = summary(t);
    expect(s['added-position-deletes']).toBe('20');
    expect(s['total-position-deletes']).toBe('40');
    expect(await ids(t)).toEqual(range(0, 200, (i) => i % 5 !== 0));

    // Every remaining live row of the first file matches: the file goes, deletes do not count.
    t = await deleteWhere(catalog, ident, duck, 'id < 100');
    s = summary(t);
    expect(s['deleted-data-files']).toBe('1');
    expect(s['added-position-deletes']).toBeUndefined();
    expect(s['total-records']).toBe('100');
    expect(await ids(t)).toEqual(range(100, 200, (i) => i % 5 !== 0));

    // Nothing matches: no snapshot.
    const same = await deleteWhere(catalog, ident, duck, 'id > 100000');
    expect(same.metadata['current-snapshot-id']).toBe(t.metadata['current-snapshot-id']);
  });

  it('touches only the matching partition of a partitioned table', async () => {
    const { ident, t: before } = await table({ partition: ['cat'], batches: [[0, 300]] });
    const appendSnap = currentSnapshot(before.metadata)!;
    let t = await deleteWhere(catalog, ident, duck, "cat = 'a'");
    let s = summary(t);
    expect(s.operation).toBe('delete');
    expect(s['deleted-data-files']).toBe('1');
    expect(s['changed-partition-count']).toBe('1');
    expect(s['total-records']).toBe('200');
    expect(await ids(t)).toEqual(range(0, 300, (i) => i % 3 !== 0));
    // One manifest held the three files: rewritten with the other two as EXISTING.
    const { entries } = await manifestEntries(t);
    const existing = entries.filter((e) => e.entry.status === ManifestEntryStatus.EXISTING);
    expect(existing).toHaveLength(2);
    for (const e of existing) {
      expect(e.entry.snapshotId).toBe(appendSnap['snapshot-id']);
      expect(e.entry.sequenceNumber).toBe(BigInt(appendSnap['sequence-number']));
      expect(e.entry.fileSequenceNumber).toBe(BigInt(appendSnap['sequence-number']));
    }
    expect(entries.filter((e) => e.entry.status === ManifestEntryStatus.DELETED)).toHaveLength(1);

    // A partial delete in partition b: the delete file lives in b's partition.
    t = await deleteWhere(catalog, ident, duck, "cat = 'b' AND id < 50");
    s = summary(t);
    expect(s['added-position-deletes']).toBe(String(range(0, 50, (i) => i % 3 === 1).length));
    expect(s['changed-partition-count']).toBe('1');
    const plan = await planScan(t.metadata, currentSnapshot(t.metadata)!, { io: t.io, resolve: (p) => p });
    expect(plan.deleteFiles).toHaveLength(1);
    expect(plan.deleteFiles[0].file.partition).toEqual(['b']);
    expect(plan.deleteFiles[0].file.filePath).toContain('/cat=b/');
    expect(await ids(t)).toEqual(range(0, 300, (i) => i % 3 === 2 || (i % 3 === 1 && i >= 50)));
    // Snapshot of the table before still reads (time travel).
    expect(await ids(before)).toEqual(range(0, 300));
  });

  it('overwrites by filter in one overwrite snapshot', async () => {
    const { ident } = await table({ partition: ['cat'], batches: [[0, 300]] });
    const t = await overwriteWhere(catalog, ident, duck, "cat = 'a' OR id < 10", `SELECT 1000 + range AS id, 'a' AS cat, 0.0 AS v FROM range(5)`);
    const s = summary(t);
    expect(s.operation).toBe('overwrite');
    expect(s['deleted-data-files']).toBe('1');
    expect(s['added-data-files']).toBe('1');
    expect(s['added-records']).toBe('5');
    // ids 1,2,4,5,7,8 (< 10, not cat a) in two partially hit files.
    expect(s['added-position-deletes']).toBe('6');
    expect(s['total-records']).toBe(String(300 - 100 + 5));
    expect(t.metadata.snapshots).toHaveLength(2);
    expect(await ids(t)).toEqual([...range(10, 300, (i) => i % 3 !== 0), ...range(1000, 1005)]);
  });

  it('replaces the whole table, dropping delete files too', async () => {
    const { ident } = await table();
    await deleteWhere(catalog, ident, duck, 'id % 2 = 0');
    const t = await replaceAll(catalog, ident, duck, rows(500, 520));
    const s = summary(t);
    expect(s.operation).toBe('overwrite');
    expect(s['deleted-data-files']).toBe('2');
    expect(s['removed-delete-files']).toBe('2');
    expect(s['total-records']).toBe('20');
    expect(s['total-data-files']).toBe('1');
    expect(s['total-delete-files']).toBe('0');
    expect(s['total-position-deletes']).toBe('0');
    expect(await ids(t)).toEqual(range(500, 520));
    // On an empty table replaceAll is an overwrite that only adds.
    const fresh = { namespace: ['db'], name: `t${n++}` };
    await catalog.createTable(fresh, newTableMetadata({ schema, location: catalog.defaultTableLocation(fresh) }));
    const e = await replaceAll(catalog, fresh, duck, rows(0, 3));
    expect(summary(e)['total-records']).toBe('3');
  });

  it('a delete racing an append: both commit, rows correct', async () => {
    const { ident } = await table();
    const other = await Duck.open();
    try {
      const racing = hookedCatalog(catalog, async () => {
        await appendSql(catalog, ident, other, rows(200, 250));
      });
      const t = await deleteWhere(racing, ident, duck, 'id < 100 OR id % 10 = 5');
      expect(t.metadata.snapshots).toHaveLength(4);
      const s = summary(t);
      expect(s['deleted-data-files']).toBe('1');
      expect(s['added-position-deletes']).toBe('10');
      // Appended rows were not planned for, so they survive even where they match.
      expect(s['total-records']).toBe('150');
      expect(await ids(t)).toEqual([...range(100, 200, (i) => i % 10 !== 5), ...range(200, 250)]);
    } finally {
      other.close();
    }
  });

  it('deletes and appends running concurrently all commit', async () => {
    const { ident } = await table();
    const ducks = await Promise.all([Duck.open(), Duck.open(), Duck.open()]);
    try {
      await Promise.all([
        deleteWhere(catalog, ident, ducks[0], 'id % 4 = 0 AND id < 200'),
        appendSql(catalog, ident, ducks[1], rows(200, 230)),
        appendSql(catalog, ident, ducks[2], rows(230, 260)),
      ]);
      const t = await catalog.loadTable(ident);
      expect(t.metadata.snapshots).toHaveLength(5);
      expect(summary(t)['total-records']).toBe('260');
      expect(await ids(t)).toEqual(range(0, 260, (i) => i >= 200 || i % 4 !== 0));
    } finally {
      for (const d of ducks) d.close();
    }
  });

  it('fails with COMMIT_FAILED when a concurrent commit removed a file it touches', async () => {
    const { ident, t: before } = await table();
    for (const pred of ['id < 100', 'id = 3']) {
      const racing = hookedCatalog(catalog, async () => {
        await deleteWhere(catalog, ident, duck, 'id < 100');
      });
      const err = await deleteWhere(racing, ident, duck, pred).catch((e: unknown) => e);
      expect(isLakehouseError(err, 'COMMIT_FAILED')).toBe(true);
      if (pred === 'id < 100') {
        const now = await catalog.loadTable(ident);
        expect(await ids(now)).toEqual(range(100, 200));
        // Second round starts from here: re-add the rows so the race can happen again.
        await appendSql(catalog, ident, duck, rows(0, 100));
      }
    }
    expect(before.metadata.snapshots).toHaveLength(2);
    // Concurrent position deletes on a file this delete also partly deletes: fail, not double-delete.
    const racing = hookedCatalog(catalog, async () => {
      await deleteWhere(catalog, ident, duck, 'id = 150');
    });
    const err = await deleteWhere(racing, ident, duck, 'id = 151').catch((e: unknown) => e);
    expect(isLakehouseError(err, 'COMMIT_FAILED')).toBe(true);
  });

  it('a failed commit leaves the table readable at the previous snapshot', async () => {
    const { ident, t: before } = await table();
    const failing = hookedCatalog(catalog, async () => {
      throw lakehouseError('INTERNAL', 'injected failure');
    });
    const err = await deleteWhere(failing, ident, duck, 'id % 10 = 0 OR id >= 150').catch((e: unknown) => e);
    expect(isLakehouseError(err, 'INTERNAL')).toBe(true);
    const now = await catalog.loadTable(ident);
    expect(now.metadataLocation).toBe(before.metadataLocation);
    expect(await ids(now)).toEqual(range(0, 200));
    // Nothing it wrote is left behind under data/ or metadata/ besides the previous files.
    const files = (await now.io.list(now.metadata.location)).map((f) => f.location);
    expect(files.filter((f) => f.includes('-deletes.parquet'))).toEqual([]);
    const planned = await planScan(now.metadata, currentSnapshot(now.metadata)!, { io: now.io, resolve: (p) => p });
    for (const task of planned.tasks) expect(existsSync(task.location)).toBe(true);
  });

  it('v1 tables and copy-on-write mode rewrite partly matching files', async () => {
    for (const [formatVersion, mode] of [[1, undefined], [2, 'copy-on-write']] as const) {
      const { ident } = await table({ formatVersion });
      const t = await deleteWhere(catalog, ident, duck, 'id % 10 = 0 OR id >= 150', { mode });
      const s = summary(t);
      expect(s.operation).toBe('overwrite');
      expect(s['deleted-data-files']).toBe('2');
      expect(s['added-data-files']).toBe('2');
      expect(s['added-delete-files']).toBeUndefined();
      expect(s['total-records']).toBe(String(90 + 45));
      expect(await ids(t)).toEqual(range(0, 150, (i) => i % 10 !== 0));
    }
  });

  it('icebird reads the deleted table identically (when installed)', async () => {
    const icebird = await import('icebird').catch(() => null);
    if (!icebird) return;
    const { ident } = await table({ partition: ['cat'] });
    await deleteWhere(catalog, ident, duck, "cat = 'a'");
    const t = await deleteWhere(catalog, ident, duck, 'id % 7 = 0');
    const restore = installFileFetch();
    try {
      const metadataFileName = t.metadataLocation.slice(t.metadataLocation.lastIndexOf('/') + 1);
      const theirs = (await icebird.icebergRead({ tableUrl: t.metadata.location, metadataFileName })) as Record<string, unknown>[];
      expect(theirs.map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual(await ids(t));
    } finally {
      restore();
    }
  });
});
