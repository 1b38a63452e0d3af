import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startKafka, type KafkaBroker } from '../support/kafka.js';
import { produce, record, sql } from '../ingest/support.js';
import { startTestServer, type TestServer } from './own-support.js';
import { waitFor } from '../support/wait.js';


describe('own API: running ingestion jobs against a real Kafka broker', () => {
  let kafka: KafkaBroker;
  let s: TestServer;
  beforeAll(async () => {
    [kafka, s] = await Promise.all([startKafka(), startTestServer('warn')]);
  }, 300_000);
  afterAll(async () => {
    await s?.close();
    await kafka?.stop();
  });

  it('start, status with lag falling to zero, pause, resume, stop, reset, run history', async () => {
    const topic = 'jobs-events';
    const ident = { namespace: ['jobs'], name: 'events' };
    const t = await s.call('POST', '/api/v1/tables', {
      namespace: 'jobs',
      name: 'events',
      columns: [
        { name: 'id', type: 'long', required: true },
        { name: 'name', type: 'string' },
        { name: 'amount', type: 'decimal(10,2)' },
        { name: 'ts', type: 'timestamptz' },
      ],
    });
    expect(t.status, t.text).toBe(201);
    // 10,000 records, every 100th malformed.
    await produce(kafka.bootstrap, topic, (i) => (i % 100 === 0 ? `not json ${i}` : record(i)), 0, 10_000);
    const src = await s.call('POST', '/api/v1/sources/kafka', { name: 'local', bootstrapServers: [kafka.bootstrap] });
    expect(src.status, src.text).toBe(201);
    const job = await s.call('POST', '/api/v1/ingestion-jobs', {
      name: 'events',
      sourceId: src.body.id,
      topics: [topic],
      target: { namespace: 'jobs', table: 'events' },
      mapping: { commit: { intervalMs: 300 } },
      schedule: 'manual',
    });
    expect(job.status, job.text).toBe(201);
    const id = job.body.id as string;
    const path = `/api/v1/ingestion-jobs/${id}`;

    const before = await s.call('GET', `${path}/status`);
    expect(before.status, before.text).toBe(200);
    expect(before.body).toMatchObject({ state: 'stopped', totalLag: '10000' });
    expect(before.body.partitions).toHaveLength(4);

    const t0 = Date.now();
    const started = await s.call('POST', `${path}/start`);
    expect(started.status, started.text).toBe(200);
    expect(started.body.state).toBe('running');
    expect((await s.call('POST', `${path}/start`)).status).toBe(409);
    const caught = await waitFor('lag 0', async () => {
      const st = (await s.call('GET', `${path}/status`)).body;
      // The counters follow the commit that moved the offsets (streaming-job.ts reports it first).
      return st.totalLag === '0' && st.rowsCommitted + st.deadLettersCommitted === 10_000 && st;
    }, 120_000);
    process.stderr.write(`job caught up on 10k records in ${Date.now() - t0} ms\n`);
    expect(caught.state).toBe('running');
    expect(caught.rowsCommitted).toBe(9900);
    expect(caught.deadLettersCommitted).toBe(100);
    expect(caught.deadLetterTableRows).toBe(100);
    expect(caught.lastCommitAt).not.toBeNull();
    expect(caught.partitions.every((p: any) => p.lag === '0' && p.committedOffset === p.endOffset)).toBe(true);
    expect(await sql(s.catalog, ident, 'SELECT count(*), count(DISTINCT id) FROM t')).toEqual([[9900, 9900]]);

    // Pause: the table stops moving, so lag builds up; resume continues exactly where it was.
    const paused = await s.call('POST', `${path}/pause`);
    expect(paused.body.state).toBe('paused');
    expect((await s.call('POST', `${path}/pause`)).status).toBe(409);
    await produce(kafka.bootstrap, topic, record, 10_000, 15_000);
    const lagging = (await s.call('GET', `${path}/status`)).body;
    expect(lagging).toMatchObject({ state: 'paused', totalLag: '5000' });
    expect((await s.call('POST', `${path}/resume`)).body.state).toBe('running');
    await waitFor('lag 0 after resume', async () => (await s.call('GET', `${path}/status`)).body.totalLag === '0');
    expect(await sql(s.catalog, ident, 'SELECT count(*), count(DISTINCT id) FROM t')).toEqual([[14900, 14900]]);

    // Reset needs a stopped job; to 'latest' skips what was produced meanwhile.
    expect((await s.call('POST', `${path}/reset`, { position: 'latest' })).status).toBe(409);
    expect((await s.call('POST', `${path}/stop`)).body.state).toBe('stopped');
    await produce(kafka.bootstrap, topic, record, 15_000, 16_000);
    expect((await s.call('GET', `${path}/status`)).body.totalLag).toBe('1000');
    const reset = await s.call('POST', `${path}/reset`, { position: 'latest' });
    expect(reset.status, reset.text).toBe(200);
    expect(reset.body.totalLag).toBe('0');
    // Explicit offsets: partition 0 back by 10 records re-reads exactly those 10.
    const p0 = reset.body.partitions.find((p: any) => p.partition === 0);
    const back = await s.call('POST', `${path}/reset`, { offsets: { [topic]: { '0': String(BigInt(p0.committedOffset) - 10n) } } });
    expect(back.body.totalLag).toBe('10');
    expect((await s.call('POST', `${path}/reset`, { offsets: { other: { '0': 1 } } })).status).toBe(400);
    await s.call('POST', `${path}/start`);
    await waitFor('lag 0 after reset', async () => (await s.call('GET', `${path}/status`)).body.totalLag === '0');
    expect(await sql(s.catalog, ident, 'SELECT count(*), count(DISTINCT id) FROM t')).toEqual([[14910, 14910]]);
    expect((await s.call('POST', `${path}/stop`)).body.state).toBe('stopped');

    const runs = (await s.call('GET', `${path}/runs`)).body.runs;
    expect(runs.map((r: any) => r.state)).toEqual(['stopped', 'stopped', 'paused']);
    expect(runs[2]).toMatchObject({ rowsCommitted: 9900, deadLetters: 100 });
    expect(runs[1].rowsCommitted).toBe(5000);
    expect(runs[0].rowsCommitted).toBe(10);
    expect((await s.call('GET', '/api/v1/ingestion-jobs/00000000-0000-4000-8000-000000000000/status')).status).toBe(404);
  }, 300_000);
  it('rejects bad runner options with a 400; a pattern job with derived columns and an inferred table runs through the CLI', async () => {
    await s.catalog.createNamespace(['clins']);
    const src = await s.call('POST', '/api/v1/sources/kafka', { name: 'cli-src', bootstrapServers: [kafka.bootstrap] });
    expect(src.status, src.text).toBe(201);
    const def = (over: Record<string, unknown>) => ({
      name: 'cli-job', sourceId: src.body.id, topics: [], topicPattern: 'cli-.*', target: { namespace: 'clins', table: 'cli' }, mapping: {}, schedule: 'manual', ...over,
    });
    const rejected = async (over: Record<string, unknown>, message: RegExp) => {
      const r = await s.call('POST', '/api/v1/ingestion-jobs', def(over));
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.message).toMatch(message);
    };
    await rejected({ mapping: { derived: { up: 'upper(name' } } }, /derived column up: syntax error/);
    await rejected({ mapping: { derived: { up: 'nosuch_fn(name)' } } }, /derived column up: .*nosuch_fn/);
    await rejected({ mapping: { derived: { up: '(SELECT 1)' } } }, /derived column up: subqueries are not allowed/);
    await rejected({ mapping: { derived: { a: 'upper(b)', b: 'lower(name)' } } }, /derived column a: refers to derived column b/);
    await rejected({ mapping: { enrich: ['nope'] } }, /mapping.enrich/);
    await rejected({ topicPattern: undefined }, /topics, a topicPattern/);
    await rejected({ topicPattern: '(' }, /topicPattern/);

    await produce(kafka.bootstrap, 'cli-a', record, 0, 2000, 2);
    const created = await s.call('POST', '/api/v1/ingestion-jobs', def({ mapping: { derived: { name_upper: 'upper(name)' }, enrich: ['topic'], commit: { intervalMs: 300 } } }));
    expect(created.status, created.text).toBe(201);
    const cli = (...args: string[]) => runCli(['jobs', ...args, '--url', s.base], { timeoutMs: 120_000 });
    const list = await cli('list');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/cli-job.*\/cli-\.\*\//);
    const start = await cli('start', 'cli-job');
    expect(start.code, start.stderr).toBe(0);
    expect(start.stdout).toBe('cli-job: running\n');
    await waitFor('lag 0', async () => (await s.call('GET', `/api/v1/ingestion-jobs/${created.body.id}/status`)).body.totalLag === '0');
    const status = await cli('status', 'cli-job');
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^job cli-job \(.*\): running$/m);
    expect(status.stdout).toMatch(/rows\/s \(last minute\): \d+ +total lag: 0/);
    expect(status.stdout).toMatch(/last commit: \d{4}-/);
    expect(status.stdout).toMatch(/^topic \| partition \| committed offset \| end offset \| lag$/m);
    expect(status.stdout).toMatch(/^cli-a \| 0 +\| (\d+) +\| \1 +\| 0$/m);
    expect(await sql(s.catalog, { namespace: ['clins'], name: 'cli' }, 'SELECT count(*), count(*) FILTER (WHERE name_upper = upper(name)), min(_kafka_topic) FROM t')).toEqual([[2000, 2000, 'cli-a']]);
    expect((await cli('stop', 'cli-job')).stdout).toBe('cli-job: stopped\n');
    const reset = await cli('reset', 'cli-job', '--offset', 'cli-a:0=0');
    expect(reset.code, reset.stderr).toBe(0);
    const json = await cli('status', 'cli-job', '--format', 'json');
    const st = JSON.parse(json.stdout);
    expect(st.partitions.find((p: any) => p.partition === 0)).toMatchObject({ committedOffset: '0' });
    expect(Number(st.totalLag)).toBeGreaterThan(0);
    const runs = await cli('runs', 'cli-job');
    expect(runs.stdout).toMatch(/stopped.*2000/);
    const bad = await cli('reset', 'cli-job');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/exactly one of --earliest/);
    const missing = await cli('status', 'no-such-job');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/NOT_FOUND.*no-such-job/);
  }, 300_000);
});
