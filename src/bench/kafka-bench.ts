/**
 * Kafka → Iceberg ingestion bench (part of `npm run bench`), against a real broker it starts itself
 * (scripts/start-kafka.sh; stopped at the end):
 *
 * - Throughput: N records of ~200-byte JSON in a 4-partition topic (produced first, not timed),
 *   ingested by one StreamingJob (bounded: it stops at the end), which reads with its own fetch
 *   loop (raw-consumer.ts); a note gives the same job reading through kafkajs' consumer (run just
 *   before it; both read records that were just produced, so from the page cache). Rows/s counts from the group join
 *   (the consumer's partitions are assigned) to the last commit; the join and the job's shutdown are reported apart.
 *   Baseline: DuckDB writing the same rows to Parquet directly — `COPY (SELECT … FROM
 *   read_json(<the same records as NDJSON>)) TO … (FORMAT parquet, COMPRESSION zstd)`, i.e. the
 *   same JSON parsing and the same Parquet writing, without Kafka, mapping or Iceberg commits.
 *   The job takes the SQL fast path (src/ingest/fast-path.ts); the notes give how many rows it
 *   typed and the machine's load average around the run (the 2 cores may be shared).
 * - Freshness: with a 1 s commit interval, one record every 50 ms for `freshnessSeconds`; each
 *   record's latency is from just before it is sent to the end of the first SQL query
 *   (`SELECT max(id) FROM t` through queryTable, polled back to back) that sees it — so the
 *   polling cost counts against us.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { openSqlCatalog } from '../catalog/open-catalog.js';
import { Duck, str } from '../duck/db.js';
import type { Schema } from '../iceberg/schema.js';
import { createKafka, ensureTopic, type KafkaLog } from '../ingest/kafka-client.js';
import { RawFetchConnection } from '../ingest/raw-fetch.js';
import { decodeRecords } from '../ingest/record-batch.js';
import { FastPath } from '../ingest/fast-path.js';
import { StreamingJob } from '../ingest/streaming-job.js';
import { queryTable } from '../table/scan-query.js';
import type { BenchRow } from './scan-bench.js';

export interface KafkaBenchOptions {
  records: number;
  freshnessSeconds: number;
  log: (s: string) => void;
}

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const quiet: KafkaLog = { warn: () => undefined, error: () => undefined };

const SCHEMA: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'user', required: false, type: 'string' },
    { id: 3, name: 'event', required: false, type: 'string' },
    { id: 4, name: 'amount', required: false, type: 'decimal(12, 2)' },
    { id: 5, name: 'qty', required: false, type: 'int' },
    { id: 6, name: 'ok', required: false, type: 'boolean' },
    { id: 7, name: 'ts', required: false, type: 'timestamptz' },
    { id: 8, name: 'note', required: false, type: 'string' },
  ],
};
const DUCK_COLUMNS = `{'id': 'BIGINT', 'user': 'VARCHAR', 'event': 'VARCHAR', 'amount': 'DECIMAL(12,2)', 'qty': 'INTEGER', 'ok': 'BOOLEAN', 'ts': 'TIMESTAMPTZ', 'note': 'VARCHAR'}`;
const EVENTS = ['view', 'click', 'purchase', 'refund', 'signup'];

/** The i-th record: ~200 bytes of JSON. */
function record(i: number): string {
  return JSON.stringify({
    id: i,
    user: `user-${(i * 7919) % 100_000}`,
    event: EVENTS[i % EVENTS.length],
    amount: ((i % 1_000_000) / 100).toFixed(2),
    qty: i % 17,
    ok: i % 3 !== 0,
    ts: new Date(1_700_000_000_000 + i * 37).toISOString(),
    note: `order ${i} from the benchmark producer, some padding text`,
  });
}

interface Broker {
  bootstrap: string;
  stop(): Promise<void>;
}

