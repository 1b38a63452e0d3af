import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { currentSnapshot, snapshotById } from '../../src/iceberg/metadata.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { appendSql } from '../../src/table/table-ops.js';
import { createTag } from '../../src/table/table-admin.js';
import { canonicalPath } from '../../src/maintenance/common.js';
import { expireSnapshots, referencedFiles, removeOrphanFiles, rewriteDataFiles, tableHealth } from '../../src/maintenance/index.js';
import { count, rows, schema } from './support.js';

const WORKERS = 3;
const APPENDS = 15;
const ROWS = 5;

describe('maintenance beside a streaming writer', () => {
  let dir: string;
  let catalog: SqlCatalog;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-maint-conc-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    await catalog.createNamespace(['db']);
  });
  afterAll(async () => {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never fails or loses an append while compaction and expiry run repeatedly', async () => {
    const ident = { namespace: ['db'], name: 'stream' };
    await catalog.createTable(ident, newTableMetadata({ schema, location: catalog.defaultTableLocation(ident) }));
    const ducks = await Promise.all(Array.from({ length: WORKERS + 1 }, () => Duck.open({ threads: 1 })));
    const maint = ducks[WORKERS];
    try {
      // A tag on the first snapshot: expiry must keep it (and its files) throughout.
      const first = await appendSql(catalog, ident, maint, rows(-ROWS, 0));
      const tagged = currentSnapshot(first.metadata)!['snapshot-id'];
      await createTag(catalog, ident, 'first', tagged);

      let done = 0;
      const t0 = Date.now();
      const writers = Array.from({ length: WORKERS }, async (_, w) => {
        try {
          for (let i = 0; i < APPENDS; i++) {
            const start = (w * APPENDS + i) * ROWS;
            await appendSql(catalog, ident, ducks[w], rows(start, start + ROWS));
          }
        } finally {
          done++;
        }
      });
      const stats = { compactions: 0, conflicts: 0, expired: 0, rounds: 0 };
      const maintenance = (async () => {
        while (done < WORKERS) {
          stats.rounds++;
          const r = await rewriteDataFiles(catalog, ident, maint, { minInputFiles: 2 });
          if (r.snapshotId !== null) stats.compactions++;
          stats.conflicts += r.groups.filter((g) => g.status === 'conflict').length;
          const e = await expireSnapshots(catalog, ident, { olderThanMs: Date.now(), retainLast: 3 });
          stats.expired += e.expiredSnapshotIds.length;
        }
      })();
      await Promise.all([...writers, maintenance]);
      const concurrentMs = Date.now() - t0;

      // Every snapshot the loop retained reads back (its files were not deleted by expiry).
      const mid = await catalog.loadTable(ident);
      expect(mid.metadata.snapshots.length).toBeGreaterThanOrEqual(4);
      for (const s of mid.metadata.snapshots) expect((await count(maint, mid, s)).n).toBeGreaterThan(0);
      // Final pass once the writer is done.
      const final = await rewriteDataFiles(catalog, ident, maint, { minInputFiles: 2 });
      const expired = await expireSnapshots(catalog, ident, { olderThanMs: Date.now(), retainLast: 1 });
      let t = expired.table;
      const total = (WORKERS * APPENDS + 1) * ROWS;
      expect(await count(maint, t)).toEqual({ n: total, distinct: total });
      const health = await tableHealth(t);
      // 46 appended files → at most 1/10 as many.
      expect(health.dataFiles * 10).toBeLessThanOrEqual(WORKERS * APPENDS + 1);
      expect(stats.compactions + (final.snapshotId ? 1 : 0)).toBeGreaterThan(0);
      // ref heads kept: main and the tag
      expect(t.metadata.snapshots).toHaveLength(2);
      expect(snapshotById(t.metadata, tagged)).toBeDefined();
      expect(await count(maint, t, snapshotById(t.metadata, tagged))).toEqual({ n: ROWS, distinct: ROWS });

      // Orphans: every file under the table is referenced afterwards, nothing referenced is gone.
      writeFileSync(`${t.metadata.location}/data/stray.parquet`, 'x');
      await new Promise((r) => setTimeout(r, 20));
      const orphans = await removeOrphanFiles(catalog, ident, { olderThanMs: Date.now() });
      expect(orphans.orphanFiles.some((f) => f.endsWith('/stray.parquet'))).toBe(true);
      t = await catalog.loadTable(ident);
      const referenced = await referencedFiles(t);
      const listed = (await t.io.list(t.metadata.location)).map((f) => canonicalPath(f.location));
      expect(listed.filter((f) => !referenced.has(f))).toEqual([]);
      for (const f of await referencedFiles(t, { liveOnly: true })) if (!f.endsWith('version-hint.text')) expect(existsSync(f), f).toBe(true);
      for (const s of t.metadata.snapshots) expect((await count(maint, t, s)).n).toBeGreaterThan(0);
      expect(await count(maint, t)).toEqual({ n: total, distinct: total });
      console.log(`concurrent phase ${concurrentMs} ms`, stats, `final files ${health.dataFiles}, orphans removed ${orphans.deletedFiles}`);
    } finally {
      for (const d of ducks) d.close();
    }
  });
});
