import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../support/cli.js';
import { startServe, type ServeProcess } from '../scheduler/serve-process.js';

// `lakehouse schedules …` as a real process against a real `lakehouse serve` process.
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'schedules', ...args], { env: { ...process.env, LAKEHOUSE_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('lakehouse schedules', () => {
  let dir: string;
  let serve: ServeProcess;
  let slow: Server;
  let slowUrl: string;
  const json = async (args: string[]) => {
    const r = await cli([...args, '--url', serve.url, '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-cli-sched-'));
    serve = await startServe({ dir, env: { LAKEHOUSE_SCHEDULER_POLL_MS: '200', LAKEHOUSE_AUTH_ANONYMOUS: 'true' } });
    const res = await fetch(`${serve.url}/api/v1/tables`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ namespace: 'r', name: 't', columns: [{ name: 'x', type: 'int' }] }),
    });
    expect(res.status).toBe(201);
    // A source that never answers: a batch-ingest run from it stays running until cancelled, however
    // long the CLI calls before the cancel take on a loaded machine.
    slow = createServer(() => undefined);
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    slowUrl = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/slow.ndjson`;
  }, 240_000);
  afterAll(async () => {
    slow?.closeAllConnections();
    await new Promise<void>((r) => (slow ? slow.close(() => r()) : r()));
    await serve?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('create, list, show, update, run --wait, runs, delete', async () => {
    const created = await json(['create', '--name', 'copy', '--kind', 'sql', '--params', '{"sql": "INSERT INTO r.t VALUES (1), (2)"}', '--interval', '3600', '--owner', 'ana']);
    expect(created).toMatchObject({ name: 'copy', kind: 'sql', intervalSeconds: 3600, cron: null, owner: 'ana', enabled: true });

    const list = await cli(['list', '--url', serve.url]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^id +\| name +\| kind +\| when +\| enabled \| owner \| nextRunAt/);
    expect(list.stdout).toContain(`${created.id} | copy | sql  | every 3600 s | true    | ana   |`);
    expect(list.stdout).toMatch(/\(1 schedules\)\n$/);
    expect((await json(['show', 'copy'])).id).toBe(created.id);
    expect((await json(['show', created.id])).name).toBe('copy');

    // update changes only what is given.
    const updated = await json(['update', 'copy', '--cron', '0 3 * * *', '--timezone', 'Europe/Berlin', '--max-attempts', '2']);
    expect(updated).toMatchObject({ id: created.id, cron: '0 3 * * *', intervalSeconds: null, timezone: 'Europe/Berlin', owner: 'ana', params: created.params, retry: { maxAttempts: 2 } });

    const run = await json(['run', 'copy', '--wait', '--timeout-ms', '60000']);
    expect(run).toMatchObject({ scheduleId: created.id, trigger: 'manual', status: 'succeeded', rowsAffected: 2 });
    const runs = await cli(['runs', 'copy', '--url', serve.url]);
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stdout).toContain(`${run.id} |`);
    expect(runs.stdout).toMatch(/\| manual +\| succeeded \| +1 \|/);
    const one = await cli(['runs', '--run', run.id, '--url', serve.url]);
    expect(one.stdout).toMatch(/status +\| succeeded/);
    expect(one.stdout).toMatch(/\nlogs:\n(.*\n)*  \S+ info  wrote 2 rows in \d+ ms/);

    const del = await cli(['delete', 'copy', '--url', serve.url]);
    expect([del.code, del.stdout]).toEqual([0, `deleted schedule copy (${created.id})\n`]);
    const gone = await cli(['show', 'copy', '--url', serve.url]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe('error [NOT_FOUND]: no schedule named copy\n');
  }, 120_000);

  it('cancels a running run', async () => {
    const job = await json(['create', '--json', JSON.stringify({ name: 'slow', kind: 'batch-ingest', params: { namespace: 'r', table: 't', url: slowUrl }, intervalSeconds: 86400 })]);
    const queued = await json(['run', 'slow']);
    expect(queued.status).toBe('queued');
    let r = queued;
    for (let i = 0; i < 100 && r.status !== 'running'; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await json(['runs', '--run', queued.id]);
    }
    expect(r.status).toBe('running');
    const c = await json(['cancel', queued.id]);
    expect(c.cancelRequested).toBe(true);
    for (let i = 0; i < 100 && r.status === 'running'; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await json(['runs', '--run', queued.id]);
    }
    expect(r.status).toBe('cancelled');
    const again = await cli(['cancel', queued.id, '--url', serve.url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error \[RESOURCE_IN_USE\]: run .* already ended \(cancelled\)/);
    expect((await json(['runs', 'slow', '--status', 'cancelled'])).runs.map((x: { id: string }) => x.id)).toEqual([queued.id]);
    await json(['delete', job.id]);
  }, 60_000);

  it('fails with the error code: validation, a failed run, bad input, no service', async () => {
    const invalid = await cli(['create', '--name', 'm', '--kind', 'maintenance', '--params', '{"table": "t"}', '--interval', '60', '--url', serve.url]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^error \[VALIDATION_FAILED\]: params.namespace/);
    await json(['create', '--name', 'broken', '--kind', 'sql', '--params', '{"sql": "INSERT INTO r.nope VALUES (1)"}', '--interval', '3600']);
    const failed = await cli(['run', 'broken', '--wait', '--url', serve.url]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^error \[NO_SUCH_TABLE\]: run [0-9a-f-]+ failed: /);
    expect(failed.stdout).toMatch(/status +\| failed/);
    const badJson = await cli(['create', '--params', '{nope', '--url', serve.url]);
    expect([badJson.code, badJson.stderr]).toEqual([1, expect.stringMatching(/^error \[BAD_REQUEST\]: --params is not JSON/)]);
    const usage = await cli(['frobnicate', '--url', serve.url]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown schedules command: frobnicate/);
    const down = await cli(['list', '--url', 'http://127.0.0.1:1']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error \[SERVICE_UNAVAILABLE\]: cannot reach/);
  }, 60_000);
});
