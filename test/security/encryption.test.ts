import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { rewriteDataFiles } from '../../src/maintenance/rewrite-data-files.js';
import { planScan } from '../../src/table/scan-planner.js';
import { tableResolver } from '../../src/table/paths.js';
import { currentSnapshot } from '../../src/iceberg/metadata.js';
import { MasterKeyRing, newMasterKeyText, parseMasterKey } from '../../src/security/encryption/master-key.js';
import { parseKeyMetadata } from '../../src/security/encryption/parquet-encryption.js';
import { QueryEngine } from '../../src/query/engine.js';
import { runCli } from '../support/cli.js';
import { bearer, startServer } from '../support/http.js';

/**
 * Encryption at rest: an encrypted table's data and delete files hold no plaintext (grep of every
 * byte under the table location), yet SQL over real HTTP returns the values to a permitted user;
 * table-key and master-key rotation keep every file readable; a copied file is unreadable by plain
 * DuckDB; a wrong or missing master key fails with a stable code and changes nothing; compaction
 * keeps files encrypted; data-source secrets are sealed in the catalog row yet still work.
 */
const SECRET_TEXT = ['ZEBRA-SECRET-7781', 'QUOKKA-PRIVATE-3390', 'NARWHAL-HIDDEN-5512', 'OCELOT-CONFIDENTIAL-2208'];
const SECRET_NUMBER = 918273645123n;
const le64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(n);
  return b;
};
const NEEDLES = [...SECRET_TEXT.map((t) => Buffer.from(t)), Buffer.from(String(SECRET_NUMBER)), le64(SECRET_NUMBER)];

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

/** Files under `dir` whose raw bytes contain one of the needles. */
function leaking(dir: string): string[] {
  return filesUnder(dir).filter((f) => {
    const bytes = readFileSync(f);
    return NEEDLES.some((n) => bytes.includes(n));
  });
}

interface Server {
  base: string;
  app: FastifyInstance;
  catalog: SqlCatalog;
  call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any; text: string }>;
  close(): Promise<void>;
}

