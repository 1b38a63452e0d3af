import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { appendSql } from '../../src/table/table-ops.js';
import { startSecureServer, type SecureServer } from '../security/support.js';
import { startTestServer, type TestServer } from '../api/own-support.js';

// `lakehouse sql` as a real process (dist/, built by `npm test`).
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = `${REPO_ROOT}bin/lakehouse.js`;
const distSql = `${REPO_ROOT}dist/cli/sql.js`;
const stale =
  !existsSync(distSql) ||
  ['src/cli/main.ts', 'src/cli/sql.ts', 'src/query/formats.ts', 'src/query/engine.ts'].some((f) => statSync(`${REPO_ROOT}${f}`).mtimeMs > statSync(distSql).mtimeMs + 1);

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'sql', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(stale)('lakehouse sql', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-cli-sql-'));
    const warehouse = join(dir, 'warehouse');
    // The same layout `serve` uses by default: the SQLite catalog inside the warehouse.
    const catalog = await openSqlCatalog({ storeUrl: `sqlite:${warehouse}/catalog.db`, warehouse, name: 'lakehouse' });
    await catalog.createNamespace(['db']);
    const ident = { namespace: ['db'], name: 't' };
    await catalog.createTable(ident, newTableMetadata({
      schema: { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: true, type: 'long' }, { id: 2, name: 'label', required: false, type: 'string' }] },
      location: catalog.defaultTableLocation(ident),
    }));
    const duck = await Duck.open();
    await appendSql(catalog, ident, duck, `SELECT range AS id, 'l,' || range AS label FROM range(5)`);
    duck.close();
    await catalog.close();
    env = { LAKEHOUSE_WAREHOUSE: warehouse, LAKEHOUSE_CONFIG: '' };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a query on the local warehouse as json, csv and table', async () => {
    const j = await run(['SELECT count(*) AS n, max(id) AS m FROM db.t', '--format', 'json'], env);
    expect(j.code, j.stderr).toBe(0);
    const body = JSON.parse(j.stdout);
    expect(body.columns.map((c: any) => c.name)).toEqual(['n', 'm']);
    expect(body.rows).toEqual([[5, 4]]);
    expect(body.stats.filesScanned).toBe(1);

    const c = await run(['SELECT id, label FROM t WHERE id < 2 ORDER BY id', '--format', 'csv', '--namespace', 'db'], env);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toBe('id,label\r\n0,"l,0"\r\n1,"l,1"\r\n');

    const t = await run(['SELECT id, label FROM db.t ORDER BY id LIMIT 2'], env);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toBe('id | label\n---+------\n 0 | l,0\n 1 | l,1\n(2 rows)\n');
  });

  it('exits non-zero with the error code on stderr', async () => {
    const bad = await run(['SELEC 1'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error \[BAD_REQUEST\]: /);
    const missing = await run(['SELECT * FROM db.nope'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error \[NO_SUCH_TABLE\]: /);
    const usage = await run([], env);
    expect(usage.code).toBe(2);
  });

  describe('with --url', () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer('warn');
      await s.call('POST', '/api/v1/tables', { namespace: 'r', name: 't', columns: [{ name: 'x', type: 'int' }] });
      await s.call('POST', '/api/v1/queries', { sql: 'INSERT INTO r.t VALUES (1), (2), (3)' });
    });
    afterAll(async () => {
      await s?.close();
    });

    it('calls the service query API', async () => {
      const r = await run(['SELECT sum(x) AS s FROM t', '--namespace', 'r', '--url', s.base, '--format', 'csv']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('s\r\n6\r\n');
      const bad = await run(['SELECT * FROM r.nope', '--url', s.base]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^error \[NO_SUCH_TABLE\]: /);
      const timeout = await run(['SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b', '--url', s.base, '--timeout-ms', '300']);
      expect(timeout.code).toBe(1);
      expect(timeout.stderr).toMatch(/^error \[QUERY_TIMEOUT\]: /);
    });
  });

  describe('with --url against a service that requires authentication', () => {
    let s: SecureServer;
    beforeAll(async () => {
      s = await startSecureServer();
      await s.call('POST', '/api/v1/tables', { token: s.adminKey, body: { namespace: 'r', name: 't', columns: [{ name: 'x', type: 'int' }] } });
      await s.call('POST', '/api/v1/queries', { token: s.adminKey, body: { sql: 'INSERT INTO r.t VALUES (4), (5)' } });
    });
    afterAll(async () => {
      await s?.close();
    });

    it('sends --token or LAKEHOUSE_TOKEN as a bearer token; none is refused', async () => {
      const none = await run(['SELECT sum(x) AS s FROM r.t', '--url', s.base]);
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/^error \[UNAUTHENTICATED\]: /);
      const flag = await run(['SELECT sum(x) AS s FROM r.t', '--url', s.base, '--token', s.adminKey, '--format', 'csv']);
      expect(flag.code, flag.stderr).toBe(0);
      expect(flag.stdout).toBe('s\r\n9\r\n');
      const env = await run(['SELECT count(*) AS n FROM r.t', '--url', s.base, '--format', 'csv'], { LAKEHOUSE_TOKEN: s.adminKey });
      expect(env.code, env.stderr).toBe(0);
      expect(env.stdout).toBe('n\r\n2\r\n');
    });
  });
});
