import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ruleFor, ruleKey, type RouteRule } from '../../src/security/rules.js';
import type { Privilege } from '../../src/security/model.js';
import { startSecureServer, type SecureServer } from './support.js';

/**
 * The permission matrix: every route the server registered (collected by its onRoute hook) ×
 * {no credential, no grant, read grant, write grant, admin}. A route without a rule fails here.
 * Expected statuses follow from the route's rule: 401 without credentials (unless public), 403
 * when the caller lacks a required privilege, anything else (200, 400, 404, 409 …: the handler
 * ran) when it holds them.
 */
type Caller = 'none' | 'nogrant' | 'reader' | 'writer' | 'admin';
const HELD: Record<Exclude<Caller, 'none'>, Set<Privilege>> = {
  nogrant: new Set(),
  reader: new Set(['SELECT']),
  writer: new Set(['SELECT', 'INSERT', 'MODIFY', 'CREATE', 'DROP']),
  admin: new Set(['SELECT', 'INSERT', 'MODIFY', 'CREATE', 'DROP', 'MANAGE', 'MANAGE_GRANTS']),
};

const PARAM_VALUES: Record<string, string> = {
  namespace: 'ns',
  table: 't',
  view: 'v',
  id: randomUUID(),
  runId: randomUUID(),
  ref: 'no_such_ref',
  name: 'nobody',
  role: 'nobody',
  principal: 'nobody',
};

function concrete(url: string): string {
  return url
    .replace(/:([A-Za-z]+)/g, (_m, p: string) => encodeURIComponent(PARAM_VALUES[p] ?? 'x'))
    .replace(/\*$/, 'x');
}

function expected(rule: RouteRule, caller: Caller, params: Record<string, string>, body: unknown): 'open' | 401 | 403 {
  if (rule.access === 'public' || rule.metrics) return 'open';
  if (caller === 'none') return 401;
  if (rule.access === 'authenticated') return 'open';
  const checks = rule.checks!({ params, body, query: {} });
  return checks.every((c) => HELD[caller].has(c.privilege)) ? 'open' : 403;
}

describe('permission matrix', () => {
  let s: SecureServer;
  const keys: Partial<Record<Caller, string>> = {};
  beforeAll(async () => {
    s = await startSecureServer();
    keys.admin = s.adminKey;
    const admin = { token: s.adminKey };
    for (const [who, privs] of Object.entries(HELD) as [Exclude<Caller, 'none'>, Set<Privilege>][]) {
      if (who === 'admin') continue;
      expect((await s.call('POST', '/api/v1/security/principals', { ...admin, body: { name: who } })).status).toBe(201);
      for (const privilege of privs) {
        const g = await s.call('POST', '/api/v1/security/grants', { ...admin, body: { grantee: { type: 'principal', name: who }, privilege, securable: { type: 'catalog' } } });
        expect(g.status).toBe(201);
      }
      keys[who] = (await s.call('POST', '/api/v1/security/api-keys', { ...admin, body: { principal: who } })).body.key;
    }
    expect((await s.call('POST', '/v1/lakehouse/namespaces', { ...admin, body: { namespace: ['ns'] } })).status).toBe(200);
    const t = await s.call('POST', '/v1/lakehouse/namespaces/ns/tables', {
      ...admin,
      body: { name: 't', schema: { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', type: 'long', required: false }] } },
    });
    expect(t.status).toBe(200);
  });
  afterAll(async () => s?.close());

  it('every registered route has a rule', () => {
    const missing = s.runtime.routes.filter((r) => !ruleFor(r.method, r.url, s.runtime.prefix)).map((r) => ruleKey(r.method, r.url, s.runtime.prefix));
    expect(missing, `routes without an access rule in src/security/rules.ts: ${missing.join(', ')}`).toEqual([]);
    expect(s.runtime.routes.length).toBeGreaterThan(100);
  });

  it('every route × {no credential, no grant, read grant, write grant, admin}', async () => {
    const failures: string[] = [];
    let requests = 0;
    // Destructive routes last, so the fixtures stay for the others as long as possible.
    const routes = [...s.runtime.routes].sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
    for (const route of routes) {
      const rule = ruleFor(route.method, route.url, s.runtime.prefix);
      if (!rule) continue;
      const params: Record<string, string> = {};
      for (const m of route.url.matchAll(/:([A-Za-z]+)/g)) params[m[1]] = PARAM_VALUES[m[1]] ?? 'x';
      const hasBody = ['POST', 'PUT', 'PATCH'].includes(route.method);
      const body = hasBody ? {} : undefined;
      for (const caller of ['none', 'nogrant', 'reader', 'writer', 'admin'] as Caller[]) {
        const want = expected(rule, caller, params, body);
        const res = await fetch(`${s.base}${concrete(route.url)}`, {
          method: route.method,
          headers: { ...(caller === 'none' ? {} : { authorization: `Bearer ${keys[caller]}` }), ...(hasBody ? { 'content-type': 'application/json' } : {}) },
          body: hasBody ? '{}' : undefined,
        });
        await res.arrayBuffer();
        requests++;
        const ok = want === 'open' ? res.status !== 401 && res.status !== 403 : res.status === want;
        if (!ok) failures.push(`${route.method} ${route.url} as ${caller}: got ${res.status}, want ${want === 'open' ? 'not 401/403' : want}`);
      }
    }
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(500);
  });

  it('spot checks of the matrix outcome', async () => {
    const load = '/v1/lakehouse/namespaces/ns/tables/t';
    expect((await s.call('GET', load, { token: keys.reader })).status).toBe(404); // dropped above by the writer: the handler ran
    expect((await s.call('DELETE', '/v1/lakehouse/namespaces/ns', { token: keys.reader })).status).toBe(403);
    expect((await s.call('GET', '/api/v1/security/grants', { token: keys.writer })).status).toBe(403);
    expect((await s.call('GET', '/api/v1/schedules', { token: keys.writer })).status).toBe(403);
    expect((await s.call('GET', '/api/v1/schedules', { token: keys.admin })).status).toBe(200);
    const denied = await s.call('POST', '/v1/lakehouse/namespaces/ns/tables', { token: keys.reader, body: { name: 'x' } });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatchObject({ type: 'ForbiddenException', code: 403 });
    expect(denied.body.error.message).toContain('lacks CREATE on ns');
  });
});
