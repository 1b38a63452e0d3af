import { dirname } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { externalSourcesCommand } from '../../src/federation/cli.js';
import { closePostgresPools } from '../../src/federation/postgres.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { startSecureServer, type SecureServer } from '../security/support.js';
import { createShopOrders } from './support.js';

/**
 * Federated SQL against a real PostgreSQL, over real HTTP: `pgsrc.public.customers` (in
 * PostgreSQL) joined with the Iceberg table `shop.orders` (catalog store on PostgreSQL as well). The source is read by a login role
 * whose statements PostgreSQL logs (`log_statement = all`), so the pushed statement is checked in
 * the source's own log as well as in the query's stats.
 */
const CUSTOMERS: [number, string, string | null, string, string, string][] = [
  // id, name, email, region, score, created
  [1, 'ann', 'ann@eu.example', 'eu', '1.50', '2024-01-05'],
  [2, 'Bob', 'bob@us.example', 'us', '2.25', '2024-02-10'],
  [3, 'cat', 'cat@eu.example', 'eu', '3.00', '2024-03-15'],
  [4, 'Zed', null, 'us', '0.75', '2024-04-20'],
  [5, 'a\\%x', 'odd@eu.example', 'eu', '9.99', '2024-05-25'],
  [6, 'éva', 'eva@eu.example', 'apac', '5.00', '2024-06-30'],
];

