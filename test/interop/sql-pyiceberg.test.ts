import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import type { JsonValue } from '../../src/duck/result-json.js';
import { currentSnapshot } from '../../src/iceberg/metadata.js';
import { QueryEngine } from '../../src/query/engine.js';
import { runPython } from './python.js';

// Our SQL → PyIceberg: every write statement (CTAS with partitioning, INSERT VALUES / SELECT,
// DELETE of whole files and with position deletes, UPDATE, MERGE) is one commit; after each, our
// SQL's view of the table is recorded. PyIceberg then reads the final metadata
// (test/interop/sql-pyiceberg.py) and must see exactly those rows at every snapshot id (time
// travel, at the current and at older snapshots), and our `$snapshots`, `$history`, `$files`,
// `$manifests`, `$partitions` and `$refs` must agree with PyIceberg's `inspect` tables.

interface PyOut {
  current_snapshot_id: string;
  scans: { snapshot_id: string; columns: string[]; rows: JsonValue[][] }[];
  files: Record<string, { content: number; file_path: string; record_count: number; file_size_in_bytes: number }[]>;
  snapshots: { snapshot_id: string; parent_id: string | null; operation: string; committed_at_ms: number }[];
  history: { snapshot_id: string; parent_id: string | null; made_current_at_ms: number; is_current_ancestor: boolean }[];
  manifests: Record<string, string | number>[];
  partitions: { partition: Record<string, JsonValue>; record_count: number; file_count: number }[];
  refs: { name: string; type: string; snapshot_id: string }[];
}

const STATEMENTS: [label: string, sql: string][] = [
  [
    'CTAS with partitioning',
    `CREATE TABLE sq.t WITH (partitioning = ARRAY['region', 'day(ts)']) AS
     SELECT range AS id, ['eu', 'us', 'apac'][range % 3 + 1] AS region, (range * 1.25)::DECIMAL(10, 2) AS amount,
            TIMESTAMPTZ '2024-05-01 10:00:00+00' + INTERVAL (range * 97) MINUTE AS ts
     FROM range(60)`,
  ],
  ['INSERT VALUES', `INSERT INTO sq.t VALUES (100, 'eu', 1.50, TIMESTAMPTZ '2024-05-02 00:00:01.5+00'), (101, 'mx', NULL, NULL)`],
  ['INSERT SELECT', `INSERT INTO sq.t (id, region, amount, ts) SELECT id + 1000, region, amount + 1, ts FROM sq.t WHERE id < 5`],
  ['DELETE whole files', `DELETE FROM sq.t WHERE region = 'apac'`],
  ['DELETE with position deletes', `DELETE FROM sq.t WHERE id % 7 = 3`],
  ['UPDATE', `UPDATE sq.t SET amount = amount * 2, region = upper(region) WHERE id < 10`],
  [
    'MERGE',
    `MERGE INTO sq.t AS o USING sq.changes AS c ON o.id = c.id
     WHEN MATCHED THEN UPDATE SET amount = c.amount
     WHEN NOT MATCHED THEN INSERT (id, region, amount, ts) VALUES (c.id, c.region, c.amount, NULL)`,
  ],
];

