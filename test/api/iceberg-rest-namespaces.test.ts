import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CatalogConfig, CreateNamespaceResponse, GetNamespaceResponse, IcebergErrorResponse, ListNamespacesResponse,
  UpdateNamespacePropertiesResponse,
} from '../../src/api/iceberg/schemas.js';
import { openApiDocument } from '../../src/api/server.js';
import { expectError, expectSchema, startRest, type RestFixture } from './iceberg-rest-helpers.js';

describe('Iceberg REST: config and namespaces', () => {
  let f: RestFixture;
  beforeAll(async () => {
    f = await startRest();
  });
  afterAll(async () => f.close());

  it('serves /v1/config with prefix, endpoints of every route, idempotency lifetime, and checks warehouse', async () => {
    const r = await f.raw('GET', '/config');
    expect(r.status).toBe(200);
    expectSchema(CatalogConfig, r.body);
    expect(r.body!.overrides).toEqual({ prefix: 'lakehouse' });
    expect(r.body!['idempotency-key-lifetime']).toBe('PT30M');
    const endpoints = r.body!.endpoints as string[];
    for (const e of [
      'GET /v1/{prefix}/namespaces', 'POST /v1/{prefix}/namespaces', 'GET /v1/{prefix}/namespaces/{namespace}',
      'HEAD /v1/{prefix}/namespaces/{namespace}', 'DELETE /v1/{prefix}/namespaces/{namespace}',
      'POST /v1/{prefix}/namespaces/{namespace}/properties', 'GET /v1/{prefix}/namespaces/{namespace}/tables',
      'POST /v1/{prefix}/namespaces/{namespace}/tables', 'GET /v1/{prefix}/namespaces/{namespace}/tables/{table}',
      'POST /v1/{prefix}/namespaces/{namespace}/tables/{table}', 'DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}',
      'HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}', 'POST /v1/{prefix}/namespaces/{namespace}/register',
      'POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics', 'POST /v1/{prefix}/tables/rename',
      'POST /v1/{prefix}/transactions/commit', 'GET /v1/{prefix}/namespaces/{namespace}/views',
      'POST /v1/{prefix}/namespaces/{namespace}/views', 'GET /v1/{prefix}/namespaces/{namespace}/views/{view}',
      'POST /v1/{prefix}/namespaces/{namespace}/views/{view}', 'DELETE /v1/{prefix}/namespaces/{namespace}/views/{view}',
      'HEAD /v1/{prefix}/namespaces/{namespace}/views/{view}', 'POST /v1/{prefix}/views/rename',
    ]) {
      expect(endpoints).toContain(e);
    }
    expect(endpoints).not.toContain('GET /v1/config');
    expect((await f.raw('GET', '/config?warehouse=lakehouse')).status).toBe(200);
    expect((await f.raw('GET', `/config?warehouse=${encodeURIComponent(`${f.dir}/wh`)}`)).status).toBe(200);
    expectError(await f.raw('GET', '/config?warehouse=elsewhere'), 404, 'NotFoundException');
  });

  it('documents every route in OpenAPI with the spec operationIds', async () => {
    const doc = (await openApiDocument(f.app)) as { paths: Record<string, Record<string, { operationId?: string; tags?: string[]; summary?: string }>> };
    const ops = new Map<string, string>();
    for (const [path, methods] of Object.entries(doc.paths)) {
      if (!path.startsWith('/v1/')) continue;
      for (const [verb, op] of Object.entries(methods)) {
        ops.set(op.operationId!.replace(/-head$/, ''), `${verb.toUpperCase()} ${path}`);
        expect(op.summary, `${verb} ${path}`).toBeTruthy();
        expect(op.tags?.length, `${verb} ${path}`).toBe(1);
      }
    }
    expect([...ops.keys()].sort()).toEqual([
      'commitTransaction', 'createNamespace', 'createTable', 'createView', 'dropNamespace', 'dropTable', 'dropView', 'getConfig',
      'listNamespaces', 'listTables', 'listViews', 'loadCredentials', 'loadNamespaceMetadata', 'loadTable', 'loadView',
      'namespaceExists', 'registerTable', 'registerView', 'renameTable', 'renameView', 'replaceView', 'reportMetrics',
      'tableExists', 'unregisterTable', 'updateProperties', 'updateTable', 'viewExists',
    ]);
    expect(ops.get('tableExists')).toBe('HEAD /v1/lakehouse/namespaces/{namespace}/tables/{table}');
  });

  it('creates nested namespaces and lists children of a %1F parent', async () => {
    const created = await f.call('POST', '/namespaces', { namespace: ['acct'], properties: { owner: 'ana' } });
    expect(created.status).toBe(200);
    expectSchema(CreateNamespaceResponse, created.body);
    // Without a stored location, the one its tables get by default is reported (Trino places tables with it).
    expect(created.body).toEqual({ namespace: ['acct'], properties: { owner: 'ana', location: `${f.dir}/wh/acct.db` } });
    expect((await f.call('POST', '/namespaces', { namespace: ['acct', 'tax'] })).status).toBe(200);
    expect((await f.call('POST', '/namespaces', { namespace: ['acct', 'tax', 'paid'] })).status).toBe(200);
    expectError(await f.call('POST', '/namespaces', { namespace: ['acct'] }), 409, 'AlreadyExistsException');

    const top = await f.call('GET', '/namespaces');
    expectSchema(ListNamespacesResponse, top.body);
    expect(top.body!.namespaces).toEqual([['acct']]);
    expect((await f.call('GET', '/namespaces?parent=acct')).body!.namespaces).toEqual([['acct', 'tax']]);
    expect((await f.call('GET', '/namespaces?parent=acct%1Ftax')).body!.namespaces).toEqual([['acct', 'tax', 'paid']]);
    expectError(await f.call('GET', '/namespaces?parent=nope'), 404, 'NoSuchNamespaceException');

    const loaded = await f.call('GET', '/namespaces/acct%1Ftax');
    expectSchema(GetNamespaceResponse, loaded.body);
    expect(loaded.body).toEqual({ namespace: ['acct', 'tax'], properties: { location: `${f.dir}/wh/acct.tax.db` } });
    expect((await f.call('HEAD', '/namespaces/acct%1Ftax%1Fpaid')).status).toBe(204);
    expect((await f.call('HEAD', '/namespaces/acct%1Fnope')).status).toBe(404);
    expectError(await f.call('DELETE', '/namespaces/acct%1Ftax'), 409, 'NamespaceNotEmptyException');
    expect((await f.call('DELETE', '/namespaces/acct%1Ftax%1Fpaid')).status).toBe(204);
    expectError(await f.call('GET', '/namespaces/acct%1Ftax%1Fpaid'), 404, 'NoSuchNamespaceException');
  });

  it('pages namespaces with pageToken/pageSize and next-page-token', async () => {
    for (const n of ['p1', 'p2', 'p3', 'p4', 'p5']) await f.call('POST', '/namespaces', { namespace: ['pg', n] }).catch(() => undefined);
    await f.call('POST', '/namespaces', { namespace: ['pg'] });
    for (const n of ['p1', 'p2', 'p3', 'p4', 'p5']) expect((await f.call('POST', '/namespaces', { namespace: ['pg', n] })).status).toBe(200);
    // Without pageToken: everything at once.
    const all = await f.call('GET', '/namespaces?parent=pg&pageSize=2');
    expect(all.body!.namespaces).toHaveLength(5);
    expect(all.body!['next-page-token']).toBeNull();
    const seen: string[][] = [];
    let token = '';
    let pages = 0;
    for (;;) {
      const r = await f.call('GET', `/namespaces?parent=pg&pageSize=2&pageToken=${encodeURIComponent(token)}`);
      expect(r.status).toBe(200);
      expectSchema(ListNamespacesResponse, r.body);
      seen.push(...r.body!.namespaces);
      pages++;
      if (r.body!['next-page-token'] === null) break;
      token = r.body!['next-page-token'];
    }
    expect(pages).toBe(3);
    expect(seen.map((n) => n[1])).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expectError(await f.call('GET', '/namespaces?pageSize=0&pageToken='), 400, 'BadRequestException');
    expectError(await f.call('GET', '/namespaces?pageToken=garbage!'), 400, 'BadRequestException');
  });

  it('updates properties with the updated/removed/missing response; 422 on a key in both', async () => {
    await f.call('POST', '/namespaces', { namespace: ['props'], properties: { a: '1', b: '2' } });
    const r = await f.call('POST', '/namespaces/props/properties', { removals: ['a', 'zz'], updates: { c: '3', b: '22' } });
    expect(r.status).toBe(200);
    expectSchema(UpdateNamespacePropertiesResponse, r.body);
    expect({ ...r.body, updated: [...r.body!.updated].sort() }).toEqual({ updated: ['b', 'c'], removed: ['a'], missing: ['zz'] });
    expect((await f.call('GET', '/namespaces/props')).body!.properties).toEqual({ b: '22', c: '3', location: `${f.dir}/wh/props.db` });
    // A stored location is reported as it is, and the tables of the namespace go there.
    await f.call('POST', '/namespaces/props/properties', { updates: { location: `${f.dir}/elsewhere/props` } });
    expect((await f.call('GET', '/namespaces/props')).body!.properties.location).toBe(`${f.dir}/elsewhere/props`);
    expectError(await f.call('POST', '/namespaces/props/properties', { removals: ['b'], updates: { b: 'x' } }), 422, 'UnprocessableEntityException');
    expectError(await f.call('POST', '/namespaces/nope/properties', { updates: { b: 'x' } }), 404, 'NoSuchNamespaceException');
  });

  it('rejects invalid requests with 400 BadRequestException in the spec error shape', async () => {
    for (const [body, what] of [
      [{}, 'missing namespace'],
      [{ namespace: 'x' }, 'namespace not an array'],
      [{ namespace: [] }, 'empty namespace'],
      [{ namespace: ['a'], properties: { k: 1 } }, 'non-string property'],
      ['{not json', 'malformed JSON'],
    ] as const) {
      const r = await f.call('POST', '/namespaces', body);
      expect(r.status, what).toBe(400);
      expectSchema(IcebergErrorResponse, r.body);
      expect(r.body!.error.type, what).toBe('BadRequestException');
    }
  });
});