describe('encryption at rest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lh-enc-'));
  const warehouse = join(dir, 'wh');
  const key1 = newMasterKeyText();
  const key2 = newMasterKeyText();
  const key3 = newMasterKeyText();
  let adminKey = '';
  let analystKey = '';
  let s: Server;

  async function start(masterKeys: MasterKeyRing | null): Promise<Server> {
    const catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse });
    let bootstrap = '';
    const { app, base, call } = await startServer({ catalog, logLevel: 'silent', security: { masterKeys, bootstrapOut: { write: (t: string) => (bootstrap += t) } } });
    adminKey ||= /Bearer (lhk_\S+)/.exec(bootstrap)?.[1] ?? '';
    return {
      base,
      app,
      catalog,
      call: (method, path, body, token = adminKey) => call(method, path, body, bearer(token)),
      async close() {
        await app.close();
        await catalog.close();
      },
    };
  }
  const ring = (current: string, ...previous: string[]) => new MasterKeyRing(parseMasterKey(current), previous.map((p) => parseMasterKey(p)));
  const sql = (text: string, token = adminKey) => s.call('POST', '/api/v1/queries', { sql: text }, token);
  const ok = (r: { status: number; text: string }, status = 200) => expect(r.status, r.text).toBe(status);
  const tableDir = (name: string) => join(warehouse, 'vault.db', name);
  const liveFiles = async (name: string) => {
    const t = await s.catalog.loadTable({ namespace: ['vault'], name });
    const plan = await planScan(t.metadata, currentSnapshot(t.metadata)!, { io: t.io, resolve: tableResolver(t) });
    return [...plan.tasks.map((x) => x.file), ...plan.deleteFiles.map((x) => x.file)];
  };
  const allRows = async (name: string, token = adminKey) => {
    const r = await sql(`SELECT id, label, amount FROM vault.${name} ORDER BY id`, token);
    ok(r);
    return r.body.rows as unknown[][];
  };

  beforeAll(async () => {
    mkdirSync(warehouse);
    s = await start(ring(key1));
    const columns = [
      { name: 'id', type: 'long' },
      { name: 'label', type: 'string' },
      { name: 'amount', type: 'long' },
    ];
    ok(await s.call('POST', '/api/v1/tables', { namespace: 'vault', name: 'people', columns, properties: { 'encryption.enabled': 'true' } }), 201);
    ok(await s.call('POST', '/api/v1/tables', { namespace: 'vault', name: 'plain', columns }), 201);
    for (const t of ['people', 'plain']) {
      ok(await sql(`INSERT INTO vault.${t} VALUES (1, '${SECRET_TEXT[0]}', ${SECRET_NUMBER}), (2, '${SECRET_TEXT[1]}', 7), (3, 'gone', 8)`));
      ok(await sql(`DELETE FROM vault.${t} WHERE id = 3`));
    }
    ok(await s.call('POST', '/api/v1/security/principals', { name: 'reader' }), 201);
    analystKey = (await s.call('POST', '/api/v1/security/api-keys', { principal: 'reader' })).body.key;
    ok(await s.call('POST', '/api/v1/security/grants', { grantee: { type: 'principal', name: 'reader' }, privilege: 'SELECT', securable: { type: 'table', namespace: 'vault', table: 'people' } }), 201);
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes no plaintext to disk, yet SQL returns the values to a permitted user', async () => {
    // The grep finds the values in the unencrypted twin: it would catch a leak.
    expect(leaking(tableDir('plain')).length).toBeGreaterThan(0);
    expect(leaking(tableDir('people'))).toEqual([]);
    const files = await liveFiles('people');
    expect(files.some((f) => f.content === 1)).toBe(true); // the DELETE wrote a position delete file
    for (const f of files) {
      const meta = parseKeyMetadata(f.keyMetadata!, f.filePath);
      expect(meta.version).toBe(1);
      expect((f.lowerBounds?.size ?? 0) + (f.upperBounds?.size ?? 0)).toBe(f.content === 1 ? 4 : 0); // delete files keep path/pos bounds only
      expect(readFileSync(f.filePath).subarray(0, 4).toString()).toBe('PARE'); // encrypted-footer Parquet
    }
    expect(await allRows('people', analystKey)).toEqual([
      [1, SECRET_TEXT[0], Number(SECRET_NUMBER)],
      [2, SECRET_TEXT[1], 7],
    ]);
    const denied = await sql('SELECT * FROM vault.plain', analystKey);
    expect(denied.status).toBe(403);
  });

  it('partitioned writes, including the second pass that splits oversized files, stay encrypted', async () => {
    const columns = [
      { name: 'id', type: 'long' },
      { name: 'region', type: 'string' },
      { name: 'label', type: 'string' },
    ];
    // A target of 1 byte sends every partition's file through the split pass (a second COPY).
    ok(await s.call('POST', '/api/v1/tables', { namespace: 'vault', name: 'parted', columns, partitioning: ['region'], properties: { 'encryption.enabled': 'true', 'write.target-file-size-bytes': '1' } }), 201);
    ok(await sql(`INSERT INTO vault.parted VALUES (1, 'eu', '${SECRET_TEXT[0]}'), (2, 'us', '${SECRET_TEXT[1]}'), (3, 'eu', '${SECRET_TEXT[2]}')`));
    const files = await liveFiles('parted');
    expect(files).toHaveLength(2);
    const salts = new Set(files.map((f) => parseKeyMetadata(f.keyMetadata!, f.filePath).salt));
    expect(salts.size).toBe(2); // each COPY had its own file key
    expect(leaking(tableDir('parted'))).toEqual([]);
    const r = await sql('SELECT id, region, label FROM vault.parted ORDER BY id');
    expect(r.body.rows).toEqual([
      [1, 'eu', SECRET_TEXT[0]],
      [2, 'us', SECRET_TEXT[1]],
      [3, 'eu', SECRET_TEXT[2]],
    ]);
  });

  it('a data file copied out of the warehouse cannot be read without the key', async () => {
    const file = (await liveFiles('people')).find((f) => f.content === 0)!.filePath;
    const copy = join(dir, 'stolen.parquet');
    copyFileSync(file, copy);
    const duck = await Duck.open();
    try {
      await expect(duck.rows(`SELECT * FROM read_parquet('${copy}')`)).rejects.toThrow(/encrypted/);
      await duck.run(`PRAGMA add_parquet_key('guess', '${Buffer.alloc(32, 1).toString('base64')}')`);
      await expect(duck.rows(`SELECT * FROM read_parquet('${copy}', encryption_config = {footer_key: 'guess'})`)).rejects.toThrow(/key/);
    } finally {
      duck.close();
    }
  });

  it('table-key rotation: new files use the new key, old files stay readable', async () => {
    // Through the CLI (`lakehouse keys`), which calls POST …/encryption/tables/vault/people/rotate-key.
    const cli = await runCli(['keys', 'rotate-table', 'vault.people', '--url', s.base, '--token', adminKey]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).version).toBe(2);
    ok(await sql(`INSERT INTO vault.people VALUES (4, '${SECRET_TEXT[2]}', 9)`));
    const versions = new Set((await liveFiles('people')).map((f) => parseKeyMetadata(f.keyMetadata!, f.filePath).version));
    expect([...versions].sort()).toEqual([1, 2]);
    const keys = await s.call('GET', '/api/v1/security/encryption/tables/vault/people/keys');
    expect(keys.body.keys.map((k: { version: number }) => k.version)).toEqual([1, 2]);
    expect(keys.text).not.toMatch(/wrapped|dek/i);
    expect((await allRows('people', analystKey)).map((r) => r[1])).toEqual([SECRET_TEXT[0], SECRET_TEXT[1], SECRET_TEXT[2]]);
    expect(leaking(tableDir('people'))).toEqual([]);
  });

  it('compaction keeps the table encrypted', async () => {
    const t = await s.catalog.loadTable({ namespace: ['vault'], name: 'people' });
    const duck = await Duck.open();
    try {
      const r = await rewriteDataFiles(s.catalog, { namespace: ['vault'], name: 'people' }, duck, { minInputFiles: 2 });
      expect(r.rewrittenDataFiles).toBeGreaterThan(1);
    } finally {
      duck.close();
    }
    const files = await liveFiles('people');
    expect(files.filter((f) => f.content === 0)).toHaveLength(1);
    expect(files.every((f) => f.keyMetadata && parseKeyMetadata(f.keyMetadata, f.filePath).version === 2)).toBe(true);
    expect(leaking(tableDir('people'))).toEqual([]);
    expect((await allRows('people', analystKey)).map((r) => r[0])).toEqual([1, 2, 4]);
    expect(t.metadata.properties['encryption.enabled']).toBe('true');
  });

  it('a wrong or missing master key fails with a stable code and corrupts nothing', async () => {
    const before = await allRows('people');
    await s.close();
    // Missing: reads and writes of the encrypted table refuse; the plain table still works.
    s = await start(null);
    const missing = await sql('SELECT * FROM vault.people');
    expect(missing.status, missing.text).toBe(503);
    expect(missing.body.error.message).toMatch(/no master key is configured/);
    expect((await sql(`INSERT INTO vault.people VALUES (9, 'x', 1)`)).status).toBe(503);
    ok(await sql('SELECT count(*) FROM vault.plain'));
    await s.close();
    // Wrong key: the wrapped table key names a master key that is not configured.
    s = await start(ring(newMasterKeyText()));
    const wrong = await sql('SELECT * FROM vault.people');
    expect(wrong.status, wrong.text).toBe(503);
    expect(wrong.body.error.message).toMatch(/wrapped by master key mk-[0-9a-f]{16}, which is not configured/);
    expect((await sql(`INSERT INTO vault.people VALUES (9, 'x', 1)`)).status).toBe(503);
    const engine = new QueryEngine(s.catalog);
    await expect(engine.query('SELECT * FROM vault.people')).rejects.toMatchObject({ code: 'ENCRYPTION_KEY_MISMATCH' });
    await s.close();
    s = await start(ring(key1));
    expect(await allRows('people')).toEqual(before);
  });

  it('master-key rotation re-wraps every table key without touching files', async () => {
    const filesBefore = filesUnder(tableDir('people')).sort();
    const before = await allRows('people');
    await s.close();
    s = await start(ring(key2, key1));
    const r = await s.call('POST', '/api/v1/security/encryption/rotate-master-key');
    ok(r);
    expect(r.body.tableKeys).toBe(3); // people v1 and v2, parted v1
    expect(r.body.masterKeyId).toBe(parseMasterKey(key2).id);
    await s.close();
    s = await start(ring(key2)); // the old key is gone from the config
    expect(await allRows('people', analystKey)).toEqual(before);
    expect(filesUnder(tableDir('people')).sort()).toEqual(filesBefore);
    const db = new Database(join(dir, 'catalog.db'), { readonly: true });
    try {
      const ids = db.prepare('SELECT DISTINCT master_key_id AS id FROM lakehouse_table_keys').all() as { id: string }[];
      expect(ids).toEqual([{ id: parseMasterKey(key2).id }]);
    } finally {
      db.close();
    }
    ok(await sql(`INSERT INTO vault.people VALUES (5, '${SECRET_TEXT[3]}', 10)`));
    expect((await allRows('people')).length).toBe(4);
    expect(leaking(tableDir('people'))).toEqual([]);
  });

  it('external-source passwords and webhook secrets are sealed too, and survive a master-key rotation', async () => {
    const pgPassword = 'PGPASS-9f3c1e-sealed-at-rest';
    const hookSecret = 'HOOKSECRET-0d5b7a-sealed-at-rest';
    ok(await s.call('POST', '/api/v1/external-sources', { name: 'crm', kind: 'postgres', postgres: { connectionString: 'postgresql://app@127.0.0.1:1/crm' }, password: pgPassword }), 201);
    ok(await s.call('POST', '/api/v1/alerts/webhooks', { name: 'ops', url: 'http://127.0.0.1:1/hook', secret: hookSecret }), 201);
    const storeHolds = (text: string) => readdirSync(dir).filter((f) => f.startsWith('catalog.db')).some((f) => readFileSync(join(dir, f)).includes(Buffer.from(text)));
    expect(storeHolds(pgPassword)).toBe(false);
    expect(storeHolds(hookSecret)).toBe(false);
    const { externalSourcesOf } = await import('../../src/federation/store.js');
    const { alertStoreFor } = await import('../../src/observability/alerts/store.js');
    const readBack = async () => ({
      pg: (await externalSourcesOf(s.catalog)!.get('crm', true))!.secrets!.password,
      hook: (await alertStoreFor(s.catalog)!.listWebhooks()).find((w) => w.name === 'ops')!.secret,
    });
    expect(await readBack()).toEqual({ pg: pgPassword, hook: hookSecret });
    const before = new Database(join(dir, 'catalog.db'), { readonly: true });
    const rows = () => ({
      pg: (before.prepare("SELECT secrets FROM lakehouse_external_sources WHERE name = 'crm'").get() as { secrets: string }).secrets,
      hook: (before.prepare("SELECT secret FROM lakehouse_alert_webhooks WHERE name = 'ops'").get() as { secret: string }).secret,
    });
    try {
      const sealed = rows();
      expect(JSON.parse(sealed.pg).password).toMatch(/^lhenc:v1:mk-/);
      expect(sealed.hook).toMatch(/^lhenc:v1:mk-/);
      // Restarted with a new master key (the old one kept as previous), rotation re-seals both.
      await s.close();
      s = await start(ring(key3, key2));
      const rotated = await s.call('POST', '/api/v1/security/encryption/rotate-master-key');
      ok(rotated);
      const resealed = rows();
      expect(resealed.pg).not.toBe(sealed.pg);
      expect(resealed.hook).not.toBe(sealed.hook);
    } finally {
      before.close();
    }
    // Now readable with the new key alone.
    await s.close();
    s = await start(ring(key3));
    expect(await readBack()).toEqual({ pg: pgPassword, hook: hookSecret });
  });

  it('data-source secrets are sealed in the catalog store and never returned', async () => {
    const secret = 'S3SECRET-wJalrXUtnFEMI-K7MDENG';
    const res = await s.call('POST', '/api/v1/sources/storage', { name: 'lake', type: 's3', uri: 's3://bucket/prefix', s3: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: secret } });
    ok(res, 201);
    expect(res.text).not.toContain(secret);
    expect((await s.call('GET', `/api/v1/sources/storage/${res.body.id}`)).text).not.toContain(secret);
    const storeHolds = (text: string) => readdirSync(dir).filter((f) => f.startsWith('catalog.db')).some((f) => readFileSync(join(dir, f)).includes(Buffer.from(text)));
    expect(storeHolds(secret)).toBe(false);
    const db = new Database(join(dir, 'catalog.db'));
    try {
      const row = db.prepare('SELECT secrets FROM lakehouse_data_sources WHERE id = ?').get(res.body.id) as { secrets: string };
      expect(row.secrets).not.toContain(secret);
      expect(JSON.parse(row.secrets)['s3.secretAccessKey'] ?? Object.values(JSON.parse(row.secrets))[0]).toMatch(/^lhenc:v1:mk-/);
      // A row stored before encryption (plaintext) still reads, and the next master rotation seals it.
      db.prepare('UPDATE lakehouse_data_sources SET secrets = ? WHERE id = ?').run(JSON.stringify({ 's3.secretAccessKey': 'legacy-plain-secret' }), res.body.id);
    } finally {
      db.close();
    }
    const { OwnStore } = await import('../../src/api/own/store.js');
    const store = new OwnStore((s.catalog as unknown as { store: { db: never } }).store.db, 'lakehouse');
    expect((await store.getSource('storage', res.body.id))!.secrets['s3.secretAccessKey']).toBe('legacy-plain-secret');
    const rotated = await s.call('POST', '/api/v1/security/encryption/rotate-master-key');
    expect(rotated.body.secrets).toBeGreaterThanOrEqual(1);
    const sealed = new Database(join(dir, 'catalog.db'), { readonly: true });
    try {
      expect((sealed.prepare('SELECT secrets FROM lakehouse_data_sources WHERE id = ?').get(res.body.id) as { secrets: string }).secrets).not.toContain('legacy-plain-secret');
    } finally {
      sealed.close();
    }
    expect((await store.getSource('storage', res.body.id))!.secrets['s3.secretAccessKey']).toBe('legacy-plain-secret');
  });

  it('the local `lakehouse sql` (no service) reads an encrypted table with the configured master key', async () => {
    const { runCli } = await import('../support/cli.js');
    const env = { LAKEHOUSE_WAREHOUSE: warehouse, LAKEHOUSE_CATALOG_URL: `sqlite:${dir}/catalog.db`, LAKEHOUSE_LOG_LEVEL: 'error' };
    const withKey = await runCli(['sql', 'SELECT label FROM vault.people WHERE id = 1', '--format', 'json'], { env: { ...env, LAKEHOUSE_MASTER_KEY: key3 } });
    expect(withKey.stderr).toBe('');
    expect(JSON.parse(withKey.stdout).rows).toEqual([[SECRET_TEXT[0]]]);
    const without = await runCli(['sql', 'SELECT label FROM vault.people WHERE id = 1', '--format', 'json'], { env });
    expect(without.code).not.toBe(0);
    expect(without.stderr).toMatch(/ENCRYPTION_NOT_CONFIGURED/);
  });
});
