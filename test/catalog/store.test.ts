import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { isLakehouseError, type ErrorCode } from '../../src/core/errors.js';
import { openCatalogStore, parseCatalogUrl, type SqlCatalogStore } from '../../src/catalog/open-store.js';
import type { TableIdent } from '../../src/catalog/store.js';
import { startPostgres, lastClusterStartMs } from '../support/postgres.js';

interface Backend {
  name: 'sqlite' | 'postgres';
  setup(): Promise<{ url: string; stop(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'lakehouse-catalog-'));
      return { url: `sqlite:${join(dir, 'catalog.db')}`, stop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  { name: 'postgres', setup: startPostgres },
];

async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeDefined();
  if (!isLakehouseError(err)) throw err;
  expect(err.code).toBe(code);
}

const t = (namespace: string[], name: string): TableIdent => ({ namespace, name });

describe('parseCatalogUrl', () => {
  it('recognises the supported forms', () => {
    expect(parseCatalogUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
    expect(parseCatalogUrl('sqlite:/tmp/x.db')).toEqual({ kind: 'sqlite', path: '/tmp/x.db' });
    expect(parseCatalogUrl('sqlite:///tmp/x')).toEqual({ kind: 'sqlite', path: '/tmp/x' });
    expect(parseCatalogUrl('warehouse/catalog.db')).toEqual({ kind: 'sqlite', path: 'warehouse/catalog.db' });
    expect(parseCatalogUrl('postgres://u@h:1/d')).toEqual({ kind: 'postgres', url: 'postgres://u@h:1/d' });
    expect(parseCatalogUrl('postgresql://u@h/d')).toEqual({ kind: 'postgres', url: 'postgresql://u@h/d' });
    expect(() => parseCatalogUrl('mysql://x')).toThrow(/Unsupported catalog URL/);
  });

  it('works in memory', async () => {
    const store = await openCatalogStore('sqlite::memory:', { migrate: true });
    await store.createNamespace(['a'], {});
    await store.createTable(t(['a'], 't'), 'm0');
    expect(await store.swapMetadataLocation(t(['a'], 't'), 'm0', 'm1')).toBe(true);
    await store.close();
  });
});

describe.each(backends)('catalog store on $name', (backend) => {
  let env: { url: string; stop(): Promise<void> };
  let store: SqlCatalogStore;
  const extra: SqlCatalogStore[] = [];
  let n = 0;

  /** Another store on the same database (another pool/connection), same catalog by default. */
  async function open(catalogName = store.catalogName): Promise<SqlCatalogStore> {
    const s = await openCatalogStore(env.url, { catalogName });
    extra.push(s);
    return s;
  }

  beforeAll(async () => {
    const t0 = Date.now();
    env = await backend.setup();
    if (backend.name === 'postgres') {
      console.log(`[${backend.name}] cluster start ${lastClusterStartMs} ms, database ready ${Date.now() - t0} ms`);
    }
    const s = await openCatalogStore(env.url, { migrate: true });
    await s.migrate(); // idempotent
    await s.close();
  });

  afterAll(async () => {
    await env?.stop();
  });

  // Each test gets its own catalog name: isolation, and it exercises catalog scoping.
  beforeEach(async () => {
    store = await openCatalogStore(env.url, { catalogName: `test_${++n}` });
    expect(store.kind).toBe(backend.name);
  });

  afterEach(async () => {
    await store.close();
    await Promise.all(extra.splice(0).map((s) => s.close()));
  });

  it('migrates concurrently and idempotently', async () => {
    const stores = await Promise.all([1, 2, 3].map(() => open()));
    await Promise.all(stores.map((s) => s.migrate()));
    await store.migrate();
  });

  it('creates, loads and drops namespaces', async () => {
    await store.createNamespace(['a'], { owner: 'me', exists: 'a property like any other' });
    expect(await store.namespaceExists(['a'])).toBe(true);
    expect(await store.namespaceExists(['b'])).toBe(false);
    expect(await store.loadNamespace(['a'])).toEqual({ owner: 'me', exists: 'a property like any other' });
    await expectCode(store.createNamespace(['a'], {}), 'ALREADY_EXISTS');
    await expectCode(store.loadNamespace(['b']), 'NO_SUCH_NAMESPACE');
    await expectCode(store.dropNamespace(['b']), 'NO_SUCH_NAMESPACE');
    await expectCode(store.createNamespace([], {}), 'BAD_REQUEST');
    await expectCode(store.createNamespace(['x', ''], {}), 'BAD_REQUEST');
    await expectCode(store.createNamespace(['x\x1fy'], {}), 'BAD_REQUEST');

    await store.dropNamespace(['a']);
    expect(await store.namespaceExists(['a'])).toBe(false);
    await store.createNamespace(['a'], {});
    expect(await store.loadNamespace(['a'])).toEqual({}); // properties went with the namespace
  });

  it('nests namespaces; lists direct children only', async () => {
    await expectCode(store.createNamespace(['a', 'b'], {}), 'NO_SUCH_NAMESPACE'); // parent must exist
    await store.createNamespace(['a'], {});
    await store.createNamespace(['a', 'b'], { level: '2' });
    await store.createNamespace(['a', 'b', 'c'], {});
    await store.createNamespace(['a', 'd.e'], {}); // dots are just characters
    await store.createNamespace(['z'], {});
    await store.createNamespace(['a.b'], {}); // not the same as ['a', 'b']

    expect((await store.listNamespaces([])).items).toEqual([['a'], ['a.b'], ['z']]);
    expect((await store.listNamespaces(['a'])).items).toEqual([['a', 'b'], ['a', 'd.e']]);
    expect((await store.listNamespaces(['a', 'b'])).items).toEqual([['a', 'b', 'c']]);
    expect((await store.listNamespaces(['a', 'b', 'c'])).items).toEqual([]);
    expect((await store.listNamespaces(['a.b'])).items).toEqual([]);
    await expectCode(store.listNamespaces(['nope']), 'NO_SUCH_NAMESPACE');
    expect(await store.loadNamespace(['a', 'b'])).toEqual({ level: '2' });

    await expectCode(store.dropNamespace(['a', 'b']), 'NAMESPACE_NOT_EMPTY');
    await store.dropNamespace(['a', 'b', 'c']);
    await store.dropNamespace(['a', 'b']);
    expect((await store.listNamespaces(['a'])).items).toEqual([['a', 'd.e']]);
  });

  it('updates namespace properties with REST semantics', async () => {
    await store.createNamespace(['ns'], { a: '1', b: '2', c: '3' });
    const res = await store.updateNamespaceProperties(['ns'], ['a', 'x', 'a'], { b: '20', d: '4' });
    expect(res.updated.sort()).toEqual(['b', 'd']);
    expect(res.removed).toEqual(['a']);
    expect(res.missing).toEqual(['x']);
    expect(await store.loadNamespace(['ns'])).toEqual({ b: '20', c: '3', d: '4' });
    await expectCode(store.updateNamespaceProperties(['ns'], ['b'], { b: '1' }), 'VALIDATION_FAILED');
    await expectCode(store.updateNamespaceProperties(['nope'], [], { b: '1' }), 'NO_SUCH_NAMESPACE');
    expect(await store.updateNamespaceProperties(['ns'], [], {})).toEqual({ updated: [], removed: [], missing: [] });
  });

  it('pages namespaces and tables with opaque tokens in a stable order', async () => {
    const names = Array.from({ length: 23 }, (_, i) => `n${String(i).padStart(2, '0')}`);
    for (const name of [...names].reverse()) await store.createNamespace([name], {});
    await store.createNamespace(['n05', 'child'], {});

    const all = await store.listNamespaces([]);
    expect(all.items).toEqual(names.map((x) => [x]));
    expect(all.nextPageToken).toBeNull();

    const seen: string[][] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const page = await store.listNamespaces([], { pageToken: token, pageSize: 10 });
      expect(page.items.length).toBeLessThanOrEqual(10);
      seen.push(...page.items);
      token = page.nextPageToken;
      if (token) expect(token).not.toContain('n'); // opaque, not the raw key
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(all.items);

    // An exact multiple ends with a null token, not an empty page.
    const first = await store.listNamespaces([], { pageSize: 23 });
    expect(first.items.length).toBe(23);
    expect(first.nextPageToken).toBeNull();
    expect((await store.listNamespaces([], { pageToken: '' })).items.length).toBe(23);

    await expectCode(store.listNamespaces([], { pageSize: 0 }), 'BAD_REQUEST');
    await expectCode(store.listNamespaces([], { pageToken: 'not a token!' }), 'BAD_REQUEST');

    for (const name of ['t3', 't1', 'T2', 't0', 'b']) await store.createTable(t(['n00'], name), `s3://w/${name}/v1.json`);
    await store.createTable(t(['n00'], 'view0'), 's3://w/view0/v1.json', 'view');
    const p1 = await store.listTables(['n00'], { pageSize: 2 });
    const p2 = await store.listTables(['n00'], { pageSize: 2, pageToken: p1.nextPageToken });
    const p3 = await store.listTables(['n00'], { pageSize: 2, pageToken: p2.nextPageToken });
    expect([...p1.items, ...p2.items, ...p3.items].map((x) => x.name)).toEqual(['T2', 'b', 't0', 't1', 't3']);
    expect(p3.nextPageToken).toBeNull();
    expect(p1.items[0]).toEqual({ namespace: ['n00'], name: 'T2' });
  });

  it('keeps catalogs apart in one database', async () => {
    const other = await open(`${store.catalogName}_other`);
    await store.createNamespace(['shared'], { who: 'one' });
    expect(await other.namespaceExists(['shared'])).toBe(false);
    await other.createNamespace(['shared'], { who: 'two' });
    await store.createTable(t(['shared'], 'x'), 'one/x');
    await other.createTable(t(['shared'], 'x'), 'two/x');
    expect((await store.getTable(t(['shared'], 'x')))?.metadataLocation).toBe('one/x');
    expect((await other.getTable(t(['shared'], 'x')))?.metadataLocation).toBe('two/x');
    expect(await other.loadNamespace(['shared'])).toEqual({ who: 'two' });
  });

  it('creates, gets, lists, renames and drops tables', async () => {
    await store.createNamespace(['db'], {});
    await store.createNamespace(['db', 'inner'], {});
    await store.createNamespace(['other'], {});
    const ident = t(['db'], 'events');
    await store.createTable(ident, 's3://w/db/events/metadata/00000.json');
    expect(await store.getTable(ident)).toEqual({
      namespace: ['db'],
      name: 'events',
      kind: 'table',
      metadataLocation: 's3://w/db/events/metadata/00000.json',
      previousMetadataLocation: null,
    });
    expect(await store.getTable(t(['db'], 'missing'))).toBeNull();
    expect(await store.getTable(t(['db', 'inner'], 'events'))).toBeNull();
    await expectCode(store.createTable(ident, 'x'), 'ALREADY_EXISTS');
    await expectCode(store.createTable(t(['nope'], 'events'), 'x'), 'NO_SUCH_NAMESPACE');
    await expectCode(store.listTables(['nope']), 'NO_SUCH_NAMESPACE');
    await store.createTable(t(['db'], 'users'), 'u0');
    expect((await store.listTables(['db'])).items.map((x) => x.name)).toEqual(['events', 'users']);
    expect((await store.listTables(['db', 'inner'])).items).toEqual([]);

    // Rename across namespaces.
    await store.renameTable(ident, t(['other'], 'events2'));
    expect(await store.getTable(ident)).toBeNull();
    const moved = await store.getTable(t(['other'], 'events2'));
    expect(moved?.metadataLocation).toBe('s3://w/db/events/metadata/00000.json');
    expect(moved?.namespace).toEqual(['other']);
    await expectCode(store.renameTable(ident, t(['other'], 'x')), 'NO_SUCH_TABLE');
    await expectCode(store.renameTable(t(['other'], 'events2'), t(['db'], 'users')), 'ALREADY_EXISTS');
    await expectCode(store.renameTable(t(['other'], 'events2'), t(['nope'], 'x')), 'NO_SUCH_NAMESPACE');
    await store.renameTable(t(['other'], 'events2'), t(['db', 'inner'], 'events'));
    expect((await store.listTables(['db', 'inner'])).items).toEqual([{ namespace: ['db', 'inner'], name: 'events' }]);

    await expectCode(store.dropNamespace(['db', 'inner']), 'NAMESPACE_NOT_EMPTY');
    const dropped = await store.dropTable(t(['db', 'inner'], 'events'));
    expect(dropped.name).toBe('events');
    expect(dropped.metadataLocation).toBe('s3://w/db/events/metadata/00000.json');
    await expectCode(store.dropTable(t(['db', 'inner'], 'events')), 'NO_SUCH_TABLE');
    await store.dropNamespace(['db', 'inner']);
    await expectCode(store.dropNamespace(['db']), 'NAMESPACE_NOT_EMPTY');
    await store.dropTable(t(['db'], 'users'));
    await store.dropNamespace(['db']);
  });

  it('puts views and tables in one name space', async () => {
    await store.createNamespace(['ns'], {});
    await store.createTable(t(['ns'], 'thing'), 'table-meta');
    await expectCode(store.createTable(t(['ns'], 'thing'), 'view-meta', 'view'), 'ALREADY_EXISTS');
    await store.createTable(t(['ns'], 'v'), 'view-meta', 'view');
    await expectCode(store.createTable(t(['ns'], 'v'), 'table-meta'), 'ALREADY_EXISTS');
    await expectCode(store.renameTable(t(['ns'], 'v'), t(['ns'], 'thing'), 'view'), 'ALREADY_EXISTS');

    expect((await store.listTables(['ns'])).items.map((x) => x.name)).toEqual(['thing']);
    expect((await store.listTables(['ns'], {}, 'view')).items.map((x) => x.name)).toEqual(['v']);
    expect(await store.getTable(t(['ns'], 'v'))).toBeNull();
    expect((await store.getTable(t(['ns'], 'v'), 'view'))?.kind).toBe('view');
    expect(await store.swapMetadataLocation(t(['ns'], 'v'), 'view-meta', 'x')).toBe(false); // not a table
    expect(await store.swapMetadataLocation(t(['ns'], 'v'), 'view-meta', 'view-meta-2', 'view')).toBe(true);
    await expectCode(store.dropTable(t(['ns'], 'v')), 'NO_SUCH_TABLE');
    await expectCode(store.dropTable(t(['ns'], 'thing'), 'view'), 'NO_SUCH_VIEW');
    await expectCode(store.renameTable(t(['ns'], 'thing'), t(['ns'], 'x'), 'view'), 'NO_SUCH_VIEW');
    await store.renameTable(t(['ns'], 'v'), t(['ns'], 'v2'), 'view');
    expect((await store.dropTable(t(['ns'], 'v2'), 'view')).metadataLocation).toBe('view-meta-2');
  });

  it('lets exactly one of 20 concurrent swaps with the same expected pointer win', async () => {
    await store.createNamespace(['cas'], {});
    const ident = t(['cas'], 'tbl');
    await store.createTable(ident, 'v0');
    // Several stores = several connections (SQLite: same file; PostgreSQL: separate pools).
    const stores = [store, ...(await Promise.all([1, 2, 3].map(() => open())))];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => stores[i % stores.length].swapMetadataLocation(ident, 'v0', `v1-${i}`)),
    );
    expect(results.filter(Boolean).length).toBe(1);
    const winner = results.indexOf(true);
    const rec = await store.getTable(ident);
    expect(rec?.metadataLocation).toBe(`v1-${winner}`);
    expect(rec?.previousMetadataLocation).toBe('v0');
    expect(await store.swapMetadataLocation(ident, 'v0', 'again')).toBe(false);
    expect(await store.swapMetadataLocation(t(['cas'], 'missing'), 'v0', 'x')).toBe(false);
  });

  it('runs a chain of 200 sequential swaps', async () => {
    await store.createNamespace(['chain'], {});
    const ident = t(['chain'], 'tbl');
    await store.createTable(ident, 'm0');
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) {
      expect(await store.swapMetadataLocation(ident, `m${i}`, `m${i + 1}`)).toBe(true);
    }
    const ms = performance.now() - t0;
    console.log(`[${backend.name}] 200 sequential swaps: ${ms.toFixed(0)} ms (${(ms / 200).toFixed(2)} ms/swap)`);
    const rec = await store.getTable(ident);
    expect(rec?.metadataLocation).toBe('m200');
    expect(rec?.previousMetadataLocation).toBe('m199');
  });

  it('swaps many pointers atomically', async () => {
    await store.createNamespace(['tx'], {});
    await store.createNamespace(['tx2'], {});
    const a = t(['tx'], 'a');
    const b = t(['tx2'], 'b');
    const c = t(['tx'], 'c');
    await store.createTable(a, 'a0');
    await store.createTable(b, 'b0');
    await store.createTable(c, 'c0');

    expect(
      await store.swapMany([
        { ident: a, expected: 'a0', next: 'a1' },
        { ident: b, expected: 'b0', next: 'b1' },
        { ident: c, expected: 'WRONG', next: 'c1' },
      ]),
    ).toBe(false);
    expect((await store.getTable(a))?.metadataLocation).toBe('a0');
    expect((await store.getTable(b))?.metadataLocation).toBe('b0');
    expect((await store.getTable(c))?.metadataLocation).toBe('c0');
    expect(await store.swapMany([{ ident: t(['tx'], 'missing'), expected: 'x', next: 'y' }])).toBe(false);

    expect(
      await store.swapMany([
        { ident: c, expected: 'c0', next: 'c1' },
        { ident: a, expected: 'a0', next: 'a1' },
        { ident: b, expected: 'b0', next: 'b1' },
      ]),
    ).toBe(true);
    expect((await store.getTable(a))?.previousMetadataLocation).toBe('a0');
    expect((await store.getTable(b))?.metadataLocation).toBe('b1');
    expect((await store.getTable(c))?.metadataLocation).toBe('c1');
    expect(await store.swapMany([])).toBe(true);

    // Racing multi-table commits over the same tables: exactly one wins, no deadlock.
    const stores = [store, ...(await Promise.all([1, 2, 3].map(() => open())))];
    const results = await Promise.all(
      stores.map((s, i) =>
        s.swapMany(
          (i % 2 === 0 ? [a, b, c] : [c, b, a]).map((ident) => ({
            ident,
            expected: `${ident.name}1`,
            next: `${ident.name}2-${i}`,
          })),
        ),
      ),
    );
    expect(results.filter(Boolean).length).toBe(1);
    const w = results.indexOf(true);
    for (const ident of [a, b, c]) expect((await store.getTable(ident))?.metadataLocation).toBe(`${ident.name}2-${w}`);
  });

  it('creates a contested name exactly once', async () => {
    await store.createNamespace(['race'], {});
    const stores = [store, ...(await Promise.all([1, 2, 3].map(() => open())))];
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        stores[i % stores.length].createTable(t(['race'], 'tbl'), `m-${i}`, i % 3 === 0 ? 'view' : 'table'),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBe(1);
    for (const o of outcomes) {
      if (o.status === 'rejected') expect(isLakehouseError(o.reason, 'ALREADY_EXISTS')).toBe(true);
    }
    const nsOutcomes = await Promise.allSettled(stores.map((s) => s.createNamespace(['race', 'child'], {})));
    expect(nsOutcomes.filter((o) => o.status === 'fulfilled').length).toBe(1);
  });
});