describe('SQL writes, time travel and metadata tables read back by PyIceberg', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let engine: QueryEngine;
  const q = async (sql: string) => (await engine.query(sql, { defaultNamespace: ['sq'] })).rows;
  /** After each statement: its snapshot id, summary, and our rows. */
  const steps: { label: string; snapshotId: string; summary: Record<string, string>; rows: JsonValue[][] }[] = [];
  let py: PyOut;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-sqlpy-'));
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    engine = new QueryEngine(catalog);
    await catalog.createNamespace(['sq']);
    for (const [label, sql] of STATEMENTS) {
      if (label === 'MERGE') {
        await engine.query(`CREATE TABLE sq.changes AS SELECT * FROM (VALUES (1::BIGINT, 'x', 99.99::DECIMAL(10, 2)), (7000::BIGINT, 'new', 0.01::DECIMAL(10, 2))) v(id, region, amount)`);
      }
      await engine.query(sql);
      const t = await catalog.loadTable({ namespace: ['sq'], name: 't' });
      const snap = currentSnapshot(t.metadata)!;
      steps.push({ label, snapshotId: String(snap['snapshot-id']), summary: snap.summary, rows: await q('SELECT * FROM t ORDER BY id') });
    }
    const t = await catalog.loadTable({ namespace: ['sq'], name: 't' });
    py = JSON.parse((await runPython('sql-pyiceberg.py', [t.metadataLocation, 'id', ...steps.map((s) => s.snapshotId)], { timeoutMs: 180_000 })).stdout);
  }, 300_000);
  afterAll(async () => {
    await catalog?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('commits each statement as one snapshot, with the expected kind of change', () => {
    expect(new Set(steps.map((s) => s.snapshotId)).size).toBe(STATEMENTS.length);
    // 21 'apac' rows (20 + a copy), then ids ≡ 3 mod 7: 3 10 24 31 45 52 101 1004; MERGE adds 7000.
    expect(steps.map((s) => s.rows.length)).toEqual([60, 62, 67, 46, 38, 38, 39]);
    const by = Object.fromEntries(steps.map((s) => [s.label, s.summary]));
    expect(by['CTAS with partitioning'].operation).toBe('append');
    expect(by['INSERT VALUES'].operation).toBe('append');
    // Whole files dropped (an identity partition), no delete files written.
    expect(Number(by['DELETE whole files']['deleted-data-files'])).toBeGreaterThan(0);
    expect(by['DELETE whole files']['added-delete-files'] ?? '0').toBe('0');
    // Rows inside files: position delete files.
    expect(Number(by['DELETE with position deletes']['added-position-delete-files'] ?? by['DELETE with position deletes']['added-delete-files'])).toBeGreaterThan(0);
    expect(Number(by['DELETE with position deletes']['added-position-deletes'])).toBeGreaterThan(0);
  });

  it('PyIceberg sees exactly our rows at every snapshot (time travel), and so does our time travel now, by snapshot id and by commit timestamp', async () => {
    expect(py.current_snapshot_id).toBe(steps.at(-1)!.snapshotId);
    for (const [i, step] of steps.entries()) {
      const theirs = py.scans.find((s) => s.snapshot_id === step.snapshotId)!;
      expect(theirs.columns).toEqual(['id', 'region', 'amount', 'ts']);
      expect(theirs.rows, `PyIceberg at ${step.label}`).toEqual(step.rows);
      const travel = await q(`SELECT * FROM t FOR VERSION AS OF ${step.snapshotId} ORDER BY id`);
      expect(travel, `our time travel to ${step.label}`).toEqual(step.rows);
      if (i > 0) expect(step.rows).not.toEqual(steps[i - 1].rows);
    }
    // FOR TIMESTAMP AS OF each commit time as PyIceberg reads it from the snapshot log: the rows of
    // the newest snapshot committed at or before it (two commits in one millisecond: the later).
    const committedAt = (id: string) => py.snapshots.find((s) => s.snapshot_id === id)!.committed_at_ms;
    for (const step of steps) {
      const at = committedAt(step.snapshotId);
      const expected = steps.filter((x) => committedAt(x.snapshotId) <= at).at(-1)!.rows;
      const literal = new Date(at).toISOString().replace('T', ' ').replace('Z', '');
      expect(await q(`SELECT * FROM t FOR TIMESTAMP AS OF TIMESTAMP '${literal}' ORDER BY id`), `timestamp travel to ${step.label}`).toEqual(expected);
    }
    // Spot checks of the final state.
    const final = steps.at(-1)!.rows;
    expect(final.find((r) => r[0] === 1)).toEqual([1, 'US', '99.99', '2024-05-01T11:37:00Z']);
    expect(final.find((r) => r[0] === 7000)).toEqual([7000, 'new', '0.01', null]);
    expect(final.some((r) => r[1] === 'apac')).toBe(false);
  });

  it('$snapshots and $history agree with PyIceberg inspect', async () => {
    const ours = await q(`SELECT snapshot_id::VARCHAR, parent_id::VARCHAR, operation, epoch_ms(committed_at) FROM "t$snapshots" ORDER BY committed_at, snapshot_id`);
    expect(ours.map((r) => r[0])).toEqual(steps.map((s) => s.snapshotId));
    expect(ours).toEqual(py.snapshots.map((s) => [s.snapshot_id, s.parent_id, s.operation, s.committed_at_ms]));
    const hist = await q(`SELECT snapshot_id::VARCHAR, parent_id::VARCHAR, epoch_ms(made_current_at), is_current_ancestor FROM "t$history" ORDER BY made_current_at, snapshot_id`);
    expect(hist).toHaveLength(STATEMENTS.length);
    expect(hist).toEqual(py.history.map((h) => [h.snapshot_id, h.parent_id, h.made_current_at_ms, h.is_current_ancestor]));
    const refs = await q(`SELECT name, type, snapshot_id::VARCHAR FROM "t$refs"`);
    expect(refs).toEqual(py.refs.map((r) => [r.name, r.type, r.snapshot_id]));
  });

  it('$files agrees with PyIceberg inspect.files at the current and at older snapshots', async () => {
    for (const step of steps) {
      const ours = await q(`SELECT content, file_path, record_count, file_size_in_bytes FROM "t$files" FOR VERSION AS OF ${step.snapshotId} ORDER BY file_path`);
      const theirs = py.files[step.snapshotId].map((f) => [f.content, f.file_path, f.record_count, f.file_size_in_bytes]);
      expect(ours, `files at ${step.label}`).toEqual(theirs);
    }
    // Position delete files are live right after the DELETE (UPDATE and MERGE later rewrite them away).
    const posDelete = steps.find((s) => s.label === 'DELETE with position deletes')!;
    expect(py.files[posDelete.snapshotId].some((f) => f.content === 1)).toBe(true);
  });

  it('$manifests and $partitions agree with PyIceberg inspect', async () => {
    const cols = ['path', 'content', 'added_snapshot_id', 'added_data_files_count', 'existing_data_files_count', 'deleted_data_files_count',
      'added_delete_files_count', 'existing_delete_files_count', 'deleted_delete_files_count'];
    const ours = await q(`SELECT ${cols.map((c) => (c === 'added_snapshot_id' ? `${c}::VARCHAR` : c)).join(', ')} FROM "t$manifests" ORDER BY path`);
    const theirs = py.manifests.map((m) => cols.map((c) => m[c])).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    expect(ours.some((r) => r[1] === 1 && Number(r[8]) > 0), 'a delete manifest with deleted delete files').toBe(true);
    expect(ours).toEqual(theirs);
    const parts = await q(`SELECT partition, record_count, file_count FROM "t$partitions"`);
    const key = (p: Record<string, JsonValue>) => JSON.stringify(Object.entries(p).map(([k, v]) => [k, v]));
    expect(parts.length).toBeGreaterThan(3);
    const ourParts = parts.map((r) => [key(JSON.parse(String(r[0]))), r[1], r[2]]).sort();
    const theirParts = py.partitions.map((p) => [key(p.partition), p.record_count, p.file_count]).sort();
    expect(ourParts).toEqual(theirParts);
  });
});
