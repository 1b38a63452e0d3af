import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Duck } from '../../src/duck/db.js';
import { maskSql } from '../../src/security/sql-policy.js';
import { startSecureServer, type SecureServer } from './support.js';

/**
 * Column grants, column masks and row filters enforced inside SQL, over a real HTTP server.
 * hr.people holds six rows; the analyst role may read id, name, email and region (not salary),
 * sees email hashed, and only rows with region = 'eu' (ann, cat, fay). Whatever the SQL
 * construct, the analyst's responses must never contain a raw email ('@'), a US person's name
 * (bob, dan, eve) or a salary (all end in .75, which a hex hash cannot contain).
 */
const HIDDEN = ['@', 'bob', 'dan', 'eve', '.75', 'salary'];
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function leaks(text: string): string[] {
  return HIDDEN.filter((h) => text.toLowerCase().includes(h));
}

describe('SQL enforces column grants, masks and row filters', () => {
  let s: SecureServer;
  let alice: string;
  let mallory: string;
  let firstSnapshot: string;
  let firstAt: number;
  const admin = () => ({ token: s.adminKey });
  const sql = (token: string, text: string, extra: Record<string, unknown> = {}, headers?: Record<string, string>) =>
    s.call('POST', '/api/v1/queries', { token, body: { sql: text, ...extra }, headers });
  /** Runs as the analyst, expects 200 and no hidden value in the response; returns the rows. */
  const asAnalyst = async (text: string, extra: Record<string, unknown> = {}) => {
    const res = await sql(alice, text, extra);
    expect(res.status, `${text}: ${res.text}`).toBe(200);
    expect(leaks(res.text), text).toEqual([]);
    return res.body.rows as unknown[][];
  };

  beforeAll(async () => {
    s = await startSecureServer();
    const ok = (r: { status: number; text: string }, status = 200) => expect(r.status, r.text).toBe(status);
    for (const ns of ['hr', 'scratch']) ok(await s.call('POST', '/v1/lakehouse/namespaces', { ...admin(), body: { namespace: [ns] } }));
    const field = (id: number, name: string, type: string) => ({ id, name, type, required: false });
    const people = [field(1, 'id', 'long'), field(2, 'name', 'string'), field(3, 'email', 'string'), field(4, 'region', 'string'), field(5, 'salary', 'double')];
    ok(await s.call('POST', '/v1/lakehouse/namespaces/hr/tables', { ...admin(), body: { name: 'people', schema: { type: 'struct', 'schema-id': 0, fields: people } } }));
    ok(await s.call('POST', '/v1/lakehouse/namespaces/hr/tables', { ...admin(), body: { name: 'depts', schema: { type: 'struct', 'schema-id': 0, fields: [field(1, 'id', 'long'), field(2, 'dept', 'string')] } } }));
    ok(await s.call('POST', '/v1/lakehouse/namespaces/hr/tables', { ...admin(), body: { name: 'secret', schema: { type: 'struct', 'schema-id': 0, fields: [field(1, 'id', 'long')] } } }));
    ok(await s.call('POST', '/v1/lakehouse/namespaces/scratch/tables', { ...admin(), body: { name: 'copy2', schema: { type: 'struct', 'schema-id': 0, fields: people.slice(0, 4) } } }));
    ok(await sql(s.adminKey, "INSERT INTO hr.people VALUES (1, 'ann', 'ann@eu.example', 'eu', 1111.75), (2, 'bob', 'bob@us.example', 'us', 2222.75), (3, 'cat', 'cat@eu.example', 'eu', 3333.75), (4, 'dan', 'dan@us.example', 'us', 4444.75)"));
    const snaps = await sql(s.adminKey, 'SELECT snapshot_id FROM hr."people$snapshots"');
    firstSnapshot = String(snaps.body.rows[0][0]);
    firstAt = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    ok(await sql(s.adminKey, "INSERT INTO hr.people VALUES (5, 'eve', 'eve@us.example', 'us', 5555.75), (6, 'fay', 'fay@eu.example', 'eu', 6666.75)"));
    ok(await sql(s.adminKey, "INSERT INTO hr.depts VALUES (1, 'ops'), (2, 'dev'), (3, 'ops'), (4, 'dev'), (5, 'ops'), (6, 'dev')"));

    const make = async (name: string) => {
      ok(await s.call('POST', '/api/v1/security/principals', { ...admin(), body: { name } }), 201);
      return (await s.call('POST', '/api/v1/security/api-keys', { ...admin(), body: { principal: name } })).body.key as string;
    };
    alice = await make('alice');
    mallory = await make('mallory');
    ok(await s.call('POST', '/api/v1/security/roles', { ...admin(), body: { name: 'analyst' } }), 201);
    ok(await s.call('POST', '/api/v1/security/memberships', { ...admin(), body: { role: 'analyst', principal: 'alice' } }), 201);
    ok(await s.call('POST', '/api/v1/security/memberships', { ...admin(), body: { role: 'analyst', principal: 'mallory' } }), 201);
    const grant = async (privilege: string, securable: Record<string, string>) =>
      ok(await s.call('POST', '/api/v1/security/grants', { ...admin(), body: { grantee: { type: 'role', name: 'analyst' }, privilege, securable } }), 201);
    for (const column of ['id', 'name', 'email', 'region']) await grant('SELECT', { type: 'column', namespace: 'hr', table: 'people', column });
    await grant('MODIFY', { type: 'table', namespace: 'hr', table: 'people' });
    await grant('SELECT', { type: 'table', namespace: 'hr', table: 'depts' });
    await grant('CREATE', { type: 'namespace', namespace: 'scratch' });
    await grant('INSERT', { type: 'table', namespace: 'scratch', table: 'copy2' });
    ok(await s.call('POST', '/api/v1/security/masks', { ...admin(), body: { role: 'analyst', namespace: 'hr', table: 'people', column: 'email', kind: 'hash' } }), 201);
    ok(await s.call('POST', '/api/v1/security/row-filters', { ...admin(), body: { role: 'analyst', namespace: 'hr', table: 'people', predicate: "region = 'eu'" } }), 201);
  });
  afterAll(async () => s?.close());

  it('admin sees every row and column; the analyst a masked, filtered subset', async () => {
    const all = await sql(s.adminKey, 'SELECT * FROM hr.people ORDER BY id');
    expect(all.status).toBe(200);
    expect(all.body.columns.map((c: { name: string }) => c.name)).toEqual(['id', 'name', 'email', 'region', 'salary']);
    expect(all.body.rows).toHaveLength(6);
    expect(leaks(all.text)).toEqual(HIDDEN);

    const res = await sql(alice, 'SELECT * FROM hr.people ORDER BY id');
    expect(res.body.columns).toEqual([
      { name: 'id', type: 'BIGINT' },
      { name: 'name', type: 'VARCHAR' },
      { name: 'email', type: 'VARCHAR' },
      { name: 'region', type: 'VARCHAR' },
    ]);
    expect(res.body.rows).toEqual([
      [1, 'ann', sha('ann@eu.example'), 'eu'],
      [3, 'cat', sha('cat@eu.example'), 'eu'],
      [6, 'fay', sha('fay@eu.example'), 'eu'],
    ]);
    expect(await asAnalyst('SELECT name, email FROM hr.people WHERE id = 1')).toEqual([['ann', sha('ann@eu.example')]]);
  });

  it('a column without a grant does not exist for the analyst', async () => {
    for (const text of ['SELECT salary FROM hr.people', 'SELECT name FROM hr.people ORDER BY salary', 'SELECT max(salary) FROM hr.people', 'SELECT p.salary FROM hr.people p JOIN hr.depts d USING (id)']) {
      const res = await sql(alice, text);
      expect(res.status, text).toBe(400);
      expect(res.body.error.message).toMatch(/salary/);
      expect(leaks(res.text.replaceAll('salary', ''))).toEqual([]);
    }
  });

  it('filters on the masked value, never the raw one', async () => {
    expect(await asAnalyst("SELECT id FROM hr.people WHERE email = 'ann@eu.example'")).toEqual([]);
    expect(await asAnalyst("SELECT id FROM hr.people WHERE email LIKE '%@%'")).toEqual([]);
    expect(await asAnalyst(`SELECT id FROM hr.people WHERE email = '${sha('ann@eu.example')}'`)).toEqual([[1]]);
    expect((await sql(s.adminKey, "SELECT id FROM hr.people WHERE email = 'ann@eu.example'")).body.rows).toEqual([[1]]);
    // File pruning would tell whether hidden rows match: none for a filtered principal.
    expect((await sql(s.adminKey, "SELECT id FROM hr.people WHERE name = 'bob'")).body.stats.filesPruned).toBe(1);
    expect((await sql(alice, "SELECT id FROM hr.people WHERE name = 'bob'")).body.stats).toMatchObject({ filesPruned: 0, filesScanned: 2 });
    // Rows outside the filter stay out even when named exactly.
    expect(await asAnalyst("SELECT id FROM hr.people WHERE region = 'us' OR name = 'bob'")).toEqual([]);
  });

  it('aggregates, joins, self-joins, subqueries, CTEs, set operations, windows and ORDER BY see only the view', async () => {
    expect(await asAnalyst('SELECT region, count(*), string_agg(name, \',\' ORDER BY name) FROM hr.people GROUP BY region')).toEqual([['eu', 3, 'ann,cat,fay']]);
    expect(await asAnalyst('SELECT count(*), count(DISTINCT email), min(email) = max(email) FROM hr.people')).toEqual([[3, 3, false]]);
    expect(await asAnalyst('SELECT p.name, d.dept FROM hr.people p JOIN hr.depts d ON p.id = d.id ORDER BY p.name')).toEqual([['ann', 'ops'], ['cat', 'ops'], ['fay', 'dev']]);
    expect(await asAnalyst('SELECT d.id, p.name FROM hr.depts d LEFT JOIN hr.people p ON p.id = d.id ORDER BY d.id')).toEqual([[1, 'ann'], [2, null], [3, 'cat'], [4, null], [5, null], [6, 'fay']]);
    expect(await asAnalyst('SELECT count(*) FROM hr.people a JOIN hr.people b ON a.id <> b.id')).toEqual([[6]]);
    expect(await asAnalyst("SELECT name FROM hr.people WHERE id IN (SELECT id FROM hr.people WHERE region = 'us')")).toEqual([]);
    expect(await asAnalyst('SELECT (SELECT count(*) FROM hr.people), (SELECT max(id) FROM hr.people WHERE id < 6)')).toEqual([[3, 3]]);
    expect(await asAnalyst('SELECT count(*) FROM hr.depts d WHERE EXISTS (SELECT 1 FROM hr.people p WHERE p.id = d.id)')).toEqual([[3]]);
    expect(await asAnalyst('WITH x AS (SELECT * FROM hr.people), y AS (SELECT * FROM x WHERE id > 1) SELECT count(*), list(name ORDER BY id) FROM y')).toEqual([[2, ['cat', 'fay']]]);
    expect(await asAnalyst('SELECT name FROM hr.people UNION SELECT dept FROM hr.depts ORDER BY 1')).toEqual([['ann'], ['cat'], ['dev'], ['fay'], ['ops']]);
    expect(await asAnalyst('SELECT id FROM hr.depts EXCEPT SELECT id FROM hr.people ORDER BY 1')).toEqual([[2], [4], [5]]);
    expect(await asAnalyst('SELECT name, row_number() OVER (ORDER BY id DESC), count(*) OVER (), lag(email) OVER (ORDER BY id) FROM hr.people ORDER BY id')).toEqual([
      ['ann', 3, 3, null],
      ['cat', 2, 3, sha('ann@eu.example')],
      ['fay', 1, 3, sha('cat@eu.example')],
    ]);
    expect(await asAnalyst('SELECT name FROM hr.people ORDER BY email DESC, id LIMIT 10')).toHaveLength(3);
    expect(await asAnalyst('SELECT * FROM (SELECT * FROM hr.people) AS t, LATERAL (SELECT t.id * 2) ORDER BY 1')).toHaveLength(3);
  });

  it("the user's predicates run only on rows that passed the filter (no probing by errors)", async () => {
    expect(await asAnalyst("SELECT name FROM hr.people WHERE CASE WHEN region <> 'eu' THEN error('probe') ELSE TRUE END ORDER BY id")).toEqual([['ann'], ['cat'], ['fay']]);
    expect(await asAnalyst("SELECT name FROM hr.people WHERE CAST(CASE WHEN name = 'bob' THEN 'x' ELSE '1' END AS INTEGER) = 1 ORDER BY id")).toHaveLength(3);
  });

  it('time travel goes through the same view', async () => {
    const ts = new Date(firstAt).toISOString().replace('T', ' ').replace('Z', '');
    expect(await asAnalyst(`SELECT id, email FROM hr.people FOR VERSION AS OF ${firstSnapshot} ORDER BY id`)).toEqual([[1, sha('ann@eu.example')], [3, sha('cat@eu.example')]]);
    expect(await asAnalyst(`SELECT id FROM hr.people FOR TIMESTAMP AS OF TIMESTAMP '${ts}' ORDER BY id`)).toEqual([[1], [3]]);
    expect(await asAnalyst('SELECT id FROM hr.people ORDER BY id', { snapshotId: firstSnapshot })).toEqual([[1], [3]]);
    expect(await asAnalyst('SELECT * FROM hr.people ORDER BY id', { asOf: new Date(firstAt).toISOString() })).toEqual([[1, 'ann', sha('ann@eu.example'), 'eu'], [3, 'cat', sha('cat@eu.example'), 'eu']]);
    expect(await asAnalyst(`SELECT a.id FROM hr.people a JOIN hr.people FOR VERSION AS OF ${firstSnapshot} AS b ON a.id = b.id ORDER BY 1`)).toEqual([[1], [3]]);
    expect((await sql(alice, `SELECT salary FROM hr.people FOR VERSION AS OF ${firstSnapshot}`)).status).toBe(400);
  });

  it('async queries, result pages, CSV and Arrow carry the masked view only', async () => {
    const started = await sql(alice, 'SELECT id, name, email, region FROM hr.people ORDER BY id', { async: true });
    expect(started.status).toBe(202);
    const id = started.body.queryId;
    let state = 'queued';
    for (let i = 0; i < 100 && state !== 'succeeded' && state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = (await s.call('GET', `/api/v1/queries/${id}`, { token: alice })).body.state;
    }
    expect(state).toBe('succeeded');
    const texts: string[] = [];
    let token: string | undefined;
    const rows: unknown[][] = [];
    do {
      const page = await s.call('GET', `/api/v1/queries/${id}/results?pageSize=1${token ? `&pageToken=${token}` : ''}`, { token: alice });
      expect(page.status).toBe(200);
      texts.push(page.text);
      rows.push(...page.body.rows);
      token = page.body.nextPageToken;
    } while (token);
    expect(rows.map((r) => r[1])).toEqual(['ann', 'cat', 'fay']);
    expect(leaks(texts.join('\n'))).toEqual([]);
    const csvPage = await s.call('GET', `/api/v1/queries/${id}/results`, { token: alice, headers: { accept: 'text/csv' } });
    expect(csvPage.text.split('\r\n').filter(Boolean)).toHaveLength(4);
    expect(leaks(csvPage.text)).toEqual([]);
    // Another principal, even in the same role, cannot see the query or its results.
    expect((await s.call('GET', `/api/v1/queries/${id}`, { token: mallory })).status).toBe(404);
    expect((await s.call('GET', `/api/v1/queries/${id}/results`, { token: mallory })).status).toBe(404);
    expect((await s.call('GET', '/api/v1/queries', { token: mallory })).body.queries).toEqual([]);
    expect((await s.call('GET', '/api/v1/queries', { token: alice })).body.queries.map((q: { queryId: string }) => q.queryId)).toContain(id);
    expect((await s.call('GET', `/api/v1/queries/${id}/results`, admin())).status).toBe(200);

    const csv = await sql(alice, 'SELECT * FROM hr.people ORDER BY id', {}, { accept: 'text/csv' });
    expect(csv.status).toBe(200);
    expect(csv.text.split('\r\n')[0]).toBe('id,name,email,region');
    expect(leaks(csv.text)).toEqual([]);
    for (const accept of ['application/vnd.apache.arrow.stream', 'application/vnd.apache.arrow.file']) {
      const res = await fetch(`${s.base}/api/v1/queries`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json', accept }, body: JSON.stringify({ sql: 'SELECT * FROM hr.people' }) });
      expect(res.status).toBe(200);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(bytes.includes('fay')).toBe(true);
      // Binary: '@' and '.75' may occur as bytes of numbers; look for the hidden strings themselves.
      const text = bytes.toString('latin1');
      expect(['.example', 'bob', 'dan', 'eve', 'salary'].filter((h) => text.includes(h))).toEqual([]);
      const adminBytes = Buffer.from(await (await fetch(`${s.base}/api/v1/queries`, { method: 'POST', headers: { authorization: `Bearer ${s.adminKey}`, 'content-type': 'application/json', accept }, body: JSON.stringify({ sql: 'SELECT * FROM hr.people' }) })).arrayBuffer());
      expect(adminBytes.includes('bob@us.example')).toBe(true);
    }
  });

  it('metadata tables are refused to a limited principal', async () => {
    for (const m of ['files', 'partitions', 'manifests', 'snapshots']) {
      const res = await sql(alice, `SELECT * FROM hr."people$${m}"`);
      expect(res.status, m).toBe(403);
      expect(res.body.error.message).toMatch(/limited on hr\.people/);
      expect((await sql(s.adminKey, `SELECT * FROM hr."people$${m}"`)).status).toBe(200);
    }
    // Unlimited on depts: its metadata tables are open to the analyst.
    expect((await sql(alice, 'SELECT count(*) FROM hr."depts$files"')).status).toBe(200);
  });

  it('tables without SELECT are refused by name; writes need their privileges', async () => {
    const secret = await sql(alice, 'SELECT p.id FROM hr.people p JOIN hr.secret s ON p.id = s.id');
    expect(secret.status).toBe(403);
    expect(secret.body.error.message).toContain('lacks SELECT on hr.secret');
    expect((await sql(alice, 'SELECT 1 WHERE EXISTS (SELECT 1 FROM hr.secret)')).status).toBe(403);
    // Existence is not revealed either: a table that does not exist answers the same.
    expect((await sql(alice, 'SELECT * FROM hr.nosuch')).body.error.message).toContain('lacks SELECT on hr.nosuch');
    expect((await sql(s.adminKey, 'SELECT * FROM hr.nosuch')).status).toBe(404);
    // DELETE/UPDATE/MERGE on a table the caller sees masked or filtered: refused despite MODIFY.
    for (const text of ["DELETE FROM hr.people WHERE region = 'us'", "UPDATE hr.people SET name = 'x' WHERE id = 2", 'MERGE INTO hr.people t USING hr.depts d ON t.id = d.id WHEN MATCHED THEN DELETE']) {
      const res = await sql(alice, text);
      expect(res.status, text).toBe(403);
      expect(res.body.error.message).toMatch(/limited on it/);
    }
    expect((await sql(alice, "INSERT INTO hr.depts VALUES (9, 'x')")).body.error.message).toContain('lacks INSERT on hr.depts');
    expect((await sql(alice, 'CREATE TABLE hr.copy AS SELECT 1 AS x')).body.error.message).toContain('lacks CREATE on hr');
    expect((await sql(s.adminKey, 'SELECT count(*) FROM hr.people')).body.rows).toEqual([[6]]);
  });

  it('CTAS and INSERT … SELECT copy masked values and visible rows only', async () => {
    expect((await sql(alice, 'CREATE TABLE scratch.copy AS SELECT * FROM hr.people')).body.rows).toEqual([[3]]);
    expect((await sql(alice, 'INSERT INTO scratch.copy2 SELECT * FROM hr.people')).body.rows).toEqual([[3]]);
    for (const t of ['copy', 'copy2']) {
      const copy = await sql(s.adminKey, `SELECT * FROM scratch.${t} ORDER BY id`);
      expect(copy.status).toBe(200);
      expect(copy.body.columns.map((c: { name: string }) => c.name)).toEqual(['id', 'name', 'email', 'region']);
      expect(copy.body.rows).toEqual([
        [1, 'ann', sha('ann@eu.example'), 'eu'],
        [3, 'cat', sha('cat@eu.example'), 'eu'],
        [6, 'fay', sha('fay@eu.example'), 'eu'],
      ]);
    }
  });

  it('row filters are checked when created: one expression over the table columns', async () => {
    const create = (predicate: string) => s.call('POST', '/api/v1/security/row-filters', { ...admin(), body: { role: 'analyst', namespace: 'hr', table: 'depts', predicate } });
    for (const bad of ['id IN (SELECT id FROM hr.secret)', 'EXISTS (SELECT 1 FROM read_csv(\'/etc/passwd\'))', 'nosuch = 1', "dept = 'x') FROM hr.secret WHERE (1 = 1", 'TRUE UNION SELECT 1 FROM hr.secret', 'depts.id = 1', 'TRUE) AS x, (SELECT 1']) {
      const res = await create(bad);
      expect(res.status, bad).toBe(400);
    }
    const good = await create("dept = 'ops' AND id > 0");
    expect(good.status).toBe(201);
    expect(await asAnalyst('SELECT id FROM hr.depts ORDER BY id')).toEqual([[1], [3], [5]]);
    await s.call('DELETE', `/api/v1/security/row-filters/${good.body.id}`, admin());
  });

  it('the audit log names the tables and columns a query touched; Iceberg loadTable stays refused', async () => {
    await sql(alice, "SELECT name, email FROM hr.people WHERE region = 'eu'");
    const audit = await s.call('GET', '/api/v1/security/audit?principal=alice&action=query.run', admin());
    const last = audit.body.records.at(-1);
    expect(last).toMatchObject({ resource: 'hr.people', outcome: 'allowed' });
    expect(last.columns.sort()).toEqual(['hr.people.email', 'hr.people.name', 'hr.people.region']);
    const ctas = audit.body.records.find((r: { resource: string | null }) => r.resource?.includes('scratch.copy'));
    expect(ctas.resource.split(',').sort()).toEqual(['hr.people', 'scratch.copy']);
    expect(ctas.columns).toContain('hr.people.email');
    const star = audit.body.records.find((r: { columns: string[] | null }) => r.columns?.length === 4);
    expect(star.columns).not.toContain('hr.people.salary');
    const denied = audit.body.records.find((r: { outcome: string }) => r.outcome === 'denied');
    expect(denied.detail).toMatch(/lacks SELECT on hr\.secret|limited/);
    expect((await s.call('GET', '/v1/lakehouse/namespaces/hr/tables/people', { token: alice })).status).toBe(403);
  });

  it('a mask naming no column of the schema read refuses the table instead of silently unmasking', async () => {
    const create = await s.call('POST', '/api/v1/security/masks', { ...admin(), body: { role: 'analyst', namespace: 'hr', table: 'depts', column: 'nosuch', kind: 'null' } });
    expect(create.status).toBe(400);
    // Renaming the masked column leaves the mask behind: the table is refused until it is fixed.
    const mask = await s.call('POST', '/api/v1/security/masks', { ...admin(), body: { role: 'analyst', namespace: 'hr', table: 'depts', column: 'dept', kind: 'null' } });
    expect(mask.status).toBe(201);
    expect(await asAnalyst('SELECT DISTINCT dept FROM hr.depts')).toEqual([[null]]);
    const renamed = await s.call('POST', '/v1/lakehouse/namespaces/hr/tables/depts', {
      ...admin(),
      body: { requirements: [], updates: [{ action: 'add-schema', schema: { type: 'struct', 'schema-id': 1, fields: [{ id: 1, name: 'id', type: 'long', required: false }, { id: 2, name: 'department', type: 'string', required: false }] } }, { action: 'set-current-schema', 'schema-id': -1 }] },
    });
    expect(renamed.status, renamed.text).toBe(200);
    const refused = await sql(alice, 'SELECT * FROM hr.depts');
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('mask on column dept');
    await s.call('DELETE', `/api/v1/security/masks/${mask.body.id}`, admin());
    expect((await sql(alice, 'SELECT count(*) FROM hr.depts')).body.rows).toEqual([[6]]);
  });

  it('several roles combine: rows of any role, a column unmasked where any role sees it unmasked', async () => {
    // carol: analyst (eu rows, email hashed, no salary) + us_reader (us rows, every column, no mask).
    const ok = (r: { status: number; text: string }, status = 201) => expect(r.status, r.text).toBe(status);
    ok(await s.call('POST', '/api/v1/security/principals', { ...admin(), body: { name: 'carol' } }));
    const carol = (await s.call('POST', '/api/v1/security/api-keys', { ...admin(), body: { principal: 'carol' } })).body.key as string;
    ok(await s.call('POST', '/api/v1/security/roles', { ...admin(), body: { name: 'us_reader' } }));
    for (const role of ['analyst', 'us_reader']) ok(await s.call('POST', '/api/v1/security/memberships', { ...admin(), body: { role, principal: 'carol' } }));
    ok(await s.call('POST', '/api/v1/security/grants', { ...admin(), body: { grantee: { type: 'role', name: 'us_reader' }, privilege: 'SELECT', securable: { type: 'table', namespace: 'hr', table: 'people' } } }));
    ok(await s.call('POST', '/api/v1/security/row-filters', { ...admin(), body: { role: 'us_reader', namespace: 'hr', table: 'people', predicate: "region = 'us'" } }));
    const res = await sql(carol, 'SELECT id, email, salary FROM hr.people ORDER BY id');
    expect(res.status, res.text).toBe(200);
    expect(res.body.rows).toEqual([
      [1, sha('ann@eu.example'), null],
      [2, 'bob@us.example', 2222.75],
      [3, sha('cat@eu.example'), null],
      [4, 'dan@us.example', 4444.75],
      [5, 'eve@us.example', 5555.75],
      [6, sha('fay@eu.example'), null],
    ]);
    // Filtering on salary cannot reach the eu rows' salaries either.
    expect((await sql(carol, 'SELECT id FROM hr.people WHERE salary > 6000')).body.rows).toEqual([]);
    const policy = await s.call('GET', '/api/v1/security/policy/hr/people?principal=carol', admin());
    expect(policy.body).toMatchObject({ canSelect: true, columns: 'all', limited: true, masks: [] });
    expect(policy.body.paths.map((p: { via: string; filters: string[] }) => [p.via, p.filters])).toEqual([['analyst', ["region = 'eu'"]], ['us_reader', ["region = 'us'"]]]);
    // Still limited (every path is filtered): no metadata tables, no DELETE.
    expect((await sql(carol, 'SELECT * FROM hr."people$files"')).status).toBe(403);
  });

  it('the four mask kinds', async () => {
    const duck = await Duck.open();
    try {
      const masked = (kind: 'null' | 'hash' | 'redact' | 'partial', params = {}) => `${maskSql('v', { kind, params })}`;
      const rows = await duck.rows(
        `SELECT ${masked('null')} AS n, typeof(${masked('null')}) AS nt, ${masked('hash')} AS h, ${masked('redact')} AS r, ${masked('redact', { replacement: 'X' })} AS r2, ` +
          `${masked('partial')} AS p, ${masked('partial', { keepFirst: 2, keepLast: 1, maskChar: '#' })} AS p2, ${maskSql('s', { kind: 'partial', params: {} })} AS p3 ` +
          "FROM (SELECT 'secret-value' AS v, 'abc' AS s)",
      );
      expect(rows[0]).toEqual({ n: null, nt: 'VARCHAR', h: sha('secret-value'), r: '****', r2: 'X', p: '********alue', p2: 'se#########e', p3: '***' });
    } finally {
      duck.close();
    }
  });
});
