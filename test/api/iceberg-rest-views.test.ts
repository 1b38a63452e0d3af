import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListTablesResponse, LoadViewResult } from '../../src/api/iceberg/schemas.js';
import { applyViewUpdates, newViewMetadata, parseViewMetadata, serializeViewMetadata, type ViewVersion } from '../../src/iceberg/view-metadata.js';
import { parseJsonLossless, stringifyJson } from '../../src/core/json.js';
import { expectError, expectSchema, SCHEMA, startRest, type RestFixture } from './iceberg-rest-helpers.js';

const version = (sql: string, dialect = 'spark') => ({
  'version-id': 1,
  'timestamp-ms': 1700000000000,
  'schema-id': 0,
  summary: { 'engine-name': 'spark' },
  representations: [{ type: 'sql', sql, dialect }],
  'default-namespace': ['db'],
});

describe('Iceberg views: metadata builder', () => {
  it('creates v1 view metadata, reuses equal versions and schemas, trims history, round-trips', () => {
    const md = newViewMetadata({ location: '/wh/v', schema: { type: 'struct', 'schema-id': 7, fields: SCHEMA.fields as never }, version: version('select 1') as never, properties: {} });
    expect(md['format-version']).toBe(1);
    expect(md.schemas.map((s) => s['schema-id'])).toEqual([0]);
    expect(md.versions[0]).toMatchObject({ 'version-id': 1, 'schema-id': 0 });
    expect(md['version-log']).toEqual([{ 'version-id': 1, 'timestamp-ms': 1700000000000 }]);
    const same = applyViewUpdates(md, [{ action: 'add-view-version', 'view-version': { ...(version('select 1') as ViewVersion), 'version-id': 9 } }, { action: 'set-current-view-version', 'view-version-id': -1 }]);
    expect(same.versions).toHaveLength(1);
    let cur = md;
    for (let i = 2; i <= 5; i++) {
      cur = applyViewUpdates(cur, [
        { action: 'set-properties', updates: { 'version.history.num-entries': '3' } },
        { action: 'add-view-version', 'view-version': version(`select ${i}`) as never },
        { action: 'set-current-view-version', 'view-version-id': -1 },
      ]);
    }
    expect(cur.versions.map((v) => v['version-id'])).toEqual([3, 4, 5]);
    expect(cur['current-version-id']).toBe(5);
    expect(cur['version-log'].map((e) => e['version-id'])).toEqual([3, 4, 5]);
    expect(parseViewMetadata(parseJsonLossless(stringifyJson(serializeViewMetadata(cur))))).toEqual(cur);
    expect(() => applyViewUpdates(cur, [{ action: 'set-current-view-version', 'view-version-id': 42 }])).toThrow(/unknown version/);
    expect(() => applyViewUpdates(cur, [{ action: 'upgrade-format-version', 'format-version': 2 }])).toThrow(/unsupported/i);
    expect(() =>
      applyViewUpdates(cur, [{ action: 'add-view-version', 'view-version': { ...(version('a') as ViewVersion), representations: [{ type: 'sql', sql: 'a', dialect: 'x' }, { type: 'sql', sql: 'b', dialect: 'X' }] } }]),
    ).toThrow(/multiple queries/);
  });
});

