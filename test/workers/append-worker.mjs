// A writer process for concurrency and crash tests: appends `count` single-batch snapshots to one
// table through the SQL catalog, using the compiled code in dist/ (npm test builds it first).
// argv: storeUrl warehouse namespace table writerId count rowsPerAppend
import { openSqlCatalog } from '../../dist/catalog/open-catalog.js';
import { appendSql } from '../../dist/table/table-ops.js';
import { Duck } from '../../dist/duck/db.js';

const [storeUrl, warehouse, ns, name, writer, count, rows] = process.argv.slice(2);
const catalog = await openSqlCatalog({ storeUrl, warehouse });
const duck = await Duck.open({ threads: 1 });
const ident = { namespace: [ns], name };
for (let i = 0; i < Number(count); i++) {
  await appendSql(catalog, ident, duck,
    `SELECT ${Number(writer)}::INTEGER AS writer, ${i}::INTEGER AS seq, range::BIGINT AS n FROM range(${Number(rows)})`,
    { summary: { 'writer-id': String(writer), 'writer-seq': String(i) } });
  // Progress line lets a crash test know which commits were acknowledged.
  process.stdout.write(`committed ${writer} ${i}\n`);
}
duck.close();
await catalog.close();
