import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { Duck } from '../../src/duck/db.js';
import type { JsonValue } from '../../src/duck/result-json.js';
import { evolveSchema } from '../../src/table/table-admin.js';
import { appendSql } from '../../src/table/table-ops.js';
import { BIN, runCli } from '../support/cli.js';
import { valuesEqual } from '../support/fixtures.js';
import { freePort, spawnPeer, waitUntil, type Peer } from '../support/process.js';
import { runPython } from './python.js';

// PyIceberg as a client of `lakehouse serve` (the Iceberg REST catalog): PyIceberg creates,
// appends, evolves, deletes, renames and drops through the server; then we read what it wrote,
// and PyIceberg reads (through the server) what we wrote on top.

interface PyRows {
  metadata_location: string;
  columns: string[];
  rows: JsonValue[][];
}

describe('PyIceberg against the lakehouse REST catalog', () => {
  let dir: string;
  let server: Peer;
  let uri: string;
  let warehouse: string;
  let catalogUrl: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-pyiceberg-rest-'));
    warehouse = join(dir, 'warehouse');
    catalogUrl = `sqlite:${join(dir, 'catalog.db')}`;
    const port = await freePort();
    uri = `http://127.0.0.1:${port}`;
    server = spawnPeer(process.execPath, [BIN, 'serve'], {
      env: { ...process.env, LAKEHOUSE_PORT: String(port), LAKEHOUSE_WAREHOUSE: warehouse, LAKEHOUSE_CATALOG_URL: catalogUrl, LAKEHOUSE_LOG_LEVEL: 'warn', LAKEHOUSE_AUTH_ANONYMOUS: 'true' },
    });
    await waitUntil(server, 'lakehouse serve', async () => (await fetch(`${uri}/v1/config`).catch(() => null))?.ok === true, 60_000);
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let written: PyRows & { location: string; log: string[] };

  it('PyIceberg creates, appends, evolves the schema, deletes, renames and drops through the server', async () => {
    const res = await runPython('pyiceberg-rest.py', ['write', uri, warehouse]);
    written = JSON.parse(res.stdout);
    expect(written.log).toContain("tables=['pyns.events']");
    expect(written.columns).toEqual(['id', 'cat', 'ts', 'amount', 'note']);
    expect(written.rows.map((r) => r[0])).toEqual([...Array(30).keys()].filter((i) => i !== 3));
    expect(written.rows[0]).toEqual([0, 'a', '2024-05-01T00:00:00Z', '0.25', null]);
    expect(written.rows.at(-1)).toEqual([29, 'c', '2024-05-09T11:00:00Z', null, 'n29']);
  }, 120_000);

  it('we read the table PyIceberg wrote (lakehouse scan of its metadata location)', async () => {
    expect(written, 'previous test failed').toBeDefined();
    const loaded = await (await fetch(`${uri}/v1/lakehouse/namespaces/pyns/tables/events`)).json();
    expect(loaded['metadata-location']).toBe(written.metadata_location);
    const res = await runCli(['scan', written.location, '--metadata', written.metadata_location, '--sql', 'SELECT * FROM t ORDER BY id']);
    expect(res.stderr).toBe('');
    const out = JSON.parse(res.stdout);
    expect(out.columns).toEqual(written.columns);
    if (!valuesEqual(out.rows, written.rows)) expect(out.rows).toEqual(written.rows);
  });

  it('PyIceberg reads (through the server) what we appended and evolved on top', async () => {
    expect(written, 'previous test failed').toBeDefined();
    // Our own catalog over the server's SQLite store (multi-process safe), as another writer would.
    const catalog: SqlCatalog = await openSqlCatalog({ storeUrl: catalogUrl, warehouse });
    const duck = await Duck.open();
    try {
      const ident = { namespace: ['pyns'], name: 'events' };
      await evolveSchema(catalog, ident, (u) => u.addColumn(null, 'score', 'double').renameColumn('note', 'remark'));
      await appendSql(catalog, ident, duck, `SELECT 100 + range AS id, 'd' AS cat, TIMESTAMPTZ '2024-06-01 00:00:00+00' + INTERVAL (range) DAY AS ts,
        (range * 1.5)::DECIMAL(10,2) AS amount, 'ours' AS remark, range / 2 AS score FROM range(5)`);
    } finally {
      duck.close();
      await catalog.close();
    }
    const res = await runPython('pyiceberg-rest.py', ['read', uri, warehouse, 'pyns.events', 'id']);
    const read: PyRows = JSON.parse(res.stdout);
    expect(read.columns).toEqual(['id', 'cat', 'ts', 'amount', 'remark', 'score']);
    const expected = [
      ...written.rows.map((r) => [...r, null]),
      ...[0, 1, 2, 3, 4].map((i) => [100 + i, 'd', `2024-06-0${i + 1}T00:00:00Z`, (i * 1.5).toFixed(2), 'ours', i / 2]),
    ];
    if (!valuesEqual(read.rows, expected)) expect(read.rows).toEqual(expected);
  }, 120_000);
});
