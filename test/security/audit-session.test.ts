import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecureServer, type SecureServer } from './support.js';

/**
 * A scripted session (admin sets up a principal and grants, the principal reads and writes, is
 * denied, a stranger fails to authenticate): every request leaves exactly one audit record with
 * its request id; the audit API filters and exports NDJSON; verify catches a record edited or
 * removed directly in the catalog store.
 */
describe('audit of a scripted session', () => {
  let s: SecureServer;
  beforeAll(async () => {
    s = await startSecureServer();
  });
  afterAll(async () => s?.close());

  it('every request has a record; filters, NDJSON, verify and tamper detection', async () => {
    const admin = { token: s.adminKey };
    const requestIds: string[] = [];
    const run = async (method: string, path: string, o: { body?: unknown; token?: string; headers?: Record<string, string> } = {}) => {
      const res = await s.call(method, path, o);
      requestIds.push(res.headers.get('x-request-id')!);
      return res;
    };
    const since = new Date().toISOString();
    await run('POST', '/api/v1/security/principals', { ...admin, body: { name: 'bob' } });
    await run('POST', '/api/v1/security/roles', { ...admin, body: { name: 'etl' } });
    await run('POST', '/api/v1/security/memberships', { ...admin, body: { role: 'etl', principal: 'bob' } });
    const grant = await run('POST', '/api/v1/security/grants', { ...admin, body: { grantee: { type: 'role', name: 'etl' }, privilege: 'CREATE', securable: { type: 'namespace', namespace: 'raw' } } });
    expect(grant.status).toBe(201);
    await run('POST', '/api/v1/security/grants', { ...admin, body: { grantee: { type: 'role', name: 'etl' }, privilege: 'INSERT', securable: { type: 'namespace', namespace: 'raw' } } });
    await run('POST', '/api/v1/security/grants', { ...admin, body: { grantee: { type: 'role', name: 'etl' }, privilege: 'SELECT', securable: { type: 'namespace', namespace: 'raw' } } });
    const bobKey = (await run('POST', '/api/v1/security/api-keys', { ...admin, body: { principal: 'bob' } })).body.key as string;
    expect((await run('POST', '/v1/lakehouse/namespaces', { ...admin, body: { namespace: ['raw'] } })).status).toBe(200);
    const bob = { token: bobKey };
    const created = await run('POST', '/api/v1/tables', { ...bob, body: { namespace: 'raw', name: 'events', columns: [{ name: 'id', type: 'long' }, { name: 'msg', type: 'string' }] } });
    expect(created.status).toBe(201);
    const ingested = await run('POST', '/api/v1/tables/raw/events/ingest/rows', { ...bob, body: { rows: [{ id: 1, msg: 'a' }, { id: 2, msg: 'b' }] } });
    expect(ingested.status).toBeLessThan(300);
    expect((await run('GET', '/v1/lakehouse/namespaces/raw/tables/events', bob)).status).toBe(200);
    expect((await run('DELETE', '/api/v1/tables/raw/events', bob)).status).toBe(403);
    expect((await run('GET', '/api/v1/security/grants', bob)).status).toBe(403);
    expect((await run('GET', '/v1/lakehouse/namespaces', { token: 'not-a-token' })).status).toBe(401);
    expect((await run('GET', '/v1/lakehouse/namespaces')).status).toBe(401);
    await run('DELETE', `/api/v1/security/grants/${grant.body.id}`, admin);

    const all = await s.call('GET', `/api/v1/security/audit?since=${encodeURIComponent(since)}&limit=10000`, admin);
    expect(all.status).toBe(200);
    const records = all.body.records as { requestId: string; principal: string | null; action: string; resource: string | null; outcome: string; detail: string | null }[];
    for (const id of requestIds) expect(records.filter((r) => r.requestId === id), `record of request ${id}`).toHaveLength(1);
    const byId = (i: number) => records.find((r) => r.requestId === requestIds[i])!;
    expect(byId(3)).toMatchObject({ principal: 'admin', action: 'security.grant.create', resource: 'raw', outcome: 'allowed', detail: 'grant CREATE to role etl' });
    expect(byId(8)).toMatchObject({ principal: 'bob', action: 'table.create', resource: 'raw', outcome: 'allowed' });
    expect(byId(9)).toMatchObject({ principal: 'bob', action: 'table.ingest', resource: 'raw.events', outcome: 'allowed' });
    expect(byId(10)).toMatchObject({ principal: 'bob', action: 'table.load', resource: 'raw.events', outcome: 'allowed' });
    expect(byId(11)).toMatchObject({ principal: 'bob', action: 'table.drop', outcome: 'denied', detail: 'lacks DROP on raw.events' });
    expect(byId(13)).toMatchObject({ principal: null, outcome: 'auth-failed' });
    expect(byId(14)).toMatchObject({ principal: null, outcome: 'auth-failed', detail: 'no credentials' });
    expect(byId(15)).toMatchObject({ action: 'security.grant.revoke', resource: 'raw', detail: 'revoke CREATE from role etl' });

    const denied = await s.call('GET', `/api/v1/security/audit?principal=bob&outcome=denied&since=${encodeURIComponent(since)}`, admin);
    expect(denied.body.records.map((r: { action: string }) => r.action)).toEqual(['table.drop', 'security.grant.list']);
    const nd = await s.call('GET', `/api/v1/security/audit?principal=bob&format=ndjson`, admin);
    expect(nd.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = nd.text.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(5);
    expect(lines.every((l) => l.principal === 'bob' && typeof l.hash === 'string')).toBe(true);
    const viaAccept = await s.call('GET', `/api/v1/security/audit?principal=bob`, { ...admin, headers: { accept: 'application/x-ndjson' } });
    expect(viaAccept.text).toBe(nd.text);

    const ok = await s.call('POST', '/api/v1/security/audit/verify', admin);
    expect(ok.body).toMatchObject({ ok: true });
    const db = s.runtime.store!.db;
    const target = records.find((r) => r.requestId === requestIds[11]) as unknown as { seq: number };
    await db.updateTable('lakehouse_sec_audit').set({ outcome: 'allowed' }).where('seq', '=', target.seq).execute();
    const edited = await s.call('POST', '/api/v1/security/audit/verify', admin);
    expect(edited.body).toMatchObject({ ok: false, problem: { seq: target.seq } });
    expect(edited.body.problem.reason).toContain('edited');
    await db.updateTable('lakehouse_sec_audit').set({ outcome: 'denied' }).where('seq', '=', target.seq).execute();
    expect((await s.call('POST', '/api/v1/security/audit/verify', admin)).body.ok).toBe(true);
    await db.deleteFrom('lakehouse_sec_audit').where('seq', '=', target.seq).execute();
    const removed = await s.call('POST', '/api/v1/security/audit/verify', admin);
    expect(removed.body).toMatchObject({ ok: false, problem: { seq: target.seq, reason: expect.stringContaining('missing') } });
  });
});
