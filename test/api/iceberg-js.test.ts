import { IcebergError, IcebergRestCatalog } from 'iceberg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog, CommitRequest, LoadedTable } from '../../src/catalog/catalog.js';
import type { TableIdent } from '../../src/catalog/store.js';
import { ERRORS, lakehouseError, type ErrorCode } from '../../src/core/errors.js';
import { parseJsonLossless, stringifyJson } from '../../src/core/json.js';
import { Duck } from '../../src/duck/db.js';
import { currentSchema, currentSnapshot, defaultSpec, parseTableMetadata } from '../../src/iceberg/metadata.js';
import { writeDataFiles } from '../../src/table/data-writer.js';
import { queryTable } from '../../src/table/scan-query.js';
import { fastAppend } from '../../src/table/snapshot-producer.js';
import { SCHEMA, startRest, type RestFixture } from './iceberg-rest-helpers.js';

/**
 * Drives our REST catalog with an independent client, iceberg-js (Supabase). iceberg-js parses
 * with JSON.parse and serialises with JSON.stringify, so it can neither read 64-bit snapshot ids
 * exactly nor send bigint ones: our writer's commits (random 63-bit snapshot ids) go through a
 * small REST Catalog adapter using lossless JSON over fetch; everything else is iceberg-js.
 */
function restCatalogAdapter(f: RestFixture): Catalog {
  const url = (id: TableIdent) => `${f.root}/lakehouse/namespaces/${encodeURIComponent(id.namespace.join('\u001f'))}/tables/${encodeURIComponent(id.name)}`;
  const request = async (method: string, u: string, body?: unknown) => {
    const res = await fetch(u, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? stringifyJson(body) : undefined });
    const json = parseJsonLossless(await res.text()) as Record<string, any>;
    if (!res.ok) {
      const code = (Object.keys(ERRORS) as ErrorCode[]).find((k) => ERRORS[k].type === json.error?.type && ERRORS[k].status === res.status) ?? 'INTERNAL';
      throw lakehouseError(code, json.error?.message ?? `HTTP ${res.status}`);
    }
    return json;
  };
  const loaded = (ident: TableIdent, json: Record<string, any>): LoadedTable => ({
    ident,
    metadataLocation: json['metadata-location'],
    metadata: parseTableMetadata(json.metadata),
    io: f.catalog.io,
  });
  const unsupported = () => Promise.reject(new Error('not used'));
  return {
    name: 'rest',
    loadTable: async (ident) => loaded(ident, await request('GET', url(ident))),
    commitTable: async (ident, req: CommitRequest) => loaded(ident, await request('POST', url(ident), req)),
    createNamespace: unsupported,
    listNamespaces: unsupported,
    loadNamespace: unsupported,
    dropNamespace: unsupported,
    listTables: unsupported,
    createTable: unsupported,
    tableExists: unsupported,
    dropTable: unsupported,
    renameTable: unsupported,
    defaultTableLocation: () => '',
    close: async () => undefined,
  };
}

