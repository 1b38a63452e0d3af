import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedTable } from '../../src/catalog/catalog.js';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { isLakehouseError } from '../../src/core/errors.js';
import { Duck } from '../../src/duck/db.js';
import type { JsonValue } from '../../src/duck/result-json.js';
import { duckType } from '../../src/duck/types.js';
import { currentSchema, currentSnapshot, NAME_MAPPING_PROPERTY, schemaById, snapshotById } from '../../src/iceberg/metadata.js';
import { nameMappingFromSchema, parseNameMapping } from '../../src/iceberg/name-mapping.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { newTableMetadata } from '../../src/iceberg/updates.js';
import { registerTableView } from '../../src/table/scan-query.js';
import {
  bindTableAt, createBranch, createTag, evolveSchema, fastForward, removeProperties, removeRef, replaceSortOrder, resolveSnapshot,
  rollbackTo, rollbackToTime, setCurrentSnapshot, setProperties, updatePartitionSpec,
} from '../../src/table/table-admin.js';
import { appendSql } from '../../src/table/table-ops.js';

const initialSchema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'name', required: false, type: 'string' },
    { id: 3, name: 'score', required: false, type: 'int' },
    { id: 4, name: 'ratio', required: false, type: 'float' },
    { id: 5, name: 'amount', required: false, type: 'decimal(9, 2)' },
    { id: 6, name: 'ts', required: false, type: 'timestamptz' },
    { id: 7, name: 'junk', required: false, type: 'string' },
  ],
};

async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (isLakehouseError(e)) return e.code;
    throw e;
  }
  return 'OK';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function iso(i: number): string {
  return `${new Date(Date.UTC(2024, 0, 1) + i * 3_600_000).toISOString().slice(0, 19)}Z`;
}

/** A row as the model keeps it: JSON values (as reads return them) by field id. */
type Row = Map<number, JsonValue>;

interface Recorded {
  snapshotId: bigint;
  timestampMs: number;
  schemaId: number;
  rows: Row[];
}