describe('federated SQL: PostgreSQL joined with Iceberg tables', () => {
  let pgdb: TestPostgres;
  let catalogDb: TestPostgres;
  let s: SecureServer;
  let analyst: string;
  let outsider: string;
  let euOnly: string;
  let logFile: string | null = null;
  const admin = () => ({ token: s.adminKey });
  const ok = (r: { status: number; text: string }, status = 200) => expect(r.status, r.text).toBe(status);
  const sql = (token: string, text: string) => s.call('POST', '/api/v1/queries', { token, body: { sql: text } });
  const withAdmin = async <T>(fn: (c: pg.Client) => Promise<T>) => {
    const c = new pg.Client({ connectionString: pgdb.url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  /** The source's own log, when this test made the cluster (LAKEHOUSE_TEST_PG_URL servers are not ours to read). */
  const sourceLog = () => (logFile ? withAdmin(async (c) => String((await c.query('SELECT pg_read_file($1) AS t', [logFile])).rows[0].t)) : Promise.resolve(null));

  beforeAll(async () => {
    pgdb = await startPostgres();
    await withAdmin(async (c) => {
      // A linguistic collation on name (where ICU is there) so that text order differs from DuckDB's byte order.
      const icu = (await c.query(`SELECT 1 FROM pg_collation WHERE collname = 'en-x-icu'`)).rowCount === 1;
      await c.query(`CREATE TABLE public.customers (id integer PRIMARY KEY, name text ${icu ? 'COLLATE "en-x-icu"' : ''} NOT NULL, email varchar(100), region text, score numeric(5,2), created date)`);
      for (const r of CUSTOMERS) await c.query('INSERT INTO public.customers VALUES ($1, $2, $3, $4, $5, $6)', r);
      await c.query(`CREATE ROLE fed_reader LOGIN PASSWORD 's3cret-pw'`);
      await c.query('GRANT SELECT ON public.customers TO fed_reader');
      await c.query(`CREATE VIEW public.slow AS SELECT 1 AS id, pg_sleep(30)::text AS nothing`);
      await c.query('GRANT SELECT ON public.slow TO fed_reader');
      await c.query(`ALTER ROLE fed_reader SET log_statement = 'all'`);
      if (!process.env.LAKEHOUSE_TEST_PG_URL) {
        // scripts/start-postgres.sh logs to <base>/postgres.log beside <base>/data.
        logFile = `${dirname(String((await c.query('SHOW data_directory')).rows[0].data_directory))}/postgres.log`;
      }
    });
    // The catalog store on PostgreSQL too (another database of the same cluster); files-warehouses.test.ts covers SQLite.
    catalogDb = await startPostgres();
    s = await startSecureServer({}, { catalogUrl: catalogDb.url });
    await createShopOrders(s);

    const u = new URL(pgdb.url);
    u.username = 'fed_reader';
    u.password = 's3cret-pw';
    const created = await s.call('POST', '/api/v1/external-sources', { ...admin(), body: { name: 'pgsrc', kind: 'postgres', postgres: { connectionString: u.toString() } } });
    ok(created, 201);
    expect(created.text).not.toContain('s3cret-pw');
    expect(created.body.hasPassword).toBe(true);

    const make = async (name: string) => {
      ok(await s.call('POST', '/api/v1/security/principals', { ...admin(), body: { name } }), 201);
      return (await s.call('POST', '/api/v1/security/api-keys', { ...admin(), body: { principal: name } })).body.key as string;
    };
    analyst = await make('alice');
    outsider = await make('olga');
    ok(await s.call('POST', '/api/v1/security/roles', { ...admin(), body: { name: 'analyst' } }), 201);
    ok(await s.call('POST', '/api/v1/security/memberships', { ...admin(), body: { role: 'analyst', principal: 'alice' } }), 201);
    const grant = async (securable: Record<string, string>) =>
      ok(await s.call('POST', '/api/v1/security/grants', { ...admin(), body: { grantee: { type: 'role', name: 'analyst' }, privilege: 'SELECT', securable } }), 201);
    await grant({ type: 'namespace', namespace: 'pgsrc.public' });
    await grant({ type: 'table', namespace: 'shop', table: 'orders' });
    ok(await s.call('POST', '/api/v1/security/masks', { ...admin(), body: { role: 'analyst', namespace: 'pgsrc.public', table: 'customers', column: 'email', kind: 'redact' } }), 201);
    // A second role sees EU rows only.
    euOnly = await make('rita');
    ok(await s.call('POST', '/api/v1/security/roles', { ...admin(), body: { name: 'eu_reader' } }), 201);
    ok(await s.call('POST', '/api/v1/security/memberships', { ...admin(), body: { role: 'eu_reader', principal: 'rita' } }), 201);
    ok(await s.call('POST', '/api/v1/security/grants', { ...admin(), body: { grantee: { type: 'role', name: 'eu_reader' }, privilege: 'SELECT', securable: { type: 'table', namespace: 'pgsrc.public', table: 'customers' } } }), 201);
    ok(await s.call('POST', '/api/v1/security/row-filters', { ...admin(), body: { role: 'eu_reader', namespace: 'pgsrc.public', table: 'customers', predicate: "region = 'eu'" } }), 201);
  }, 180_000);

  afterAll(async () => {
    await s?.close();
    await closePostgresPools();
    await pgdb?.stop();
    await catalogDb?.stop();
  });

  it('never returns the stored password', async () => {
    for (const path of ['/api/v1/external-sources', '/api/v1/external-sources/pgsrc']) {
      const r = await s.call('GET', path, admin());
      ok(r);
      expect(r.text).not.toContain('s3cret-pw');
      expect(r.text).toContain('fed_reader@');
    }
    ok(await s.call('POST', '/api/v1/external-sources/pgsrc/test', admin()));
    // The analyst may query the source's tables but not operate sources.
    expect((await s.call('GET', '/api/v1/external-sources', { token: analyst })).status).toBe(403);
  });

  it('joins a PostgreSQL table with an Iceberg table, pushing the filter and the projection down', async () => {
    const res = await sql(
      s.adminKey,
      `SELECT c.name, sum(o.amount) AS total FROM pgsrc.public.customers c JOIN shop.orders o ON o.customer_id = c.id
        WHERE c.region = 'eu' AND o.amount > 2 GROUP BY c.name ORDER BY c.name`,
    );
    ok(res);
    expect(res.body.rows).toEqual([
      ['ann', 12.5],
      ['cat', 20],
    ]);
    const [scan] = res.body.stats.external;
    expect(scan.table).toBe('pgsrc.public.customers');
    expect(scan.columns).toEqual(['id', 'name', 'region']);
    expect(scan.sql).toBe('SELECT "id", "name", "region" FROM "public"."customers" WHERE "region" = $1::text');
    expect(scan.params).toEqual(['eu']);
    expect(scan.filterPushed).toBe(true);
    expect(scan.rows).toBe(3);
    expect(res.body.stats.tables).toEqual(expect.arrayContaining(['pgsrc.public.customers', 'shop.orders']));
    const log = await sourceLog();
    if (log !== null) expect(log).toContain('SELECT "id", "name", "region" FROM "public"."customers" WHERE "region" = $1::text LIMIT 1000001');
  });

  it('pushed predicates mean in PostgreSQL what they mean in DuckDB', async () => {
    // The same rows as an Iceberg table (CTAS from the external table), so each predicate can be
    // checked against DuckDB's own evaluation.
    ok(await sql(s.adminKey, 'CREATE TABLE shop.customers_copy AS SELECT * FROM pgsrc.public.customers'));
    const predicates = [
      "name < 'b'", // byte order: 'Bob' and 'Zed' sort before 'a…'
      "name >= 'Zed' AND name <= 'cat'",
      "name LIKE 'a\\%%'", // backslash is an ordinary character in DuckDB
      "name NOT LIKE '%a%'",
      'id IN (1, 3, 6)',
      'id NOT IN (2)',
      'score > 1.5',
      'score BETWEEN 0.5 AND 2.25',
      'NOT (score < 3)',
      "created >= DATE '2024-03-15'",
      "created < '2024-02-10'",
      'email IS NULL',
      "region = 'eu' OR score < 1",
      'id > 2.5',
      'score = 3',
      "lower(name) = 'bob'", // not pushable: stays in DuckDB
    ];
    for (const p of predicates) {
      // One query evaluates the predicate both ways: pushed to PostgreSQL and by DuckDB.
      const res = await sql(
        s.adminKey,
        `SELECT (SELECT list(id ORDER BY id) FROM pgsrc.public.customers WHERE ${p}) AS pushed, (SELECT list(id ORDER BY id) FROM shop.customers_copy WHERE ${p}) AS duck`,
      );
      ok(res);
      const [[pushed, duck]] = res.body.rows;
      expect(pushed, p).toEqual(duck);
      expect(res.body.stats.external[0].filterPushed, p).toBe(!p.startsWith('lower('));
    }
    // Not vacuous: the predicates select different, non-empty sets.
    expect((await sql(s.adminKey, "SELECT list(id ORDER BY id) FROM pgsrc.public.customers WHERE name < 'b'")).body.rows).toEqual([[[1, 2, 4, 5]]]);
  });

  it('does not push a filter on the nullable side of an outer join, nor for a table read twice', async () => {
    const res = await sql(s.adminKey, 'SELECT o.id FROM shop.orders o LEFT JOIN pgsrc.public.customers c ON c.id = o.customer_id WHERE c.email IS NULL ORDER BY o.id');
    ok(res);
    expect(res.body.rows).toEqual([[15], [17]]);
    expect(res.body.stats.external[0].filterPushed).toBe(false);
    const twice = await sql(s.adminKey, "SELECT count(*) FROM pgsrc.public.customers a, pgsrc.public.customers b WHERE a.region = 'eu' AND b.region = 'us'");
    ok(twice);
    expect(twice.body.rows).toEqual([[6]]);
    expect(twice.body.stats.external).toHaveLength(1);
    expect(twice.body.stats.external[0].filterPushed).toBe(false);
    // DuckDB would resolve another spelling to the same view, but grants match names exactly: refused.
    const cased = await sql(s.adminKey, "SELECT count(*) FROM pgsrc.public.customers a, pgsrc.Public.Customers b WHERE a.region = 'eu' AND b.region = 'us'");
    expect(cased.status).toBe(400);
    // count(*) still needs the rows: one column is fetched.
    const count = await sql(s.adminKey, 'SELECT count(*) FROM pgsrc.public.customers');
    expect(count.body.rows).toEqual([[6]]);
    expect(count.body.stats.external[0].columns).toEqual(['id']);
  });

  it('applies grants and masks to external tables, and audits them', async () => {
    const res = await sql(analyst, 'SELECT c.name, c.email FROM pgsrc.public.customers c JOIN shop.orders o ON o.customer_id = c.id WHERE o.amount > 50');
    ok(res);
    expect(res.body.rows).toEqual([['Bob', '****']]);
    expect(res.text).not.toContain('@');
    // A predicate on the masked column sees the mask, and is not pushed (the source would test stored values).
    const probe = await sql(analyst, "SELECT count(*) FROM pgsrc.public.customers WHERE email LIKE '%@%'");
    ok(probe);
    expect(probe.body.rows).toEqual([[0]]);
    expect(probe.body.stats.external[0].filterPushed).toBe(false);
    // Unmasked columns are still pushed for the analyst.
    const pushed = await sql(analyst, "SELECT name FROM pgsrc.public.customers WHERE region = 'us' ORDER BY name");
    expect(pushed.body.rows).toEqual([['Bob'], ['Zed']]);
    expect(pushed.body.stats.external[0].filterPushed).toBe(true);
    // No grant: refused before the source is contacted.
    const refused = await sql(outsider, 'SELECT * FROM pgsrc.public.customers');
    expect(refused.status).toBe(403);
    const audit = await s.call('GET', '/api/v1/security/audit?principal=alice&action=query.run', admin());
    ok(audit);
    expect(audit.text).toContain('pgsrc.public.customers');
  });

  it('applies row filters to external tables (and then pushes none of the caller\'s predicates)', async () => {
    const res = await sql(euOnly, 'SELECT name, region FROM pgsrc.public.customers WHERE score > 2 ORDER BY name');
    ok(res);
    expect(res.body.rows).toEqual([
      ['a\\%x', 'eu'],
      ['cat', 'eu'],
    ]);
    const [scan] = res.body.stats.external;
    expect(scan.filterPushed).toBe(false);
    expect(scan.rows).toBeUndefined();
    expect(scan.columns).toEqual(['name', 'region', 'score']);
  });

  it('manages sources with the CLI', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
    const u = new URL(pgdb.url);
    u.username = 'fed_reader';
    let code: number;
    try {
      process.env.FED_TEST_PW = 's3cret-pw';
      const args = ['--url', s.base, '--token', s.adminKey];
      code = await externalSourcesCommand(['add-postgres', 'pgcli', '--connection', u.toString(), '--password-env', 'FED_TEST_PW', '--schemas', 'public', ...args]);
      expect(code).toBe(0);
      expect(await externalSourcesCommand(['test', 'pgcli', ...args])).toBe(0);
      expect(await externalSourcesCommand(['list', ...args])).toBe(0);
      expect(await externalSourcesCommand(['delete', 'pgcli', ...args])).toBe(0);
    } finally {
      process.stdout.write = write;
      delete process.env.FED_TEST_PW;
    }
    const text = out.join('');
    expect(text).toContain('pgcli');
    expect(text).not.toContain('s3cret-pw');
    expect((await s.call('GET', '/api/v1/external-sources/pgcli', admin())).status).toBe(404);
  });

  it('cancels the source statement when the query times out', async () => {
    const t0 = Date.now();
    const res = await s.call('POST', '/api/v1/queries', { token: s.adminKey, body: { sql: 'SELECT * FROM pgsrc.public.slow', timeoutMs: 1000 } });
    expect(res.status, res.text).toBe(408);
    expect(Date.now() - t0).toBeLessThan(15_000);
    // The statement no longer runs on the server.
    await expect
      .poll(() => withAdmin(async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%"public"."slow"%' AND state = 'active' AND pid <> pg_backend_pid()`)).rows[0].n), { timeout: 5000 })
      .toBe(0);
  });

  it('fails a query when a source table returns more than its maxRows', async () => {
    const u = new URL(pgdb.url);
    u.username = 'fed_reader';
    ok(await s.call('POST', '/api/v1/external-sources', { ...admin(), body: { name: 'pgsmall', kind: 'postgres', postgres: { connectionString: u.toString(), maxRows: 3 }, password: 's3cret-pw' } }), 201);
    const tooMany = await sql(s.adminKey, 'SELECT * FROM pgsmall.public.customers');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toContain('more than 3 rows');
    const few = await sql(s.adminKey, "SELECT name FROM pgsmall.public.customers WHERE region = 'eu' ORDER BY id");
    ok(few);
    expect(few.body.rows).toEqual([['ann'], ['cat'], ['a\\%x']]);
  });

  it('refuses unknown sources, missing tables and schemas outside the source', async () => {
    expect((await sql(s.adminKey, 'SELECT * FROM nosuch.public.customers')).status).toBe(404);
    expect((await sql(s.adminKey, 'SELECT * FROM pgsrc.public.nosuch')).status).toBe(404);
    // Source names are case-insensitive (lower-case identifiers); schema and table names are exact, as for Iceberg tables.
    expect((await sql(s.adminKey, 'SELECT count(*) FROM PGSRC.public.customers')).body.rows).toEqual([[6]]);
    expect((await sql(s.adminKey, 'SELECT count(*) FROM pgsrc.PUBLIC.customers')).status).toBe(404);
    const u = new URL(pgdb.url);
    u.username = 'fed_reader';
    ok(await s.call('POST', '/api/v1/external-sources', { ...admin(), body: { name: 'pgnarrow', kind: 'postgres', postgres: { connectionString: u.toString(), schemas: ['crm'] }, password: 's3cret-pw' } }), 201);
    expect((await sql(s.adminKey, 'SELECT * FROM pgnarrow.public.customers')).status).toBe(404);
    // A source may not take a namespace's name (grants would name both).
    const clash = await s.call('POST', '/api/v1/external-sources', { ...admin(), body: { name: 'shop', kind: 'postgres', postgres: { connectionString: pgdb.url } } });
    expect(clash.status).toBe(409);
  });
});
