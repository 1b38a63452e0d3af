import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPython } from '../interop/python.js';
import { startSecureServer, type SecureServer } from './support.js';

/**
 * PyIceberg (the project venv) authenticates to the secured Iceberg REST catalog with
 * `credential=<id>:<secret>` through the OAuth2 token endpoint, and is refused without it.
 */
describe('PyIceberg with OAuth2 client credentials', () => {
  let s: SecureServer;
  beforeAll(async () => {
    s = await startSecureServer();
  });
  afterAll(async () => s?.close());

  it('with credential=id:secret: token fetched, create + append + read work', async () => {
    const res = await runPython('../security/pyiceberg-oauth.py', ['with', s.base, s.adminCredential]);
    const out = JSON.parse(res.stdout);
    expect(out, res.stdout).toMatchObject({ ok: true, tables: ['secure.people'] });
    expect(out.rows).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'b' },
      { id: 3, name: 'c' },
    ]);
    const audit = (await s.runtime.audit!.list({ limit: 10_000 })).filter((r) => r.action === 'auth.token');
    expect(audit.length).toBeGreaterThan(0);
    expect(audit.every((r) => r.principal === 'admin' && r.outcome === 'allowed')).toBe(true);
    const commits = await s.runtime.audit!.list({ action: 'table.commit', principal: 'admin' });
    expect(commits.some((r) => r.resource === 'secure.people' && r.outcome === 'allowed')).toBe(true);
  }, 180_000);

  it('without a credential, or with a wrong secret: refused', async () => {
    const none = JSON.parse((await runPython('../security/pyiceberg-oauth.py', ['without', s.base])).stdout);
    expect(none.ok).toBe(false);
    expect(none.error).toMatch(/Unauthorized|NotAuthorized|Forbidden/);
    const [id] = s.adminCredential.split(':');
    const wrong = JSON.parse((await runPython('../security/pyiceberg-oauth.py', ['with', s.base, `${id}:${'x'.repeat(43)}`])).stdout);
    expect(wrong.ok).toBe(false);
    expect(`${wrong.error} ${wrong.message}`).toMatch(/invalid_client|Unauthorized|OAuth/i);
  }, 180_000);
});
