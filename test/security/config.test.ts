import { describe, expect, it } from 'vitest';
import { loadConfig, redactConfig, securityConfigOf } from '../../src/config.js';

describe('security configuration', () => {
  const base = { LAKEHOUSE_WAREHOUSE: '/tmp/lh-wh' };

  it('credentials are required unless anonymous access is configured', () => {
    expect(loadConfig({ ...base }).auth.anonymous).toBe(false);
    expect(securityConfigOf(loadConfig({ ...base, LAKEHOUSE_AUTH_ANONYMOUS: 'true' }))).toMatchObject({ anonymous: true });
  });

  it('OIDC, token and TLS settings from the environment; the token secret is redacted', () => {
    const c = loadConfig(
      {
        ...base,
        LAKEHOUSE_OIDC_ISSUER: 'https://idp.example/realms/x',
        LAKEHOUSE_OIDC_AUDIENCE: 'lakehouse',
        LAKEHOUSE_OIDC_ROLES_CLAIM: 'realm_access.roles',
        LAKEHOUSE_OIDC_ALGORITHMS: 'RS256,ES256',
        LAKEHOUSE_AUTH_TOKEN_SECRET: 's'.repeat(40),
        LAKEHOUSE_TLS_CERT: 'certs/cert.pem',
        LAKEHOUSE_TLS_KEY: '/etc/key.pem',
      },
      { cwd: '/srv' },
    );
    expect(securityConfigOf(c)).toMatchObject({
      anonymous: false,
      tokenSecret: 's'.repeat(40),
      oidc: { issuer: 'https://idp.example/realms/x', audience: 'lakehouse', rolesClaim: 'realm_access.roles', algorithms: ['RS256', 'ES256'] },
    });
    expect(c.tls).toEqual({ cert: '/srv/certs/cert.pem', key: '/etc/key.pem' });
    expect(JSON.stringify(redactConfig(c))).not.toContain('s'.repeat(40));
  });

  it('bad values are reported without echoing secrets', () => {
    expect(() => loadConfig({ ...base, LAKEHOUSE_AUTH_TOKEN_SECRET: 'short-secret', LAKEHOUSE_AUTH_ANONYMOUS: 'maybe' })).toThrow(
      /auth\.anonymous \(LAKEHOUSE_AUTH_ANONYMOUS\)[^\n]*\n\s*- auth\.tokenSecret \(LAKEHOUSE_AUTH_TOKEN_SECRET\)/,
    );
    try {
      loadConfig({ ...base, LAKEHOUSE_AUTH_TOKEN_SECRET: 'short-secret' });
    } catch (e) {
      expect((e as Error).message).not.toContain('short-secret');
    }
    expect(() => loadConfig({ ...base, LAKEHOUSE_TLS_CERT: '/c.pem' })).toThrow(/tls/);
  });
});
