import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecureServer, type SecureServer } from './support.js';

/**
 * Bearer JWTs from an OIDC provider: a real issuer on a local HTTP port serves the discovery
 * document and its JWKS; the service finds the JWKS through discovery, checks issuer, audience,
 * expiry, not-before and algorithm, and maps the configured roles claim to roles.
 */
describe('OIDC bearer tokens', () => {
  let idp: Server;
  let issuer: string;
  let s: SecureServer;
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  let requests: string[] = [];

  beforeAll(async () => {
    keys = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    idp = createServer((req, res) => {
      requests.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['RS256'] }));
      else if (req.url === '/jwks') res.end(JSON.stringify({ keys: [jwk] }));
      else res.writeHead(404).end('{}');
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    s = await startSecureServer({ oidc: { issuer, audience: 'lakehouse-api', principalClaim: 'preferred_username', rolesClaim: 'realm_access.roles', algorithms: ['RS256'] } });
    await s.call('POST', '/api/v1/security/roles', { token: s.adminKey, body: { name: 'analysts' } });
    await s.call('POST', '/api/v1/security/grants', { token: s.adminKey, body: { grantee: { type: 'role', name: 'analysts' }, privilege: 'SELECT', securable: { type: 'catalog' } } });
  });
  afterAll(async () => {
    await s?.close();
    await new Promise((r) => idp?.close(r));
  });

  const token = (o: { roles?: string[]; aud?: string; iss?: string; exp?: number | string; nbf?: number; key?: CryptoKey | Uint8Array; alg?: string; kid?: string } = {}) =>
    new SignJWT({ preferred_username: 'carol', realm_access: { roles: o.roles ?? ['analysts'] } })
      .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? 'k1' })
      .setIssuer(o.iss ?? issuer)
      .setAudience(o.aud ?? 'lakehouse-api')
      .setSubject('u-123')
      .setIssuedAt()
      .setExpirationTime(o.exp ?? '5m')
      .setNotBefore(o.nbf ?? Math.floor(Date.now() / 1000) - 5)
      .sign(o.key ?? keys.privateKey);

  it('a valid token authenticates; the roles claim maps to roles; discovery and JWKS were fetched', async () => {
    const who = await s.call('GET', '/api/v1/security/whoami', { token: await token() });
    expect(who.status).toBe(200);
    expect(who.body).toEqual({ principal: 'carol', roles: ['analysts'], method: 'oidc' });
    expect((await s.call('GET', '/v1/lakehouse/namespaces', { token: await token() })).status).toBe(200);
    expect(requests).toContain('/.well-known/openid-configuration');
    expect(requests).toContain('/jwks');
    // Authenticated, but the claim names no role with grants: 403, not 401.
    expect((await s.call('GET', '/v1/lakehouse/namespaces', { token: await token({ roles: ['guests'] }) })).status).toBe(403);
  });

  it('wrong audience, wrong issuer, expired, not yet valid, foreign key, HMAC: 401', async () => {
    const other = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    const bad = {
      audience: await token({ aud: 'someone-else' }),
      issuer: await token({ iss: 'http://127.0.0.1:1' }),
      expired: await token({ exp: now - 10, nbf: now - 100 }),
      notYet: await token({ nbf: now + 600, exp: now + 1200 }),
      foreignKey: await token({ key: other.privateKey }),
      hmac: await token({ alg: 'HS256', key: new TextEncoder().encode('x'.repeat(32)) }),
    };
    for (const [what, t] of Object.entries(bad)) {
      const res = await s.call('GET', '/api/v1/security/whoami', { token: t });
      expect(res.status, what).toBe(401);
    }
    const failures = await s.call('GET', '/api/v1/security/audit?outcome=auth-failed', { token: s.adminKey });
    expect(failures.body.records.length).toBeGreaterThanOrEqual(6);
  });
});
