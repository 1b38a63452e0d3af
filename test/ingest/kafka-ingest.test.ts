/**
 * Kafka → Iceberg ingestion against a real Apache Kafka broker (KRaft, started by
 * scripts/start-kafka.sh). Nothing on the Kafka path is mocked.
 *
 * Sizes: the SIGKILL test runs the full size by default — LAKEHOUSE_INGEST_CRASH_N records
 * (default 1,000,000, 4 partitions) and LAKEHOUSE_INGEST_KILLS SIGKILLs (default 5); the other
 * tests use LAKEHOUSE_INGEST_N records (default 50,000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { currentSnapshot } from '../../src/iceberg/metadata.js';
import { createKafka, ensureTopic } from '../../src/ingest/kafka-client.js';
import { recordedOffsets } from '../../src/ingest/offsets.js';
import { StreamingJob } from '../../src/ingest/streaming-job.js';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { REPO_ROOT } from '../support/moto.js';
import { spawnPeer } from '../support/process.js';
import { produce, quietLog, record, recordSchema, sql } from './support.js';

const N = Number(process.env.LAKEHOUSE_INGEST_N ?? 50_000);
const CRASH_N = Number(process.env.LAKEHOUSE_INGEST_CRASH_N ?? 1_000_000);
const KILLS = Number(process.env.LAKEHOUSE_INGEST_KILLS ?? 5);
const BIG = N > 200_000;

const schema = recordSchema;

function log(msg: string): void {
  process.stderr.write(`[ingest-test] ${msg}\n`);
}

describe('Kafka → Iceberg ingestion (real broker)', () => {
  let kafka: KafkaBroker;
  let dir: string;
  let catalog: SqlCatalog;
  let storeUrl: string;

  beforeAll(async () => {
    kafka = await startKafka();
    log(`broker ${kafka.bootstrap} ready in ${kafka.startMs} ms`);
    dir = mkdtempSync(join(tmpdir(), 'lh-ingest-'));
    storeUrl = `sqlite:${dir}/catalog.db`;
    catalog = await openSqlCatalog({ storeUrl, warehouse: `${dir}/warehouse` });
    await catalog.createNamespace(['db']);
  });
  afterAll(async () => {
    await catalog?.close();
    await kafka?.stop();
    if (dir && !process.env.LAKEHOUSE_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
  });

  it(`ingests ${N} JSON records from 4 partitions: exactly N rows, offsets in the snapshot summary`, async () => {
    const topic = 'events-basic';
    const ident = { namespace: ['db'], name: 'basic' };
    const produceMs = await produce(kafka.bootstrap, topic, record, 0, N);
    const t0 = Date.now();
    const commits: number[] = [];
    const job = await StreamingJob.start(
      {
        jobId: 'basic', brokers: [kafka.bootstrap], topics: [topic], groupId: 'g-basic', table: ident,
        createTable: { schema }, enrich: ['topic', 'partition', 'offset', 'ingested_at'],
        commit: { maxRecords: Math.max(10_000, Math.ceil(N / 5)) }, stopAtEnd: true,
      },
      { catalog, log: quietLog, onCommit: (c) => commits.push(c.rows) },
    );
    await job.done;
    const ms = Date.now() - t0;
    log(`basic: produced ${N} in ${produceMs} ms; ingested in ${ms} ms (${Math.round(N / (ms / 1000))} rows/s incl. group join), ${commits.length} commits`);
    expect(job.status().state).toBe('stopped');
    expect(await sql(catalog, ident, 'SELECT count(*), count(DISTINCT id), count(DISTINCT (_kafka_partition, _kafka_offset)), count(DISTINCT _kafka_partition), min(_ingested_at) IS NOT NULL, min(_kafka_topic) FROM t'))
      .toEqual([[N, N, N, 4, true, topic]]);
    expect(await sql(catalog, ident, 'SELECT sum(id), sum(amount) = sum(CAST(((id % 100000) / 4) AS DECIMAL(12,2))) FROM t')).toEqual([[(N * (N - 1)) / 2, true]]);
    // The table's offsets: partition → next offset, summing to N.
    const t = await catalog.loadTable(ident);
    const offsets = recordedOffsets(t.metadata, [topic]).get(topic)!;
    expect([...offsets.keys()].sort()).toEqual([0, 1, 2, 3]);
    expect([...offsets.values()].reduce((a, b) => a + b, 0n)).toBe(BigInt(N));
    expect(currentSnapshot(t.metadata)!.summary['kafka.job-id']).toBe('basic');
    // Group offsets follow the table (lag visibility).
    const admin = createKafka({ brokers: [kafka.bootstrap], log: quietLog }).admin();
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId: 'g-basic', topics: [topic] });
    await admin.disconnect();
    expect(committed[0].partitions.reduce((a, p) => a + BigInt(p.offset), 0n)).toBe(BigInt(N));
    // A rerun finds nothing new: still exactly N rows.
    const again = await StreamingJob.start(
      { jobId: 'basic', brokers: [kafka.bootstrap], topics: [topic], groupId: 'g-basic-2', table: ident, enrich: ['topic', 'partition', 'offset', 'ingested_at'], stopAtEnd: true },
      { catalog, log: quietLog },
    );
    await again.done;
    expect(await sql(catalog, ident, 'SELECT count(*) FROM t')).toEqual([[N]]);
  }, BIG ? 1_800_000 : 300_000);

  it(`survives ${KILLS} SIGKILLs of the ingesting process: exactly ${CRASH_N} rows, each key once`, async () => {
    const N = CRASH_N;
    const topic = 'events-crash';
    const ident = { namespace: ['db'], name: 'crash' };
    const produceMs = await produce(kafka.bootstrap, topic, record, 0, N);
    log(`crash: produced ${N} in ${produceMs} ms`);
    // ~40 commits in all. Each run is killed at a random moment between its first commit and its
    // third (a random delay after the first, cut short by the third): a run moves the table on by
    // at most ~4 commits, so all kills land mid-work however fast the machine ingests (a kill
    // schedule in wall-clock time alone let a fast machine finish after 3 kills).
    const maxRecords = Math.max(500, Math.ceil(N / 40));
    const args = [join(REPO_ROOT, 'test/ingest/ingest-worker.mjs'), storeUrl, `${dir}/warehouse`, kafka.bootstrap, topic, 'g-crash', 'db', 'crash', String(maxRecords)];
    const env = { ...process.env, LAKEHOUSE_WORKER_FSYNC: '0' };
    const t0 = Date.now();
    const partial: number[] = [];
    let kills = 0;
    for (let run = 0; run < KILLS * 3 && kills < KILLS; run++) {
      const w = spawnPeer(process.execPath, args, { cwd: REPO_ROOT, env });
      const delayMs = Math.random() * 800;
      const killed = await new Promise<boolean>((resolve) => {
        let firstAt = 0;
        const poll = setInterval(() => {
          const out = w.output();
          const commits = (out.match(/^commit /gm) ?? []).length;
          if (/^done /m.test(out) || w.child.exitCode !== null) {
            clearInterval(poll);
            resolve(false);
          } else if (commits >= 3 || (commits >= 1 && (firstAt ||= Date.now()) + delayMs <= Date.now())) {
            clearInterval(poll);
            w.child.kill('SIGKILL');
            resolve(true);
          }
        }, 10);
      });
      await w.exited;
      if (killed) {
        kills++;
        const [[rows]] = (await sql(catalog, ident, 'SELECT count(*) FROM t')) as number[][];
        partial.push(rows);
        log(`crash: SIGKILL #${kills} after ${Date.now() - t0} ms, table had ${rows} rows`);
      } else if (!/^done /m.test(w.output())) {
        throw new Error(`worker failed:\n${w.output()}`);
      }
    }
    expect(kills).toBe(KILLS);
    // Partial progress at some kill proves the kills hit mid-run.
    expect(partial.some((r) => r > 0 && r < N)).toBe(true);
    const last = spawnPeer(process.execPath, args, { cwd: REPO_ROOT, env });
    const code = await last.exited;
    expect(code, last.output()).toBe(0);
    expect(last.output()).toMatch(/^done /m);
    log(`crash: ${kills} kills, finished after ${Date.now() - t0} ms (partial counts ${partial.join(', ')})`);
    expect(await sql(catalog, ident, 'SELECT count(*), count(DISTINCT id), count(DISTINCT (_kafka_partition, _kafka_offset)), min(id), max(id) FROM t'))
      .toEqual([[N, N, N, 0, N - 1]]);
    expect(await sql(catalog, { namespace: ['db'], name: 'crash__dlq' }, 'SELECT count(*) FROM t')).toEqual([[0]]);
  }, CRASH_N > 200_000 ? 1_800_000 : 600_000);

  it('routes 1,000 malformed records to the dead-letter table with their offsets; the stream never stops', async () => {
    const topic = 'events-dlq';
    const ident = { namespace: ['db'], name: 'dlq_target' };
    const V = 20_000;
    const BAD = 1000;
    const badValues = [
      'not json {', '[1,2,3]', '{"name":"no id"}', '{"id":"abc"}', '{"id":1.5}', '{"id":5,"amount":"12.345"}',
      '{"id":6,"ts":"yesterday"}', '{"id":2e20}', '', '{"id":9,"ts":"2024-02-30T99:99:99Z"}',
    ];
    const bad = (j: number) => badValues[j % badValues.length];
    await ensureTopic(createKafka({ brokers: [kafka.bootstrap], log: quietLog }), topic, 4);
    const job = await StreamingJob.start(
      {
        jobId: 'dlq', brokers: [kafka.bootstrap], topics: [topic], groupId: 'g-dlq', table: ident,
        createTable: { schema }, enrich: ['partition', 'offset'], commit: { maxRecords: 5000, intervalMs: 300 },
      },
      { catalog, log: quietLog },
    );
    try {
      // Wave 1: valid records with the bad ones spread through them; wave 2 after: all must land.
      const kf = createKafka({ brokers: [kafka.bootstrap], log: quietLog });
      const producer = kf.producer();
      await producer.connect();
      const step = Math.floor(V / 2 / BAD);
      let b = 0;
      for (let i = 0; i < V / 2; i += 1000) {
        const messages: { key: string; value: string }[] = [];
        for (let j = i; j < i + 1000; j++) {
          messages.push({ key: `k${j}`, value: record(j) });
          if (j % step === 0 && b < BAD) messages.push({ key: `bad-${b}`, value: bad(b++) });
        }
        await producer.send({ topic, messages, acks: -1 });
      }
      expect(b).toBe(BAD);
      await producer.disconnect();
      await produce(kafka.bootstrap, topic, record, V / 2, V);
      const deadline = Date.now() + 240_000;
      while (Date.now() < deadline) {
        const s = job.status();
        if (s.rowsCommitted >= V && s.deadLettersCommitted >= BAD) break;
        expect(s.state, s.error).toBe('running');
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(job.status().state).toBe('running');
    } finally {
      await job.stop();
    }
    const st = job.status();
    expect([st.rowsCommitted, st.deadLettersCommitted]).toEqual([V, BAD]);
    const dlq = { namespace: ['db'], name: 'dlq_target__dlq' };
    expect(await sql(catalog, ident, 'SELECT count(*), count(DISTINCT id) FROM t')).toEqual([[V, V]]);
    expect(await sql(catalog, dlq, `SELECT count(*), count(DISTINCT (partition, "offset")), count(error), min(topic), max(topic), count(failed_at), count(DISTINCT "key") FROM t`))
      .toEqual([[BAD, BAD, BAD, topic, topic, BAD, BAD]]);
    const raws = (await sql(catalog, dlq, `SELECT DISTINCT decode(raw) FROM t`)).map((r) => r[0] ?? '');
    expect(new Set(raws)).toEqual(new Set(badValues));
    // Every offset of every partition is in exactly one of the two tables.
    const kf = createKafka({ brokers: [kafka.bootstrap], log: quietLog });
    const admin = kf.admin();
    await admin.connect();
    const highs = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const total = highs.reduce((a, p) => a + Number(p.high), 0);
    expect(total).toBe(V + BAD);
    const data = (await sql(catalog, ident, 'SELECT _kafka_partition, _kafka_offset FROM t')).map((r) => `${r[0]}:${r[1]}`);
    const letters = (await sql(catalog, dlq, 'SELECT partition, "offset" FROM t')).map((r) => `${r[0]}:${r[1]}`);
    const all = new Set([...data, ...letters]);
    expect(all.size).toBe(total);
    for (const p of highs) for (let o = 0; o < Number(p.high); o++) expect(all.has(`${p.partition}:${o}`)).toBe(true);
    const errors = (await sql(catalog, dlq, 'SELECT error FROM t')).map((r) => String(r[0]));
    expect(errors.some((e) => e.startsWith('invalid JSON'))).toBe(true);
    expect(errors.some((e) => e.includes('required value is missing'))).toBe(true);
    expect(errors.some((e) => e.includes('decimal(12, 2)'))).toBe(true);
  }, 300_000);

  it('a crash between the dead-letter commit and the data commit duplicates nothing', async () => {
    const topic = 'events-dlq-crash';
    const ident = { namespace: ['db'], name: 'dlq_crash' };
    const V = 5000;
    const value = (i: number) => (i % 100 === 0 ? `{"id":"bad-${i}"}` : record(i));
    await produce(kafka.bootstrap, topic, value, 0, V);
    const BAD = V / 100;
    // The catalog "crashes" on the first data-table commit that follows a dead-letter commit.
    let dlqCommitted = false;
    let crashed = false;
    const faulty = new Proxy(catalog, {
      get(target, key) {
        if (key === 'commitTable') {
          return async (id: { namespace: string[]; name: string }, req: Parameters<SqlCatalog['commitTable']>[1]) => {
            if (id.name.endsWith('__dlq')) dlqCommitted = true;
            else if (dlqCommitted && !crashed) {
              crashed = true;
              throw new Error('simulated crash between the two commits');
            }
            return target.commitTable(id, req);
          };
        }
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const cfg = {
      jobId: 'dlq-crash', brokers: [kafka.bootstrap], topics: [topic], groupId: 'g-dlq-crash', table: ident,
      createTable: { schema }, enrich: ['partition', 'offset'] as ('partition' | 'offset')[], commit: { maxRecords: 1000 }, stopAtEnd: true,
    };
    const first = await StreamingJob.start(cfg, { catalog: faulty, log: quietLog });
    await expect(first.done).rejects.toThrow(/simulated crash/);
    expect(crashed).toBe(true);
    const dlq = { namespace: ['db'], name: 'dlq_crash__dlq' };
    const [[lettersAfterCrash]] = (await sql(catalog, dlq, 'SELECT count(*) FROM t')) as number[][];
    expect(lettersAfterCrash).toBeGreaterThan(0);
    const second = await StreamingJob.start(cfg, { catalog, log: quietLog });
    await second.done;
    expect(await sql(catalog, ident, 'SELECT count(*), count(DISTINCT id) FROM t')).toEqual([[V - BAD, V - BAD]]);
    expect(await sql(catalog, dlq, 'SELECT count(*), count(DISTINCT (partition, "offset")) FROM t')).toEqual([[BAD, BAD]]);
  }, 300_000);

  it('two writers racing on one table (a zombie) still commit every record exactly once', async () => {
    const topic = 'events-race';
    const ident = { namespace: ['db'], name: 'race' };
    const M = Math.min(N, 20_000);
    await produce(kafka.bootstrap, topic, record, 0, M);
    const t0 = Date.now();
    const cfg = (g: string) => ({
      jobId: g, brokers: [kafka.bootstrap], topics: [topic], groupId: g, table: ident,
      createTable: { schema }, enrich: ['partition', 'offset'] as ('partition' | 'offset')[], commit: { maxRecords: 1000, intervalMs: 200 }, stopAtEnd: true,
    });
    // Different groups: both consume every partition, as a zombie would after losing its group.
    const a = await StreamingJob.start(cfg('race-a'), { catalog, log: quietLog });
    const b = await StreamingJob.start(cfg('race-b'), { catalog, log: quietLog });
    await Promise.all([a.done, b.done]);
    const conflicts = a.status().conflicts + b.status().conflicts;
    log(`race: ${M} records in ${Date.now() - t0} ms, commits a=${a.status().commits} b=${b.status().commits}, conflicts ${conflicts}`);
    expect(await sql(catalog, ident, 'SELECT count(*), count(DISTINCT id), count(DISTINCT (_kafka_partition, _kafka_offset)) FROM t')).toEqual([[M, M, M]]);
    expect(a.status().rowsCommitted + b.status().rowsCommitted).toBe(M);
  }, 300_000);

  it('scale-out: two processes share one job (one consumer group): a late joiner gets partitions and both commit, then one is killed and restarted: exactly N rows', async () => {
    const topic = 'events-scale';
    const ident = { namespace: ['db'], name: 'scale' };
    const M = Math.min(N, 40_000);
    await produce(kafka.bootstrap, topic, record, 0, M);
    const args = [join(REPO_ROOT, 'test/ingest/ingest-worker.mjs'), storeUrl, `${dir}/warehouse`, kafka.bootstrap, topic, 'g-scale', 'db', 'scale', String(Math.ceil(M / 100))];
    // 100 commits of >= 100 ms each: A alone needs >= 10 s however fast the machine, while B
    // joins within a few seconds, so both really share the work (without the floor a fast machine
    // let A drain the topic before B's first commit).
    const env = { ...process.env, LAKEHOUSE_WORKER_FSYNC: '0', LAKEHOUSE_WORKER_COMMIT_DELAY_MS: '100' };
    const t0 = Date.now();
    const rowsOf = (out: string) => [...out.matchAll(/^commit (\d+) /gm)].reduce((n, m) => n + Number(m[1]), 0);
    const assignments = (out: string) => [...out.matchAll(/^assigned (.*)$/gm)].map((m) => m[1]);
    // B joins only once A owns every partition and is committing: A must notice the rebalance
    // mid-batch and give up half of them, so that B commits rows of its own while A still runs.
    const a = spawnPeer(process.execPath, args, { cwd: REPO_ROOT, env });
    while (!/^commit /m.test(a.output()) && a.child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    expect(assignments(a.output())[0]).toBe('0,1,2,3');
    const b = spawnPeer(process.execPath, args, { cwd: REPO_ROOT, env });
    while ((rowsOf(a.output()) === 0 || rowsOf(b.output()) === 0) && a.child.exitCode === null && b.child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    const rowsA = rowsOf(a.output());
    const rowsB = rowsOf(b.output());
    log(`scale-out: both committing after ${Date.now() - t0} ms (A ${rowsA} rows, assignments ${assignments(a.output()).join(' | ')}; B ${rowsB} rows, ${assignments(b.output()).join(' | ')})`);
    expect(rowsA, a.output()).toBeGreaterThan(0);
    expect(rowsB, b.output()).toBeGreaterThan(0);
    // Revocation mid-stream: A dies holding partitions (and maybe a buffered batch); B takes them
    // over after A's session times out, then shares again with the restarted A.
    let restarted = a;
    if (a.child.exitCode === null) {
      a.child.kill('SIGKILL');
      await a.exited;
      restarted = spawnPeer(process.execPath, args, { cwd: REPO_ROOT, env });
    }
    const [cb, cr] = await Promise.all([b.exited, restarted.exited]);
    expect(cb, b.output()).toBe(0);
    expect(cr, restarted.output()).toBe(0);
    const bSplit = assignments(b.output()).some((x) => x !== '' && x.split(',').length < 4);
    log(`scale-out: ${M} records in ${Date.now() - t0} ms; rows A=${rowsOf(a.output())}+${restarted === a ? 0 : rowsOf(restarted.output())} B=${rowsOf(b.output())}`);
    // B held a strict share of the partitions at some point: the group really was split.
    expect(bSplit, b.output()).toBe(true);
    expect(await sql(catalog, ident, 'SELECT count(*), count(DISTINCT id), count(DISTINCT (_kafka_partition, _kafka_offset)) FROM t')).toEqual([[M, M, M]]);
  }, 600_000);
});
