/**
 * `npm run bench`: measured in one run
 *   (a) append throughput: appendSql of N rows (unpartitioned and day(ts)-partitioned) vs DuckDB (zstd, as we write)
 *       `COPY (same SELECT) TO 'x.parquet' (FORMAT parquet)`;
 *   (b) catalog commits/s (REST-style: snapshot files prepared by the client, the catalog loads,
 *       checks, writes metadata and swaps the pointer) on SQLite and on a throwaway PostgreSQL
 *       (scripts/start-postgres.sh, stopped at the end) — the goals' metric; and, for information,
 *       end-to-end commits/s of 1-row appends (Parquet write + manifests + catalog commit);
 *   (c) scan: queryTable count/sum over the N-row table vs DuckDB read_parquet over its files.
 *   (d), (e) query engine scan vs read_parquet and planning over many files (scan-bench.ts).
 *   (f) query time on a table of many small appends before and after compaction (compaction-bench.ts).
 * Options: --rows N (default 5000000), --commits N (default 300), --runs N (scan repeats, 3),
 * --scan-rows N (query engine scan table, default 10000000), --plan-files N (default 10000),
 *   (g) Kafka → Iceberg rows/s vs DuckDB JSON → Parquet, and produce → SQL freshness (kafka-bench.ts; starts its own broker).
 * --no-pg, --profile (always print the phase breakdowns), --kafka-records N (default 300000; 0 skips (g)),
 * --freshness-seconds N (default 20).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlCatalog } from '../catalog/open-catalog.js';
import type { SqlCatalog } from '../catalog/sql-catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { Duck, str } from '../duck/db.js';
import { buildPartitionSpec } from '../iceberg/partition.js';
import type { Schema } from '../iceberg/schema.js';
import { newTableMetadata } from '../iceberg/updates.js';
import { currentSnapshot } from '../iceberg/metadata.js';
import { appendSql } from '../table/table-ops.js';
import { planScan } from '../table/scan-planner.js';
import { queryTable } from '../table/scan-query.js';
import { makePathResolver } from '../table/paths.js';
import { startBenchPostgres, type BenchPostgres } from './postgres.js';
import { bestOf, Profile, timed } from './timing.js';
import { benchCatalogCommits, benchCommitsVia } from './catalog-commits.js';
import { buildServer } from '../api/server.js';
import { RestCatalogClient } from '../catalog/rest-client.js';
import { benchQueryEngine } from './scan-bench.js';
import { benchCompaction } from './compaction-bench.js';
import { benchKafka } from './kafka-bench.js';

interface Options {
  rows: number;
  commits: number;
  runs: number;
  pg: boolean;
  profile: boolean;
  scanRows: number;
  planFiles: number;
  kafkaRecords: number;
  freshnessSeconds: number;
  /** Sections to run (default all): append (a, c), engine (d, e), compaction (f), kafka (g), commits (b). */
  only: Set<Section>;
}

const SECTIONS = ['append', 'engine', 'compaction', 'kafka', 'commits'] as const;
type Section = (typeof SECTIONS)[number];

function parseArgs(argv: string[]): Options {
  const o: Options = { rows: 5_000_000, commits: 300, runs: 3, pg: true, profile: false, scanRows: 10_000_000, planFiles: 10_000, kafkaRecords: 300_000, freshnessSeconds: 20, only: new Set(SECTIONS) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return Math.floor(v);
    };
    if (a === '--rows') o.rows = num();
    else if (a === '--commits') o.commits = num();
    else if (a === '--runs') o.runs = num();
    else if (a === '--scan-rows') o.scanRows = num();
    else if (a === '--plan-files') o.planFiles = num();
    else if (a === '--no-pg') o.pg = false;
    else if (a === '--kafka-records') {
      o.kafkaRecords = Number(argv[++i]);
      if (!Number.isInteger(o.kafkaRecords) || o.kafkaRecords < 0) throw new Error(`${a} needs a whole number >= 0`);
    }
    else if (a === '--freshness-seconds') o.freshnessSeconds = num();
    else if (a === '--profile') o.profile = true;
    else if (a === '--only') {
      const names = String(argv[++i] ?? '').split(',').filter(Boolean);
      const unknown = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
      if (names.length === 0 || unknown.length) throw new Error(`--only takes a comma list of ${SECTIONS.join(', ')}`);
      o.only = new Set(names as Section[]);
    }
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const wideSchema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'k', required: false, type: 'int' },
    { id: 3, name: 'v', required: false, type: 'double' },
    { id: 4, name: 's', required: false, type: 'string' },
    { id: 5, name: 'ts', required: false, type: 'timestamptz' },
  ],
};

