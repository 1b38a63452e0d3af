import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HadoopCatalog, NAMESPACE_MARKER } from '../../src/catalog/hadoop-catalog.js';
import type { TableIdent } from '../../src/catalog/store.js';
import { isLakehouseError } from '../../src/core/errors.js';
import { Duck } from '../../src/duck/db.js';
import { currentSnapshot, snapshotById } from '../../src/iceberg/metadata.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import type { FileIO } from '../../src/storage/fileio.js';
import { LocalFileIO } from '../../src/storage/local.js';
import { openFolderTable } from '../../src/table/folder-table.js';
import { findMetadataFile } from '../../src/table/locate.js';
import { queryTable } from '../../src/table/scan-query.js';
import { appendSql } from '../../src/table/table-ops.js';
import { runCli } from '../support/cli.js';

const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'name', required: false, type: 'string' },
    { id: 3, name: 'writer', required: false, type: 'int' },
  ],
};

const rows = (from: number, n: number, writer = 0) =>
  `SELECT range AS id, 'name-' || range AS name, ${writer} AS writer FROM range(${from}, ${from + n})`;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isLakehouseError(e)) return e.code;
    throw e;
  }
  return 'OK';
}

/** A FileIO with no directories as far as the catalog can tell (like an object store). */
class ObjectStoreLike implements FileIO {
  constructor(private readonly inner: FileIO, readonly hooks: { beforeWriteIfAbsent?: (loc: string) => Promise<void> } = {}) {}
  read(l: string) { return this.inner.read(l); }
  readRange(l: string, o: number, n: number) { return this.inner.readRange(l, o, n); }
  stat(l: string) { return this.inner.stat(l); }
  exists(l: string) { return this.inner.exists(l); }
  write(l: string, d: Uint8Array) { return this.inner.write(l, d); }
  async writeIfAbsent(l: string, d: Uint8Array) {
    await this.hooks.beforeWriteIfAbsent?.(l);
    return this.inner.writeIfAbsent(l, d);
  }
  delete(l: string) { return this.inner.delete(l); }
  list(p: string) { return this.inner.list(p); }
  localPath(l: string) { return this.inner.localPath(l); }
  putLocalFile(p: string, l: string) { return this.inner.putLocalFile(p, l); }
}

