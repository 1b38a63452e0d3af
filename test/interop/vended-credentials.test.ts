import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionPolicy } from '../../src/api/iceberg/credentials.js';
import { BIN, REPO_ROOT } from '../support/cli.js';
import { bearer, httpClient } from '../support/http.js';
import { freePort, spawnPeer, waitUntil, type Peer } from '../support/process.js';
import { runPython } from './python.js';

// Vended credentials on the Iceberg REST catalog, end to end: moto S3 + STS + IAM with
// authentication enforced (unsigned or unknown-key requests are refused), `lakehouse serve` with a
// warehouse on that bucket and a role to vend, and PyIceberg with NO S3 keys of its own. With
// `X-Iceberg-Access-Delegation: vended-credentials` it reads and appends using the short-lived
// session keys from loadTable; without the header it cannot read the data files at all.

const TABLE = 'vend.items';

describe('vended credentials (STS AssumeRole) for PyIceberg on S3', () => {
  let dir: string;
  let moto: Peer;
  let motoUrl: string;
  let server: Peer;
  let uri: string;
  let adminKey: string;
  let credential: string;
  const call = (method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) => httpClient(uri)(method, path, body, { ...bearer(token), ...headers });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-vend-'));
    const motoPort = await freePort();
    motoUrl = `http://127.0.0.1:${motoPort}`;
    // Five unauthenticated calls set IAM up (pyiceberg-vended.py setup); everything after is checked.
    moto = spawnPeer('bash', [join(REPO_ROOT, 'scripts/start-moto.sh'), String(motoPort)], { env: { ...process.env, INITIAL_NO_AUTH_ACTION_COUNT: '5' } });
    await waitUntil(moto, 'moto_server', async () => (await fetch(`${motoUrl}/moto-api/`)).status < 500, 240_000);
    const iam = JSON.parse((await runPython('pyiceberg-vended.py', ['setup', motoUrl])).stdout) as { accessKeyId: string; secretAccessKey: string; roleArn: string };
    const port = await freePort();
    uri = `http://127.0.0.1:${port}`;
    server = spawnPeer(process.execPath, [BIN, 'serve'], {
      env: {
        ...process.env,
        LAKEHOUSE_PORT: String(port),
        LAKEHOUSE_WAREHOUSE: 's3://vend-bucket/wh',
        LAKEHOUSE_CATALOG_URL: `sqlite:${join(dir, 'catalog.db')}`,
        LAKEHOUSE_LOG_LEVEL: 'warn',
        LAKEHOUSE_S3_ENDPOINT: motoUrl,
        LAKEHOUSE_S3_REGION: 'us-east-1',
        LAKEHOUSE_S3_PATH_STYLE: 'true',
        LAKEHOUSE_S3_ACCESS_KEY_ID: iam.accessKeyId,
        LAKEHOUSE_S3_SECRET_ACCESS_KEY: iam.secretAccessKey,
        LAKEHOUSE_S3_VEND_ROLE_ARN: iam.roleArn,
        LAKEHOUSE_S3_STS_ENDPOINT: motoUrl,
        LAKEHOUSE_S3_VEND_DURATION_SECONDS: '900',
      },
    });
    await waitUntil(server, 'lakehouse serve', async () => /credential=\S+/.test(server.output()) && (await fetch(`${uri}/health`)).ok, 60_000);
    adminKey = /Bearer (lhk_\S+)/.exec(server.output())![1];
    credential = /credential=(\S+)/.exec(server.output())![1];
    expect((await call('POST', '/v1/lakehouse/namespaces', adminKey, { namespace: ['vend'] })).status).toBe(200);
    const made = await call('POST', '/api/v1/queries', adminKey, { sql: `CREATE TABLE ${TABLE} AS SELECT i::INT AS id, 'n' || i AS name FROM range(4) r(i)` });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
  }, 400_000);
  afterAll(async () => {
    await server?.stop();
    await moto?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loadTable vends session keys only when asked; loadCredentials serves the same', async () => {
    const path = '/v1/lakehouse/namespaces/vend/tables/items';
    const plain = await call('GET', path, adminKey);
    expect(plain.body.config).toEqual({});
    expect(plain.body['storage-credentials']).toBeUndefined();
    const t0 = Date.now();
    const vended = await call('GET', path, adminKey, undefined, { 'x-iceberg-access-delegation': 'vended-credentials' });
    expect(vended.status).toBe(200);
    const [cred] = vended.body['storage-credentials'];
    expect(cred.prefix).toBe('s3://vend-bucket/wh/vend.db/items');
    expect(cred.config['s3.access-key-id']).toMatch(/^ASIA/); // STS session keys, not the service's AKIA key
    expect(cred.config['s3.session-token']).toBeTruthy();
    const expires = Number(cred.config['s3.session-token-expires-at-ms']);
    expect(expires).toBeGreaterThan(t0 + 800_000);
    expect(expires).toBeLessThan(t0 + 1_000_000);
    expect(vended.body.config['s3.access-key-id']).toBe(cred.config['s3.access-key-id']);
    const creds = await call('GET', `${path}/credentials`, adminKey);
    expect(creds.body['storage-credentials'][0].config['s3.access-key-id']).toBe(cred.config['s3.access-key-id']);
  });

  it('PyIceberg without keys of its own reads the table with the vended credentials, and cannot without them', async () => {
    const read = JSON.parse((await runPython('pyiceberg-vended.py', ['read', uri, credential, TABLE])).stdout);
    expect(read.rows).toEqual([[0, 'n0'], [1, 'n1'], [2, 'n2'], [3, 'n3']]);
    expect(read.keyId).toMatch(/^ASIA/);
    expect(read.hasToken).toBe(true);
    const refused = JSON.parse((await runPython('pyiceberg-vended.py', ['nokeys', uri, credential, TABLE, motoUrl])).stdout);
    expect(refused.given, 'no S3 settings reach the client without the header').toEqual([]);
    console.log(`without vended keys: ${refused.error}`);
    expect(refused.error, JSON.stringify(refused)).toMatch(/ACCESS_DENIED|AccessDenied|Forbidden|403|InvalidAccessKeyId/i);
  }, 120_000);

  it('PyIceberg appends with vended read-write keys; our SQL sees the rows', async () => {
    const out = JSON.parse((await runPython('pyiceberg-vended.py', ['append', uri, credential, TABLE])).stdout);
    expect(out.rows.map((r: unknown[]) => r[0])).toEqual([0, 1, 2, 3, 100, 101]);
    const ours = await call('POST', '/api/v1/queries', adminKey, { sql: `SELECT id, name FROM ${TABLE} WHERE id >= 100 ORDER BY id` });
    expect(ours.body.rows).toEqual([[100, 'py-a'], [101, 'py-b']]);
  }, 120_000);

  it('a reader gets read-only keys, a principal without a grant gets none', async () => {
    await call('POST', '/api/v1/security/principals', adminKey, { name: 'reader' });
    await call('POST', '/api/v1/security/principals', adminKey, { name: 'nobody' });
    const g = await call('POST', '/api/v1/security/grants', adminKey, { grantee: { type: 'principal', name: 'reader' }, privilege: 'SELECT', securable: { type: 'table', namespace: 'vend', table: 'items' } });
    expect(g.status).toBe(201);
    const readerKey = (await call('POST', '/api/v1/security/api-keys', adminKey, { principal: 'reader' })).body.key;
    const nobodyKey = (await call('POST', '/api/v1/security/api-keys', adminKey, { principal: 'nobody' })).body.key;
    const r = await call('GET', '/v1/lakehouse/namespaces/vend/tables/items/credentials', readerKey);
    expect(r.status).toBe(200);
    // A different session from the admin's (read-only policy, own session name).
    const admin = await call('GET', '/v1/lakehouse/namespaces/vend/tables/items/credentials', adminKey);
    expect(r.body['storage-credentials'][0].config['s3.access-key-id']).not.toBe(admin.body['storage-credentials'][0].config['s3.access-key-id']);
    expect((await call('GET', '/v1/lakehouse/namespaces/vend/tables/items/credentials', nobodyKey)).status).toBe(403);
    expect((await call('GET', '/v1/lakehouse/namespaces/vend/tables/items', nobodyKey, undefined, { 'x-iceberg-access-delegation': 'vended-credentials' })).status).toBe(403);
  });

  it('the session policy limits a session to the table prefix, writes only for writers', () => {
    const ro = JSON.parse(sessionPolicy('b', 'wh/ns.db/t', 'read'));
    expect(ro.Statement[0]).toEqual({ Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: ['arn:aws:s3:::b/wh/ns.db/t/*'] });
    expect(ro.Statement[1].Condition).toEqual({ StringLike: { 's3:prefix': ['wh/ns.db/t', 'wh/ns.db/t/*'] } });
    const rw = JSON.parse(sessionPolicy('b', 'wh/ns.db/t', 'write'));
    expect(rw.Statement[0].Action).toEqual(expect.arrayContaining(['s3:PutObject', 's3:DeleteObject']));
  });
});