const smallSchema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 's', required: false, type: 'string' },
  ],
};

/** N rows of a few typed columns; ts spans 30 days (30 day partitions). */
function sourceSql(rows: number): string {
  return `SELECT range AS id, (range % 1000)::INTEGER AS k, (range * 0.25)::DOUBLE AS v, 'item-' || (range % 5000) AS s,
    TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds((range % 2592000)::BIGINT) AS ts FROM range(${rows})`;
}

const fmtRate = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(1));

interface Row {
  metric: string;
  ours: string;
  baseline: string;
  ratio: string;
  goal: string;
  ok?: boolean;
}

/** Wraps the catalog/store/io/duck methods a commit goes through, for a phase breakdown. */
function instrument(catalog: SqlCatalog, duck: Duck, profile: Profile): void {
  profile.wrap(catalog, 'loadTable', 'catalog.loadTable');
  profile.wrap(catalog, 'commitTable', 'catalog.commitTable');
  profile.wrap(catalog.store, 'getTable', 'store.getTable');
  profile.wrap(catalog.store, 'swapMetadataLocation', 'store.swapMetadataLocation');
  profile.wrap(catalog.io, 'read', 'io.read');
  profile.wrap(catalog.io, 'writeIfAbsent', 'io.writeIfAbsent');
  profile.wrap(catalog.io, 'putLocalFile', 'io.putLocalFile');
  profile.wrap(catalog.io, 'delete', 'io.delete');
  profile.wrap(duck.conn, 'runAndReadAll', 'duckdb.runAndReadAll');
}

async function createTable(catalog: SqlCatalog, ident: TableIdent, schema: Schema, partition: string[] = []): Promise<void> {
  const spec = partition.length ? buildPartitionSpec(schema, partition) : undefined;
  await catalog.createTable(ident, newTableMetadata({ schema, spec, location: catalog.defaultTableLocation(ident) }));
}