for (const mode of ['local', 'object-store'] as const) {
  describe(`Hadoop catalog (${mode} FileIO)`, () => {
    let dir: string;
    let warehouse: string;
    let catalog: HadoopCatalog;
    let duck: Duck;
    const io = () => (mode === 'local' ? new LocalFileIO({ fsync: false }) : new ObjectStoreLike(new LocalFileIO({ fsync: false })));
    const create = async (ident: TableIdent, c: HadoopCatalog = catalog) =>
      c.createTable(ident, newTableMetadata({ schema, location: c.defaultTableLocation(ident) }));

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), `lh-hadoop-${mode}-`));
      warehouse = join(dir, 'warehouse');
      catalog = new HadoopCatalog({ warehouse, io: io() });
      duck = await Duck.open();
    });
    afterAll(() => {
      duck.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('manages namespaces as directories with a marker', async () => {
      expect((await catalog.listNamespaces()).items).toEqual([]);
      await catalog.createNamespace(['db'], { owner: 'me' });
      await catalog.createNamespace(['db', 'sub']);
      expect(existsSync(join(warehouse, 'db', NAMESPACE_MARKER))).toBe(true);
      expect(await code(catalog.createNamespace(['db']))).toBe('ALREADY_EXISTS');
      expect((await catalog.listNamespaces()).items).toEqual([['db']]);
      expect((await catalog.listNamespaces(['db'])).items).toEqual([['db', 'sub']]);
      expect(await catalog.loadNamespace(['db'])).toEqual({ owner: 'me', location: join(warehouse, 'db') });
      expect(await code(catalog.loadNamespace(['nope']))).toBe('NO_SUCH_NAMESPACE');
      expect(await code(catalog.listNamespaces(['nope']))).toBe('NO_SUCH_NAMESPACE');
      expect(await code(catalog.dropNamespace(['db']))).toBe('NAMESPACE_NOT_EMPTY');
      await catalog.createNamespace(['tmp']);
      await catalog.dropNamespace(['tmp']);
      expect(await catalog.namespaceExists(['tmp'])).toBe(false);
      expect(await code(catalog.dropNamespace(['tmp']))).toBe('NO_SUCH_NAMESPACE');
      const page1 = await catalog.listNamespaces([], { pageSize: 1 });
      expect(page1.items).toEqual([['db']]);
      expect(page1.nextPageToken).toBeNull();
    });

    it('creates, appends, loads and lists tables in the Hadoop layout', async () => {
      const ident = { namespace: ['db'], name: 'events' };
      expect(await code(create({ namespace: ['missing'], name: 't' }))).toBe('NO_SUCH_NAMESPACE');
      expect(await code(catalog.createTable(ident, newTableMetadata({ schema, location: join(dir, 'elsewhere') })))).toBe('VALIDATION_FAILED');
      const created = await create(ident);
      expect(created.metadataLocation).toBe(join(warehouse, 'db', 'events', 'metadata', 'v1.metadata.json'));
      expect(await code(create(ident))).toBe('ALREADY_EXISTS');
      expect(await code(create({ namespace: ['db'], name: 'sub' }))).toBe('ALREADY_EXISTS');

      await appendSql(catalog, ident, duck, rows(0, 100));
      const t = await appendSql(catalog, ident, duck, rows(100, 50));
      expect(t.metadataLocation).toBe(join(warehouse, 'db', 'events', 'metadata', 'v3.metadata.json'));
      const metaDir = join(warehouse, 'db', 'events', 'metadata');
      expect(readFileSync(join(metaDir, 'version-hint.text'), 'utf8')).toBe('3');
      expect(readdirSync(metaDir).filter((f) => /^v\d+\.metadata\.json$/.test(f)).sort()).toEqual(['v1.metadata.json', 'v2.metadata.json', 'v3.metadata.json']);

      const loaded = await catalog.loadTable(ident);
      expect(loaded.metadataLocation).toBe(t.metadataLocation);
      expect(loaded.metadata['metadata-log'].map((e) => e['metadata-file'])).toEqual([
        join(metaDir, 'v1.metadata.json'),
        join(metaDir, 'v2.metadata.json'),
      ]);
      expect(currentSnapshot(loaded.metadata)!.summary['total-records']).toBe('150');
      expect(await catalog.tableExists(ident)).toBe(true);
      expect(await catalog.tableExists({ namespace: ['db'], name: 'nope' })).toBe(false);
      expect(await code(catalog.loadTable({ namespace: ['db'], name: 'nope' }))).toBe('NO_SUCH_TABLE');

      expect((await catalog.listTables(['db'])).items).toEqual([ident]);
      // A table directory is not a namespace.
      expect((await catalog.listNamespaces(['db'])).items).toEqual([['db', 'sub']]);
      expect(await catalog.namespaceExists(['db', 'events'])).toBe(false);

      const res = await queryTable({ io: loaded.io, metadata: loaded.metadata, resolve: (p) => p }, 'SELECT count(*), sum(id) FROM t');
      expect(res.rows).toEqual([[150, 11175]]);
      const folder = await openFolderTable(join(warehouse, 'db', 'events'));
      expect(folder.metadataLocation).toBe(t.metadataLocation);
      if (mode === 'local') {
        const cli = await runCli(['scan', join(warehouse, 'db', 'events'), '--sql', 'SELECT count(*) FROM t']);
        expect(cli.stderr).toBe('');
        expect(JSON.parse(cli.stdout).rows).toEqual([[150]]);
      }
      expect(await code(catalog.renameTable(ident, { namespace: ['db'], name: 'renamed' }))).toBe('UNSUPPORTED_OPERATION');
    });

    it('probes past a stale or missing version hint', async () => {
      const ident = { namespace: ['db'], name: 'hinted' };
      await create(ident);
      for (let i = 0; i < 3; i++) await appendSql(catalog, ident, duck, rows(i * 10, 10));
      const metaDir = join(warehouse, 'db', 'hinted', 'metadata');
      const hint = join(metaDir, 'version-hint.text');
      const latest = join(metaDir, 'v4.metadata.json');

      writeFileSync(hint, '2'); // a writer died between the metadata file and the hint
      expect((await catalog.loadTable(ident)).metadataLocation).toBe(latest);
      expect(await findMetadataFile(new LocalFileIO(), join(warehouse, 'db', 'hinted'))).toBe(latest);
      rmSync(hint);
      expect((await catalog.loadTable(ident)).metadataLocation).toBe(latest);
      expect(await findMetadataFile(new LocalFileIO(), join(warehouse, 'db', 'hinted'))).toBe(latest);
      writeFileSync(hint, 'garbage');
      expect((await catalog.loadTable(ident)).metadataLocation).toBe(latest);
      writeFileSync(hint, '99'); // ahead of the files: falls back to the listing
      expect((await catalog.loadTable(ident)).metadataLocation).toBe(latest);

      writeFileSync(hint, '1');
      const t = await appendSql(catalog, ident, duck, rows(30, 10));
      expect(t.metadataLocation).toBe(join(metaDir, 'v5.metadata.json'));
      expect(readFileSync(hint, 'utf8')).toBe('5');
      const folder = await openFolderTable(join(warehouse, 'db', 'hinted'));
      expect((await queryTable(folder, 'SELECT count(*) FROM t')).rows).toEqual([[40]]);
    });

    it('fails a commit whose version file another writer created first, and retries appends', async () => {
      const ident = { namespace: ['db'], name: 'raced' };
      await create(ident);
      await appendSql(catalog, ident, duck, rows(0, 5));
      let steal = true;
      let target = '/v3.metadata.json';
      const racing = new ObjectStoreLike(new LocalFileIO({ fsync: false }), {
        beforeWriteIfAbsent: async (loc) => {
          // Another writer lands the version between our read of the previous one and our write.
          if (steal && loc.endsWith(target)) {
            steal = false;
            await appendSql(catalog, ident, duck, rows(100, 1));
          }
        },
      });
      const c2 = new HadoopCatalog({ warehouse, io: racing });
      const base = await c2.loadTable(ident);
      expect(
        await code(c2.commitTable(ident, { requirements: [], updates: [{ action: 'set-properties', updates: { a: 'b' } }] })),
      ).toBe('COMMIT_FAILED');
      expect((await c2.loadTable(ident)).metadataLocation).toMatch(/\/v3\.metadata\.json$/);
      expect(base.metadataLocation).toMatch(/\/v2\.metadata\.json$/);

      steal = true;
      target = '/v4.metadata.json';
      // commitSnapshot retries: the append lands on top of the other writer's v4.
      const t = await appendSql(c2, ident, duck, rows(5, 5));
      expect(t.metadataLocation).toMatch(/\/v5\.metadata\.json$/);
      expect(currentSnapshot(t.metadata)!.summary['total-records']).toBe('12');
    });

    it('lands every append of 4 concurrent writers × 10 appends', async () => {
      const ident = { namespace: ['db'], name: 'concurrent' };
      await create(ident);
      const ducks = await Promise.all([0, 1, 2, 3].map(() => Duck.open()));
      try {
        await Promise.all(
          ducks.map(async (d, w) => {
            const c = new HadoopCatalog({ warehouse, io: io() });
            for (let i = 0; i < 10; i++) await appendSql(c, ident, d, rows(w * 1000 + i * 10, 10, w));
          }),
        );
      } finally {
        for (const d of ducks) d.close();
      }
      const t = await catalog.loadTable(ident);
      expect(t.metadataLocation).toMatch(/\/v41\.metadata\.json$/);
      const head = currentSnapshot(t.metadata)!;
      expect(head.summary['total-records']).toBe('400');
      let n = 0;
      for (let s = head; s; s = s['parent-snapshot-id'] ? snapshotById(t.metadata, s['parent-snapshot-id'])! : undefined!) n++;
      expect(n).toBe(40);
      const res = await queryTable({ io: t.io, metadata: t.metadata, resolve: (p) => p }, 'SELECT writer, count(*), count(DISTINCT id) FROM t GROUP BY writer ORDER BY writer');
      expect(res.rows).toEqual([0, 1, 2, 3].map((w) => [w, 100, 100]));
    });

    it('drops tables (the whole directory) and then the namespace', async () => {
      for (const name of ['events', 'hinted', 'raced', 'concurrent']) {
        await catalog.dropTable({ namespace: ['db'], name }, name === 'events');
      }
      if (mode === 'local') expect(existsSync(join(warehouse, 'db', 'events'))).toBe(false);
      expect((await catalog.listTables(['db'])).items).toEqual([]);
      expect(await catalog.tableExists({ namespace: ['db'], name: 'events' })).toBe(false);
      expect(await code(catalog.dropTable({ namespace: ['db'], name: 'events' }))).toBe('NO_SUCH_TABLE');
      expect(await code(catalog.dropNamespace(['db']))).toBe('NAMESPACE_NOT_EMPTY');
      await catalog.dropNamespace(['db', 'sub']);
      await catalog.dropNamespace(['db']);
      expect((await catalog.listNamespaces()).items).toEqual([]);
    });
  });
}

describe('Hadoop catalog over Java-made directories', () => {
  it('treats a plain local directory as a namespace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lh-hadoop-java-'));
    try {
      mkdirSync(join(dir, 'a', 'b'), { recursive: true });
      const catalog = new HadoopCatalog({ warehouse: dir, io: new LocalFileIO() });
      expect((await catalog.listNamespaces()).items).toEqual([['a']]);
      expect((await catalog.listNamespaces(['a'])).items).toEqual([['a', 'b']]);
      expect(await catalog.loadNamespace(['a', 'b'])).toEqual({ location: join(dir, 'a', 'b') });
      await catalog.dropNamespace(['a', 'b']);
      expect(existsSync(join(dir, 'a', 'b'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