describe('schema and partition evolution, time travel, rollback and branches', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let duck: Duck;
  const ident = { namespace: ['db'], name: 'evolving' };
  /** The table's live rows (main), and the state after every append. */
  let rows: Row[] = [];
  const history: Recorded[] = [];
  /** Stage-dependent values by column name, before being stored by field id. */
  let widened = false;
  let junkValue = (i: number): JsonValue => `junk-${i}`;

  const values = (i: number): Record<string, JsonValue> => ({
    id: i,
    name: `name-${i}`,
    label: `name-${i}`,
    score: widened ? i * 10_000_000_000 : i,
    ratio: widened ? i + 0.25 : i + 0.5,
    amount: widened ? `${1_234_567_890 + i}.12` : `${i}.25`,
    ts: iso(i),
    junk: junkValue(i),
    extra: `x-${i}`,
  });

  const sqlLiteral = (v: JsonValue) => (v === null ? 'NULL' : `'${String(v).replace(/'/g, "''")}'`);

  /** Appends rows [from, from+n) under the current schema and records the new snapshot. */
  async function append(from: number, n: number, branch?: string): Promise<LoadedTable> {
    const md = (await catalog.loadTable(ident)).metadata;
    const schema = currentSchema(md);
    const batch: Row[] = [];
    const tuples: string[] = [];
    for (let i = from; i < from + n; i++) {
      const v = values(i);
      const row: Row = new Map();
      for (const f of schema.fields) row.set(f.id, v[f.name] ?? null);
      batch.push(row);
      tuples.push(`(${schema.fields.map((f) => sqlLiteral(v[f.name] ?? null)).join(', ')})`);
    }
    const names = schema.fields.map((f) => `"${f.name}"`).join(', ');
    // Typed columns: the writer computes partition keys from the source relation as given.
    const typed = schema.fields.map((f) => `CAST("${f.name}" AS ${duckType(f.type)}) AS "${f.name}"`).join(', ');
    const sql = `SELECT ${typed} FROM (VALUES ${tuples.join(', ')}) AS v(${names})`;
    const t = await appendSql(catalog, ident, duck, sql, { branch });
    if (!branch) {
      rows = [...rows, ...batch];
      const snap = currentSnapshot(t.metadata)!;
      history.push({ snapshotId: snap['snapshot-id'], timestampMs: snap['timestamp-ms'], schemaId: t.metadata['current-schema-id'], rows });
    }
    await sleep(3); // distinct commit timestamps for time travel by time
    return t;
  }

  function expected(schema: Schema, model: Row[]): JsonValue[][] {
    return [...model].sort((a, b) => Number(a.get(1)) - Number(b.get(1))).map((r) => schema.fields.map((f) => r.get(f.id) ?? null));
  }

  async function read(table: LoadedTable, sel?: Parameters<typeof bindTableAt>[3]): Promise<{ columns: string[]; rows: JsonValue[][] }> {
    if (sel) await bindTableAt(duck, 't', table, sel);
    else await registerTableView(duck, 't', { io: table.io, metadata: table.metadata, resolve: (p) => p });
    const r = await duck.conn.runAndReadAll('SELECT * FROM t ORDER BY id');
    const { toJsonValue } = await import('../../src/duck/result-json.js');
    return { columns: r.columnNames(), rows: r.getRows().map((row) => row.map(toJsonValue)) };
  }

  /** Reads the current table and checks it against the model with the current schema. */
  async function checkAll(): Promise<void> {
    const t = await catalog.loadTable(ident);
    const schema = currentSchema(t.metadata);
    const got = await read(t);
    expect(got.columns).toEqual(schema.fields.map((f) => f.name));
    expect(got.rows).toEqual(expected(schema, rows));
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-evolution-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/warehouse` });
    await catalog.createNamespace(['db']);
    duck = await Duck.open();
    const md = newTableMetadata({
      schema: initialSchema,
      location: catalog.defaultTableLocation(ident),
      properties: { [NAME_MAPPING_PROPERTY]: JSON.stringify(nameMappingFromSchema(initialSchema)) },
    });
    await catalog.createTable(ident, md);
  });
  afterAll(async () => {
    duck.close();
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds a column: old rows read it as NULL', async () => {
    await append(0, 10);
    await checkAll();
    const t = await evolveSchema(catalog, ident, (u) => u.addColumn(null, 'extra', 'string'));
    expect(currentSchema(t.metadata).fields.map((f) => f.name)).toEqual(['id', 'name', 'score', 'ratio', 'amount', 'ts', 'junk', 'extra']);
    expect(t.metadata['current-schema-id']).toBe(1);
    expect(t.metadata['last-column-id']).toBe(8);
    await append(10, 10);
    await checkAll();
    const got = await read(await catalog.loadTable(ident));
    expect(got.rows[0][7]).toBeNull();
    expect(got.rows[10][7]).toBe('x-10');
  });

  it('renames a column: values are kept, the name mapping gains the new name', async () => {
    const t = await evolveSchema(catalog, ident, (u) => u.renameColumn('name', 'label'));
    const mapping = parseNameMapping(t.metadata.properties[NAME_MAPPING_PROPERTY]);
    expect(mapping.find((m) => m['field-id'] === 2)!.names).toEqual(['name', 'label']);
    expect(mapping.find((m) => m['field-id'] === 8)!.names).toEqual(['extra']);
    await append(20, 10);
    await checkAll();
    expect(await code(evolveSchema(catalog, ident, (u) => u.renameColumn('nope', 'x')))).toBe('VALIDATION_FAILED');
  });

  it('widens int→long, float→double and decimal precision: old values intact', async () => {
    const t = await evolveSchema(catalog, ident, (u) =>
      u.updateColumnType('score', 'long').updateColumnType('ratio', 'double').updateColumnType('amount', 'decimal(18, 2)'),
    );
    expect(currentSchema(t.metadata).fields.slice(2, 5).map((f) => f.type)).toEqual(['long', 'double', 'decimal(18, 2)']);
    widened = true;
    await append(30, 10);
    await checkAll();
    const got = await read(await catalog.loadTable(ident));
    expect(got.rows[5].slice(2, 5)).toEqual([5, 5.5, '5.25']);
    expect(got.rows[35].slice(2, 5)).toEqual([350_000_000_000, 35.25, '1234567925.12']);
    expect(await code(evolveSchema(catalog, ident, (u) => u.updateColumnType('score', 'int')))).toBe('VALIDATION_FAILED');
  });

  it('drops a column, and a re-added column of the same name does not see the old values', async () => {
    let t = await evolveSchema(catalog, ident, (u) => u.deleteColumn('junk'));
    expect(currentSchema(t.metadata).fields.map((f) => f.name)).not.toContain('junk');
    await append(40, 5);
    await checkAll();
    junkValue = (i) => `new-${i}`;
    t = await evolveSchema(catalog, ident, (u) => u.addColumn(null, 'junk', 'string'));
    const junk = currentSchema(t.metadata).fields.find((f) => f.name === 'junk')!;
    expect(junk.id).toBe(9);
    await append(45, 5);
    await checkAll();
    const got = await read(await catalog.loadTable(ident));
    expect(got.rows.filter((r) => r[r.length - 1] !== null).map((r) => r[0])).toEqual([45, 46, 47, 48, 49]);
  });

  it('reorders columns', async () => {
    const t = await evolveSchema(catalog, ident, (u) => u.moveFirst('amount').moveAfter('label', 'id').moveBefore('junk', 'score'));
    expect(currentSchema(t.metadata).fields.map((f) => f.name)).toEqual(['amount', 'id', 'label', 'junk', 'score', 'ratio', 'ts', 'extra']);
    await append(50, 5);
    await checkAll();
  });

  it('evolves the partition spec: unpartitioned → day(ts) → bucket(8, id), reading every row back', async () => {
    let t = await updatePartitionSpec(catalog, ident, ['day(ts)']);
    expect(t.metadata['default-spec-id']).toBe(1);
    expect(t.metadata['partition-specs'][1].fields).toEqual([{ 'source-id': 6, 'field-id': 1000, name: 'ts_day', transform: 'day' }]);
    await append(55, 30); // spans two days
    await checkAll();

    t = await updatePartitionSpec(catalog, ident, ['bucket(8, id)']);
    expect(t.metadata['default-spec-id']).toBe(2);
    expect(t.metadata['partition-specs'][2].fields).toEqual([{ 'source-id': 1, 'field-id': 1001, name: 'id_bucket_8', transform: 'bucket[8]' }]);
    expect(t.metadata['last-partition-id']).toBe(1001);
    await append(85, 20);
    await checkAll();

    // Re-adding an earlier field reuses its field id; an identical spec is reused as is.
    t = await updatePartitionSpec(catalog, ident, ['bucket(8, id)', 'day(ts)']);
    expect(t.metadata['partition-specs'][3].fields.map((f) => f['field-id'])).toEqual([1001, 1000]);
    t = await updatePartitionSpec(catalog, ident, ['day(ts)']);
    expect(t.metadata['default-spec-id']).toBe(1);
    expect(t.metadata['partition-specs']).toHaveLength(4);
    t = await updatePartitionSpec(catalog, ident, ['bucket(8, id)']);
    expect(t.metadata['default-spec-id']).toBe(2);

    const data = readdirSync(join(t.metadata.location, 'data'));
    expect(data.some((d) => d.startsWith('ts_day=2024-01-03'))).toBe(true);
    expect(data.some((d) => d.startsWith('id_bucket_8='))).toBe(true);
    expect(data.some((d) => d.endsWith('.parquet'))).toBe(true);

    expect(await code(updatePartitionSpec(catalog, ident, ['day(nope)']))).toBe('VALIDATION_FAILED');
    // A column of the default spec cannot be dropped.
    expect(await code(evolveSchema(catalog, ident, (u) => u.deleteColumn('id')))).toBe('VALIDATION_FAILED');
  });

  it('time-travels to every earlier snapshot by id, by timestamp and by tag, with that snapshot’s schema', async () => {
    let t = await catalog.loadTable(ident);
    expect(history.length).toBe(9);
    for (const [i, h] of history.entries()) t = await createTag(catalog, ident, `v${i}`, h.snapshotId);
    expect(await code(createTag(catalog, ident, 'v0'))).toBe('ALREADY_EXISTS');
    expect(await code(createTag(catalog, ident, 'bad', 42n))).toBe('NO_SUCH_SNAPSHOT');

    for (const [i, h] of history.entries()) {
      const schema = schemaById(t.metadata, h.schemaId);
      const want = { columns: schema.fields.map((f) => f.name), rows: expected(schema, h.rows) };
      expect(resolveSnapshot(t.metadata, { snapshotId: h.snapshotId })['snapshot-id']).toBe(h.snapshotId);
      expect(await read(t, { snapshotId: h.snapshotId })).toEqual(want);
      expect(await read(t, { asOfTimestampMs: h.timestampMs })).toEqual(want);
      const next = history[i + 1];
      if (next) expect(resolveSnapshot(t.metadata, { asOfTimestampMs: next.timestampMs - 1 })['snapshot-id']).toBe(h.snapshotId);
      expect(await read(t, { ref: `v${i}` })).toEqual(want);
    }
    // The first snapshot was written before any column change: the original names and types.
    expect((await read(t, { ref: 'v0' })).columns).toEqual(['id', 'name', 'score', 'ratio', 'amount', 'ts', 'junk']);

    expect(await code(() => resolveSnapshot(t.metadata, { asOfTimestampMs: history[0].timestampMs - 1 }))).toBe('NO_SUCH_SNAPSHOT');
    expect(await code(() => resolveSnapshot(t.metadata, { snapshotId: 1n }))).toBe('NO_SUCH_SNAPSHOT');
    expect(await code(() => resolveSnapshot(t.metadata, { ref: 'nope' }))).toBe('NO_SUCH_REF');
    expect(await code(() => resolveSnapshot(t.metadata, { ref: 'v0', snapshotId: 1n }))).toBe('VALIDATION_FAILED');
    expect(resolveSnapshot(t.metadata)['snapshot-id']).toBe(t.metadata['current-snapshot-id']);

    t = await removeRef(catalog, ident, 'v8');
    expect(t.metadata.refs.v8).toBeUndefined();
    expect(await code(removeRef(catalog, ident, 'v8'))).toBe('NO_SUCH_REF');
    expect(await code(removeRef(catalog, ident, 'main'))).toBe('VALIDATION_FAILED');
  });

  it('rolls back to an ancestor and sets the current snapshot, then reads', async () => {
    const latest = history[history.length - 1];
    const target = history[4];
    let t = await rollbackTo(catalog, ident, target.snapshotId);
    expect(t.metadata['current-snapshot-id']).toBe(target.snapshotId);
    // The current schema stays; the rows are those of the snapshot.
    const schema = currentSchema(t.metadata);
    let got = await read(t);
    expect(got.columns).toEqual(schema.fields.map((f) => f.name));
    expect(got.rows).toEqual(expected(schema, target.rows));
    const log = t.metadata['snapshot-log'];
    expect(log[log.length - 1]['snapshot-id']).toBe(target.snapshotId);

    // The later snapshot is not an ancestor any more; set-current-snapshot may move to it.
    expect(await code(rollbackTo(catalog, ident, latest.snapshotId))).toBe('VALIDATION_FAILED');
    expect(await code(rollbackTo(catalog, ident, 12345n))).toBe('NO_SUCH_SNAPSHOT');
    t = await setCurrentSnapshot(catalog, ident, latest.snapshotId);
    expect(t.metadata['current-snapshot-id']).toBe(latest.snapshotId);
    got = await read(t);
    expect(got.rows).toEqual(expected(schema, latest.rows));
    await checkAll();

    // Rollback by time: the latest ancestor committed before the given time.
    t = await rollbackToTime(catalog, ident, history[2].timestampMs + 1);
    expect(t.metadata['current-snapshot-id']).toBe(history[2].snapshotId);
    t = await setCurrentSnapshot(catalog, ident, latest.snapshotId);
    expect(t.metadata['current-snapshot-id']).toBe(latest.snapshotId);
  });

  it('commits to a branch without moving main, and fast-forwards main to it', async () => {
    const before = await catalog.loadTable(ident);
    const mainId = before.metadata['current-snapshot-id']!;
    await createBranch(catalog, ident, 'dev');
    expect(await code(createBranch(catalog, ident, 'dev'))).toBe('ALREADY_EXISTS');
    const t = await append(200, 7, 'dev');
    expect(t.metadata['current-snapshot-id']).toBe(mainId);
    const devHead = t.metadata.refs.dev['snapshot-id'];
    expect(snapshotById(t.metadata, devHead)!['parent-snapshot-id']).toBe(mainId);
    await checkAll(); // main unchanged

    const schema = currentSchema(t.metadata);
    const branchRows = [...rows];
    for (let i = 200; i < 207; i++) {
      const v = values(i);
      branchRows.push(new Map(schema.fields.map((f) => [f.id, v[f.name] ?? null])));
    }
    const got = await read(t, { ref: 'dev' });
    expect(got.rows).toEqual(expected(schema, branchRows));

    // A tag is not a branch to commit to.
    expect(await code(append(300, 1, 'v0'))).toBe('VALIDATION_FAILED');

    const ff = await fastForward(catalog, ident, 'main', 'dev');
    expect(ff.metadata['current-snapshot-id']).toBe(devHead);
    rows = branchRows;
    await checkAll();
    expect(await code(fastForward(catalog, ident, 'v0', 'dev'))).toBe('VALIDATION_FAILED');
  });

  it('sets and removes properties and replaces the sort order', async () => {
    let t = await setProperties(catalog, ident, { 'owner': 'data-team', 'write.target-file-size-bytes': '1048576' });
    expect(t.metadata.properties.owner).toBe('data-team');
    t = await removeProperties(catalog, ident, ['owner']);
    expect(t.metadata.properties.owner).toBeUndefined();
    t = await replaceSortOrder(catalog, ident, ['id DESC', 'bucket(4, label) asc nulls last']);
    const order = t.metadata['sort-orders'].find((o) => o['order-id'] === t.metadata['default-sort-order-id'])!;
    expect(order.fields).toEqual([
      { transform: 'identity', 'source-id': 1, direction: 'desc', 'null-order': 'nulls-last' },
      { transform: 'bucket[4]', 'source-id': 2, direction: 'asc', 'null-order': 'nulls-last' },
    ]);
    t = await replaceSortOrder(catalog, ident, []);
    expect(t.metadata['default-sort-order-id']).toBe(0);
    expect(await code(replaceSortOrder(catalog, ident, ['nope']))).toBe('VALIDATION_FAILED');
  });
});

describe('table administration edge cases', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let duck: Duck;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-admin-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/warehouse` });
    await catalog.createNamespace(['db']);
    duck = await Duck.open();
  });
  afterAll(async () => {
    duck.close();
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const src = (from: number, n: number) =>
    `SELECT range AS id, 'n' || range AS name, 0 AS score, 0.5::FLOAT AS ratio, 1.25::DECIMAL(9,2) AS amount,
       TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL (range * 5) HOUR AS ts, NULL AS junk, NULL::INT AS c1, NULL::INT AS c2 FROM range(${from}, ${from + n})`;

  it('keeps removed partition fields as void on v1 tables', async () => {
    const ident = { namespace: ['db'], name: 'v1table' };
    await catalog.createTable(ident, newTableMetadata({ schema: initialSchema, location: catalog.defaultTableLocation(ident), formatVersion: 1 }));
    await appendSql(catalog, ident, duck, src(0, 10));
    await updatePartitionSpec(catalog, ident, ['day(ts)']);
    await appendSql(catalog, ident, duck, src(10, 10));
    const t = await updatePartitionSpec(catalog, ident, ['bucket(8, id)']);
    expect(t.metadata['partition-specs'].find((s) => s['spec-id'] === t.metadata['default-spec-id'])!.fields).toEqual([
      { 'source-id': 6, 'field-id': 1000, name: 'ts_day', transform: 'void' },
      { 'source-id': 1, 'field-id': 1001, name: 'id_bucket_8', transform: 'bucket[8]' },
    ]);
    const done = await appendSql(catalog, ident, duck, src(20, 10));
    const res = await registerTableView(duck, 'v1t', { io: done.io, metadata: done.metadata, resolve: (p) => p }).then(() =>
      duck.conn.runAndReadAll('SELECT count(*), count(DISTINCT id), min(id), max(id) FROM v1t'),
    );
    expect(res.getRows()[0].map(Number)).toEqual([30, 30, 0, 29]);
  });

  it('retries a schema change over a concurrent append, but not over a concurrent schema change', async () => {
    const ident = { namespace: ['db'], name: 'raced' };
    await catalog.createTable(ident, newTableMetadata({ schema: initialSchema, location: catalog.defaultTableLocation(ident) }));
    await appendSql(catalog, ident, duck, src(0, 3));

    // A catalog whose next commit first lets another writer commit.
    let interloper: (() => Promise<unknown>) | null = null;
    const racing = Object.create(catalog) as SqlCatalog;
    racing.commitTable = async (id, req) => {
      const run = interloper;
      interloper = null;
      if (run) await run();
      return catalog.commitTable(id, req);
    };

    interloper = () => appendSql(catalog, ident, duck, src(3, 3));
    let t = await evolveSchema(racing, ident, (u) => u.addColumn(null, 'c1', 'int'));
    expect(currentSchema(t.metadata).fields.map((f) => f.name)).toContain('c1');
    expect(currentSnapshot(t.metadata)!.summary['total-records']).toBe('6');

    interloper = () => evolveSchema(catalog, ident, (u) => u.addColumn(null, 'c2', 'int'));
    expect(await code(evolveSchema(racing, ident, (u) => u.addColumn(null, 'c3', 'int')))).toBe('COMMIT_FAILED');
    t = await catalog.loadTable(ident);
    expect(currentSchema(t.metadata).fields.map((f) => f.name)).toEqual([...initialSchema.fields.map((f) => f.name), 'c1', 'c2']);

    interloper = () => updatePartitionSpec(catalog, ident, ['bucket(4, id)']);
    expect(await code(updatePartitionSpec(racing, ident, ['day(ts)']))).toBe('COMMIT_FAILED');
    interloper = () => appendSql(catalog, ident, duck, src(6, 3));
    t = await updatePartitionSpec(racing, ident, ['day(ts)']);
    expect(t.metadata['partition-specs'].find((s) => s['spec-id'] === t.metadata['default-spec-id'])!.fields.map((f) => f.name)).toEqual(['ts_day']);

    // Rollback validates against the refreshed table.
    const first = t.metadata.snapshots[0]['snapshot-id'];
    interloper = () => appendSql(catalog, ident, duck, src(9, 3));
    t = await rollbackTo(racing, ident, first);
    expect(t.metadata['current-snapshot-id']).toBe(first);
  });
});
