/**
 * Compaction benchmark for `npm run bench` (f): a table written the way a stream writes it —
 * many small appends — is queried through the QueryEngine before and after maintenance as the
 * schedule runs it: rewriteDataFiles, expiring the pre-compaction snapshots, rewriteManifests. Reported: query time
 * before / after and their ratio, for a full aggregate and a selective one, the planning share, and
 * what the compaction itself cost.
 */
import { join } from 'node:path';
import { openSqlCatalog } from '../catalog/open-catalog.js';
import { Duck } from '../duck/db.js';
import type { Schema } from '../iceberg/schema.js';
import { newTableMetadata } from '../iceberg/updates.js';
import { expireSnapshots, rewriteDataFiles, rewriteManifests, tableHealth } from '../maintenance/index.js';
import { QueryEngine } from '../query/engine.js';
import { appendSql } from '../table/table-ops.js';
import type { BenchRow } from './scan-bench.js';
import { timed } from './timing.js';

export interface CompactionBenchOptions {
  /** Small appends (one data file each) before compaction (default 500). */
  appends: number;
  /** Rows per append (default 2,000). */
  rowsPerAppend: number;
  runs: number;
  log: (s: string) => void;
}

const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'k', required: false, type: 'int' },
    { id: 3, name: 'v', required: false, type: 'double' },
  ],
};

export async function benchCompaction(dir: string, opts: Partial<CompactionBenchOptions> & Pick<CompactionBenchOptions, 'runs' | 'log'>): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const appends = opts.appends ?? 500;
  const per = opts.rowsPerAppend ?? 2000;
  const total = appends * per;
  const catalog = await openSqlCatalog({ storeUrl: `sqlite:${join(dir, 'compaction.db')}`, warehouse: join(dir, 'wh-compaction') });
  const duck = await Duck.open({ threads: 1 });
  const engine = new QueryEngine(catalog);
  const ident = { namespace: ['cb'], name: 'stream' };
  const queries = {
    full: 'SELECT count(*) AS c, sum(v) AS s FROM cb.stream',
    selective: 'SELECT count(*) AS c, sum(v) AS s FROM cb.stream WHERE k = 7',
  };
  // Best of `runs` (after one warm-up) of each query: total and planning ms, and the answer.
  const measure = async () => {
    const out: Record<string, { ms: number; planningMs: number; answer: string }> = {};
    for (const [name, sql] of Object.entries(queries)) {
      await engine.query(sql);
      let best = { ms: Infinity, planningMs: 0, answer: '' };
      for (let i = 0; i < opts.runs; i++) {
        const r = await timed(() => engine.query(sql));
        if (r.ms < best.ms) best = { ms: r.ms, planningMs: r.value.stats.planningMs, answer: JSON.stringify(r.value.rows) };
      }
      out[name] = best;
    }
    return out;
  };
  try {
    await catalog.createNamespace(['cb']);
    await catalog.createTable(ident, newTableMetadata({ schema, location: catalog.defaultTableLocation(ident) }));
    opts.log(`(f) compaction: ${appends} appends of ${per} rows…`);
    for (let i = 0; i < appends; i++) {
      await appendSql(catalog, ident, duck, `SELECT range AS id, (range % 100)::INTEGER AS k, (range * 0.5)::DOUBLE AS v FROM range(${i * per}, ${(i + 1) * per})`);
    }
    const before = await tableHealth(await catalog.loadTable(ident));
    opts.log('(f) querying before compaction…');
    const q0 = await measure();
    opts.log('(f) compacting…');
    const compact = await timed(() => rewriteDataFiles(catalog, ident, duck, { minInputFiles: 2 }));
    const expire = await timed(() => expireSnapshots(catalog, ident, { olderThanMs: Date.now(), retainLast: 1 }));
    // The compaction commit keeps one manifest per input manifest (its DELETED entries); clustering
    // manifests is what brings planning down with the file count.
    const manifests = await timed(() => rewriteManifests(catalog, ident));
    const after = await tableHealth(await catalog.loadTable(ident));
    opts.log('(f) querying after compaction…');
    const q1 = await measure();
    for (const k of Object.keys(queries)) {
      if (q0[k].answer !== q1[k].answer) throw new Error(`compaction bench: ${k} answers differ: ${q0[k].answer} before, ${q1[k].answer} after`);
    }
    const label = `${before.dataFiles} → ${after.dataFiles} files, ${total >= 1e6 ? `${total / 1e6}M` : `${total / 1e3}k`} rows`;
    const rows: BenchRow[] = Object.keys(queries).map((k) => ({
      metric: `query ${k === 'full' ? 'count/sum' : 'count/sum WHERE k = 7'} after / before compaction (${label})`,
      ours: `${q1[k].ms.toFixed(0)} ms`,
      baseline: `${q0[k].ms.toFixed(0)} ms`,
      ratio: (q0[k].ms / q1[k].ms).toFixed(1),
      goal: '(report: x faster)',
    }));
    rows.push({ metric: `compaction of ${before.dataFiles} files + expiry + manifest rewrite`, ours: `${(compact.ms + expire.ms + manifests.ms).toFixed(0)} ms`, baseline: '', ratio: '', goal: '(report)' });
    const notes = [
      `compaction bench (best of ${opts.runs}; baseline column = before compaction): planning ${q0.full.planningMs} → ${q1.full.planningMs} ms (full), ` +
        `${q0.selective.planningMs} → ${q1.selective.planningMs} ms (selective); manifests ${before.manifests} → ${after.manifests}, snapshots ${before.snapshots} → ${after.snapshots}; ` +
        `rewriteDataFiles ${compact.ms.toFixed(0)} ms, expireSnapshots ${expire.ms.toFixed(0)} ms, rewriteManifests ${manifests.ms.toFixed(0)} ms`,
    ];
    return { rows, notes };
  } finally {
    duck.close();
    await catalog.close();
  }
}