describe('Iceberg REST: views', () => {
  let f: RestFixture;
  beforeAll(async () => {
    f = await startRest();
    await f.call('POST', '/namespaces', { namespace: ['db'] });
    await f.call('POST', '/namespaces/db/tables', { name: 'tbl', schema: SCHEMA });
  });
  afterAll(async () => f.close());

  const createView = (name: string, sql = 'select * from db.tbl') =>
    f.call('POST', '/namespaces/db/views', { name, schema: SCHEMA, 'view-version': version(sql), properties: { comment: 'c' } });

  it('creates, loads, lists, checks existence of views; shares names with tables', async () => {
    const c = await createView('v1');
    expect(c.status, c.text).toBe(200);
    expectSchema(LoadViewResult, c.body);
    const md = c.body!.metadata;
    expect(md).toMatchObject({ 'format-version': 1, 'current-version-id': 1, properties: { comment: 'c' } });
    expect(md.versions[0].representations).toEqual([{ type: 'sql', sql: 'select * from db.tbl', dialect: 'spark' }]);
    expect(c.body!['metadata-location']).toMatch(/\/metadata\/00000-.*\.metadata\.json$/);

    const l = await f.call('GET', '/namespaces/db/views/v1');
    expect(l.status).toBe(200);
    expectSchema(LoadViewResult, l.body);
    expect(l.body!.metadata).toEqual(md);
    expect((await f.call('HEAD', '/namespaces/db/views/v1')).status).toBe(204);
    expect((await f.call('HEAD', '/namespaces/db/views/nope')).status).toBe(404);
    expectError(await f.call('GET', '/namespaces/db/views/nope'), 404, 'NoSuchViewException');
    // A view is not a table and vice versa.
    expectError(await f.call('GET', '/namespaces/db/tables/v1'), 404, 'NoSuchTableException');
    expectError(await f.call('GET', '/namespaces/db/views/tbl'), 404, 'NoSuchViewException');
    expectError(await createView('tbl'), 409, 'AlreadyExistsException');
    expectError(await createView('v1'), 409, 'AlreadyExistsException');
    expectError(await f.call('POST', '/namespaces/db/tables', { name: 'v1', schema: SCHEMA }), 409, 'AlreadyExistsException');
    expectError(await f.call('POST', '/namespaces/nope/views', { name: 'x', schema: SCHEMA, 'view-version': version('x'), properties: {} }), 404, 'NoSuchNamespaceException');
    expectError(await f.call('POST', '/namespaces/db/views', { name: 'x', schema: SCHEMA, properties: {} }), 400, 'BadRequestException');

    for (const n of ['v2', 'v3']) expect((await createView(n)).status).toBe(200);
    const page1 = await f.call('GET', '/namespaces/db/views?pageSize=2&pageToken=');
    expectSchema(ListTablesResponse, page1.body);
    expect(page1.body!.identifiers.map((i: any) => i.name)).toEqual(['v1', 'v2']);
    const page2 = await f.call('GET', `/namespaces/db/views?pageSize=2&pageToken=${page1.body!['next-page-token']}`);
    expect(page2.body!.identifiers).toEqual([{ namespace: ['db'], name: 'v3' }]);
    expect(page2.body!['next-page-token']).toBeNull();
    expect((await f.call('GET', '/namespaces/db/tables')).body!.identifiers.map((i: any) => i.name)).toEqual(['tbl']);
  });

  it('replaces a view (add-view-version, set-current -1, assert-view-uuid) and rolls back', async () => {
    const l = await f.call('GET', '/namespaces/db/views/v1');
    const uuid = l.body!.metadata['view-uuid'];
    const replace = (requirements: unknown[], updates: unknown[]) => f.call('POST', '/namespaces/db/views/v1', { requirements, updates });
    const newSchema = { type: 'struct', 'schema-id': 1, fields: [{ id: 1, name: 'n', type: 'long', required: false }] };
    const r = await replace([{ type: 'assert-view-uuid', uuid }], [
      { action: 'add-schema', schema: newSchema },
      { action: 'add-view-version', 'view-version': { ...version('select count(*) as n from db.tbl'), 'schema-id': -1, 'timestamp-ms': Date.now() } },
      { action: 'set-current-view-version', 'view-version-id': -1 },
      { action: 'set-properties', updates: { owner: 'ana' } },
      { action: 'remove-properties', removals: ['comment'] },
      { action: 'set-location', location: `${f.dir}/wh/views/v1` },
    ]);
    expect(r.status, r.text).toBe(200);
    expectSchema(LoadViewResult, r.body);
    const md = r.body!.metadata;
    expect(md['current-version-id']).toBe(2);
    expect(md.versions.find((v: any) => v['version-id'] === 2)['schema-id']).toBe(1);
    expect(md.properties).toEqual({ owner: 'ana' });
    expect(md.location).toBe(`${f.dir}/wh/views/v1`);
    expect(md['version-log'].map((e: any) => e['version-id'])).toEqual([1, 2]);
    expect(r.body!['metadata-location']).not.toBe(l.body!['metadata-location']);

    const back = await replace([], [{ action: 'set-current-view-version', 'view-version-id': 1 }]);
    expect(back.body!.metadata['current-version-id']).toBe(1);
    expect(back.body!.metadata['version-log'].map((e: any) => e['version-id'])).toEqual([1, 2, 1]);

    expectError(await replace([{ type: 'assert-view-uuid', uuid: randomUUID() }], [{ action: 'set-properties', updates: { a: 'b' } }]), 409, 'CommitFailedException');
    expectError(await replace([], [{ action: 'add-snapshot', snapshot: {} }]), 400, 'BadRequestException');
    expectError(await replace([{ type: 'assert-table-uuid', uuid }], []), 400, 'BadRequestException');
    expectError(await replace([], [{ action: 'set-current-view-version', 'view-version-id': 99 }]), 400, 'ValidationException');
    expectError(await f.call('POST', '/namespaces/db/views/nope', { updates: [] }), 404, 'NoSuchViewException');
  });

  it('renames and drops views', async () => {
    const rename = (from: string, to: string) => f.call('POST', '/views/rename', { source: { namespace: ['db'], name: from }, destination: { namespace: ['db'], name: to } });
    expect((await rename('v2', 'v2b')).status).toBe(204);
    expect((await f.call('HEAD', '/namespaces/db/views/v2b')).status).toBe(204);
    expectError(await rename('v2', 'x'), 404, 'NoSuchViewException');
    expectError(await rename('v2b', 'tbl'), 409, 'AlreadyExistsException');
    expectError(await rename('tbl', 'x'), 404, 'NoSuchViewException');
    expect((await f.call('DELETE', '/namespaces/db/views/v2b')).status).toBe(204);
    expectError(await f.call('DELETE', '/namespaces/db/views/v2b'), 404, 'NoSuchViewException');
    expectError(await f.call('DELETE', '/namespaces/db/views/tbl'), 404, 'NoSuchViewException');
    expect((await f.call('HEAD', '/namespaces/db/tables/tbl')).status).toBe(204);
  });

  it('registers a view from its metadata file', async () => {
    const loc = (await f.call('GET', '/namespaces/db/views/v3')).body!['metadata-location'];
    const r = await f.call('POST', '/namespaces/db/register-view', { name: 'v3copy', 'metadata-location': loc });
    expect(r.status, r.text).toBe(200);
    expectSchema(LoadViewResult, r.body);
    expect((await f.call('GET', '/namespaces/db/views/v3copy')).body!['metadata-location']).toBe(loc);
    expectError(await f.call('POST', '/namespaces/db/register-view', { name: 'tbl', 'metadata-location': loc }), 409, 'AlreadyExistsException');
  });
});
