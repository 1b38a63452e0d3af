import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { currentSnapshot } from '../../src/iceberg/metadata.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { canonicalPath } from '../../src/maintenance/common.js';
import { expireSnapshots, referencedFiles, removeOrphanFiles, rewriteDataFiles, rewriteManifests, tableHealth } from '../../src/maintenance/index.js';
import { registerTableView } from '../../src/table/scan-query.js';
import type { LoadedTable } from '../../src/catalog/catalog.js';
import type { Snapshot } from '../../src/iceberg/snapshot.js';
import { runPython } from '../interop/python.js';
import { ensureDist, spawnWriter } from '../workers/harness.js';

/**
 * The soak: a streaming writer (its own OS process, test/workers/append-worker.mjs)
 * commits tiny appends of 100 rows while this process compacts and expires snapshots every few
 * seconds on the same catalog. Afterwards: exact row count, ≥ 10× fewer data files, every
 * retained snapshot readable (with the row count its summary claims), no orphan left after orphan
 * removal, and PyIceberg reads the same rows.
 *
 * Size: 500 appends by default, which still gives several compaction and expiry rounds each
 * beside the writer (the run time is the writer's commit rate; more commits mean more rounds of
 * the same races). LAKEHOUSE_SOAK_COMMITS=2000 runs the full 200,000 rows in 2,000
 * appends (about 2 minutes on a 2-core machine).
 */
const COMMITS = Number(process.env.LAKEHOUSE_SOAK_COMMITS ?? 500);
const ROWS = 100;
const TOTAL = COMMITS * ROWS;
const MAINTENANCE_EVERY_MS = 3000;

const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'writer', required: true, type: 'int' },
    { id: 2, name: 'seq', required: true, type: 'int' },
    { id: 3, name: 'n', required: true, type: 'long' },
  ],
};

async function counts(duck: Duck, t: LoadedTable, snap?: Snapshot): Promise<{ n: number; distinct: number }> {
  await registerTableView(duck, 'soak_rows', { io: t.io, metadata: t.metadata, resolve: (p: string) => p }, snap);
  const [r] = await duck.rows('SELECT count(*) AS n, count(DISTINCT (seq, n)) AS d FROM soak_rows');
  return { n: Number(r.n), distinct: Number(r.d) };
}

