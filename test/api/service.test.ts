import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, redactConfig, storageConfigOf } from '../../src/config.js';
import { BIN, REPO_ROOT } from '../support/cli.js';
import { startTestServer, type TestServer } from './own-support.js';

describe('config', () => {
  it('defaults: port 8181, ./warehouse with a SQLite catalog in it', () => {
    const c = loadConfig({}, { cwd: '/srv/app' });
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8181, warehouse: '/srv/app/warehouse', catalogUrl: 'sqlite:/srv/app/warehouse/catalog.db', catalogName: 'lakehouse', logLevel: 'info' });
  });

  it('reads a JSON file, lets env override it, and maps storage credentials', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lh-cfg-'));
    try {
      writeFileSync(`${dir}/c.json`, JSON.stringify({ port: 9000, warehouse: 's3://bucket/wh', catalogUrl: 'postgres://u:pw@db/lake', storage: { s3: { endpoint: 'http://minio:9000', secretAccessKey: 'S3CRET', pathStyle: true } } }));
      const c = loadConfig({ LAKEHOUSE_CONFIG: `${dir}/c.json`, LAKEHOUSE_PORT: '9100', LAKEHOUSE_S3_ACCESS_KEY_ID: 'AK', LAKEHOUSE_S3_PATH_STYLE: 'false' });
      expect(c.port).toBe(9100);
      expect(c.warehouse).toBe('s3://bucket/wh');
      expect(storageConfigOf(c).s3).toEqual({ endpoint: 'http://minio:9000', accessKeyId: 'AK', secretAccessKey: 'S3CRET', forcePathStyle: false });
      const shown = JSON.stringify(redactConfig(c));
      expect(shown).not.toContain('S3CRET');
      expect(shown).not.toContain(':pw@');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists every bad field at once', () => {
    let msg = '';
    try {
      loadConfig({ LAKEHOUSE_PORT: '99999', LAKEHOUSE_LOG_LEVEL: 'loud', LAKEHOUSE_S3_ENDPOINT: 'minio:9000', LAKEHOUSE_S3_SECRET_ACCESS_KEY: '' });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/port \(LAKEHOUSE_PORT\)/);
    expect(msg).toMatch(/logLevel \(LAKEHOUSE_LOG_LEVEL\)/);
    expect(msg).toMatch(/storage\.s3\.endpoint \(LAKEHOUSE_S3_ENDPOINT\)/);
    expect(msg).toMatch(/storage\.s3\.secretAccessKey/);
    expect(() => loadConfig({ LAKEHOUSE_WAREHOUSE: 's3://b/wh' })).toThrow(/catalogUrl/);
  });
});

