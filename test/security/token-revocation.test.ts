import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecureServer, type SecureServer } from './support.js';

/** An access token from the OAuth2 endpoint stops working when the API key it came from is revoked. */
describe('token revocation follows its API key', () => {
  let s: SecureServer;
  beforeAll(async () => {
    s = await startSecureServer();
  });
  afterAll(async () => s?.close());

  it('401 for a token whose API key was revoked; a token of another key still works', async () => {
    expect((await s.call('POST', '/api/v1/security/principals', { token: s.adminKey, body: { name: 'svc' } })).status).toBe(201);
    const keys = await Promise.all([0, 1].map(async () => (await s.call('POST', '/api/v1/security/api-keys', { token: s.adminKey, body: { principal: 'svc' } })).body));
    const tokenOf = async (credential: string) => {
      const [id, secret] = credential.split(':');
      const r = await s.call('POST', '/v1/oauth/tokens', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret }).toString(),
      });
      expect(r.status, r.text).toBe(200);
      return r.body.access_token as string;
    };
    const [revoked, kept] = [await tokenOf(keys[0].credential), await tokenOf(keys[1].credential)];
    const whoami = (token: string) => s.call('GET', '/api/v1/security/whoami', { token });
    expect((await whoami(revoked)).status).toBe(200);
    expect((await s.call('DELETE', `/api/v1/security/api-keys/${keys[0].id}`, { token: s.adminKey })).status).toBeLessThan(300);
    const after = await whoami(revoked);
    expect(after.status).toBe(401);
    expect((await whoami(kept)).body).toMatchObject({ principal: 'svc' });
    const audit = await s.call('GET', '/api/v1/security/audit?outcome=auth-failed', { token: s.adminKey });
    expect(audit.text).toMatch(/API key that is no longer valid \(API key revoked\)/);
  });
});