describe(`soak: ${COMMITS} tiny commits beside compaction and expiry`, () => {
  let dir: string;
  let catalog: SqlCatalog;
  const storeUrl = () => `sqlite:${dir}/catalog.db`;
  beforeAll(async () => {
    ensureDist();
    dir = mkdtempSync(join(tmpdir(), 'lh-soak-'));
    catalog = await openSqlCatalog({ storeUrl: storeUrl(), warehouse: `${dir}/wh` });
    await catalog.createNamespace(['soak']);
  }, 180_000);
  afterAll(async () => {
    await catalog?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exact rows, ≥ 10× fewer files, every retained snapshot readable, no orphans, PyIceberg agrees', async () => {
    const ident = { namespace: ['soak'], name: 'stream' };
    await catalog.createTable(ident, newTableMetadata({ schema, location: catalog.defaultTableLocation(ident) }));
    const duck = await Duck.open({ threads: 1 });
    const reader = await Duck.open({ threads: 1 });
    try {
      const t0 = Date.now();
      const writer = spawnWriter({ storeUrl: storeUrl(), warehouse: `${dir}/wh`, ns: 'soak', table: 'stream', writer: 0, count: COMMITS, rows: ROWS, fsync: false });
      let writing = true;
      const exited = writer.exited.finally(() => (writing = false));
      const stats = { compactionRounds: 0, compactions: 0, rewrittenFiles: 0, yielded: 0, longestCompactionMs: 0, expiryRounds: 0, expired: 0, manifestRewrites: 0, maxFiles: 0, snapshotsChecked: 0 };
      const every = async (fn: () => Promise<void>) => {
        while (writing) {
          const started = Date.now();
          await fn();
          await new Promise((res) => setTimeout(res, Math.max(0, MAINTENANCE_EVERY_MS - (Date.now() - started))));
        }
      };
      // Two schedules, as the scheduler would run them: compaction (and now and then a manifest
      // rewrite), and snapshot expiry — independent, so a long compaction does not let snapshots
      // (and the metadata file every commit rewrites) pile up.
      const compaction = every(async () => {
        const started = Date.now();
        stats.compactionRounds++;
        // Live data files from the snapshot summary (free; tableHealth would parse every manifest).
        const head = currentSnapshot((await catalog.loadTable(ident)).metadata);
        stats.maxFiles = Math.max(stats.maxFiles, Number(head?.summary['total-data-files'] ?? 0));
        const r = await rewriteDataFiles(catalog, ident, duck, { minInputFiles: 2 });
        if (r.snapshotId !== null) stats.compactions++;
        stats.rewrittenFiles += r.rewrittenDataFiles;
        stats.yielded += r.groups.filter((g) => g.status !== 'rewritten').length;
        if (stats.compactionRounds % 3 === 0) stats.manifestRewrites += (await rewriteManifests(catalog, ident)).rewrittenManifests > 0 ? 1 : 0;
        stats.longestCompactionMs = Math.max(stats.longestCompactionMs, Date.now() - started);
      });
      const expiry = every(async () => {
        stats.expiryRounds++;
        const e = await expireSnapshots(catalog, ident, { olderThanMs: Date.now() - 1000, retainLast: 5 });
        stats.expired += e.expiredSnapshotIds.length;
        // Mid-flight: the oldest snapshot still retained (the one expiry's file deletion would
        // break first) reads back in full. One per round: planning parses every manifest, and
        // CPU spent here is CPU the writer does not get on a 2-core machine.
        const mid = await catalog.loadTable(ident);
        const oldest = mid.metadata.snapshots[0];
        if (oldest) {
          expect((await counts(reader, mid, oldest)).n).toBe(Number(oldest.summary['total-records']));
          stats.snapshotsChecked++;
        }
      });
      const maintenance = Promise.all([compaction, expiry]);
      const [w] = await Promise.all([exited, maintenance]);
      const concurrentMs = Date.now() - t0;
      expect(w.code, w.stderr).toBe(0);
      expect(writer.acked).toHaveLength(COMMITS);
      expect(stats.compactions).toBeGreaterThan(0);
      expect(stats.expired).toBeGreaterThan(0);

      // Final maintenance once the writer is done: compact, expire all but the last 3 snapshots, remove orphans.
      await rewriteDataFiles(catalog, ident, duck, { minInputFiles: 2 });
      await expireSnapshots(catalog, ident, { olderThanMs: Date.now(), retainLast: 3 });
      // A stray file (e.g. from a crashed writer) and its removal.
      let t = await catalog.loadTable(ident);
      writeFileSync(`${t.metadata.location}/data/crashed-writer.parquet`, 'x');
      await new Promise((r) => setTimeout(r, 20));
      const orphans = await removeOrphanFiles(catalog, ident, { olderThanMs: Date.now() });
      expect(orphans.orphanFiles.some((f) => f.endsWith('/crashed-writer.parquet'))).toBe(true);

      t = await catalog.loadTable(ident);
      expect(await counts(duck, t)).toEqual({ n: TOTAL, distinct: TOTAL });
      const health = await tableHealth(t);
      // COMMITS appended files (and up to maxFiles live at once) → at most a tenth.
      expect(health.dataFiles * 10).toBeLessThanOrEqual(COMMITS);
      expect(health.dataFiles * 10).toBeLessThanOrEqual(stats.maxFiles);
      for (const s of t.metadata.snapshots) expect(await counts(duck, t, s)).toEqual({ n: Number(s.summary['total-records']), distinct: Number(s.summary['total-records']) });
      // No orphan left: every file under the table location is referenced, every live reference exists.
      const referenced = await referencedFiles(t);
      const listed = (await t.io.list(t.metadata.location)).map((f) => canonicalPath(f.location));
      expect(listed.filter((f) => !referenced.has(f))).toEqual([]);
      for (const f of await referencedFiles(t, { liveOnly: true })) if (!f.endsWith('version-hint.text')) expect(existsSync(f), f).toBe(true);

      // PyIceberg reads the same table (and every retained snapshot) from our metadata file.
      const py = JSON.parse((await runPython('../maintenance/pyiceberg-count.py', [t.metadataLocation, 'seq', 'n'], { timeoutMs: 120_000 })).stdout);
      expect({ rows: py.rows, distinct: py.distinct, files: py.files }).toEqual({ rows: TOTAL, distinct: TOTAL, files: health.dataFiles });
      expect(py.snapshots).toEqual(Object.fromEntries(t.metadata.snapshots.map((s) => [String(s['snapshot-id']), Number(s.summary['total-records'])])));
      // What orphan removal found, by kind (old metadata.json files beyond previous-versions-max are the bulk).
      const kinds: Record<string, number> = {};
      for (const f of orphans.orphanFiles) {
        const k = f.endsWith('.metadata.json') ? 'metadata.json' : f.endsWith('.avro') ? 'avro' : f.endsWith('.parquet') ? 'parquet' : 'other';
        kinds[k] = (kinds[k] ?? 0) + 1;
      }
      console.log(`soak: writer ${concurrentMs} ms for ${COMMITS} commits`, stats, `final: ${health.dataFiles} data files, ${health.manifests} manifests, ${t.metadata.snapshots.length} snapshots, orphans removed ${JSON.stringify(kinds)}; total ${Date.now() - t0} ms`);
    } finally {
      duck.close();
      reader.close();
    }
  }, 300_000);
});