export async function startBroker(dir: string, log: (s: string) => void): Promise<Broker> {
  const child: ChildProcess = spawn('bash', [join(REPO_ROOT, 'scripts/start-kafka.sh'), dir, '0', '0'], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.stdin!.end();
    const exited = new Promise((r) => child.once('exit', r));
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  const deadline = Date.now() + 240_000;
  for (;;) {
    const m = /^KAFKA (\S+)$/m.exec(out);
    if (m) {
      const admin = createKafka({ brokers: [m[1]], log: quiet }).admin();
      try {
        await admin.connect();
        if ((await admin.describeCluster()).brokers.length > 0) {
          log(`broker ${m[1]} ready`);
          return { bootstrap: m[1], stop };
        }
      } catch {
        /* not ready yet */
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`Kafka broker did not start:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function produce(bootstrap: string, topic: string, from: number, to: number): Promise<number> {
  const kafka = createKafka({ brokers: [bootstrap], log: quiet });
  await ensureTopic(kafka, topic, 4);
  const producer = kafka.producer();
  await producer.connect();
  const t0 = performance.now();
  try {
    const B = 5000;
    const inflight: Promise<unknown>[] = [];
    for (let i = from; i < to; i += B) {
      const messages = [];
      for (let j = i; j < Math.min(to, i + B); j++) messages.push({ key: String(j), value: record(j) });
      inflight.push(producer.send({ topic, messages, acks: 1 }));
      if (inflight.length >= 8) await inflight.shift();
    }
    await Promise.all(inflight);
  } finally {
    await producer.disconnect();
  }
  return performance.now() - t0;
}

/**
 * Reading the whole topic with the job's own fetch client and record decoder and nothing else (no
 * DuckDB, no files, no commits): the ceiling of any Kafka → Parquet pipeline on this machine, which
 * shows how much of the gap to the baseline is Kafka itself. Best of 2.
 */
async function fetchDecodeMs(bootstrap: string, topic: string, partitions: number, expected: number): Promise<number> {
  let best = Infinity;
  for (let k = 0; k < 2; k++) {
    const conn = await RawFetchConnection.open(bootstrap);
    const next = Array.from({ length: partitions }, () => 0n);
    const done = Array.from({ length: partitions }, () => false);
    let records = 0;
    const t0 = performance.now();
    try {
      while (done.includes(false)) {
        const parts = next.map((offset, partition) => ({ partition, offset, maxBytes: 4 << 20 })).filter((p) => !done[p.partition]);
        for (const r of await conn.fetch([{ topic, partitions: parts }], { maxWaitMs: 0, maxBytes: 16 << 20 })) {
          if (r.errorCode !== 0) throw new Error(`fetch ${topic}/${r.partition}: error ${r.errorCode}`);
          const d = decodeRecords(r.records, next[r.partition]);
          if (d.stop) throw new Error(`fetch ${topic}/${r.partition}: ${d.stop.reason}`);
          records += d.starts.length;
          next[r.partition] = d.next;
          done[r.partition] = d.next >= r.highWatermark;
        }
      }
    } finally {
      conn.close();
    }
    if (records !== expected) throw new Error(`fetch-only read ${records} records, expected ${expected}`);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

export async function benchKafka(dir: string, opts: KafkaBenchOptions): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const { log } = opts;
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const base = mkdtempSync(join(dir, 'kafka-'));
  const broker = await startBroker(join(base, 'broker'), log);
  const catalog = await openSqlCatalog({ storeUrl: `sqlite:${join(base, 'catalog.db')}`, warehouse: join(base, 'warehouse') });
  const duck = await Duck.open();
  try {
    await catalog.createNamespace(['bench']);
    const N = opts.records;

    // Throughput.
    log(`(g) Kafka → Iceberg: producing ${N} records…`);
    const produceMs = await produce(broker.bootstrap, 'bench-events', 0, N);
    /**
     * One bounded job over the topic into a new table; rows/s from the group join to the last
     * commit (the rows are visible in SQL from then on); the job's shutdown after it (leaving the
     * consumer group) is reported apart, like the join.
     */
    const ingestOnce = async (name: string, rawFetch: boolean) => {
      const ident = { namespace: ['bench'], name };
      let assignedAt = 0;
      let lastCommitAt = 0;
      const load = loadavg()[0];
      const t0 = performance.now();
      const job = await StreamingJob.start(
        {
          jobId: name, brokers: [broker.bootstrap], topics: ['bench-events'], groupId: name, table: ident, createTable: { schema: SCHEMA },
          commit: { maxRecords: 200_000, intervalMs: 5000 }, stopAtEnd: true, consumer: { rawFetch },
        },
        { catalog, log: quiet, onAssign: () => (assignedAt ||= performance.now()), onCommit: () => (lastCommitAt = performance.now()) },
      );
      await job.done;
      const t1 = performance.now();
      const st = job.status();
      if (st.rowsCommitted !== N) throw new Error(`Kafka bench: ${st.rowsCommitted} rows committed, expected ${N}`);
      const ms = lastCommitAt - (assignedAt || t0);
      return { st, ms, joinMs: (assignedAt || t0) - t0, stopMs: t1 - lastCommitAt, rate: N / (ms / 1000), load };
    };
    const viaKafkajs = await ingestOnce('events_kafkajs', false);
    const run = await ingestOnce('events', true);
    const { st, rate } = run;
    const ingestMs = run.ms;
    const load0 = run.load;
    const load1 = loadavg()[0];

    // Baseline: DuckDB, the same records as NDJSON → Parquet.
    const ndjson = join(base, 'records.ndjson');
    const lines: string[] = [];
    for (let i = 0; i < N; i++) lines.push(record(i));
    writeFileSync(ndjson, `${lines.join('\n')}\n`);
    lines.length = 0;
    const copyOnce = async (k: number) => {
      const c0 = performance.now();
      await duck.run(`COPY (SELECT * FROM read_json(${str(ndjson)}, format='newline_delimited', columns=${DUCK_COLUMNS})) TO ${str(join(base, `direct-${k}.parquet`))} (FORMAT parquet, COMPRESSION zstd)`);
      return performance.now() - c0;
    };
    const copyMs = Math.min(await copyOnce(1), await copyOnce(2));
    const copyRate = N / (copyMs / 1000);
    const ratio = rate / copyRate;
    const fetchMs = await fetchDecodeMs(broker.bootstrap, 'bench-events', 4, N);
    const fetchRate = N / (fetchMs / 1000);
    // The job's DuckDB work alone on the same NDJSON: the fast path's strict read-and-check query
    // (fast-path.ts) into a temp table, then the checked rows to Parquet.
    const fast = await FastPath.plan(duck, SCHEMA, SCHEMA.fields.map((f) => f.name), undefined);
    if (typeof fast === 'string') throw new Error(`Kafka bench: no fast path: ${fast}`);
    const checkOnce = async (k: number) => {
      const c0 = performance.now();
      await duck.run(`CREATE OR REPLACE TEMP TABLE bench_fast AS ${fast.checkSql(`(${fast.readSql(ndjson)}) AS __r`)}`);
      await duck.run(`COPY (SELECT * EXCLUDE (__ok) FROM bench_fast WHERE __ok) TO ${str(join(base, `checked-${k}.parquet`))} (FORMAT parquet, COMPRESSION zstd)`);
      return performance.now() - c0;
    };
    const checkMs = Math.min(await checkOnce(1), await checkOnce(2));
    await duck.run('DROP TABLE bench_fast');
    const checkRate = N / (checkMs / 1000);
    const bytes = (N > 0 ? record(Math.floor(N / 2)).length : 0);
    rows.push({ metric: `Kafka → Iceberg, ${N} x ~${bytes} B JSON, 4 partitions`, ours: `${Math.round(rate).toLocaleString('en')} rows/s`, baseline: `${Math.round(copyRate).toLocaleString('en')} rows/s`, ratio: ratio.toFixed(2), goal: '>= 100k rows/s, ratio >= 0.5', ok: rate >= 100_000 && ratio >= 0.5 });
    rows.push({ metric: `  ceiling: the job's strict JSON check + Parquet write in DuckDB alone`, ours: `${Math.round(checkRate).toLocaleString('en')} rows/s`, baseline: `${Math.round(copyRate).toLocaleString('en')} rows/s`, ratio: (checkRate / copyRate).toFixed(2), goal: '(report)' });
    rows.push({ metric: `  ceiling: fetch + decode the same topic, nothing else`, ours: `${Math.round(fetchRate).toLocaleString('en')} rows/s`, baseline: `${Math.round(copyRate).toLocaleString('en')} rows/s`, ratio: (fetchRate / copyRate).toFixed(2), goal: '(report)' });
    notes.push(
      `Kafka → Iceberg: produced ${N} in ${(produceMs / 1000).toFixed(1)} s (not timed); group join ${run.joinMs.toFixed(0)} ms and job shutdown ${run.stopMs.toFixed(0)} ms (not counted); ` +
        `ingest ${ingestMs.toFixed(0)} ms in ${st.commits} commits, ${st.fastPathRows} rows by the SQL fast path${st.fastPath ? ` (not used: ${st.fastPath})` : ''}, ${st.rawFetchRecords} records by the job's own fetch loop; ` +
        `the same job reading through kafkajs' consumer (rawFetch: false): ${Math.round(viaKafkajs.rate).toLocaleString('en')} rows/s (${viaKafkajs.ms.toFixed(0)} ms); ` +
        `DuckDB read_json → Parquet ${copyMs.toFixed(0)} ms (best of 2, same run); 1-min load average ${load0.toFixed(1)} before, ${load1.toFixed(1)} after ingest, ${loadavg()[0].toFixed(1)} after the baseline.`,
    );

    // Freshness at a 1 s commit interval.
    log(`(g) freshness for ${opts.freshnessSeconds} s…`);
    const fresh = { namespace: ['bench'], name: 'fresh' };
    const kafka = createKafka({ brokers: [broker.bootstrap], log: quiet });
    await ensureTopic(kafka, 'bench-fresh', 4);
    const fjob = await StreamingJob.start(
      { jobId: 'fresh', brokers: [broker.bootstrap], topics: ['bench-fresh'], groupId: 'fresh', table: fresh, createTable: { schema: SCHEMA }, commit: { intervalMs: 1000 }, startFrom: 'latest' },
      { catalog, log: quiet },
    );
    const producer = kafka.producer();
    await producer.connect();
    const sentAt: number[] = [];
    const latencies: number[] = [];
    let seen = -1;
    let producing = true;
    const poller = (async () => {
      while (producing || seen < sentAt.length - 1) {
        await new Promise((r) => setTimeout(r, 25));
        if (!(await catalog.tableExists(fresh))) continue;
        const t = await catalog.loadTable(fresh);
        const res = await queryTable({ io: t.io, metadata: t.metadata, resolve: (p) => p }, 'SELECT max(id) FROM t', duck);
        const now = performance.now();
        const max = res.rows[0][0] === null ? -1 : Number(res.rows[0][0]);
        for (let i = seen + 1; i <= max && i < sentAt.length; i++) latencies.push(now - sentAt[i]);
        seen = Math.max(seen, Math.min(max, sentAt.length - 1));
        if (!producing && performance.now() - sentAt[sentAt.length - 1] > 30_000) throw new Error('freshness: records not visible after 30 s');
      }
    })();
    // Wait until the job has joined (records sent before would wait for the join, not a commit).
    await new Promise((r) => setTimeout(r, 3000));
    const end = performance.now() + opts.freshnessSeconds * 1000;
    for (let i = 0; performance.now() < end; i++) {
      sentAt.push(performance.now());
      await producer.send({ topic: 'bench-fresh', messages: [{ key: String(i), value: record(i) }], acks: 1 });
      await new Promise((r) => setTimeout(r, 50));
    }
    producing = false;
    await poller;
    await producer.disconnect();
    await fjob.stop();
    latencies.sort((a, b) => a - b);
    const p50 = quantile(latencies, 0.5);
    const p99 = quantile(latencies, 0.99);
    rows.push({ metric: `freshness produce → visible in SQL, 1 s commits (${latencies.length} records)`, ours: `p50 ${(p50 / 1000).toFixed(2)} s, p99 ${(p99 / 1000).toFixed(2)} s`, baseline: '', ratio: '', goal: 'p99 <= 2 s', ok: p99 <= 2000 });
    notes.push(`freshness: max ${(latencies[latencies.length - 1] / 1000).toFixed(2)} s, ${fjob.status().commits} commits.`);
  } finally {
    duck.close();
    await catalog.close();
    await broker.stop();
    rmSync(base, { recursive: true, force: true });
  }
  return { rows, notes };
}
