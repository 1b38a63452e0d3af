import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecureServer, type SecureServer } from './support.js';

describe('authentication over HTTP', () => {
  let s: SecureServer;
  beforeAll(async () => {
    s = await startSecureServer();
  });
  afterAll(async () => s?.close());

  it('prints an admin key once at first start, and it works', async () => {
    expect(s.bootstrapText).toMatch(/shown ONLY THIS ONCE/);
    expect(s.adminKey).toMatch(/^lhk_[0-9a-f]{16}_/);
    const who = await s.call('GET', '/api/v1/security/whoami', { token: s.adminKey });
    expect(who.status).toBe(200);
    expect(who.body).toEqual({ principal: 'admin', roles: ['admin'], method: 'api-key' });
    // Only the hash is stored.
    const rows = await s.runtime.store!.db.selectFrom('lakehouse_sec_api_keys').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(s.adminKey.split('_').pop()!);
  });

  it('a second server over the same store prints nothing', async () => {
    const { buildServer } = await import('../../src/api/server.js');
    let out = '';
    const app = await buildServer({ catalog: s.catalog, logLevel: 'silent', security: { bootstrapOut: { write: (t: string) => (out += t) } } });
    await app.close();
    expect(out).toBe('');
  });

  it('401 with WWW-Authenticate without or with bad credentials; health, ready and docs stay open', async () => {
    const none = await s.call('GET', '/v1/config');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="lakehouse"');
    expect(none.body.error.type).toBe('NotAuthorizedException');
    const bad = await s.call('GET', '/api/v1/namespaces/x/tables', { token: 'lhk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('invalid_token');
    const unknown = await s.call('GET', '/api/v1/nothing-here');
    expect(unknown.status).toBe(401);
    expect((await s.call('GET', '/health')).status).toBe(200);
    expect((await s.call('GET', '/ready')).status).toBe(200);
    expect((await s.call('GET', '/docs/json')).status).toBe(200);
    expect((await s.call('GET', '/metrics')).status).toBe(200);
  });

  it('API keys: create for a principal, expiry, revocation', async () => {
    const admin = { token: s.adminKey };
    expect((await s.call('POST', '/api/v1/security/principals', { ...admin, body: { name: 'alice' } })).status).toBe(201);
    const created = await s.call('POST', '/api/v1/security/api-keys', { ...admin, body: { principal: 'alice', description: 'laptop' } });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^lhk_/);
    const key = created.body.key as string;
    expect((await s.call('GET', '/api/v1/security/whoami', { token: key })).body.principal).toBe('alice');
    // Listing never shows a secret.
    const list = await s.call('GET', '/api/v1/security/api-keys?principal=alice', admin);
    expect(list.text).not.toContain(key.split('_').pop()!);
    expect(list.body.apiKeys).toHaveLength(1);
    // alice has no grants: 403 on data, 403 on security admin.
    expect((await s.call('GET', '/v1/lakehouse/namespaces', { token: key })).status).toBe(403);
    expect((await s.call('GET', '/api/v1/security/principals', { token: key })).status).toBe(403);
    const revoked = await s.call('DELETE', `/api/v1/security/api-keys/${created.body.id}`, admin);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).not.toBeNull();
    const after = await s.call('GET', '/api/v1/security/whoami', { token: key });
    expect(after.status).toBe(401);
    expect(after.body.error.message).toContain('revoked');
    const short = await s.call('POST', '/api/v1/security/api-keys', { ...admin, body: { principal: 'alice', expiresAt: new Date(Date.now() + 1500).toISOString() } });
    expect((await s.call('GET', '/api/v1/security/whoami', { token: short.body.key })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600));
    const expired = await s.call('GET', '/api/v1/security/whoami', { token: short.body.key });
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toContain('expired');
  });

  it('OAuth2 client credentials: id:secret → access token the service accepts', async () => {
    const [id, secret] = s.adminCredential.split(':');
    const form = (o: Record<string, string>) => ({ body: new URLSearchParams(o).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const tok = await s.call('POST', '/v1/oauth/tokens', form({ grant_type: 'client_credentials', client_id: id, client_secret: secret, scope: 'catalog' }));
    expect(tok.status).toBe(200);
    expect(tok.body.token_type).toBe('bearer');
    const who = await s.call('GET', '/api/v1/security/whoami', { token: tok.body.access_token });
    expect(who.body).toMatchObject({ principal: 'admin', method: 'token' });
    const wrong = await s.call('POST', '/v1/oauth/tokens', form({ grant_type: 'client_credentials', client_id: id, client_secret: `${secret}x` }));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    const grant = await s.call('POST', '/v1/oauth/tokens', form({ grant_type: 'password', client_id: id, client_secret: secret }));
    expect(grant.status).toBe(400);
    expect(grant.body.error).toBe('unsupported_grant_type');
    const basic = await s.call('POST', '/v1/oauth/tokens', {
      ...form({ grant_type: 'client_credentials' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` },
    });
    expect(basic.status).toBe(200);
  });

  it("deleting a principal ends its keys and the tokens they were exchanged for", async () => {
    const admin = { token: s.adminKey };
    await s.call('POST', '/api/v1/security/principals', { ...admin, body: { name: 'temp', kind: 'service' } });
    const k = (await s.call('POST', '/api/v1/security/api-keys', { ...admin, body: { principal: 'temp' } })).body;
    const [id, secret] = k.credential.split(':');
    const tok = await s.call('POST', '/v1/oauth/tokens', {
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect((await s.call('GET', '/api/v1/security/whoami', { token: tok.body.access_token })).body.principal).toBe('temp');
    expect((await s.call('DELETE', '/api/v1/security/principals/temp', admin)).status).toBe(204);
    expect((await s.call('GET', '/api/v1/security/whoami', { token: tok.body.access_token })).status).toBe(401);
    expect((await s.call('GET', '/api/v1/security/whoami', { token: k.key })).status).toBe(401);
    // The last administrator cannot be removed.
    const last = await s.call('DELETE', '/api/v1/security/memberships/admin/admin', admin);
    expect(last.status).toBe(409);
    // The built-in admin role keeps its privileges.
    expect((await s.call('DELETE', '/api/v1/security/roles/admin', admin)).status).toBe(409);
    const adminGrants = (await s.call('GET', '/api/v1/security/grants?granteeType=role&grantee=admin', admin)).body.grants;
    expect(adminGrants).toHaveLength(7);
    expect((await s.call('DELETE', `/api/v1/security/grants/${adminGrants[0].id}`, admin)).status).toBe(409);
  });

  it('anonymous access only when configured: as the configured principal', async () => {
    const anon = await startSecureServer({ anonymous: true });
    try {
      const who = await anon.call('GET', '/api/v1/security/whoami');
      expect(who.body).toMatchObject({ principal: 'admin', method: 'anonymous' });
      // A bad credential is still refused.
      expect((await anon.call('GET', '/v1/config', { token: 'garbage' })).status).toBe(401);
    } finally {
      await anon.close();
    }
  });
});