describe('iceberg-js (external REST client) against our catalog', () => {
  let f: RestFixture;
  let client: IcebergRestCatalog;
  let duck: Duck;
  beforeAll(async () => {
    f = await startRest();
    // baseUrl is the server root; iceberg-js appends `v1/{catalogName}` (our overrides.prefix).
    client = new IcebergRestCatalog({ baseUrl: f.root.replace(/\/v1$/, '/'), catalogName: 'lakehouse', auth: { type: 'none' } });
    duck = await Duck.open({ threads: 1 });
  });
  afterAll(async () => {
    duck.close();
    await f.close();
  });

  it('manages namespaces', async () => {
    const created = await client.createNamespace({ namespace: ['analytics'] }, { properties: { owner: 'data-team' } });
    // The service reports where the namespace's tables go as its location (docs/engines.md).
    const location = expect.stringMatching(/\/analytics\.db$/);
    expect(created).toEqual({ namespace: ['analytics'], properties: { owner: 'data-team', location } });
    await client.createNamespace({ namespace: ['analytics', 'prod'] });
    await client.createNamespaceIfNotExists({ namespace: ['analytics'] });
    expect(await client.listNamespaces()).toEqual([{ namespace: ['analytics'] }]);
    expect(await client.listNamespaces({ namespace: ['analytics'] })).toEqual([{ namespace: ['analytics', 'prod'] }]);
    expect(await client.loadNamespaceMetadata({ namespace: ['analytics'] })).toEqual({ properties: { owner: 'data-team', location } });
    expect(await client.namespaceExists({ namespace: ['analytics', 'prod'] })).toBe(true);
    expect(await client.namespaceExists({ namespace: ['nope'] })).toBe(false);
    await client.dropNamespace({ namespace: ['analytics', 'prod'] });
    expect(await client.namespaceExists({ namespace: ['analytics', 'prod'] })).toBe(false);
    const err = await client.loadNamespaceMetadata({ namespace: ['nope'] }).catch((e) => e);
    expect(err).toBeInstanceOf(IcebergError);
    expect({ status: err.status, type: err.icebergType }).toEqual({ status: 404, type: 'NoSuchNamespaceException' });
  });

  it('creates and loads a table, commits our writer\'s append, renames and drops it', async () => {
    const md = await client.createTable({ namespace: ['analytics'] }, {
      name: 'events',
      schema: { ...SCHEMA, 'schema-id': 0 } as never,
      'partition-spec': { 'spec-id': 0, fields: [] },
      'write-order': { 'order-id': 0, fields: [] },
      properties: { 'write.format.default': 'parquet' },
    });
    expect(md['format-version']).toBe(2);
    expect(md.properties).toEqual({ 'write.format.default': 'parquet' });
    expect(await client.tableExists({ namespace: ['analytics'], name: 'events' })).toBe(true);
    expect(await client.listTables({ namespace: ['analytics'] })).toEqual([{ namespace: ['analytics'], name: 'events' }]);
    const dup = await client.createTable({ namespace: ['analytics'] }, { name: 'events', schema: SCHEMA as never }).catch((e) => e);
    expect({ status: dup.status, type: dup.icebergType }).toEqual({ status: 409, type: 'AlreadyExistsException' });

    // iceberg-js's updateTable posts its body as-is: a spec CommitTableRequest works.
    const upd = await client.updateTable({ namespace: ['analytics'], name: 'events' }, {
      requirements: [{ type: 'assert-table-uuid', uuid: md['table-uuid'] }],
      updates: [{ action: 'set-properties', updates: { 'write.target-file-size-bytes': '1048576' } }],
    } as never);
    expect(upd.metadata.properties['write.target-file-size-bytes']).toBe('1048576');

    // Our writer: Parquet data files + manifest + manifest list, committed through the REST API.
    const rest = restCatalogAdapter(f);
    const ident = { namespace: ['analytics'], name: 'events' };
    const base = await rest.loadTable(ident);
    const files = await writeDataFiles({
      duck,
      io: base.io,
      location: base.metadata.location,
      schema: currentSchema(base.metadata),
      spec: defaultSpec(base.metadata),
      properties: base.metadata.properties,
      sourceSql: `SELECT range AS id, 'n' || range AS name FROM range(0, 100)`,
    });
    const committed = await fastAppend(rest, ident, files, {}, base);
    const snap = currentSnapshot(committed.metadata)!;
    expect(snap.summary['added-records']).toBe('100');

    const seen = await client.loadTable(ident);
    expect(seen.snapshots).toHaveLength(1);
    expect((seen.snapshots![0] as { summary: Record<string, string> }).summary['total-records']).toBe('100');
    // JSON.parse rounds ids beyond 2^53; the lossless load has the exact one.
    expect(Number(seen['current-snapshot-id'])).toBe(Number(snap['snapshot-id']));
    const again = await rest.loadTable(ident);
    expect(again.metadata['current-snapshot-id']).toBe(snap['snapshot-id']);
    const res = await queryTable({ io: again.io, metadata: again.metadata, resolve: (p) => p }, 'SELECT count(*), sum(id) FROM t');
    expect(res.rows).toEqual([[100, 4950]]);

    // Rename is not in iceberg-js: the spec route over fetch, then iceberg-js sees the result.
    const r = await fetch(`${f.root}/lakehouse/tables/rename`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ source: ident, destination: { namespace: ['analytics'], name: 'events2' } }),
    });
    expect(r.status).toBe(204);
    expect(await client.tableExists(ident)).toBe(false);
    expect((await client.loadTable({ namespace: ['analytics'], name: 'events2' })).snapshots).toHaveLength(1);

    await client.dropTable({ namespace: ['analytics'], name: 'events2' }, { purge: true });
    expect(await client.tableExists({ namespace: ['analytics'], name: 'events2' })).toBe(false);
    expect(await client.listTables({ namespace: ['analytics'] })).toEqual([]);
    await client.dropNamespace({ namespace: ['analytics'] });
    expect(await client.listNamespaces()).toEqual([]);
  });
});
