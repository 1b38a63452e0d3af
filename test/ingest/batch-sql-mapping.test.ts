import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { ingestFile } from '../../src/ingest/batch/batch-ingest.js';
import type { RecordMapping } from '../../src/ingest/mapping.js';
import { sql } from './support.js';

/** The DuckDB conversion of CSV (sql-mapping.ts) accepts and rejects exactly what RecordMapper does. */
describe('batch ingestion: SQL mapping path = JS mapping path', () => {
  let dir: string;
  let catalog: SqlCatalog;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-batch-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/c.db`, warehouse: `${dir}/wh` });
    await catalog.createNamespace(['b']);
  });
  afterAll(async () => {
    await catalog?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const schema: Schema = {
    type: 'struct',
    'schema-id': 0,
    fields: [
      { id: 1, name: 'id', type: 'long', required: true },
      { id: 2, name: 'i', type: 'int', required: false },
      { id: 3, name: 'd', type: 'double', required: false },
      { id: 4, name: 'dec', type: 'decimal(6, 2)', required: false },
      { id: 5, name: 'b', type: 'boolean', required: false },
      { id: 6, name: 'day', type: 'date', required: false },
      { id: 7, name: 'ts', type: 'timestamptz', required: false },
      { id: 8, name: 's', type: 'string', required: false },
      { id: 9, name: 'code', type: 'string', required: false },
    ],
  };
  const mapping: RecordMapping = { columns: { i: { min: 0, max: 100 }, s: { pattern: '^[a-z]+$' }, code: { from: 'kind', enum: ['A', 'B'], default: 'A' } } };
  const lines = [
    'id,i,d,dec,b,day,ts,s,kind',
    '1,5,1.5,12.34,true,2024-02-29,2024-01-01T00:00:00Z,abc,B',
    '2,101,,,,,,,', // above max
    '3,-1,,,,,,,', // below min
    '4,1.0,,,,,,,', // not an int
    '5,3000000000,,,,,,,', // int range
    '6,,abc,,,,,,', // not a number
    '7,,,12345.5,,,,,', // decimal too many digits
    '8,,,1.234,,,,,', // decimal scale
    '9,,,,yes,,,,', // boolean
    '10,,,,,2023-02-29,,,', // invalid date
    '11,,,,,,2024-13-01T00:00:00Z,,', // invalid timestamp
    '12,,,,,,2024-01-01 10:00:00+02:00,Abc,', // pattern
    '13,,,,,,,,C', // enum
    ',,,,,,,,', // required id missing
    'x,,,,,,,,', // id not an integer
    '16,7,-2.5e3,-0.50,false,2024-01-01,2024-06-01 12:30:00.123456,z,A',
    '17,1,2,3,true,2024-01-01,2024-01-01T00:00:00Z,a,B,extra', // too many columns
  ];

  it('commits the same rows and dead-letters the same records', async () => {
    const file = join(dir, 'in.csv');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const out: Record<string, { rows: unknown[][]; dlq: unknown[][]; res: unknown }> = {};
    for (const engine of ['auto', 'js'] as const) {
      const ident = { namespace: ['b'], name: `t_${engine}` };
      await catalog.createTable(ident, newTableMetadata({ schema, location: catalog.defaultTableLocation(ident) }));
      const res = await ingestFile({ catalog, table: ident, mapping, sourceLabel: 'x.csv', engine }, file, 'csv');
      const rows = await sql(catalog, ident, 'SELECT id, i, d, CAST(dec AS VARCHAR), b, CAST(day AS VARCHAR), CAST(ts AS VARCHAR), s, code FROM t ORDER BY id');
      const dlq = await sql(catalog, { namespace: ['b'], name: `${ident.name}__dlq` }, `SELECT regexp_extract(error, '^(column \\w+|CSV [a-z ]+)') FROM t ORDER BY 1`);
      out[engine] = { rows, dlq, res: { ...(res as object), ingestId: undefined, ms: undefined, snapshotId: undefined, deadLetterSnapshotId: undefined } };
    }
    expect(out.auto.rows).toEqual(out.js.rows);
    expect(out.auto.dlq).toEqual(out.js.dlq);
    expect(out.auto.res).toMatchObject({ rowsCommitted: 2, rowsDeadLettered: 15 });
    expect(out.auto.res).toEqual(out.js.res);
    expect(out.auto.rows).toEqual(out.js.rows);
    expect(out.auto.dlq).toEqual(out.js.dlq);
    expect(out.auto.rows.map((r) => r[0])).toEqual([1, 16]);
  });
});
