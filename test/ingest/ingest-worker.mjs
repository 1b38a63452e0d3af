// An ingestion process for crash tests: runs one StreamingJob from the compiled code in dist/
// (npm test builds it first) until it has consumed every record present at its start
// (stopAtEnd), then prints `done {status}`. Prints `commit <rows> <deadLetters>` after each
// Iceberg commit so a test can kill it mid-run, and `assigned <partitions>` after each group join.
// argv: storeUrl warehouse bootstrap topic groupId namespace table maxRecords
import { openSqlCatalog } from '../../dist/catalog/open-catalog.js';
import { StreamingJob } from '../../dist/ingest/streaming-job.js';

const [storeUrl, warehouse, bootstrap, topic, groupId, ns, name, maxRecords] = process.argv.slice(2);
const fsync = process.env.LAKEHOUSE_WORKER_FSYNC !== '0';
const catalog = await openSqlCatalog({ storeUrl, warehouse, storage: { local: { fsync } } });
// LAKEHOUSE_WORKER_COMMIT_DELAY_MS: every catalog commit waits this long first, so a test can rely
// on the work lasting at least (commits x delay) however fast the machine is.
const commitDelayMs = Number(process.env.LAKEHOUSE_WORKER_COMMIT_DELAY_MS ?? 0);
if (commitDelayMs > 0) {
  const commitTable = catalog.commitTable.bind(catalog);
  catalog.commitTable = async (...args) => {
    await new Promise((r) => setTimeout(r, commitDelayMs));
    return commitTable(...args);
  };
}
const schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'name', required: false, type: 'string' },
    { id: 3, name: 'amount', required: false, type: 'decimal(12, 2)' },
    { id: 4, name: 'ts', required: false, type: 'timestamptz' },
  ],
};
const job = await StreamingJob.start(
  {
    jobId: `worker-${process.pid}`,
    brokers: [bootstrap],
    topics: [topic],
    groupId,
    table: { namespace: [ns], name },
    createTable: { schema },
    enrich: ['partition', 'offset'],
    commit: { maxRecords: Number(maxRecords), intervalMs: 500 },
    consumer: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 },
    stopAtEnd: true,
  },
  {
    catalog,
    onCommit: (c) => process.stdout.write(`commit ${c.rows} ${c.deadLetters} ${c.ms}\n`),
    onAssign: (tps) => process.stdout.write(`assigned ${tps.map((t) => t.partition).sort().join(',')}\n`),
  },
);
process.stdout.write('started\n');
await job.done;
await catalog.close();
process.stdout.write(`done ${JSON.stringify(job.status())}\n`);
process.exit(0);
