import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestCatalogClient } from '../../src/catalog/rest-client.js';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { Catalog, CommitRequest } from '../../src/catalog/catalog.js';
import { isLakehouseError } from '../../src/core/errors.js';
import { Duck } from '../../src/duck/db.js';
import { currentSchema, defaultSpec } from '../../src/iceberg/metadata.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { LocalFileIO } from '../../src/storage/local.js';
import { writeDataFiles } from '../../src/table/data-writer.js';
import { fastAppend } from '../../src/table/snapshot-producer.js';
import { QueryEngine } from '../../src/query/engine.js';
import { BIN } from '../support/cli.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { freePort, spawnPeer, type Peer } from '../support/process.js';

// Two service processes on one PostgreSQL catalog; four clients commit 100 appends each through
// the REST API, spread over both processes. Every commit lands (400 snapshots); lost races answer
// 409 CommitFailedException and the clients' retries succeed.
const CLIENTS = 4;
const COMMITS = 100;

describe('two service processes on one PostgreSQL catalog', () => {
  let pg: TestPostgres;
  let dir: string;
  const servers: { peer: Peer; uri: string }[] = [];

  beforeAll(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'lh-2proc-'));
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const peer = spawnPeer(process.execPath, [BIN, 'serve'], {
        env: {
          ...process.env,
          LAKEHOUSE_PORT: String(port),
          LAKEHOUSE_WAREHOUSE: join(dir, 'wh'),
          LAKEHOUSE_CATALOG_URL: pg.url,
          LAKEHOUSE_SCHEDULER: 'off',
          LAKEHOUSE_LOG_LEVEL: 'warn',
          LAKEHOUSE_AUTH_ANONYMOUS: 'true',
        },
      });
      const uri = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          if ((await fetch(`${uri}/health`)).ok) break;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`server ${i} did not start:\n${peer.output()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      servers.push({ peer, uri });
    }
  });

  afterAll(async () => {
    for (const s of servers) await s.peer.stop();
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`${CLIENTS} clients × ${COMMITS} appends through the REST API: ${CLIENTS * COMMITS} snapshots, none lost`, async () => {
    const io = new LocalFileIO();
    const ident = { namespace: ['multi'], name: 'events' };
    const setup = new RestCatalogClient({ uri: servers[0].uri, io });
    await setup.createNamespace(['multi']);
    await setup.createTable(
      ident,
      newTableMetadata({
        schema: { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'client', required: true, type: 'int' }, { id: 2, name: 'seq', required: true, type: 'int' }] },
        location: join(dir, 'wh', 'multi.db', 'events'),
      }),
    );

    let conflicts = 0;
    const client = async (c: number) => {
      const rest = new RestCatalogClient({ uri: servers[c % 2].uri, io });
      // Count the 409s the server answers; the snapshot producer retries them.
      const counting: Catalog = Object.assign(Object.create(rest) as Catalog, {
        commitTable: async (id: typeof ident, req: CommitRequest) => {
          try {
            return await rest.commitTable(id, req);
          } catch (e) {
            if (isLakehouseError(e, 'COMMIT_FAILED')) conflicts++;
            throw e;
          }
        },
      });
      const duck = await Duck.open({ threads: 1 });
      try {
        for (let i = 0; i < COMMITS; i++) {
          const t = await rest.loadTable(ident);
          const files = await writeDataFiles({
            duck, io, location: t.metadata.location, schema: currentSchema(t.metadata), spec: defaultSpec(t.metadata),
            properties: t.metadata.properties, sourceSql: `SELECT ${c}::INTEGER AS client, ${i}::INTEGER AS seq`,
          });
          await fastAppend(counting, ident, files, { maxRetries: 200 }, t);
        }
      } finally {
        duck.close();
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));

    // Read back through an embedded catalog on the same PostgreSQL database.
    const catalog = await openSqlCatalog({ storeUrl: pg.url, warehouse: join(dir, 'wh') });
    try {
      const t = await catalog.loadTable(ident);
      const md = t.metadata;
      let n = 0;
      for (let id = md['current-snapshot-id']; id !== null && id !== undefined; n++) {
        id = md.snapshots.find((s) => s['snapshot-id'] === id)?.['parent-snapshot-id'] ?? null;
      }
      expect(n).toBe(CLIENTS * COMMITS);
      const r = await new QueryEngine(catalog).query(
        'SELECT count(*), count(DISTINCT (client, seq)), min(seq), max(seq), count(DISTINCT client) FROM multi.events',
      );
      expect(r.rows).toEqual([[CLIENTS * COMMITS, CLIENTS * COMMITS, 0, COMMITS - 1, CLIENTS]]);
    } finally {
      await catalog.close();
    }
    expect(conflicts).toBeGreaterThan(0);
  });
});