describe('observability', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('info');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('logs JSON with the request id on every line and echoes x-request-id', async () => {
    const r = await s.call('GET', '/api/v1/namespaces/x/tables', undefined, { 'x-request-id': 'abc-123' });
    expect(r.headers.get('x-request-id')).toBe('abc-123');
    const lines = s.logs.filter((l) => l.reqId === 'abc-123');
    expect(lines.length).toBeGreaterThanOrEqual(2); // incoming request + request completed
    const gen = await s.call('GET', '/health', undefined, { 'x-request-id': 'bad id\twith junk' });
    expect(gen.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const err = await s.call('GET', '/nope');
    expect(err.status).toBe(404);
    expect(err.headers.get('x-request-id')).toBeTruthy();
    expect(err.body.error).toMatchObject({ code: 404, type: 'NotFoundException' });
  });

  it('reports readiness, and 503 with reasons when the warehouse is gone', async () => {
    expect((await s.call('GET', '/ready')).body.status).toBe('ready');
    rmSync(`${s.dir}/wh`, { recursive: true, force: true });
    const r = await s.call('GET', '/ready');
    expect(r.status).toBe(503);
    expect(r.body.reasons[0]).toMatch(/^warehouse-storage: /);
    expect((await s.call('GET', '/health')).body).toEqual({ status: 'ok' });
  });

  it('exposes Prometheus metrics by route pattern and catalog commit counts', async () => {
    await s.call('POST', '/api/v1/tables', { namespace: 'm', name: 't', columns: [{ name: 'a', type: 'int' }] });
    await s.call('PATCH', '/api/v1/tables/m/t/schema', { changes: [{ op: 'add', name: 'b', type: 'string' }] });
    await s.call('PATCH', '/api/v1/tables/m/t/schema', { changes: [{ op: 'tags', column: 'b', tags: ['x'] }] });
    const m = await s.call('GET', '/metrics');
    expect(m.headers.get('content-type')).toMatch(/text\/plain/);
    expect(m.text).toMatch(/http_request_duration_seconds_count\{method="PATCH",route="\/api\/v1\/tables\/:namespace\/:table\/schema",status_code="200"\} 2/);
    expect(m.text).not.toMatch(/route="\/api\/v1\/tables\/m\/t/);
    expect(m.text).toMatch(/lakehouse_catalog_commits_total\{result="success"\} 2/);
    expect(m.text).toMatch(/lakehouse_catalog_commit_duration_seconds_bucket/);
    expect(m.text).toMatch(/process_cpu_user_seconds_total/);
  });
});

// The real process: `lakehouse serve` (dist/, built by `npm test`) prints where to look, and a
// SIGTERM lets an in-flight request finish before exiting 0.
const distMain = `${REPO_ROOT}dist/cli/main.js`;
const stale =
  !existsSync(distMain) ||
  ['src/cli/main.ts', 'src/api/server.ts', 'src/config.ts'].some((f) => statSync(`${REPO_ROOT}${f}`).mtimeMs > statSync(distMain).mtimeMs + 1);

describe('lakehouse serve', () => {
  it.skipIf(stale)('starts, prints where to look, and finishes an in-flight request after SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lh-serve-'));
    const child = spawn(process.execPath, [BIN, 'serve'], {
      cwd: dir,
      env: { ...process.env, LAKEHOUSE_PORT: '0', LAKEHOUSE_LOG_LEVEL: 'info', LAKEHOUSE_AUTH_ANONYMOUS: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stderr.on('data', (d) => {
          stderr += d;
          const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
          if (m && /ready: /.test(stderr)) resolve(Number(m[1]));
        });
        setTimeout(() => reject(new Error(`no listening line: ${stderr}`)), 30_000);
      });
      expect(stderr).toMatch(/API docs \(Swagger UI\): http:\/\/localhost:\d+\/docs/);
      expect(stderr).toMatch(/Iceberg REST catalog: http:\/\/localhost:\d+\/v1\/config/);
      expect(existsSync(`${dir}/warehouse/catalog.db`)).toBe(true);

      // A slow request: headers and half the body now, the rest after SIGTERM.
      const body = JSON.stringify({ namespace: 'slow', name: 't', columns: [{ name: 'a', type: 'int' }] });
      const sock = connect(port, '127.0.0.1');
      let response = '';
      sock.on('data', (d) => (response += d));
      const closed = new Promise<void>((r) => sock.on('close', () => r()));
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write(`POST /api/v1/tables HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`);
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGTERM');
      // Ctrl-C on `npm start` can deliver the signal twice at once (terminal + npm): not a forced exit.
      child.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 500));
      expect(child.exitCode).toBeNull(); // still draining
      sock.write(body.slice(10));
      await closed;
      expect(response).toMatch(/^HTTP\/1\.1 201 /);
      expect(response).toContain('"name":"t"');
      expect(await exited, stderr).toBe(0);
      expect(stderr).toContain('lakehouse stopped');
      const lines = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(lines.some((l) => l.msg === 'shutting down: finishing in-flight requests')).toBe(true);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(stale)('exits non-zero listing bad configuration', async () => {
    const child = spawn(process.execPath, [BIN, 'serve'], { env: { ...process.env, LAKEHOUSE_PORT: 'x', LAKEHOUSE_LOG_LEVEL: 'loud' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(code).toBe(1);
    expect(stderr).toMatch(/invalid configuration:[\s\S]*port \(LAKEHOUSE_PORT\)[\s\S]*logLevel \(LAKEHOUSE_LOG_LEVEL\)/);
  });
});
