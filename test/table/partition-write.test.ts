import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import { currentSnapshot, defaultSpec } from '../../src/iceberg/metadata.js';
import { buildPartitionSpec, partitionType } from '../../src/iceberg/partition.js';
import { applyTransform, parseTransform } from '../../src/iceberg/transforms.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { parseDecimal } from '../../src/iceberg/conversions.js';
import { listManifests, readLiveFiles } from '../../src/table/scan-planner.js';
import { tableResolver } from '../../src/table/paths.js';
import { appendSql } from '../../src/table/table-ops.js';
import { queryTable } from '../../src/table/scan-query.js';

// Partition values computed while writing (in DuckDB, bucket via the Murmur3 UDF) must equal the
// spec's transforms applied in TypeScript to every row of each file.
const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'price', required: false, type: 'decimal(12, 2)' },
    { id: 3, name: 'name', required: false, type: 'string' },
  ],
};

describe('partitioned writes', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let duck: Duck;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-pw-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/c.db`, warehouse: `${dir}/wh` });
    await catalog.createNamespace(['db']);
    duck = await Duck.open();
  });
  afterAll(async () => {
    duck.close();
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('bucket and truncate on decimals, truncate on strings, bucket on longs match the spec', async () => {
    const ident = { namespace: ['db'], name: 'dec' };
    const spec = buildPartitionSpec(schema, ['bucket(5, price)', 'truncate(50, price)', 'truncate(2, name)', 'bucket(3, id)']);
    await catalog.createTable(ident, newTableMetadata({ schema, spec, location: catalog.defaultTableLocation(ident) }));
    const t = await appendSql(catalog, ident, duck,
      `SELECT range AS id, ((range - 20) * 1.37)::DECIMAL(12,2) AS price, 'n' || (range % 13) AS name FROM range(40)`);
    expect(currentSnapshot(t.metadata)!.summary['total-records']).toBe('40');
    const md = t.metadata;
    const files = (await readLiveFiles(md, await listManifests(md, currentSnapshot(md)!, t.io, tableResolver(t)), { io: t.io, resolve: tableResolver(t) })).files;
    const fields = defaultSpec(md).fields;
    expect(partitionType(defaultSpec(md), md.schemas[0]).fields.map((f) => f.type)).toEqual(['int', 'decimal(12, 2)', 'string', 'int']);
    for (const f of files) {
      const rows = await queryTable(
        { io: t.io, metadata: md, resolve: tableResolver(t) },
        `SELECT id, CAST(price AS VARCHAR), name FROM t WHERE id IN (SELECT id FROM read_parquet('${f.location}'))`,
      );
      for (const [id, price, name] of rows.rows as [number, string, string][]) {
        const values = [
          applyTransform(parseTransform(fields[0].transform), 'decimal(12, 2)', parseDecimal(price, 2)),
          applyTransform(parseTransform(fields[1].transform), 'decimal(12, 2)', parseDecimal(price, 2)),
          applyTransform(parseTransform(fields[2].transform), 'string', name),
          applyTransform(parseTransform(fields[3].transform), 'long', BigInt(id)),
        ];
        expect(f.file.partition).toEqual(values);
      }
    }
    const sum = await queryTable({ io: t.io, metadata: md, resolve: tableResolver(t) }, 'SELECT count(*), sum(price) FROM t');
    expect(sum.rows).toEqual([[40, '-27.40']]);
  });
});
