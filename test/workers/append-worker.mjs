// A writer process for concurrency and crash tests: appends `count` single-batch snapshots to one
// table through the SQL catalog, using the compiled code in dist/ (npm test builds it first).
// argv: storeUrl warehouse namespace table writerId count rowsPerAppend
//
// Exactly-once on restart: before writing, the worker walks main's ancestry and reads the
// snapshot summaries' `writer-id`/`writer-seq`; it resumes at the seq after the last one of its
// own already in the table. A batch whose commit landed but was not acknowledged (killed between
// the catalog swap and the progress line) is therefore never written twice.
//
// Env LAKEHOUSE_WORKER_FSYNC=0: don't fsync data/manifest/metadata files (faster on slow disks;
// publication stays atomic for readers and across a killed process, just not across power loss).
//
// Output: `committed <writer> <seq>` after each acknowledged commit (stdout), then one line
// `done <writer> {json}` with attempt/retry counts (retries = COMMIT_FAILED seen by the
// optimistic-concurrency loop in commitSnapshot).
import { openSqlCatalog } from '../../dist/catalog/open-catalog.js';
import { appendSql } from '../../dist/table/table-ops.js';
import { Duck } from '../../dist/duck/db.js';

const [storeUrl, warehouse, ns, name, writer, count, rows] = process.argv.slice(2);
const t0 = Date.now();
const fsync = process.env.LAKEHOUSE_WORKER_FSYNC !== '0';
const catalog = await openSqlCatalog({ storeUrl, warehouse, storage: { local: { fsync } } });
const ident = { namespace: [ns], name };

// Retry accounting: count every catalog commit attempt and the ones that lost the race.
let attempts = 0;
let retries = 0;
const commitTable = catalog.commitTable.bind(catalog);
catalog.commitTable = async (id, req) => {
  attempts++;
  try {
    return await commitTable(id, req);
  } catch (e) {
    if (e && e.code === 'COMMIT_FAILED') retries++;
    throw e;
  }
};

/** The seq to start at: one past the highest `writer-seq` of this writer in main's ancestry. */
async function resumeSeq() {
  const { metadata: md } = await catalog.loadTable(ident);
  const byId = new Map(md.snapshots.map((s) => [s['snapshot-id'], s]));
  let id = md.refs.main?.['snapshot-id'] ?? null;
  let next = 0;
  while (id !== null && id !== undefined) {
    const s = byId.get(id);
    if (!s) break; // expired history
    if (s.summary['writer-id'] === String(writer)) next = Math.max(next, Number(s.summary['writer-seq']) + 1);
    id = s['parent-snapshot-id'] ?? null;
  }
  return next;
}

const duck = await Duck.open({ threads: 1 });
const start = await resumeSeq();
process.stdout.write(`start ${writer} ${start}\n`);
for (let i = start; i < Number(count); i++) {
  await appendSql(catalog, ident, duck,
    `SELECT ${Number(writer)}::INTEGER AS writer, ${i}::INTEGER AS seq, range::BIGINT AS n FROM range(${Number(rows)})`,
    { summary: { 'writer-id': String(writer), 'writer-seq': String(i) } });
  // Progress line lets a crash test know which commits were acknowledged.
  process.stdout.write(`committed ${writer} ${i}\n`);
}
duck.close();
await catalog.close();
process.stdout.write(`done ${writer} ${JSON.stringify({ start, attempts, retries, ms: Date.now() - t0 })}\n`);
