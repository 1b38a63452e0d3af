/**
 * 8 writer PROCESSES x 50 appends each to ONE table through the SQL catalog (SQLite file and
 * PostgreSQL). Optimistic concurrency must serialise them into one linear history: exactly 400
 * snapshots in main's ancestry, each (writer, seq) batch present exactly once, running totals
 * consistent. Workers run the compiled dist/ code (test/workers/append-worker.mjs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { queryTable } from '../../src/table/scan-query.js';
import { makePathResolver } from '../../src/table/paths.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { checkTotals, ensureDist, mainAncestry, spawnWriter } from '../workers/harness.js';

const WRITERS = 8;
const APPENDS = 50;
const ROWS = 10;

const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'writer', required: true, type: 'int' },
    { id: 2, name: 'seq', required: true, type: 'int' },
    { id: 3, name: 'n', required: true, type: 'long' },
  ],
};

let dir: string;
beforeAll(() => {
  ensureDist();
  dir = mkdtempSync(join(tmpdir(), 'lh-concurrency-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function runConcurrentAppends(label: string, storeUrl: string, warehouse: string): Promise<void> {
  const ident = { namespace: ['db'], name: 'events' };
  const catalog = await openSqlCatalog({ storeUrl, warehouse });
  try {
    await catalog.createNamespace(['db']);
    await catalog.createTable(ident, newTableMetadata({ schema, location: catalog.defaultTableLocation(ident) }));

    const t0 = Date.now();
    const workers = Array.from({ length: WRITERS }, (_, w) =>
      // Not fsyncing table files: this is about commit races, not power loss (crash.test.ts keeps fsync).
      spawnWriter({ storeUrl, warehouse, ns: 'db', table: 'events', writer: w, count: APPENDS, rows: ROWS, fsync: false }),
    );
    const results = await Promise.all(workers.map((w) => w.exited));
    const wallMs = Date.now() - t0;
    results.forEach((r, w) => {
      if (r.code !== 0 || !r.done) throw new Error(`writer ${w} exited with ${r.code ?? r.signal}: ${r.stderr}`);
    });
    const attempts = results.reduce((a, r) => a + r.done!.attempts, 0);
    const retries = results.reduce((a, r) => a + r.done!.retries, 0);
    console.log(
      `[concurrency ${label}] ${WRITERS}x${APPENDS} appends (${ROWS} rows each) in ${wallMs} ms; ` +
        `${attempts} commit attempts, ${retries} retries (per writer: ${results.map((r) => r.done!.retries).join(' ')})`,
    );
    for (const w of workers) expect(w.acked).toEqual(Array.from({ length: APPENDS }, (_, i) => i));
    expect(attempts - retries).toBe(WRITERS * APPENDS);

    const table = await catalog.loadTable(ident);
    const md = table.metadata;
    const ancestry = mainAncestry(md);
    expect(ancestry).toHaveLength(WRITERS * APPENDS);
    expect(md.snapshots).toHaveLength(WRITERS * APPENDS);
    // Sequence numbers strictly increase along the history.
    for (let i = 1; i < ancestry.length; i++) expect(ancestry[i - 1]['sequence-number']).toBeGreaterThan(ancestry[i]['sequence-number']);
    // Every (writer, seq) committed exactly once, according to the summaries...
    const tags = ancestry.map((s) => `${s.summary['writer-id']}/${s.summary['writer-seq']}`);
    expect(new Set(tags).size).toBe(WRITERS * APPENDS);
    for (let w = 0; w < WRITERS; w++) for (let i = 0; i < APPENDS; i++) expect(tags).toContain(`${w}/${i}`);
    // ...the running totals are consistent...
    expect(checkTotals(ancestry)).toBe(BigInt(WRITERS * APPENDS * ROWS));
    for (const s of ancestry) expect(s.summary['added-records']).toBe(String(ROWS));

    // ...and the data agrees.
    const duck = await Duck.open();
    try {
      const src = { io: table.io, metadata: md, resolve: makePathResolver(md.location, md.location) };
      const res = await queryTable(
        src,
        `SELECT count(*), count(DISTINCT (writer, seq)), count(DISTINCT writer), count(DISTINCT (writer, seq, n)) FROM t`,
        duck,
      );
      expect(res.rows).toEqual([[WRITERS * APPENDS * ROWS, WRITERS * APPENDS, WRITERS, WRITERS * APPENDS * ROWS]]);
      const perBatch = await queryTable(src, `SELECT count(*) FROM (SELECT writer, seq FROM t GROUP BY ALL HAVING count(*) <> ${ROWS})`, duck);
      expect(perBatch.rows).toEqual([[0]]);
      const ranges = await queryTable(src, 'SELECT min(seq), max(seq), min(writer), max(writer) FROM t', duck);
      expect(ranges.rows).toEqual([[0, APPENDS - 1, 0, WRITERS - 1]]);
    } finally {
      duck.close();
    }
  } finally {
    await catalog.close();
  }
}

describe(`${WRITERS} writer processes x ${APPENDS} appends to one table`, () => {
  it('SQLite catalog (one .db file)', async () => {
    await runConcurrentAppends('sqlite', `sqlite:${join(dir, 'catalog.db')}`, join(dir, 'wh-sqlite'));
  }, 280_000);

  describe('PostgreSQL catalog', () => {
    let pg: TestPostgres;
    beforeAll(async () => {
      pg = await startPostgres();
    });
    afterAll(async () => {
      await pg?.stop();
    });
    it('commits all 400 batches exactly once', async () => {
      await runConcurrentAppends('postgres', pg.url, join(dir, 'wh-pg'));
    }, 280_000);
  });
});
