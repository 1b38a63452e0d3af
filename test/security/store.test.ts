import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalogStore, type SqlCatalogStore } from '../../src/catalog/open-store.js';
import { AuditLog } from '../../src/security/audit.js';
import { Authorizer } from '../../src/security/authz.js';
import { SecurityStore } from '../../src/security/store.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';

/** The security store, the authorizer and the audit chain on both catalog databases. */
for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`security store on ${dialect}`, () => {
    let pg: TestPostgres | undefined;
    let catalogStore: SqlCatalogStore;
    let store: SecurityStore;
    let authz: Authorizer;
    beforeAll(async () => {
      let url = 'sqlite::memory:';
      if (dialect === 'postgres') {
        pg = await startPostgres();
        url = pg.url;
      }
      catalogStore = await openCatalogStore(url, { migrate: true });
      store = new SecurityStore(catalogStore.db as never, catalogStore.catalogName);
      authz = new Authorizer(store);
    }, 300_000);
    afterAll(async () => {
      await catalogStore?.close();
      await pg?.stop();
    });

    it('principals, roles, memberships, duplicates and unknown names', async () => {
      expect(await store.countPrincipals()).toBe(0);
      await store.createPrincipal('ann');
      await store.createPrincipal('svc', 'service');
      await store.createRole('analysts');
      await store.addMember('analysts', 'ann');
      await expect(store.createPrincipal('ann')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      await expect(store.addMember('analysts', 'nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await store.rolesOf('ann')).toEqual(['analysts']);
      expect((await store.listPrincipals()).map((p) => p.name)).toEqual(['ann', 'svc']);
    });

    it('grants are inherited downward; MANAGE implies data privileges; orBelow finds grants inside', async () => {
      const ann = { principal: 'ann', roles: ['analysts'], method: 'token' as const };
      await store.createGrant({ granteeType: 'role', grantee: 'analysts', privilege: 'SELECT', securable: { type: 'namespace', namespace: ['sales'] } });
      await store.createGrant({ granteeType: 'principal', grantee: 'ann', privilege: 'MANAGE', securable: { type: 'table', namespace: ['ops'], table: 'jobs' } });
      await store.createGrant({ granteeType: 'principal', grantee: 'ann', privilege: 'SELECT', securable: { type: 'column', namespace: ['hr'], table: 'people', column: 'name' } });
      await expect(
        store.createGrant({ granteeType: 'role', grantee: 'analysts', privilege: 'SELECT', securable: { type: 'namespace', namespace: ['sales'] } }),
      ).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      expect(await authz.allowed(ann, 'SELECT', { namespace: ['sales'], table: 'orders' })).toBe(true);
      expect(await authz.allowed(ann, 'SELECT', { namespace: ['sales', 'eu'], table: 'orders' })).toBe(true);
      expect(await authz.allowed(ann, 'INSERT', { namespace: ['sales'], table: 'orders' })).toBe(false);
      expect(await authz.allowed(ann, 'SELECT', { namespace: ['salesx'], table: 'orders' })).toBe(false);
      expect(await authz.allowed(ann, 'SELECT', {})).toBe(false);
      expect(await authz.allowed(ann, 'SELECT', {}, true)).toBe(true);
      expect(await authz.allowed(ann, 'DROP', { namespace: ['ops'], table: 'jobs' })).toBe(true);
      expect(await authz.allowed(ann, 'MANAGE_GRANTS', { namespace: ['ops'], table: 'jobs' })).toBe(false);
      expect(await authz.allowed(ann, 'SELECT', { namespace: ['hr'], table: 'people' })).toBe(false);
      expect(await authz.allowed(ann, 'SELECT', { namespace: ['hr'], table: 'people' }, true)).toBe(true);
      // Not a member: the role's grants do not apply.
      expect(await authz.allowed({ principal: 'svc', roles: [], method: 'token' }, 'SELECT', { namespace: ['sales'], table: 'orders' })).toBe(false);
    });

    it('masks and row filters per role are stored and returned by effectivePolicy', async () => {
      await store.createMask({ role: 'analysts', namespace: ['sales'], table: 'orders', column: 'email', kind: 'partial', params: { keepLast: 4 } });
      await store.createMask({ role: 'analysts', namespace: ['sales'], table: 'orders', column: 'ssn', kind: 'null', params: {} });
      await store.createRowFilter({ role: 'analysts', namespace: ['sales'], table: 'orders', predicate: "region = 'EU'" });
      await expect(
        store.createMask({ role: 'analysts', namespace: ['sales'], table: 'orders', column: 'email', kind: 'hash', params: {} }),
      ).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      const p = await authz.effectivePolicy('ann', { namespace: ['sales'], name: 'orders' });
      expect(p).toMatchObject({ principal: 'ann', roles: ['analysts'], canSelect: true, columns: 'all', limited: true });
      expect(p.masks.map((m) => [m.column, m.kind, m.params])).toEqual([
        ['email', 'partial', { keepLast: 4 }],
        ['ssn', 'null', {}],
      ]);
      expect(p.rowFilters.map((f) => f.predicate)).toEqual(["region = 'EU'"]);
      const other = await authz.effectivePolicy('ann', { namespace: ['sales'], name: 'customers' });
      expect(other).toMatchObject({ canSelect: true, columns: 'all', masks: [], rowFilters: [], limited: false });
      const cols = await authz.effectivePolicy('ann', { namespace: ['hr'], name: 'people' });
      expect(cols).toMatchObject({ canSelect: true, columns: ['name'], limited: true });
      const none = await authz.effectivePolicy('svc', { namespace: ['sales'], name: 'orders' });
      expect(none).toMatchObject({ canSelect: false, columns: [], masks: [], rowFilters: [] });
    });

    it('API keys: only a hash stored; wrong secret, revocation and expiry refuse', async () => {
      const k = await store.createApiKey('svc', { description: 'ci' });
      expect(await store.verifyApiKey(k.id, k.secret)).toEqual({ principal: 'svc' });
      expect(await store.verifyApiKey(k.id, `${k.secret}x`)).toHaveProperty('reason');
      expect(await store.verifyApiKey('0000000000000000', k.secret)).toHaveProperty('reason');
      const stored = await catalogStore.db.selectFrom('lakehouse_sec_api_keys' as never).selectAll().execute();
      expect(JSON.stringify(stored)).not.toContain(k.secret);
      await store.revokeApiKey(k.id);
      expect(await store.verifyApiKey(k.id, k.secret)).toEqual({ reason: 'API key revoked' });
      const old = await store.createApiKey('svc', { expiresAt: new Date(Date.now() - 1000).toISOString() });
      expect(await store.verifyApiKey(old.id, old.secret)).toEqual({ reason: 'API key expired' });
    });

    it('refuses to remove the last principal able to administer security', async () => {
      await store.createRole('sec');
      await store.addMember('sec', 'svc');
      const g = await store.createGrant({ granteeType: 'role', grantee: 'sec', privilege: 'MANAGE_GRANTS', securable: { type: 'catalog' } });
      await expect(store.removeMember('sec', 'svc')).rejects.toMatchObject({ code: 'RESOURCE_IN_USE' });
      await expect(store.deleteRole('sec')).rejects.toMatchObject({ code: 'RESOURCE_IN_USE' });
      await expect(store.deleteGrant(g.id)).rejects.toMatchObject({ code: 'RESOURCE_IN_USE' });
      await expect(store.deletePrincipal('svc')).rejects.toMatchObject({ code: 'RESOURCE_IN_USE' });
      const direct = await store.createGrant({ granteeType: 'principal', grantee: 'ann', privilege: 'MANAGE_GRANTS', securable: { type: 'catalog' } });
      await store.removeMember('sec', 'svc');
      await store.deleteRole('sec');
      await expect(store.deleteGrant(direct.id)).rejects.toMatchObject({ code: 'RESOURCE_IN_USE' });
    });

    it('settings: first writer wins', async () => {
      const a = await store.settingOrCreate('x', () => 'first');
      const b = await store.settingOrCreate('x', () => 'second');
      expect([a, b]).toEqual(['first', 'first']);
    });

    it('audit chain: concurrent writers stay one chain; verify catches an edited and a removed record', async () => {
      const a = new AuditLog(catalogStore.db as never, catalogStore.catalogName);
      const b = new AuditLog(catalogStore.db as never, catalogStore.catalogName);
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? a : b).append({ principal: `p${i % 3}`, action: 'table.load', resource: 'sales.orders', columns: i % 5 ? null : ['email'], outcome: 'allowed', status: 200, requestId: `r${i}` }),
        ),
      );
      const ok = await a.verify();
      expect(ok).toMatchObject({ ok: true, records: 40 });
      expect((await a.list({ principal: 'p1' })).length).toBe(13);
      expect((await a.list({ afterSeq: 35 })).map((r) => r.seq)).toEqual([36, 37, 38, 39, 40]);
      const db = catalogStore.db as never as import('kysely').Kysely<any>;
      const original = (await a.list({ afterSeq: 16, limit: 1 }))[0].principal;
      await db.updateTable('lakehouse_sec_audit').set({ principal: 'mallory' }).where('seq', '=', 17).execute();
      expect(await a.verify()).toMatchObject({ ok: false, problem: { seq: 17, reason: expect.stringContaining('edited') } });
      // Restore the edit (the verify above shows the tamper), then remove a record instead.
      await db.updateTable('lakehouse_sec_audit').set({ principal: original }).where('seq', '=', 17).execute();
      expect((await a.verify()).ok).toBe(true);
      await db.deleteFrom('lakehouse_sec_audit').where('seq', '=', 30).execute();
      const broken = await a.verify();
      expect(broken.ok).toBe(false);
      expect(broken.problem).toEqual({ seq: 30, reason: 'record 30 is missing (next is 31)' });
    });
  });
}
