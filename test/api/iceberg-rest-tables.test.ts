import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommitTableResponse, IcebergErrorResponse, ListTablesResponse, LoadTableResult } from '../../src/api/iceberg/schemas.js';
import { expectError, expectSchema, SCHEMA, startRest, type RestFixture } from './iceberg-rest-helpers.js';

const BIG1 = 9007199254740993n; // 2^53 + 1: must survive the round trip exactly
const BIG2 = 9123456789012345678n;

describe('Iceberg REST: tables', () => {
  let f: RestFixture;
  beforeAll(async () => {
    f = await startRest();
    await f.call('POST', '/namespaces', { namespace: ['db'] });
    await f.call('POST', '/namespaces', { namespace: ['other'] });
  });
  afterAll(async () => f.close());

  const create = (name: string, extra: Record<string, unknown> = {}, ns = 'db') =>
    f.call('POST', `/namespaces/${ns}/tables`, { name, schema: SCHEMA, ...extra });
  const commit = (name: string, requirements: unknown[], updates: unknown[], headers?: Record<string, string>) =>
    f.call('POST', `/namespaces/db/tables/${name}`, { requirements, updates }, headers);
  const snapshot = (id: bigint, parent: bigint | null, seq: number) => ({
    'snapshot-id': id,
    ...(parent === null ? {} : { 'parent-snapshot-id': parent }),
    'sequence-number': seq,
    'timestamp-ms': Date.now(),
    'manifest-list': `${f.dir}/wh/snap-${id}.avro`,
    summary: { operation: 'append' },
    'schema-id': 0,
  });

  it('creates, lists with paging, checks existence and drops tables', async () => {
    const c = await create('t1', { 'partition-spec': { fields: [{ 'source-id': 1, name: 'id_b', transform: 'bucket[4]' }] }, 'write-order': { fields: [{ 'source-id': 1, transform: 'identity', direction: 'asc', 'null-order': 'nulls-first' }] }, properties: { p: 'v' } });
    expect(c.status).toBe(200);
    expectSchema(LoadTableResult, c.body);
    expect(c.headers.get('etag')).toBeTruthy();
    expect(c.body!.metadata['partition-specs'][0].fields[0]).toMatchObject({ 'field-id': 1000, transform: 'bucket[4]' });
    expect(c.body!.metadata['sort-orders'].find((o: any) => o['order-id'] === 1).fields).toHaveLength(1);
    expectError(await create('t1'), 409, 'AlreadyExistsException');
    expectError(await create('t1', {}, 'nope'), 404, 'NoSuchNamespaceException');
    expectError(await f.call('POST', '/namespaces/db/tables', { name: 'bad', schema: { type: 'struct', fields: [{ id: 1, name: 'x', type: 'nope', required: true }] } }), 400, 'BadRequestException');
    for (const n of ['t2', 't3', 't4']) expect((await create(n)).status).toBe(200);

    const names: string[] = [];
    let token = '';
    for (;;) {
      const r = await f.call('GET', `/namespaces/db/tables?pageSize=3&pageToken=${encodeURIComponent(token)}`);
      expectSchema(ListTablesResponse, r.body);
      names.push(...r.body!.identifiers.map((i: any) => i.name));
      if (!r.body!['next-page-token']) break;
      token = r.body!['next-page-token'];
    }
    expect(names).toEqual(['t1', 't2', 't3', 't4']);
    expect((await f.call('GET', '/namespaces/db/tables')).body!.identifiers).toHaveLength(4);

    expect((await f.call('HEAD', '/namespaces/db/tables/t4')).status).toBe(204);
    expect((await f.call('DELETE', '/namespaces/db/tables/t4?purgeRequested=true')).status).toBe(204);
    expect((await f.call('HEAD', '/namespaces/db/tables/t4')).status).toBe(404);
    expectError(await f.call('DELETE', '/namespaces/db/tables/t4'), 404, 'NoSuchTableException');
    expectError(await f.call('GET', '/namespaces/db/tables/t4'), 404, 'NoSuchTableException');
  });

  it('stage-create returns uncommitted metadata; a commit with assert-create creates the table', async () => {
    const staged = await f.call('POST', '/namespaces/db/tables', { name: 'staged', schema: SCHEMA, 'stage-create': true, properties: { k: 'v' } });
    expect(staged.status).toBe(200);
    expectSchema(LoadTableResult, staged.body);
    expect(staged.body!['metadata-location']).toBeNull();
    expect((await f.call('HEAD', '/namespaces/db/tables/staged')).status).toBe(404);
    const md = staged.body!.metadata;
    const updates = [
      { action: 'assign-uuid', uuid: md['table-uuid'] },
      { action: 'upgrade-format-version', 'format-version': md['format-version'] },
      { action: 'add-schema', schema: md.schemas[0] },
      { action: 'set-current-schema', 'schema-id': -1 },
      { action: 'add-spec', spec: md['partition-specs'][0] },
      { action: 'set-default-spec', 'spec-id': -1 },
      { action: 'add-sort-order', 'sort-order': md['sort-orders'][0] },
      { action: 'set-default-sort-order', 'sort-order-id': -1 },
      { action: 'set-location', location: md.location },
      { action: 'set-properties', updates: md.properties },
      { action: 'add-snapshot', snapshot: snapshot(BIG1, null, 1) },
      { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': BIG1 },
    ];
    const done = await commit('staged', [{ type: 'assert-create' }], updates);
    expect(done.status).toBe(200);
    expectSchema(CommitTableResponse, done.body);
    expect(done.body!.metadata['table-uuid']).toBe(md['table-uuid']);
    expect(done.body!.metadata['current-snapshot-id']).toBe(BIG1);
    const loaded = await f.call('GET', '/namespaces/db/tables/staged');
    expect(loaded.body!.metadata.properties).toEqual({ k: 'v' });
    expect(loaded.body!['metadata-location']).toBe(done.body!['metadata-location']);
    expectError(await commit('staged', [{ type: 'assert-create' }], updates), 409, 'CommitFailedException');
    // A table that exists cannot be stage-created; a commit to a missing table without assert-create is a 404.
    expectError(await f.call('POST', '/namespaces/db/tables', { name: 'staged', schema: SCHEMA, 'stage-create': true }), 409, 'AlreadyExistsException');
    expectError(await commit('never', [], [{ action: 'set-properties', updates: { a: 'b' } }]), 404, 'NoSuchTableException');
  });

  it('load: ETag + If-None-Match (304), snapshots=refs vs all, 64-bit ids exact', async () => {
    await create('snaps');
    const l0 = await f.call('GET', '/namespaces/db/tables/snaps');
    const uuid = l0.body!.metadata['table-uuid'];
    const c1 = await commit('snaps', [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': null }], [
      { action: 'add-snapshot', snapshot: snapshot(BIG1, null, 1) },
      { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': BIG1 },
    ]);
    expect(c1.status).toBe(200);
    const c2 = await commit('snaps', [{ type: 'assert-table-uuid', uuid }, { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': BIG1 }], [
      { action: 'add-snapshot', snapshot: snapshot(BIG2, BIG1, 2) },
      { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': BIG2 },
    ]);
    expect(c2.status).toBe(200);
    expect(c2.text).toContain(`"current-snapshot-id":${BIG2}`);

    const all = await f.call('GET', '/namespaces/db/tables/snaps');
    expectSchema(LoadTableResult, all.body);
    expect(all.body!.metadata.snapshots.map((s: any) => s['snapshot-id'])).toEqual([BIG1, BIG2]);
    expect((await f.call('GET', '/namespaces/db/tables/snaps?snapshots=all')).body!.metadata.snapshots).toHaveLength(2);
    const refs = await f.call('GET', '/namespaces/db/tables/snaps?snapshots=refs');
    expectSchema(LoadTableResult, refs.body);
    expect(refs.body!.metadata.snapshots.map((s: any) => s['snapshot-id'])).toEqual([BIG2]);
    expectError(await f.call('GET', '/namespaces/db/tables/snaps?snapshots=some'), 400, 'BadRequestException');

    const etag = all.headers.get('etag')!;
    expect(refs.headers.get('etag')).not.toBe(etag);
    const nm = await f.call('GET', '/namespaces/db/tables/snaps', undefined, { 'if-none-match': etag });
    expect(nm.status).toBe(304);
    expect(nm.text).toBe('');
    expect((await f.call('GET', '/namespaces/db/tables/snaps?snapshots=refs', undefined, { 'if-none-match': etag })).status).toBe(200);
    // A tag on the old snapshot makes it referenced again; the commit changes the ETag.
    await commit('snaps', [], [{ action: 'set-snapshot-ref', 'ref-name': 'v1', type: 'tag', 'snapshot-id': BIG1 }]);
    const after = await f.call('GET', '/namespaces/db/tables/snaps?snapshots=refs', undefined, { 'if-none-match': etag });
    expect(after.status).toBe(200);
    expect(after.body!.metadata.snapshots).toHaveLength(2);
  });

  it('checks every requirement type (pass and fail) and applies every update type', async () => {
    const c = await create('req', { properties: { 'format-version': '1' } });
    const md = c.body!.metadata;
    expect(md['format-version']).toBe(1);
    const ok = [
      { type: 'assert-table-uuid', uuid: md['table-uuid'] },
      { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': null },
      { type: 'assert-last-assigned-field-id', 'last-assigned-field-id': md['last-column-id'] },
      { type: 'assert-current-schema-id', 'current-schema-id': md['current-schema-id'] },
      { type: 'assert-last-assigned-partition-id', 'last-assigned-partition-id': md['last-partition-id'] },
      { type: 'assert-default-spec-id', 'default-spec-id': md['default-spec-id'] },
      { type: 'assert-default-sort-order-id', 'default-sort-order-id': md['default-sort-order-id'] },
    ];
    const bad = [
      { type: 'assert-create' },
      { type: 'assert-table-uuid', uuid: randomUUID() },
      { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': 1 },
      { type: 'assert-last-assigned-field-id', 'last-assigned-field-id': 99 },
      { type: 'assert-current-schema-id', 'current-schema-id': 7 },
      { type: 'assert-last-assigned-partition-id', 'last-assigned-partition-id': 2000 },
      { type: 'assert-default-spec-id', 'default-spec-id': 3 },
      { type: 'assert-default-sort-order-id', 'default-sort-order-id': 4 },
    ];
    const before = (await f.call('GET', '/namespaces/db/tables/req')).body!['metadata-location'];
    for (const r of bad) {
      const res = await commit('req', [...ok, r], [{ action: 'set-properties', updates: { x: 'y' } }]);
      expectError(res, 409, 'CommitFailedException');
    }
    expect((await f.call('GET', '/namespaces/db/tables/req')).body!['metadata-location']).toBe(before);
    expectError(await commit('req', [{ type: 'assert-something' }], []), 400, 'BadRequestException');
    expectError(await commit('req', [{ type: 'assert-current-schema-id' }], []), 400, 'BadRequestException');
    expectError(await commit('req', [{ type: 'assert-current-schema-id', 'current-schema-id': BIG2 }], []), 400, 'BadRequestException');

    const newSchema = { type: 'struct', 'schema-id': 1, fields: [...SCHEMA.fields, { id: 3, name: 'ts', type: 'timestamptz', required: false }] };
    const up = await commit('req', ok, [
      { action: 'upgrade-format-version', 'format-version': 2 },
      { action: 'assign-uuid', uuid: md['table-uuid'] },
      { action: 'add-schema', schema: newSchema },
      { action: 'set-current-schema', 'schema-id': -1 },
      { action: 'add-spec', spec: { fields: [{ 'source-id': 3, name: 'ts_day', transform: 'day' }] } },
      { action: 'set-default-spec', 'spec-id': -1 },
      { action: 'add-sort-order', 'sort-order': { 'order-id': 1, fields: [{ 'source-id': 1, transform: 'identity', direction: 'desc', 'null-order': 'nulls-last' }] } },
      { action: 'set-default-sort-order', 'sort-order-id': -1 },
      { action: 'set-properties', updates: { a: '1', b: '2' } },
      { action: 'remove-properties', removals: ['b'] },
      { action: 'set-location', location: `${f.dir}/wh/db.db/req-moved` },
      { action: 'add-snapshot', snapshot: snapshot(BIG1, null, 1) },
      { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': BIG1 },
      { action: 'set-snapshot-ref', 'ref-name': 'tag1', type: 'tag', 'snapshot-id': BIG1, 'max-ref-age-ms': 1000 },
      {
        action: 'set-statistics',
        statistics: { 'snapshot-id': BIG1, 'statistics-path': `${f.dir}/s.puffin`, 'file-size-in-bytes': 10, 'file-footer-size-in-bytes': 5, 'blob-metadata': [] },
      },
      { action: 'set-partition-statistics', 'partition-statistics': { 'snapshot-id': BIG1, 'statistics-path': `${f.dir}/p.parquet`, 'file-size-in-bytes': 10 } },
    ]);
    expect(up.status, up.text).toBe(200);
    const m = up.body!.metadata;
    expect(m['format-version']).toBe(2);
    expect(m['current-schema-id']).toBe(1);
    expect(m['default-spec-id']).toBe(1);
    expect(m['default-sort-order-id']).toBe(1);
    expect(m.properties).toEqual({ a: '1' });
    expect(m.location).toMatch(/req-moved$/);
    expect(Object.keys(m.refs).sort()).toEqual(['main', 'tag1']);
    expect(m.statistics).toHaveLength(1);
    expect(m['partition-statistics']).toHaveLength(1);

    const down = await commit('req', [{ type: 'assert-default-spec-id', 'default-spec-id': 1 }], [
      { action: 'remove-statistics', 'snapshot-id': BIG1 },
      { action: 'remove-partition-statistics', 'snapshot-id': BIG1 },
      { action: 'remove-snapshot-ref', 'ref-name': 'tag1' },
      { action: 'remove-partition-specs', 'spec-ids': [0] },
      { action: 'remove-schemas', 'schema-ids': [0] },
    ]);
    expect(down.status, down.text).toBe(200);
    expect(down.body!.metadata.statistics ?? []).toHaveLength(0);
    expect(down.body!.metadata['partition-specs'].map((s: any) => s['spec-id'])).toEqual([1]);
    expect(down.body!.metadata.schemas.map((s: any) => s['schema-id'])).toEqual([1]);
    const rm = await commit('req', [], [
      { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': BIG1 },
      { action: 'remove-snapshot-ref', 'ref-name': 'main' },
      { action: 'remove-snapshots', 'snapshot-ids': [BIG1] },
    ]);
    expect(rm.status, rm.text).toBe(200);
    expect(rm.body!.metadata.snapshots).toEqual([]);
    expectError(await commit('req', [], [{ action: 'add-encryption-key', 'encryption-key': {} }]), 406, 'UnsupportedOperationException');
    expectError(await commit('req', [], [{ action: 'add-view-version', 'view-version': {} }]), 400, 'BadRequestException');
    expectError(await commit('req', [], [{ action: 'nope' }]), 400, 'BadRequestException');
    expectError(await f.call('POST', '/namespaces/db/tables/req', { updates: [] }), 400, 'BadRequestException');
  });

  it('renames (across namespaces), registers (with overwrite) and unregisters', async () => {
    const c = await create('ren');
    const loc = c.body!['metadata-location'];
    const rename = (from: [string, string], to: [string, string]) =>
      f.call('POST', '/tables/rename', { source: { namespace: [from[0]], name: from[1] }, destination: { namespace: [to[0]], name: to[1] } });
    expect((await rename(['db', 'ren'], ['other', 'ren2'])).status).toBe(204);
    expect((await f.call('HEAD', '/namespaces/other/tables/ren2')).status).toBe(204);
    expectError(await rename(['db', 'ren'], ['db', 'x']), 404, 'NoSuchTableException');
    expectError(await rename(['other', 'ren2'], ['db', 't1']), 409, 'AlreadyExistsException');
    expectError(await rename(['other', 'ren2'], ['nope', 'x']), 404, 'NoSuchNamespaceException');
    expectError(await f.call('POST', '/tables/rename', { source: { namespace: ['db'] } }), 400, 'BadRequestException');

    const reg = await f.call('POST', '/namespaces/db/register', { name: 'reg', 'metadata-location': loc });
    expect(reg.status).toBe(200);
    expectSchema(LoadTableResult, reg.body);
    expect(reg.body!['metadata-location']).toBe(loc);
    expectError(await f.call('POST', '/namespaces/db/register', { name: 'reg', 'metadata-location': loc }), 409, 'AlreadyExistsException');
    const other = (await f.call('GET', '/namespaces/db/tables/t1')).body!['metadata-location'];
    const over = await f.call('POST', '/namespaces/db/register', { name: 'reg', 'metadata-location': other, overwrite: true });
    expect(over.status).toBe(200);
    expect((await f.call('GET', '/namespaces/db/tables/reg')).body!['metadata-location']).toBe(other);
    expectError(await f.call('POST', '/namespaces/db/register', { name: 'r2', 'metadata-location': `${f.dir}/missing.metadata.json` }), 400, 'BadRequestException');
    expectError(await f.call('POST', '/namespaces/nope/register', { name: 'r2', 'metadata-location': loc }), 404, 'NoSuchNamespaceException');

    const un = await f.call('POST', '/namespaces/db/tables/reg/unregister');
    expect(un.status).toBe(200);
    expect(un.body!['metadata-location']).toBe(other);
    expect((await f.call('HEAD', '/namespaces/db/tables/reg')).status).toBe(404);
    expect((await f.call('GET', '/namespaces/db/tables/t1')).status).toBe(200);
  });

  it('accepts metrics reports (204), validates them (400) and 404s unknown tables', async () => {
    const report = {
      'report-type': 'commit-report',
      'table-name': 'lakehouse.db.t1',
      'snapshot-id': BIG1,
      'sequence-number': 1,
      operation: 'append',
      metrics: { 'added-data-files': { unit: 'count', value: 1 }, 'total-duration': { 'time-unit': 'nanoseconds', count: 1, 'total-duration': 5 } },
    };
    expect((await f.call('POST', '/namespaces/db/tables/t1/metrics', report)).status).toBe(204);
    const scan = { 'report-type': 'scan-report', 'table-name': 'db.t1', 'snapshot-id': 1, filter: true, 'schema-id': 0, 'projected-field-ids': [1], 'projected-field-names': ['id'], metrics: {} };
    expect((await f.call('POST', '/namespaces/db/tables/t1/metrics', scan)).status).toBe(204);
    expectError(await f.call('POST', '/namespaces/db/tables/t1/metrics', { 'report-type': 'commit-report' }), 400, 'BadRequestException');
    expectError(await f.call('POST', '/namespaces/db/tables/zz/metrics', report), 404, 'NoSuchTableException');
  });

  it('commits multi-table transactions atomically', async () => {
    await create('tx1');
    await create('tx2');
    const loc = async (n: string) => (await f.call('GET', `/namespaces/db/tables/${n}`)).body!['metadata-location'];
    const [l1, l2] = [await loc('tx1'), await loc('tx2')];
    const change = (name: string, schemaId: number, props: Record<string, string>) => ({
      identifier: { namespace: ['db'], name },
      requirements: [{ type: 'assert-current-schema-id', 'current-schema-id': schemaId }],
      updates: [{ action: 'set-properties', updates: props }],
    });
    const failed = await f.call('POST', '/transactions/commit', { 'table-changes': [change('tx1', 0, { a: '1' }), change('tx2', 5, { a: '1' })] });
    expectError(failed, 409, 'CommitFailedException');
    expectSchema(IcebergErrorResponse, failed.body);
    expect([await loc('tx1'), await loc('tx2')]).toEqual([l1, l2]);

    const missing = await f.call('POST', '/transactions/commit', { 'table-changes': [change('tx1', 0, { a: '1' }), change('zz', 0, {})] });
    expectError(missing, 404, 'NoSuchTableException');
    expect(await loc('tx1')).toBe(l1);
    expectError(await f.call('POST', '/transactions/commit', { 'table-changes': [change('tx1', 0, {}), change('tx1', 0, {})] }), 400, 'BadRequestException');
    expectError(await f.call('POST', '/transactions/commit', { 'table-changes': [{ ...change('tx1', 0, {}), updates: [{ action: 'bogus' }] }] }), 400, 'BadRequestException');
    expectError(await f.call('POST', '/transactions/commit', { 'table-changes': [] }), 400, 'BadRequestException');

    const ok = await f.call('POST', '/transactions/commit', { 'table-changes': [change('tx1', 0, { a: '1' }), change('tx2', 0, { b: '2' })] });
    expect(ok.status).toBe(204);
    const t1 = await f.call('GET', '/namespaces/db/tables/tx1');
    const t2 = await f.call('GET', '/namespaces/db/tables/tx2');
    expect(t1.body!['metadata-location']).not.toBe(l1);
    expect(t1.body!.metadata.properties).toEqual({ a: '1' });
    expect(t2.body!.metadata.properties).toEqual({ b: '2' });
  });

  it('replays Idempotency-Key requests (same status and body, no second effect), concurrent duplicates included', async () => {
    const key = randomUUID();
    const h = { 'idempotency-key': key };
    const first = await f.call('POST', '/namespaces', { namespace: ['idem'] }, h);
    expect(first.status).toBe(200);
    const again = await f.call('POST', '/namespaces', { namespace: ['idem'] }, h);
    expect(again.status).toBe(200);
    expect(again.text).toBe(first.text);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    // The same key on another route is another operation; without a key the retry conflicts.
    expectError(await f.call('POST', '/namespaces', { namespace: ['idem'] }), 409, 'AlreadyExistsException');

    await create('idt');
    const k2 = { 'idempotency-key': randomUUID() };
    const upd = [{ action: 'set-properties', updates: { n: '1' } }];
    const [a, b] = await Promise.all([commit('idt', [], upd, k2), commit('idt', [], upd, k2)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.text).toBe(b.text);
    const c = await commit('idt', [], upd, k2);
    expect(c.text).toBe(a.text);
    const log = (await f.call('GET', '/namespaces/db/tables/idt')).body!.metadata['metadata-log'];
    expect(log).toHaveLength(1); // one commit only

    // Deterministic 4xx are finalized and replayed too.
    const k3 = { 'idempotency-key': randomUUID() };
    const conflict = await commit('idt', [{ type: 'assert-current-schema-id', 'current-schema-id': 9 }], upd, k3);
    expect(conflict.status).toBe(409);
    expect((await commit('idt', [{ type: 'assert-current-schema-id', 'current-schema-id': 9 }], upd, k3)).text).toBe(conflict.text);
    expectError(await f.call('POST', '/namespaces', { namespace: ['idem2'] }, { 'idempotency-key': 'not-a-uuid' }), 400, 'BadRequestException');
  });
});
