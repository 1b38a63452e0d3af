import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeMysqlPools } from '../../src/federation/mysql.js';
import { startMariadb, type TestMariadb } from '../support/mariadb.js';
import { startSecureServer, type SecureServer } from '../security/support.js';
import { createShopOrders } from './support.js';

/**
 * Federated SQL against a real MariaDB server (scripts/start-mariadb.sh), over real HTTP:
 * `mysrc.<db>.customers` joined with the Iceberg table `shop.orders`. The source is read by a
 * user with a password and SELECT on one database. The `name` column keeps MariaDB's default
 * collation (case- and trailing-blank-insensitive), so a pushed comparison that forgot the binary
 * collation would return other rows than DuckDB does.
 */
const CUSTOMERS: [number, string, string | null, string, string, string][] = [
  // id, name, email, region, score, created
  [1, 'abc', 'abc@eu.example', 'eu', '1.50', '2024-01-05'],
  [2, 'ABC', 'ABC@us.example', 'us', '2.25', '2024-02-10'],
  [3, 'abc ', 'sp@eu.example', 'eu', '3.00', '2024-03-15'],
  [4, 'Zed', null, 'us', '0.75', '2024-04-20'],
  [5, 'a\\%x', 'odd@eu.example', 'eu', '9.99', '2024-05-25'],
  [6, 'éva', 'eva@eu.example', 'apac', '5.00', '2024-06-30'],
];
const PASSWORD = 'my-s3cret-pw';

