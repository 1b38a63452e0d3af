import { generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecureServer, type SecureServer } from './support.js';

/**
 * 1,000 requests with forged, expired, not-yet-valid, wrongly signed, wrong-audience, wrong-issuer,
 * alg=none and malformed credentials: every one is 401, none acts as anyone, each is audited as
 * an authentication failure. The service's token secret is configured here so the test can make
 * tokens that are right in every way but one.
 */
const SECRET = randomBytes(48).toString('base64url');
const ISSUER = 'urn:lakehouse:lakehouse';

describe('bad credentials', () => {
  let s: SecureServer;
  beforeAll(async () => {
    s = await startSecureServer({ tokenSecret: SECRET });
  });
  afterAll(async () => s?.close());

  it('1,000 bad tokens: all 401, none authenticated, all audited as auth failures', async () => {
    const key = new TextEncoder().encode(SECRET);
    const now = Math.floor(Date.now() / 1000);
    const good = () => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience('lakehouse').setSubject('admin');
    // A control: the same recipe without a flaw is accepted (so the rejections below are about the flaw).
    const control = await good().setIssuedAt().setExpirationTime('5m').sign(key);
    expect((await s.call('GET', '/api/v1/security/whoami', { token: control })).status).toBe(200);

    const rsa = await generateKeyPair('RS256');
    const makers: [string, (i: number) => Promise<string>][] = [
      ['forged (other secret)', async () => good().setExpirationTime('5m').sign(randomBytes(48))],
      ['expired', async (i) => good().setExpirationTime(now - 60 - i).sign(key)],
      ['not yet valid', async () => good().setNotBefore(now + 3600).setExpirationTime(now + 7200).sign(key)],
      ['wrongly signed (RS256, unknown key)', async () => new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setIssuer(ISSUER).setAudience('lakehouse').setSubject('admin').setExpirationTime('5m').sign(rsa.privateKey)],
      ['wrong audience', async () => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience('other').setSubject('admin').setExpirationTime('5m').sign(key)],
      ['wrong issuer', async () => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://evil.example').setAudience('lakehouse').setSubject('admin').setExpirationTime('5m').sign(key)],
      ['alg=none', async () => new UnsecuredJWT({}).setIssuer(ISSUER).setAudience('lakehouse').setSubject('admin').setExpirationTime('5m').encode()],
      ['no exp', async () => good().sign(key)],
      ['tampered payload', async () => {
        const [h, , sig] = control.split('.');
        const payload = Buffer.from(JSON.stringify({ iss: ISSUER, aud: 'lakehouse', sub: 'root', exp: now + 300 })).toString('base64url');
        return `${h}.${payload}.${sig}`;
      }],
      ['malformed: random', async () => randomBytes(30).toString('base64url')],
      ['malformed: truncated', async (i) => control.slice(0, 10 + (i % 50))],
      ['malformed: bad base64', async () => '@@@.###.$$$'],
      ['malformed: api key shape', async () => `lhk_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`],
      ['malformed: api key prefix only', async () => 'lhk_'],
    ];
    const paths = ['/v1/config', '/v1/lakehouse/namespaces', '/api/v1/security/whoami', '/api/v1/queries', '/api/v1/security/audit'];
    const before = (await s.runtime.audit!.list({ limit: 10_000 })).length;
    const statuses = new Map<number, number>();
    const jobs: (() => Promise<void>)[] = [];
    for (let i = 0; i < 1000; i++) {
      const [, make] = makers[i % makers.length];
      jobs.push(async () => {
        const token = await make(i);
        const headers: Record<string, string> =
          i % 97 === 0 ? { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` } : i % 89 === 0 ? { authorization: 'Bearer' } : { authorization: `Bearer ${token}` };
        const res = await fetch(`${s.base}${paths[i % paths.length]}`, { headers, method: 'GET' });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="lakehouse"/);
      });
    }
    for (let i = 0; i < jobs.length; i += 25) await Promise.all(jobs.slice(i, i + 25).map((j) => j()));
    expect(Object.fromEntries(statuses)).toEqual({ 401: 1000 });

    const records = (await s.runtime.audit!.list({ afterSeq: before, limit: 10_000 })).filter((r) => r.seq > before);
    expect(records).toHaveLength(1000);
    expect(records.every((r) => r.outcome === 'auth-failed' && r.principal === null && r.status === 401)).toBe(true);
    expect(new Set(records.map((r) => r.requestId)).size).toBe(1000);
    expect((await s.runtime.audit!.verify()).ok).toBe(true);
  });
});
