import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { effectivePolicy } from '../../src/security/index.js';
import { startSecureServer, type SecureServer } from './support.js';

/**
 * Grants on namespaces, tables and columns over HTTP, and the rule that a principal held to
 * column masks, row filters or a column subset cannot load raw table metadata through the
 * Iceberg REST catalog (it would bypass them): 403 pointing at SQL. Masks and row filters are
 * stored and served by the security API and by the effective-policy endpoint.
 */
describe('grant scopes, masks and row filters over HTTP', () => {
  let s: SecureServer;
  const admin = () => ({ token: s.adminKey });
  const keyOf: Record<string, string> = {};
  const schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', type: 'long', required: false }, { id: 2, name: 'email', type: 'string', required: false }, { id: 3, name: 'region', type: 'string', required: false }] };

  beforeAll(async () => {
    s = await startSecureServer();
    for (const ns of [['sales'], ['hr']]) expect((await s.call('POST', '/v1/lakehouse/namespaces', { ...admin(), body: { namespace: ns } })).status).toBe(200);
    for (const [ns, t] of [['sales', 'orders'], ['sales', 'customers'], ['hr', 'people']]) {
      expect((await s.call('POST', `/v1/lakehouse/namespaces/${ns}/tables`, { ...admin(), body: { name: t, schema } })).status).toBe(200);
    }
    for (const [p, role] of [['nina', 'ns_readers'], ['cole', 'col_readers'], ['mia', 'masked'], ['rex', 'filtered']]) {
      await s.call('POST', '/api/v1/security/principals', { ...admin(), body: { name: p } });
      await s.call('POST', '/api/v1/security/roles', { ...admin(), body: { name: role } });
      await s.call('POST', '/api/v1/security/memberships', { ...admin(), body: { role, principal: p } });
      keyOf[p] = (await s.call('POST', '/api/v1/security/api-keys', { ...admin(), body: { principal: p } })).body.key;
    }
    const grant = async (role: string, privilege: string, securable: Record<string, string>) =>
      expect((await s.call('POST', '/api/v1/security/grants', { ...admin(), body: { grantee: { type: 'role', name: role }, privilege, securable } })).status).toBe(201);
    await grant('ns_readers', 'SELECT', { type: 'namespace', namespace: 'sales' });
    await grant('col_readers', 'SELECT', { type: 'column', namespace: 'hr', table: 'people', column: 'id' });
    await grant('masked', 'SELECT', { type: 'namespace', namespace: 'sales' });
    await grant('filtered', 'SELECT', { type: 'table', namespace: 'sales', table: 'orders' });
    const mask = await s.call('POST', '/api/v1/security/masks', { ...admin(), body: { role: 'masked', namespace: 'sales', table: 'orders', column: 'email', kind: 'partial', params: { keepLast: 4, maskChar: '#' } } });
    expect(mask.status).toBe(201);
    const filter = await s.call('POST', '/api/v1/security/row-filters', { ...admin(), body: { role: 'filtered', namespace: 'sales', table: 'orders', predicate: "region = 'EU'" } });
    expect(filter.status).toBe(201);
  });
  afterAll(async () => s?.close());

  it('a namespace grant covers its tables and nothing else', async () => {
    const nina = { token: keyOf.nina };
    expect((await s.call('GET', '/v1/lakehouse/namespaces/sales/tables/orders', nina)).status).toBe(200);
    expect((await s.call('GET', '/v1/lakehouse/namespaces/sales/tables', nina)).status).toBe(200);
    expect((await s.call('GET', '/v1/lakehouse/namespaces/hr/tables/people', nina)).status).toBe(403);
    expect((await s.call('POST', '/v1/lakehouse/namespaces/sales/tables/orders', { ...nina, body: { requirements: [], updates: [] } })).status).toBe(403);
    // Listing the catalog's namespaces: allowed because a grant exists inside it.
    expect((await s.call('GET', '/v1/lakehouse/namespaces', nina)).status).toBe(200);
  });

  it('a column grant lets the table be described, not loaded raw', async () => {
    const cole = { token: keyOf.cole };
    expect((await s.call('GET', '/api/v1/tables/hr/people', cole)).status).toBe(200);
    expect((await s.call('HEAD', '/v1/lakehouse/namespaces/hr/tables/people', cole)).status).toBe(204);
    const load = await s.call('GET', '/v1/lakehouse/namespaces/hr/tables/people', cole);
    expect(load.status).toBe(403);
    expect((await s.call('GET', '/api/v1/tables/hr/people', { token: keyOf.nina })).status).toBe(403);
  });

  it('masks or row filters on a table: Iceberg loadTable and credentials refused with a pointer to SQL', async () => {
    for (const who of ['mia', 'rex']) {
      const res = await s.call('GET', '/v1/lakehouse/namespaces/sales/tables/orders', { token: keyOf[who] });
      expect(res.status, who).toBe(403);
      expect(res.body.error.message).toMatch(/column masks, row filters.*read it through SQL/);
      expect((await s.call('GET', '/v1/lakehouse/namespaces/sales/tables/orders/credentials', { token: keyOf[who] })).status).toBe(403);
    }
    // The same role's grant on another table with no masks: loads.
    expect((await s.call('GET', '/v1/lakehouse/namespaces/sales/tables/customers', { token: keyOf.mia })).status).toBe(200);
    const audit = await s.call('GET', '/api/v1/security/audit?principal=rex&outcome=denied', admin());
    expect(audit.body.records[0]).toMatchObject({ action: 'table.load', resource: 'sales.orders', detail: 'limited by column masks, row filters or column grants' });
  });

  it('masks, row filters and the effective policy are served', async () => {
    const masks = await s.call('GET', '/api/v1/security/masks?namespace=sales&table=orders', admin());
    expect(masks.body.masks).toMatchObject([{ role: 'masked', namespace: 'sales', table: 'orders', column: 'email', kind: 'partial', params: { keepLast: 4, maskChar: '#' } }]);
    const filters = await s.call('GET', '/api/v1/security/row-filters?role=filtered', admin());
    expect(filters.body.rowFilters).toMatchObject([{ predicate: "region = 'EU'", namespace: 'sales', table: 'orders' }]);
    const mia = await s.call('GET', '/api/v1/security/policy/sales/orders?principal=mia', admin());
    expect(mia.body).toMatchObject({ principal: 'mia', roles: ['masked'], canSelect: true, columns: 'all', limited: true, rowFilters: [] });
    expect(mia.body.masks).toEqual([{ column: 'email', kind: 'partial', params: { keepLast: 4, maskChar: '#' }, role: 'masked' }]);
    // The function the SQL engine calls returns the same.
    const direct = await effectivePolicy(s.catalog, 'mia', { namespace: ['sales'], name: 'orders' });
    expect(direct).toMatchObject({ masks: mia.body.masks, rowFilters: [], limited: true, table: { namespace: ['sales'], name: 'orders' } });
    const cole = await s.call('GET', '/api/v1/security/policy/hr/people?principal=cole', admin());
    expect(cole.body).toMatchObject({ canSelect: true, columns: ['id'], limited: true });
    // Removing the mask lifts the refusal.
    await s.call('DELETE', `/api/v1/security/masks/${masks.body.masks[0].id}`, admin());
    expect((await s.call('GET', '/v1/lakehouse/namespaces/sales/tables/orders', { token: keyOf.mia })).status).toBe(200);
    // Bad securables are refused.
    const bad = await s.call('POST', '/api/v1/security/grants', { ...admin(), body: { grantee: { type: 'role', name: 'masked' }, privilege: 'SELECT', securable: { type: 'table', namespace: 'sales' } } });
    expect(bad.status).toBe(400);
    const unknownRole = await s.call('POST', '/api/v1/security/grants', { ...admin(), body: { grantee: { type: 'role', name: 'ghost' }, privilege: 'SELECT', securable: { type: 'catalog' } } });
    expect(unknownRole.status).toBe(404);
  });
});