async function benchCommits(
  label: string,
  storeUrl: string,
  warehouse: string,
  commits: number,
  opts: Options,
  notes: string[],
  fsync = true,
): Promise<number> {
  const catalog = await openSqlCatalog({ storeUrl, warehouse, storage: { local: { fsync } } });
  const duck = await Duck.open({ threads: 1 });
  try {
    const ns = fsync ? 'commits' : 'commits_nosync';
    await catalog.createNamespace([ns]);
    const ident = { namespace: [ns], name: 'small' };
    await createTable(catalog, ident, smallSchema);
    // Warm-up (DuckDB extension/UDF registration, first-touch costs) not counted.
    await appendSql(catalog, ident, duck, `SELECT -1::BIGINT AS id, 'warmup' AS s`);
    const profile = new Profile();
    instrument(catalog, duck, profile);
    const t0 = performance.now();
    let firstHalfMs = 0;
    for (let i = 0; i < commits; i++) {
      await appendSql(catalog, ident, duck, `SELECT ${i}::BIGINT AS id, 'row-${i}' AS s`);
      if (i === Math.floor(commits / 2) - 1) firstHalfMs = performance.now() - t0;
    }
    const ms = performance.now() - t0;
    const rate = commits / (ms / 1000);
    const secondHalfRate = (commits - Math.floor(commits / 2)) / ((ms - firstHalfMs) / 1000);
    const firstHalfRate = Math.floor(commits / 2) / (firstHalfMs / 1000);
    const t = await catalog.loadTable(ident);
    const total = currentSnapshot(t.metadata)?.summary['total-records'];
    if (total !== String(commits + 1)) throw new Error(`${label}: expected ${commits + 1} rows, summary says ${total}`);
    profile.unwrapAll();
    if (opts.profile) {
      notes.push(`commits on ${label}${fsync ? '' : ' (fsync off)'}: ${ms.toFixed(0)} ms for ${commits} (first half ${firstHalfRate.toFixed(0)}/s, second half ${secondHalfRate.toFixed(0)}/s); time per phase (nested phases overlap):`);
      for (const line of profile.report(commits)) notes.push(`  ${line}`);
    }
    return rate;
  } finally {
    duck.close();
    await catalog.close();
  }
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'lakehouse-bench-'));
  const rows: Row[] = [];
  const notes: string[] = [];
  let pg: BenchPostgres | null = null;
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const tAll = performance.now();
  try {
    if (opts.only.has('append')) {
      const catalog = await openSqlCatalog({ storeUrl: `sqlite:${join(dir, 'catalog.db')}`, warehouse: join(dir, 'warehouse') });
      const duck = await Duck.open();
      try {
        await catalog.createNamespace(['bench']);
        const src = sourceSql(opts.rows);

        // (a) append throughput vs DuckDB COPY of the same SELECT.
        log(`(a) append ${opts.rows} rows…`);
        const copy = await timed(() => duck.run(`COPY (${src}) TO ${str(join(dir, 'x.parquet'))} (FORMAT parquet, COMPRESSION zstd)`));
        const flat = { namespace: ['bench'], name: 'flat' };
        await createTable(catalog, flat, wideSchema);
        const profile = new Profile();
        instrument(catalog, duck, profile);
        const ours = await timed(() => appendSql(catalog, flat, duck, src));
        const oursProfile = profile.report();
        profile.reset();
        const parted = { namespace: ['bench'], name: 'parted' };
        await createTable(catalog, parted, wideSchema, ['day(ts)']);
        const oursParted = await timed(() => appendSql(catalog, parted, duck, src));
        const partedProfile = profile.report();
        profile.unwrapAll();
        // Baseline measured before and after ours (mean): a busy machine drifts over a run.
        const copy2 = await timed(() => duck.run(`COPY (${src}) TO ${str(join(dir, 'x2.parquet'))} (FORMAT parquet, COMPRESSION zstd)`));
        const copyMs = (copy.ms + copy2.ms) / 2;
        const copyRate = opts.rows / (copyMs / 1000);
        for (const [label, r, prof] of [
          ['unpartitioned', ours, oursProfile],
          ['partitioned day(ts)', oursParted, partedProfile],
        ] as const) {
          const rate = opts.rows / (r.ms / 1000);
          const ratio = rate / copyRate;
          rows.push({
            metric: `append ${fmtRate(opts.rows)} rows, ${label}`,
            ours: `${fmtRate(rate)} rows/s`,
            baseline: `${fmtRate(copyRate)} rows/s`,
            ratio: ratio.toFixed(2),
            goal: '>= 0.5',
            ok: ratio >= 0.5,
          });
          if (opts.profile || ratio < 0.5) {
            notes.push(`append ${label}: ${r.ms.toFixed(0)} ms vs COPY ${copy.ms.toFixed(0)}/${copy2.ms.toFixed(0)} ms (before/after; both zstd); time per phase:`);
            for (const line of prof) notes.push(`  ${line}`);
          }
        }

        // (c) scan: queryTable count/sum vs read_parquet over the same files.
        log('(c) scan…');
        const table = await catalog.loadTable(flat);
        const source = { io: table.io, metadata: table.metadata, resolve: makePathResolver(table.metadata.location, table.metadata.location) };
        const plan = await planScan(table.metadata, currentSnapshot(table.metadata)!, { io: table.io, resolve: source.resolve });
        const files = plan.tasks.map((t) => t.location);
        const q = 'SELECT count(*), sum(v) FROM t';
        const ourScan = await bestOf(opts.runs, () => queryTable(source, q, duck));
        const duckScan = await bestOf(opts.runs, () => duck.rows(`SELECT count(*) AS c, sum(v) AS s FROM read_parquet([${files.map(str).join(', ')}])`));
        const ourVal = ourScan.value.rows[0];
        const duckVal = duckScan.value[0];
        if (Number(ourVal[0]) !== Number(duckVal.c) || Number(ourVal[1]) !== Number(duckVal.s)) {
          throw new Error(`scan results differ: ours ${JSON.stringify(ourVal)} vs duckdb ${String(duckVal.c)},${String(duckVal.s)}`);
        }
        const scanRatio = duckScan.ms / ourScan.ms;
        rows.push({
          metric: `scan count/sum ${fmtRate(opts.rows)} rows (${files.length} file${files.length === 1 ? '' : 's'})`,
          ours: `${ourScan.ms.toFixed(0)} ms`,
          baseline: `${duckScan.ms.toFixed(0)} ms`,
          ratio: scanRatio.toFixed(2),
          goal: '(report)',
        });
        if (opts.profile) {
          const p = new Profile();
          const io = { ...source };
          const t0 = performance.now();
          await planScan(io.metadata, currentSnapshot(io.metadata)!, { io: io.io, resolve: io.resolve });
          p.add('planScan', performance.now() - t0);
          notes.push(`scan: best of ${opts.runs}; planning alone:`, ...p.report().map((l) => `  ${l}`));
        }
      } finally {
        duck.close();
        await catalog.close();
      }
    }

    // (d), (e) query engine: planned scan vs read_parquet, planning over many files.
    if (opts.only.has('engine')) {
      const qe = await benchQueryEngine(dir, { rows: opts.scanRows, planFiles: opts.planFiles, runs: opts.runs, log });
      rows.push(...qe.rows);
      notes.push(...qe.notes);
    }

    // (f) query time before and after compaction (compaction-bench.ts).
    if (opts.only.has('compaction')) {
      const cb = await benchCompaction(dir, { runs: opts.runs, log });
      rows.push(...cb.rows);
      notes.push(...cb.notes);
    }

    // (g) Kafka → Iceberg ingestion (kafka-bench.ts).
    if (opts.kafkaRecords > 0 && opts.only.has('kafka')) {
      const kb = await benchKafka(dir, { records: opts.kafkaRecords, freshnessSeconds: opts.freshnessSeconds, log });
      rows.push(...kb.rows);
      notes.push(...kb.notes);
    }

    // (b) catalog commits/s (the goals), then end-to-end small appends (information).
    if (opts.only.has('commits')) {
      log(`(b) ${opts.commits} catalog commits on SQLite…`);
      const sqliteCatalog = await benchCatalogCommits(`sqlite:${join(dir, 'cc.db')}`, join(dir, 'wh-cc-sqlite'), opts.commits);
      rows.push({ metric: `catalog commits/s, SQLite (${opts.commits})`, ours: `${sqliteCatalog.toFixed(0)}/s`, baseline: '', ratio: '', goal: '>= 200/s', ok: sqliteCatalog >= 200 });
      log(`(b) ${opts.commits} REST commits on SQLite…`);
      const viaRest = async (catalog: SqlCatalog) => {
        const app = await buildServer({ catalog, logLevel: 'error', security: { anonymous: true, bootstrapOut: { write: () => true } } });
        const uri = await app.listen({ host: '127.0.0.1', port: 0 });
        return { catalog: new RestCatalogClient({ uri, io: catalog.io }), close: () => app.close() };
      };
      const rest = await benchCommitsVia(`sqlite:${join(dir, 'rest.db')}`, join(dir, 'wh-rest'), opts.commits, viaRest);
      rows.push({ metric: `REST commits/s, SQLite (${opts.commits}, over HTTP)`, ours: `${rest.commitsPerSecond.toFixed(0)}/s`, baseline: '', ratio: '', goal: '(report)' });
      rows.push({ metric: 'REST load-table p50 / p99 (200 loads)', ours: `${rest.loadP50Ms.toFixed(1)} / ${rest.loadP99Ms.toFixed(1)} ms`, baseline: '', ratio: '', goal: '(report)' });
      log(`(b) ${opts.commits} small appends on SQLite…`);
      const sqliteRate = await benchCommits('SQLite', `sqlite:${join(dir, 'commits.db')}`, join(dir, 'wh-commits-sqlite'), opts.commits, opts, notes);
      rows.push({ metric: `append commits/s, SQLite (${opts.commits} x 1 row)`, ours: `${sqliteRate.toFixed(0)}/s`, baseline: '', ratio: '', goal: '(info)' });
      // The same without fsync of data/manifest/metadata files: what the code costs apart from the disk.
      const sqliteNoSync = await benchCommits('SQLite', `sqlite:${join(dir, 'commits-nosync.db')}`, join(dir, 'wh-commits-sqlite-nosync'), opts.commits, opts, notes, false);
      rows.push({ metric: `append commits/s, SQLite, files not fsynced`, ours: `${sqliteNoSync.toFixed(0)}/s`, baseline: '', ratio: '', goal: '(info)' });
      if (opts.pg) {
        log('(b) starting PostgreSQL…');
        pg = await startBenchPostgres();
        log(`(b) ${opts.commits} catalog commits on PostgreSQL…`);
        const pgCatalog = await benchCatalogCommits(pg.url, join(dir, 'wh-cc-pg'), opts.commits);
        rows.push({ metric: `catalog commits/s, PostgreSQL (${opts.commits})`, ours: `${pgCatalog.toFixed(0)}/s`, baseline: '', ratio: '', goal: '>= 100/s', ok: pgCatalog >= 100 });
        log(`(b) ${opts.commits} small appends on PostgreSQL…`);
        const pgRate = await benchCommits('PostgreSQL', pg.url, join(dir, 'wh-commits-pg'), opts.commits, opts, notes);
        rows.push({ metric: `append commits/s, PostgreSQL (${opts.commits} x 1 row)`, ours: `${pgRate.toFixed(0)}/s`, baseline: '', ratio: '', goal: '(info)' });
        const pgNoSync = await benchCommits('PostgreSQL', pg.url, join(dir, 'wh-commits-pg-nosync'), opts.commits, opts, notes, false);
        rows.push({ metric: `append commits/s, PostgreSQL, files not fsynced`, ours: `${pgNoSync.toFixed(0)}/s`, baseline: '', ratio: '', goal: '(info)' });
      }
    }
  } finally {
    if (pg) await pg.stop().catch((e) => log(`stopping PostgreSQL failed: ${(e as Error).message}`));
    rmSync(dir, { recursive: true, force: true });
  }

  const head: Row = { metric: 'metric', ours: 'lakehouse', baseline: 'duckdb', ratio: 'ratio', goal: 'goal' };
  const all = [head, ...rows];
  const w = (k: keyof Omit<Row, 'ok'>) => Math.max(...all.map((r) => r[k].length));
  const line = (r: Row) =>
    `${r.metric.padEnd(w('metric'))}  ${r.ours.padStart(w('ours'))}  ${r.baseline.padStart(w('baseline'))}  ${r.ratio.padStart(w('ratio'))}  ${r.goal.padEnd(w('goal'))}  ${r.ok === undefined ? '' : r.ok ? 'ok' : 'MISSED'}`;
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  console.log(`(ratio = lakehouse throughput / duckdb throughput; total bench time ${((performance.now() - tAll) / 1000).toFixed(1)} s)`);
  if (notes.length) {
    console.log('');
    for (const n of notes) console.log(n);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
