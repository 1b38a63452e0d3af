import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { buildPartitionSpec } from '../../src/iceberg/partition.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { currentSnapshot } from '../../src/iceberg/metadata.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { appendSql } from '../../src/table/table-ops.js';
import { queryTable } from '../../src/table/scan-query.js';
import { openFolderTable } from '../../src/table/folder-table.js';
import { runCli } from '../support/cli.js';

const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'name', required: false, type: 'string' },
    { id: 3, name: 'ts', required: false, type: 'timestamptz' },
    { id: 4, name: 'amount', required: false, type: 'decimal(10, 2)' },
    { id: 5, name: 'day', required: false, type: 'date' },
    { id: 6, name: 'tags', required: false, type: { type: 'list', 'element-id': 7, element: 'string', 'element-required': false } },
  ],
};

describe('append through the SQL catalog', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let duck: Duck;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-append-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/warehouse` });
    await catalog.createNamespace(['db']);
    duck = await Duck.open();
  });
  afterAll(async () => {
    duck.close();
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const rows = (from: number, n: number) => `SELECT range AS id, 'name-' || range AS name,
      TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL (range) HOUR AS ts, (range * 1.25)::DECIMAL(10,2) AS amount,
      DATE '2024-01-01' + (range % 3)::INTEGER AS day, ['a', 'b'] AS tags FROM range(${from}, ${from + n})`;

  it('creates, appends twice and reads every row back', async () => {
    const ident = { namespace: ['db'], name: 'events' };
    const md = newTableMetadata({ schema, location: catalog.defaultTableLocation(ident) });
    await catalog.createTable(ident, md);
    await appendSql(catalog, ident, duck, rows(0, 1000));
    const t = await appendSql(catalog, ident, duck, rows(1000, 500));
    const snap = currentSnapshot(t.metadata)!;
    expect(snap.summary['total-records']).toBe('1500');
    expect(snap.summary['added-records']).toBe('500');
    expect(t.metadata.snapshots).toHaveLength(2);
    const res = await queryTable({ io: t.io, metadata: t.metadata, resolve: (p) => p }, 'SELECT count(*), count(DISTINCT id), sum(amount), min(ts), max(day) FROM t');
    expect(res.rows).toEqual([[1500, 1500, '1405312.50', '2024-01-01T00:00:00Z', '2024-01-03']]);
  });

  it('writes partitioned tables (day, bucket) readable by folder scan', async () => {
    const ident = { namespace: ['db'], name: 'parted' };
    const spec = buildPartitionSpec(schema, ['day(ts)', 'bucket(4, id)']);
    const md = newTableMetadata({ schema, spec, location: catalog.defaultTableLocation(ident) });
    await catalog.createTable(ident, md);
    const t = await appendSql(catalog, ident, duck, rows(0, 100));
    const snap = currentSnapshot(t.metadata)!;
    // 100 hours span 5 days; 4 buckets each.
    expect(Number(snap.summary['added-data-files'])).toBeGreaterThan(5);
    const folder = await openFolderTable(t.metadata.location, t.metadataLocation.slice(t.metadata.location.length + 1));
    const res = await queryTable(folder, 'SELECT count(*), sum(id) FROM t');
    expect(res.rows).toEqual([[100, 4950]]);
    const cli = await runCli(['scan', t.metadata.location, '--sql', 'SELECT count(*) FROM t WHERE id % 2 = 0']);
    expect(cli.stderr).toBe('');
    expect(JSON.parse(cli.stdout).rows).toEqual([[50]]);
  });
});
