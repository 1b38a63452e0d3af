import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { startServe, type ServeProcess } from './serve-process.js';
import { sleep, waitFor } from './support.js';

/**
 * The demand with real service processes: two `lakehouse serve` processes on one
 * PostgreSQL catalog, one batch-ingest job every 2 s for a minute. Each run fetches a row from a
 * test HTTP server that answers after HOLD_MS with a fresh id (and ETag), so every execution is
 * visible twice: as an HTTP request and as a row in the table. One process is SIGKILLed while its
 * run's request is in flight; the other takes the lease over and re-runs that slot. Afterwards:
 * one run per due slot, all succeeded, one completed fetch per slot, and the table holds exactly
 * one row per slot.
 */
const RUN_FOR_MS = 60_000;
const HOLD_MS = 700;
const LEASE_MS = 3000;

describe('scheduler: exactly once across two lakehouse serve processes (PostgreSQL)', () => {
  let pg: TestPostgres;
  let dir: string;
  let server: Server;
  let base: string;
  const procs: ServeProcess[] = [];
  const requests: { start: number; end: number | null; id: number; outcome: 'served' | 'aborted' | null }[] = [];
  beforeAll(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(`${tmpdir()}/lh-sched-procs-`);
    server = createServer((req, res) => {
      const r = { start: Date.now(), end: null as number | null, id: requests.length + 1, outcome: null as 'served' | 'aborted' | null };
      requests.push(r);
      const t = setTimeout(() => {
        r.outcome = 'served';
        r.end = Date.now();
        res.writeHead(200, { etag: `"${r.id}"` }).end(`${JSON.stringify({ id: r.id, cat: 'tick', v: r.start })}\n`);
      }, HOLD_MS);
      res.on('close', () => {
        if (r.outcome === null) {
          clearTimeout(t);
          r.outcome = 'aborted';
          r.end = Date.now();
        }
      });
      req.resume();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const env = { LAKEHOUSE_SCHEDULER_POLL_MS: '200', LAKEHOUSE_SCHEDULER_LEASE_MS: String(LEASE_MS), LAKEHOUSE_AUTH_ANONYMOUS: 'true' };
    // Sequentially: the first one migrates the catalog database.
    for (let i = 0; i < 2; i++) procs.push(await startServe({ dir, catalogUrl: pg.url, env }));
  }, 300_000);
  afterAll(async () => {
    for (const p of procs) await p.stop();
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const api = async (p: ServeProcess, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${p.url}/api/v1${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
    const json = res.status === 204 ? null : await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  it('runs every 2-second slot exactly once; a SIGKILLed process’s run is taken over', async () => {
    const [a] = procs;
    await api(a, 'POST', '/tables', { namespace: 'x', name: 'ticks', columns: [{ name: 'id', type: 'long', required: true }, { name: 'cat', type: 'string' }, { name: 'v', type: 'long' }] });
    const job = await api(a, 'POST', '/schedules', {
      name: 'tick',
      kind: 'batch-ingest',
      params: { namespace: 'x', table: 'ticks', url: `${base}/tick.ndjson`, reingestChanged: true },
      cron: '*/2 * * * * *',
      concurrency: 'queue',
    });
    const startAt = Date.parse(job.startAt);
    const until = startAt + RUN_FOR_MS;
    const runnerOf = (runnerId: string | null) => procs.findIndex((p) => runnerId?.split(':')[1] === String(p.pid));

    // Kill the process running a slot, while its HTTP fetch is in flight, once a few slots have gone by.
    const victim = await waitFor(async () => {
      const inFlight = requests.find((r) => r.outcome === null);
      if (Date.now() < startAt + 10_000 || !inFlight) return null;
      const running = (await api(a, 'GET', `/schedules/${job.id}/runs?status=running`)).runs as { id: string; runnerId: string }[];
      // The fetch must still be in flight after the GET (slow on a loaded machine), or the kill
      // would come after it was served.
      return running.length === 1 && runnerOf(running[0].runnerId) >= 0 && inFlight.outcome === null ? running[0] : null;
    }, 40_000, 20);
    const deadIdx = runnerOf(victim.runnerId);
    const dead = procs[deadIdx];
    const alive = procs[1 - deadIdx];
    const killedAt = Date.now();
    await dead.kill();

    await sleep(Math.max(0, until - Date.now()));
    // One run per due 2-second slot in (startAt, until), nothing extra, all succeeded. The last
    // slot falls due just before `until`; give the poller time to claim and finish it.
    const slots: number[] = [];
    for (let t = Math.floor(startAt / 2000) * 2000 + 2000; t < until; t += 2000) slots.push(t);
    const done = (r: Record<string, any>) => !['queued', 'running'].includes(r.status);
    let last: Record<string, any>[] = [];
    const runs = await waitFor(async () => {
      const rs = (await api(alive, 'GET', `/schedules/${job.id}/runs?until=${new Date(until).toISOString()}&limit=1000`)).runs as Record<string, any>[];
      last = rs;
      return rs.every(done) && rs.length >= slots.length ? rs.reverse() : null;
    }, 30_000, 200).catch(() => [...last].reverse());
    expect(runs.map((r) => Date.parse(r.scheduledFor))).toEqual(slots);
    expect(runs.filter((r) => r.status !== 'succeeded').map((r) => `${r.scheduledFor} ${r.status} ${r.error}`)).toEqual([]);
    expect(runs.every((r) => r.rowsAffected === 1 && r.filesAffected === 1)).toBe(true);

    // The killed run: attempt 1 lost with the process, attempt 2 on the survivor once the lease expired.
    const taken = runs.find((r) => r.id === victim.id)!;
    expect(taken.attempt).toBe(2);
    expect(runnerOf(taken.runnerId)).toBe(1 - deadIdx);
    expect(taken.logs.map((l: { message: string }) => l.message).join('\n')).toMatch(/attempt 1 lost: runner .* stopped renewing its lease/);
    expect(Date.parse(taken.startedAt) - killedAt).toBeGreaterThanOrEqual(LEASE_MS - 1500);

    // Executions as the source saw them: one completed fetch per slot (plus the killed one, cut off).
    const fetched = requests.filter((r) => r.start < until + 30_000);
    expect(fetched.filter((r) => r.outcome === 'aborted')).toHaveLength(1);
    expect(fetched.filter((r) => r.outcome === 'served')).toHaveLength(slots.length);
    // And in the table: exactly one row per slot, no id twice.
    const q = await api(alive, 'POST', '/queries', { sql: 'SELECT count(*) AS n, count(DISTINCT id) AS d FROM x.ticks' });
    expect(q.rows).toEqual([[slots.length, slots.length]]);

    const beforeKill = runs.filter((r) => Date.parse(r.startedAt) < killedAt && r.id !== victim.id);
    const per = [0, 1].map((i) => beforeKill.filter((r) => runnerOf(r.runnerId) === i).length);
    console.log(`slots=${slots.length} killed=process ${deadIdx} (pid ${dead.pid}) runs-before-kill per process=${JSON.stringify(per)} takeover-after=${Date.parse(taken.startedAt) - killedAt} ms`);
  }, 240_000);
});
