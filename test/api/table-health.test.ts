import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './own-support.js';

/**
 * GET /api/v1/tables/{namespace}/{table}/health over real HTTP: the figures the scheduler's
 * maintenance runs decide on, and the actions due under the table's own policy properties.
 */
describe('own API: table health', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer('warn');
  });
  afterAll(async () => {
    await s?.close();
  });

  const health = (ns: string, t: string) => s.call('GET', `/api/v1/tables/${ns}/${t}/health`);

  it('reports an empty table as healthy with its default policy', async () => {
    const t = await s.call('POST', '/api/v1/tables', { namespace: 'h', name: 'empty', columns: [{ name: 'id', type: 'long' }] });
    expect(t.status, t.text).toBe(201);
    const r = await health('h', 'empty');
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({
      health: { dataFiles: 0, smallFiles: 0, deleteFiles: 0, deleteFileRatio: 0, snapshots: 0, manifests: 0, deleteManifests: 0, totalBytes: 0, avgFileSize: 0, records: 0, targetFileSizeBytes: 512 * 1024 * 1024 },
      policy: { enabled: true, smallFileThreshold: 10, deleteFileRatio: 0.1, maxSnapshots: 100, maxManifests: 100, orphanRemoval: false },
      due: { actions: [], reasons: [] },
    });
  });

  it('recommends compaction once small files reach the threshold, and expiry past max snapshots', async () => {
    const t = await s.call('POST', '/api/v1/tables', {
      namespace: 'h',
      name: 'events',
      columns: [
        { name: 'id', type: 'long' },
        { name: 'note', type: 'string' },
      ],
      properties: { 'lakehouse.maintenance.compaction.small-file-threshold': '4', 'lakehouse.maintenance.max-snapshots': '5' },
    });
    expect(t.status, t.text).toBe(201);
    // One INSERT is one commit writing one small file.
    const insert = async (i: number) => {
      const q = await s.call('POST', '/api/v1/queries', { sql: `INSERT INTO h.events VALUES (${i}, 'row ${i}'), (${i + 100}, 'row ${i + 100}')` });
      expect(q.status, q.text).toBe(200);
    };
    for (let i = 1; i <= 3; i++) await insert(i);
    const below = await health('h', 'events');
    expect(below.status, below.text).toBe(200);
    expect(below.body.health).toMatchObject({ dataFiles: 3, smallFiles: 3, deleteFiles: 0, snapshots: 3, records: 6 });
    expect(below.body.policy).toMatchObject({ smallFileThreshold: 4, maxSnapshots: 5 });
    expect(below.body.due).toEqual({ actions: [], reasons: [] });

    for (let i = 4; i <= 6; i++) await insert(i);
    const r = await health('h', 'events');
    expect(r.status, r.text).toBe(200);
    const h = r.body.health;
    expect(h).toMatchObject({ dataFiles: 6, smallFiles: 6, deleteFiles: 0, deleteFileRatio: 0, snapshots: 6, records: 12 });
    expect(h.manifests).toBeGreaterThanOrEqual(1);
    expect(h.avgFileSize).toBeCloseTo(h.totalBytes / 6, 6);
    // The same figures the SQL metadata tables give.
    const files = await s.call('POST', '/api/v1/queries', { sql: 'SELECT count(*), sum(file_size_in_bytes) FROM h."events$files"' });
    expect(files.status, files.text).toBe(200);
    expect(files.body.rows[0].map(Number)).toEqual([6, h.totalBytes]);
    expect(r.body.due).toEqual({
      actions: ['rewrite-data-files', 'expire-snapshots'],
      reasons: ['6 small files (threshold 4)', '6 snapshots (max 5)'],
    });

    // Policy off: the same small file is counted, nothing is due.
    const quiet = await s.call('POST', '/api/v1/tables', {
      namespace: 'h',
      name: 'quiet',
      columns: [{ name: 'id', type: 'long' }],
      properties: { 'lakehouse.maintenance.enabled': 'false', 'lakehouse.maintenance.compaction.small-file-threshold': '1' },
    });
    expect(quiet.status, quiet.text).toBe(201);
    expect((await s.call('POST', '/api/v1/queries', { sql: 'INSERT INTO h.quiet VALUES (1)' })).status).toBe(200);
    const q = await health('h', 'quiet');
    expect(q.body.health).toMatchObject({ dataFiles: 1, smallFiles: 1 });
    expect(q.body.policy).toMatchObject({ enabled: false, smallFileThreshold: 1 });
    expect(q.body.due).toEqual({ actions: [], reasons: [] });
  });

  it('answers an unknown table or namespace with 404 in the one error shape, and a bad name with 400', async () => {
    for (const path of ['h/no_such_table', 'no_such_ns/events']) {
      const r = await s.call('GET', `/api/v1/tables/${path}/health`);
      expect(r.status, r.text).toBe(404);
      expect(r.body).toEqual({ error: { message: expect.any(String), type: 'NoSuchTableException', code: 404 } });
      expect(r.body.error.message).toContain(path.split('/')[1]);
    }
    const bad = await s.call('GET', '/api/v1/tables/h/not-a-name/health');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 400, type: expect.any(String), message: expect.any(String) });
  });
});
