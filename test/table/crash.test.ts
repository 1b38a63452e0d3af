/**
 * A writer process doing 100 commits (SQLite catalog) is SIGKILLed at random moments and
 * restarted until it finishes. The worker resumes at the seq after the last `writer-seq` in the
 * table, so the result must be exactly-once: every acknowledged commit present, no batch twice,
 * every snapshot readable, every metadata file parseable, the pointer on one of them.
 * The kill schedule is random; the seed is logged (LAKEHOUSE_CRASH_SEED=<n> replays it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { readTableMetadata } from '../../src/iceberg/metadata.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { queryTable, registerTableView } from '../../src/table/scan-query.js';
import { makePathResolver } from '../../src/table/paths.js';
import { checkTotals, ensureDist, mainAncestry, spawnWriter, type WorkerHandle } from '../workers/harness.js';

const COMMITS = 100;
const ROWS = 20;
const MIN_KILLS = 5;
const PLANNED_KILLS = 7;
/** At most this many acknowledged commits per killed run (+ the ~2 a 60 ms delay allows): 7 x 12 < COMMITS. */
const MAX_RUN_ACKS = 10;

const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'writer', required: true, type: 'int' },
    { id: 2, name: 'seq', required: true, type: 'int' },
    { id: 3, name: 'n', required: true, type: 'long' },
  ],
};

/** mulberry32: a small seeded PRNG so a failing kill schedule can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let dir: string;
beforeAll(() => {
  ensureDist();
  dir = mkdtempSync(join(tmpdir(), 'lh-crash-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('writer killed with SIGKILL at random moments (SQLite catalog)', () => {
  it(`${COMMITS} commits survive >= ${MIN_KILLS} kills exactly once`, async () => {
    const seed = Number(process.env.LAKEHOUSE_CRASH_SEED ?? Date.now() % 1_000_000);
    const rand = prng(seed);
    const storeUrl = `sqlite:${join(dir, 'catalog.db')}`;
    const warehouse = join(dir, 'warehouse');
    const ident = { namespace: ['db'], name: 'events' };
    const catalog = await openSqlCatalog({ storeUrl, warehouse });
    try {
      await catalog.createNamespace(['db']);
      await catalog.createTable(ident, newTableMetadata({ schema, location: catalog.defaultTableLocation(ident) }));

      const acked = new Set<number>();
      const events: string[] = [];
      let kills = 0;
      let lastAcked = -1;
      for (let run = 0; ; run++) {
        if (run > 40) throw new Error(`writer did not finish after ${run} runs: ${events.join('; ')}`);
        const w: WorkerHandle = spawnWriter({ storeUrl, warehouse, ns: 'db', table: 'events', writer: 0, count: COMMITS, rows: ROWS });
        let killedBy = '';
        const kill = (why: string) => {
          if (killedBy || w.child.exitCode !== null || w.child.signalCode !== null) return;
          killedBy = why;
          w.child.kill('SIGKILL');
        };
        let timer: NodeJS.Timeout | undefined;
        if (kills < PLANNED_KILLS) {
          // A run is killed by its ack #MAX_RUN_ACKS at the latest, so PLANNED_KILLS runs cannot
          // finish the COMMITS (a schedule in wall-clock time alone let a fast machine do 45
          // commits in one run and finish after 4 kills).
          const j = 1 + Math.floor(rand() * MAX_RUN_ACKS);
          const delay = Math.floor(rand() * 60);
          const timed = rand() < 0.35;
          w.onCommit = () => {
            if (w.acked.length === (timed ? MAX_RUN_ACKS : j)) timer = setTimeout(() => kill(`${timed ? 0 : delay}ms after ack #${w.acked.length}`), timed ? 0 : delay);
          };
          if (timed) {
            // Anywhere: process start-up, the resume scan, or mid-commit.
            const ms = Math.floor(100 + rand() * 1900);
            timer = setTimeout(() => kill(`timer ${ms}ms`), ms);
          }
        }
        const r = await w.exited;
        clearTimeout(timer);
        // Resume point: one past the last acknowledged seq, or one more if the killed run's last
        // commit landed without being acknowledged.
        if (w.start !== undefined) {
          expect(w.start).toBeGreaterThanOrEqual(lastAcked + 1);
          expect(w.start).toBeLessThanOrEqual(lastAcked + 2);
        }
        for (const s of w.acked) acked.add(s);
        if (w.acked.length) lastAcked = w.acked[w.acked.length - 1];
        events.push(`run ${run}: start=${w.start ?? '-'} acked=${w.acked.length} ${killedBy ? `killed (${killedBy})` : `exit ${r.code}`}`);
        if (killedBy) {
          expect(r.signal).toBe('SIGKILL');
          kills++;
          continue;
        }
        if (r.code !== 0 || !r.done) throw new Error(`writer failed (exit ${r.code ?? r.signal}): ${r.stderr}`);
        break;
      }
      console.log(`[crash] seed ${seed}: ${kills} kills, ${events.length} runs\n  ${events.join('\n  ')}`);
      expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
      // Acknowledged lines cover at least everything the final run did not redo.
      expect(acked.has(COMMITS - 1)).toBe(true);

      // Every metadata file is parseable; the pointer is one of them; so is the metadata log.
      const rec = await catalog.store.getTable(ident);
      const table = await catalog.loadTable(ident);
      const md = table.metadata;
      const listed = (await table.io.list(`${md.location}/metadata`)).map((f) => f.location).filter((l) => l.endsWith('.metadata.json'));
      for (const loc of listed) readTableMetadata(await table.io.read(loc), loc);
      expect(listed).toContain(rec!.metadataLocation);
      for (const e of md['metadata-log']) expect(listed).toContain(e['metadata-file']);
      expect(listed.length).toBeGreaterThanOrEqual(COMMITS + 1);

      // One linear history of exactly COMMITS snapshots, each seq once, totals consistent.
      const ancestry = mainAncestry(md);
      expect(ancestry).toHaveLength(COMMITS);
      expect(md.snapshots).toHaveLength(COMMITS);
      const seqs = ancestry.map((s) => Number(s.summary['writer-seq'])).reverse();
      expect(seqs).toEqual(Array.from({ length: COMMITS }, (_, i) => i));
      expect(checkTotals(ancestry)).toBe(BigInt(COMMITS * ROWS));

      const duck = await Duck.open();
      try {
        const src = { io: table.io, metadata: md, resolve: makePathResolver(md.location, md.location) };
        // Every snapshot reads back, with exactly the batches up to its own.
        for (const snap of md.snapshots) {
          await registerTableView(duck, 'snap', src, snap);
          const rows = await duck.conn.runAndReadAll('SELECT count(*)::BIGINT, count(DISTINCT seq)::BIGINT, max(seq)::BIGINT FROM snap');
          const [count, distinct, max] = rows.getRows()[0].map(Number);
          const seq = Number(snap.summary['writer-seq']);
          expect([count, distinct, max]).toEqual([Number(snap.summary['total-records']), seq + 1, seq]);
        }
        // The head: each batch exactly once, all acknowledged batches among them.
        const res = await queryTable(src, `SELECT seq, count(*) FROM t GROUP BY seq ORDER BY seq`, duck);
        expect(res.rows).toEqual(Array.from({ length: COMMITS }, (_, i) => [i, ROWS]));
        const present = new Set(res.rows.map((r) => Number(r[0])));
        for (const s of acked) expect(present.has(s)).toBe(true);
      } finally {
        duck.close();
      }
    } finally {
      await catalog.close();
    }
  }, 170_000);
});
