import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRest, type RestFixture } from './iceberg-rest-helpers.js';

// The Iceberg REST catalog over real HTTP (a listening Fastify server, Node's fetch as client).
describe('Iceberg REST catalog', () => {
  let rest: RestFixture;
  let base: string;
  let call: RestFixture['raw'];
  beforeAll(async () => {
    rest = await startRest();
    base = rest.root;
    call = rest.raw;
  });
  afterAll(async () => {
    await rest.close();
  });

  it('serves config with the prefix and endpoints', async () => {
    const r = await call('GET', '/config');
    expect(r.status).toBe(200);
    expect(r.body!.overrides.prefix).toBe('lakehouse');
    expect(r.body!.endpoints).toContain('POST /v1/{prefix}/namespaces/{namespace}/tables/{table}');
  });

  it('manages namespaces and tables, commits with requirements, errors in the spec shape', async () => {
    expect((await call('POST', '/lakehouse/namespaces', { namespace: ['sales'], properties: { owner: 'ana' } })).status).toBe(200);
    expect((await call('POST', '/lakehouse/namespaces', { namespace: ['sales'] })).status).toBe(409);
    expect((await call('GET', '/lakehouse/namespaces')).body!.namespaces).toEqual([['sales']]);
    expect((await call('GET', '/lakehouse/namespaces/sales')).body!.properties).toMatchObject({ owner: 'ana', location: expect.stringMatching(/\/sales\.db$/) });

    const created = await call('POST', '/lakehouse/namespaces/sales/tables', {
      name: 'orders',
      schema: { type: 'struct', fields: [{ id: 1, name: 'id', type: 'long', required: true }, { id: 2, name: 'ts', type: 'timestamptz', required: false }] },
      'partition-spec': { 'spec-id': 0, fields: [{ 'source-id': 2, 'field-id': 1000, name: 'ts_day', transform: 'day' }] },
    });
    expect(created.status).toBe(200);
    expect(created.body!.metadata['format-version']).toBe(2);
    expect(created.body!.metadata['partition-specs'][0].fields[0].transform).toBe('day');

    const loaded = await call('GET', '/lakehouse/namespaces/sales/tables/orders');
    expect(loaded.status).toBe(200);
    const etag = loaded.headers.get('etag')!;
    const notModified = await fetch(`${base}/lakehouse/namespaces/sales/tables/orders`, { headers: { 'if-none-match': etag } });
    expect(notModified.status).toBe(304);

    const uuid = loaded.body!.metadata['table-uuid'];
    const ok = await call('POST', '/lakehouse/namespaces/sales/tables/orders', {
      requirements: [{ type: 'assert-table-uuid', uuid }, { type: 'assert-current-schema-id', 'current-schema-id': 0 }],
      updates: [{ action: 'set-properties', updates: { 'write.target-file-size-bytes': '1048576' } }],
    });
    expect(ok.status).toBe(200);
    expect(ok.body!.metadata.properties['write.target-file-size-bytes']).toBe('1048576');
    expect(ok.body!['metadata-location']).not.toBe(loaded.body!['metadata-location']);

    const conflict = await call('POST', '/lakehouse/namespaces/sales/tables/orders', {
      requirements: [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': 123 }],
      updates: [{ action: 'set-properties', updates: { a: 'b' } }],
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body!.error.type).toBe('CommitFailedException');

    const bad = await call('POST', '/lakehouse/namespaces/sales/tables/orders', { updates: [{ action: 'no-such-action' }] });
    expect(bad.status).toBe(400);
    expect(bad.body!.error).toMatchObject({ type: expect.any(String), code: 400 });

    expect((await call('POST', '/lakehouse/tables/rename', { source: { namespace: ['sales'], name: 'orders' }, destination: { namespace: ['sales'], name: 'orders2' } })).status).toBe(204);
    expect((await call('GET', '/lakehouse/namespaces/sales/tables/orders')).status).toBe(404);
    expect((await call('GET', '/lakehouse/namespaces/sales/tables')).body!.identifiers).toEqual([{ namespace: ['sales'], name: 'orders2' }]);
    expect((await call('DELETE', '/lakehouse/namespaces/sales')).status).toBe(409);
    expect((await call('DELETE', '/lakehouse/namespaces/sales/tables/orders2?purgeRequested=true')).status).toBe(204);
    expect((await call('DELETE', '/lakehouse/namespaces/sales')).status).toBe(204);
    const missing = await call('GET', '/lakehouse/namespaces/sales');
    expect(missing.status).toBe(404);
    expect(missing.body!.error.type).toBe('NoSuchNamespaceException');
  });
});
