import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { icebergRead } from 'icebird';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { buildPartitionSpec } from '../../src/iceberg/partition.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { appendSql } from '../../src/table/table-ops.js';
import { queryTable } from '../../src/table/scan-query.js';
import { installFileFetch } from '../support/file-fetch.js';

// An independent reader (icebird, hyparquet-based) must see exactly the rows we wrote.
const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'name', required: false, type: 'string' },
    { id: 3, name: 'score', required: false, type: 'double' },
    { id: 4, name: 'small', required: false, type: 'int' },
    { id: 5, name: 'flag', required: false, type: 'boolean' },
  ],
};

describe('icebird reads tables we write', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let duck: Duck;
  let restore: () => void;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-icebird-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    await catalog.createNamespace(['db']);
    duck = await Duck.open();
    restore = installFileFetch();
  });
  afterAll(async () => {
    restore();
    duck.close();
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const partitioned of [false, true]) {
    it(`${partitioned ? 'partitioned' : 'unpartitioned'} table, two appends`, async () => {
      const ident = { namespace: ['db'], name: partitioned ? 'p' : 'u' };
      const spec = partitioned ? buildPartitionSpec(schema, ['bucket(4, id)', 'flag']) : undefined;
      await catalog.createTable(ident, newTableMetadata({ schema, spec, location: catalog.defaultTableLocation(ident) }));
      const rows = (a: number, b: number) =>
        `SELECT range AS id, CASE WHEN range % 7 = 0 THEN NULL ELSE 'n' || range END AS name, range / 4.0 AS score,
                (range % 100)::INTEGER AS small, range % 2 = 0 AS flag FROM range(${a}, ${b})`;
      await appendSql(catalog, ident, duck, rows(0, 300));
      const t = await appendSql(catalog, ident, duck, rows(300, 500));
      const ours = await queryTable({ io: t.io, metadata: t.metadata, resolve: (p) => p }, 'SELECT id, name, score, small, flag FROM t ORDER BY id');
      const metadataFileName = t.metadataLocation.slice(t.metadataLocation.lastIndexOf('/') + 1);
      const theirs = (await icebergRead({ tableUrl: t.metadata.location, metadataFileName })) as Record<string, unknown>[];
      const normalized = theirs
        .map((r) => [Number(r.id), r.name ?? null, r.score, r.small, r.flag])
        .sort((a, b) => (a[0] as number) - (b[0] as number));
      expect(normalized).toHaveLength(500);
      expect(normalized).toEqual(ours.rows);
    });
  }
});
