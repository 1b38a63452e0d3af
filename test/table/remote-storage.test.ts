import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { buildPartitionSpec } from '../../src/iceberg/partition.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { currentSnapshot } from '../../src/iceberg/metadata.js';
import type { Schema } from '../../src/iceberg/schema.js';
import type { StorageConfig } from '../../src/storage/registry.js';
import { appendSql } from '../../src/table/table-ops.js';
import { queryTable } from '../../src/table/scan-query.js';
import { startMoto } from '../support/moto.js';
import { startHdfs } from '../support/hdfs.js';

// Whole tables (data, manifests, metadata) on the S3 API (moto) and on HDFS (MiniDFSCluster via
// WebHDFS): written, committed and read back through the same code paths as local tables.
const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'region', required: false, type: 'string' },
    { id: 3, name: 'amount', required: false, type: 'decimal(12, 2)' },
  ],
};

async function roundTrip(warehouse: string, storage: StorageConfig) {
  const dir = mkdtempSync(join(tmpdir(), 'lh-remote-'));
  const catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse, storage });
  const duck = await Duck.open();
  try {
    await catalog.createNamespace(['db']);
    const ident = { namespace: ['db'], name: 'sales' };
    const spec = buildPartitionSpec(schema, ['region']);
    await catalog.createTable(ident, newTableMetadata({ schema, spec, location: catalog.defaultTableLocation(ident) }));
    const rows = (a: number, b: number) =>
      `SELECT range AS id, ['eu', 'us', 'apac'][range % 3 + 1] AS region, (range * 0.5)::DECIMAL(12,2) AS amount FROM range(${a}, ${b})`;
    await appendSql(catalog, ident, duck, rows(0, 600));
    await appendSql(catalog, ident, duck, rows(600, 1000));
    const t = await catalog.loadTable(ident);
    expect(t.metadataLocation.startsWith(warehouse)).toBe(true);
    expect(currentSnapshot(t.metadata)!.summary['total-records']).toBe('1000');
    const files = await t.io.list(t.metadata.location);
    expect(files.some((f) => f.location.includes('/data/region=eu/'))).toBe(true);
    const res = await queryTable({ io: t.io, metadata: t.metadata, resolve: (p) => p }, 'SELECT region, count(*), sum(amount) FROM t GROUP BY region ORDER BY region');
    expect(res.rows).toEqual([
      ['apac', 333, '83250.00'],
      ['eu', 334, '83416.50'],
      ['us', 333, '83083.50'],
    ]);
  } finally {
    duck.close();
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('tables on remote storage', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const s of stops) await s();
  });

  it('S3 API (moto)', async () => {
    const moto = await startMoto();
    stops.push(() => moto.stop());
    await moto.createBucket('lake');
    await roundTrip('s3://lake/warehouse', { s3: moto.s3Options });
  });

  it('HDFS through WebHDFS (MiniDFSCluster)', async () => {
    const hdfs = await startHdfs();
    stops.push(() => hdfs.stop());
    await roundTrip(`${hdfs.webhdfsUri}/warehouse`, { webhdfs: { httpAddress: hdfs.httpAddress } });
  });
});
