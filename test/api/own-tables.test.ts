import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Duck } from '../../src/duck/db.js';
import { appendSql } from '../../src/table/table-ops.js';
import { startTestServer, type TestServer } from './own-support.js';

describe('own API: tables', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('warn');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('creates a partitioned table from simple JSON and describes it', async () => {
    const r = await s.call('POST', '/api/v1/tables', {
      namespace: 'sales.eu',
      name: 'orders',
      columns: [
        { name: 'id', type: 'long', required: true, doc: 'order id', tags: ['pk'] },
        { name: 'ts', type: 'timestamptz' },
        { name: 'amount', type: 'decimal(10,2)', tags: ['money', 'pii'] },
        { name: 'address', type: { type: 'struct', fields: [{ id: 1, name: 'city', type: 'string', required: false }] } },
        { name: 'items', type: { type: 'list', 'element-id': 1, element: 'string', 'element-required': false } },
      ],
      partitioning: ['day(ts)', 'bucket(16, id)'],
      properties: { owner: 'ana' },
    });
    expect(r.status, r.text).toBe(201);
    expect(r.body.partitioning).toEqual(['day(ts)', 'bucket(16, id)']);
    const id = r.body.columns.find((c: any) => c.name === 'id');
    expect(id).toMatchObject({ id: 1, type: 'long', required: true, doc: 'order id', tags: ['pk'] });
    expect(r.body.columns.find((c: any) => c.name === 'address.city')).toBeTruthy();
    expect(r.body.properties['lakehouse.column-tags.3']).toBe('["money","pii"]');
    expect(r.body.properties.owner).toBe('ana');
    expect(r.body.currentSnapshot).toBeNull();
    expect(r.body.stats).toEqual({ rowCount: 0, fileCount: 0, totalSizeBytes: 0 });

    expect((await s.call('POST', '/api/v1/tables', { namespace: 'sales.eu', name: 'orders', columns: [{ name: 'x', type: 'int' }] })).status).toBe(409);
    const bad = await s.call('POST', '/api/v1/tables', { namespace: 'sales', name: 't', columns: [{ name: 'x', type: 'nope' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 400 });
    const badPart = await s.call('POST', '/api/v1/tables', { namespace: 'sales', name: 't', columns: [{ name: 'x', type: 'int' }], partitioning: ['day(x)'] });
    expect(badPart.status).toBe(400);
    const missingField = await s.call('POST', '/api/v1/tables', { namespace: 'sales', name: 't' });
    expect(missingField.status).toBe(400);
    expect(missingField.body.error.type).toBe('ValidationException');

    const list = await s.call('GET', '/api/v1/namespaces/sales.eu/tables');
    expect(list.body).toEqual({ namespace: 'sales.eu', tables: ['orders'] });
    expect((await s.call('GET', '/api/v1/tables/sales.eu/nope')).status).toBe(404);
  });

  it('evolves the schema (add, rename, drop, widen, doc, tags) with requirements', async () => {
    await s.call('POST', '/api/v1/tables', { namespace: 'ev', name: 't', columns: [{ name: 'a', type: 'int' }, { name: 'b', type: 'string' }, { name: 'c', type: 'float', tags: ['x'] }] });
    const r = await s.call('PATCH', '/api/v1/tables/ev/t/schema', {
      expectedSchemaId: 0,
      changes: [
        { op: 'widen', column: 'a', type: 'long' },
        { op: 'rename', column: 'b', newName: 'name' },
        { op: 'drop', column: 'c' },
        { op: 'add', name: 'd', type: 'date', doc: 'new', tags: ['t1'] },
        { op: 'doc', column: 'a', doc: 'the a' },
        { op: 'tags', column: 'name', tags: ['pii'] },
      ],
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body.schemaId).toBe(1);
    expect(r.body.columns.map((c: any) => [c.name, c.type, c.doc ?? null, c.tags])).toEqual([
      ['a', 'long', 'the a', []],
      ['name', 'string', null, ['pii']],
      ['d', 'date', 'new', ['t1']],
    ]);
    expect(r.body.properties['lakehouse.column-tags.3']).toBeUndefined();
    const stale = await s.call('PATCH', '/api/v1/tables/ev/t/schema', { expectedSchemaId: 0, changes: [{ op: 'drop', column: 'd' }] });
    expect(stale.status).toBe(409);
    const narrow = await s.call('PATCH', '/api/v1/tables/ev/t/schema', { changes: [{ op: 'widen', column: 'a', type: 'int' }] });
    expect(narrow.status).toBe(400);
    const req = await s.call('PATCH', '/api/v1/tables/ev/t/schema', { changes: [{ op: 'add', name: 'r', type: 'int', required: true }] });
    expect(req.status).toBe(400);
  });

  it('lists snapshots and history, rolls back, manages branches and tags, drops', async () => {
    await s.call('POST', '/api/v1/tables', { namespace: 'snap', name: 't', columns: [{ name: 'id', type: 'long' }] });
    const duck = await Duck.open();
    try {
      const ident = { namespace: ['snap'], name: 't' };
      await appendSql(s.catalog, ident, duck, 'SELECT 1::BIGINT AS id');
      await appendSql(s.catalog, ident, duck, 'SELECT * FROM range(2, 4) r(id)');
    } finally {
      duck.close();
    }
    const d = await s.call('GET', '/api/v1/tables/snap/t');
    expect(d.body.stats.rowCount).toBe(3);
    expect(d.body.stats.fileCount).toBe(2);
    expect(d.body.stats.totalSizeBytes).toBeGreaterThan(0);
    const snaps = (await s.call('GET', '/api/v1/tables/snap/t/snapshots')).body.snapshots;
    expect(snaps).toHaveLength(2);
    expect(typeof snaps[0].snapshotId).toBe('string');
    expect(snaps[1].parentSnapshotId).toBe(snaps[0].snapshotId);
    const hist = (await s.call('GET', '/api/v1/tables/snap/t/history')).body.history;
    expect(hist.map((h: any) => h.isCurrentAncestor)).toEqual([true, true]);

    const tag = await s.call('POST', '/api/v1/tables/snap/t/refs', { name: 'v2', type: 'tag' });
    expect(tag.status, tag.text).toBe(201);
    const br = await s.call('POST', '/api/v1/tables/snap/t/refs', { name: 'dev', type: 'branch', snapshotId: snaps[0].snapshotId });
    expect(br.body.refs.map((r: any) => [r.name, r.type])).toEqual([['dev', 'branch'], ['main', 'branch'], ['v2', 'tag']]);
    expect((await s.call('POST', '/api/v1/tables/snap/t/refs', { name: 'dev', type: 'branch' })).status).toBe(409);

    const rb = await s.call('POST', '/api/v1/tables/snap/t/rollback', { snapshotId: snaps[0].snapshotId });
    expect(rb.status, rb.text).toBe(200);
    expect(rb.body.currentSnapshot.snapshotId).toBe(snaps[0].snapshotId);
    expect(rb.body.stats.rowCount).toBe(1);
    expect((await s.call('POST', '/api/v1/tables/snap/t/rollback', { snapshotId: snaps[1].snapshotId })).status).toBe(400);
    expect((await s.call('POST', '/api/v1/tables/snap/t/rollback', { snapshotId: '123' })).status).toBe(404);

    expect((await s.call('DELETE', '/api/v1/tables/snap/t/refs/dev')).status).toBe(204);
    expect((await s.call('DELETE', '/api/v1/tables/snap/t/refs/main')).status).toBe(400);
    expect((await s.call('DELETE', '/api/v1/tables/snap/t/refs/nope')).status).toBe(404);
    expect((await s.call('DELETE', '/api/v1/tables/snap/t?purge=true')).status).toBe(204);
    expect((await s.call('GET', '/api/v1/tables/snap/t')).status).toBe(404);
  });
});