describe('federated SQL: MariaDB joined with Iceberg tables', () => {
  let my: TestMariadb;
  let s: SecureServer;
  const admin = () => ({ token: s.adminKey });
  const ok = (r: { status: number; text: string }, status = 200) => expect(r.status, r.text).toBe(status);
  const sql = (text: string) => s.call('POST', '/api/v1/queries', { token: s.adminKey, body: { sql: text } });

  beforeAll(async () => {
    my = await startMariadb();
    const port = new URL(my.adminUrl).port;
    await my.admin(async (c) => {
      await c.query(`CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, email VARCHAR(100), region VARCHAR(10), score DECIMAL(5,2), created DATE) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
      await c.query('INSERT INTO customers VALUES ?', [CUSTOMERS]);
      await c.query('CREATE VIEW slow AS SELECT 1 AS id, SLEEP(30) AS nothing');
      await c.query(`CREATE USER 'fed_reader'@'127.0.0.1' IDENTIFIED BY '${PASSWORD}'`);
      await c.query(`GRANT SELECT ON \`${my.database}\`.* TO 'fed_reader'@'127.0.0.1'`);
    });
    s = await startSecureServer({});
    await createShopOrders(s);
    // The password inside the connection string: it must be moved to the secret.
    const created = await s.call('POST', '/api/v1/external-sources', { ...admin(), body: { name: 'mysrc', kind: 'mysql', mysql: { connectionString: `mysql://fed_reader:${PASSWORD}@127.0.0.1:${port}/` } } });
    ok(created, 201);
    expect(created.text).not.toContain(PASSWORD);
    expect(created.body.hasPassword).toBe(true);
    const slow = await s.call('POST', '/api/v1/external-sources', {
      ...admin(),
      body: { name: 'myslow', kind: 'mysql', mysql: { connectionString: `mysql://fed_reader@127.0.0.1:${port}`, statementTimeoutMs: 1000 }, password: PASSWORD },
    });
    ok(slow, 201);
    expect(slow.text).not.toContain(PASSWORD);
  }, 120_000);

  afterAll(async () => {
    await s?.close();
    await closeMysqlPools();
    await my?.stop();
  });

  it('never returns the stored password', async () => {
    for (const path of ['/api/v1/external-sources', '/api/v1/external-sources/mysrc', '/api/v1/external-sources/myslow']) {
      const r = await s.call('GET', path, admin());
      ok(r);
      expect(r.text).not.toContain(PASSWORD);
      expect(r.text).toContain('fed_reader@127.0.0.1');
    }
    const one = await s.call('GET', '/api/v1/external-sources/mysrc', admin());
    expect(one.body).toMatchObject({ kind: 'mysql', hasPassword: true });
    ok(await s.call('POST', '/api/v1/external-sources/mysrc/test', admin()));
  });

  it('joins a MariaDB table with an Iceberg table, pushing the filter and the projection down', async () => {
    const res = await sql(
      `SELECT c.name, sum(o.amount) AS total FROM mysrc.${my.database}.customers c JOIN shop.orders o ON o.customer_id = c.id
        WHERE c.region = 'eu' AND o.amount > 2 GROUP BY c.name ORDER BY c.name`,
    );
    ok(res);
    expect(res.body.rows).toEqual([
      ['abc', 12.5],
      ['abc ', 20],
    ]);
    const [scan] = res.body.stats.external;
    expect(scan).toMatchObject({ table: `mysrc.${my.database}.customers`, kind: 'mysql', columns: ['id', 'name', 'region'], params: ['eu'], filterPushed: true, rows: 3 });
    expect(scan.sql).toBe(`SELECT \`id\`, \`name\`, \`region\` FROM \`${my.database}\`.\`customers\` WHERE \`region\` COLLATE utf8mb4_nopad_bin = ? COLLATE utf8mb4_nopad_bin LIMIT 1000001`);
  });

  it('pushed predicates mean in MariaDB what they mean in DuckDB (case, trailing blanks, LIKE escapes)', async () => {
    ok(await sql(`CREATE TABLE shop.customers_copy AS SELECT * FROM mysrc.${my.database}.customers`));
    const predicates = [
      "name = 'abc'", // MariaDB's default collation would also match 'ABC' and 'abc '
      "name <> 'ABC'",
      "name IN ('ABC', 'zed')",
      "name < 'a'", // byte order: upper case first
      "name BETWEEN 'ABC' AND 'abc'",
      "name LIKE 'a\\%%'", // backslash is an ordinary character in DuckDB
      "name LIKE 'ab_'",
      "name NOT LIKE '%B%'",
      'id IN (1, 3, 6)',
      'score > 1.5',
      'NOT (score < 3)',
      "created >= DATE '2024-03-15'",
      "created < '2024-02-10'",
      'email IS NULL',
      "region = 'EU' OR score < 1",
      "lower(name) = 'abc'", // not pushable: stays in DuckDB
    ];
    for (const p of predicates) {
      const res = await sql(
        `SELECT (SELECT list(id ORDER BY id) FROM mysrc.${my.database}.customers WHERE ${p}) AS pushed, (SELECT list(id ORDER BY id) FROM shop.customers_copy WHERE ${p}) AS duck`,
      );
      ok(res);
      const [[pushed, duck]] = res.body.rows;
      expect(pushed, p).toEqual(duck);
      expect(res.body.stats.external[0].filterPushed, p).toBe(!p.startsWith('lower('));
    }
    // Not vacuous: the case-sensitive answer differs from what MariaDB's own collation gives.
    const eq = await sql(`SELECT list(id ORDER BY id) FROM mysrc.${my.database}.customers WHERE name = 'abc'`);
    expect(eq.body.rows).toEqual([[[1]]]);
    const native = await my.admin(async (c) => (await c.query("SELECT id FROM customers WHERE name = 'abc' ORDER BY id"))[0] as { id: number }[]);
    expect(native.map((r) => r.id)).toEqual([1, 2, 3]);
  });

  it('fails a query when a source table returns more than its maxRows, and the source still answers after it', async () => {
    const port = new URL(my.adminUrl).port;
    ok(await s.call('POST', '/api/v1/external-sources', { ...admin(), body: { name: 'mysmall', kind: 'mysql', mysql: { connectionString: `mysql://fed_reader@127.0.0.1:${port}`, maxRows: 3 }, password: PASSWORD } }), 201);
    const tooMany = await sql(`SELECT * FROM mysmall.${my.database}.customers`);
    expect(tooMany.status, tooMany.text).toBe(400);
    expect(tooMany.body.error.message).toContain('more than 3 rows');
    // Exactly maxRows is allowed; the connection left mid-result was not reused.
    const three = await sql(`SELECT id FROM mysmall.${my.database}.customers WHERE region = 'eu' ORDER BY id`);
    ok(three);
    expect(three.body.rows).toEqual([[1], [3], [5]]);
  });

  it('kills a statement that runs past the timeout', async () => {
    const t0 = Date.now();
    const res = await sql(`SELECT * FROM myslow.${my.database}.slow`);
    expect(res.status, res.text).toBe(400);
    expect(res.text).toMatch(/longer than 1000 ms/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    // The server is no longer running it.
    const running = await my.admin(async (c) => (await c.query("SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE '%slow%' AND USER = 'fed_reader'"))[0] as { n: number }[]);
    expect(Number(running[0].n)).toBe(0);
  });
});
