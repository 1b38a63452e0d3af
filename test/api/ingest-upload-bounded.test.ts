/**
 * An upload larger than the service's memory for JavaScript: a `lakehouse serve` process whose V8
 * heap is capped at 96 MiB ingests a ~620 MB CSV upload as one commit. The multipart body is
 * streamed to a staging file and read from there by DuckDB, so nothing holds the file in memory:
 * a service that buffered it in strings would die ("JavaScript heap out of memory"), and one that
 * buffered it in Buffers (outside the heap) would grow its peak resident memory by the upload's
 * size, which the test bounds too.
 */
import { mkdtempSync, openAsBlob, readFileSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Duck, str } from '../../src/duck/db.js';
import { startServe, type ServeProcess } from '../scheduler/serve-process.js';

const HEAP_MIB = 96;

describe('batch ingestion: an upload larger than the heap', () => {
  let dir: string;
  let serve: ServeProcess;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-upload-'));
    serve = await startServe({ dir, env: { LAKEHOUSE_AUTH_ANONYMOUS: 'true', NODE_OPTIONS: `--max-old-space-size=${HEAP_MIB}` } });
  }, 120_000);
  afterAll(async () => {
    await serve?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`ingests a ~620 MB CSV in one commit with a ${HEAP_MIB} MiB heap`, async () => {
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${serve.url}${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
      return { status: res.status, body: (await res.json()) as any };
    };
    const created = await call('POST', '/api/v1/tables', {
      namespace: 'big', name: 'rows',
      columns: [{ name: 'id', type: 'long', required: true }, { name: 'name', type: 'string' }, { name: 'qty', type: 'int' }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);

    const file = join(dir, 'big.csv');
    const N = 9_000_000;
    const duck = await Duck.open();
    try {
      await duck.run(`COPY (SELECT i AS id, 'customer-' || i || '-' || repeat('x', 40) AS name, i % 1000 AS qty FROM range(${N}) r(i)) TO ${str(file)} (FORMAT csv, HEADER true)`);
    } finally {
      duck.close();
    }
    const size = (await stat(file)).size;
    expect(size).toBeGreaterThan(6 * HEAP_MIB * 1024 * 1024);

    const hwm = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${serve.pid}/status`, 'utf8'))![1]) * 1024;
    const before = hwm();
    const form = new FormData();
    form.append('file', await openAsBlob(file), 'big.csv');
    const res = await fetch(`${serve.url}/api/v1/tables/big/rows/ingest`, { method: 'POST', body: form });
    const body = (await res.json()) as any;
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ rowsCommitted: N, rowsDeadLettered: 0 });
    expect(serve.peer.child.exitCode).toBeNull();
    const after = hwm();
    console.log(`upload ${(size / 1e6).toFixed(0)} MB: peak RSS ${(before / 1e6).toFixed(0)} MB before, ${(after / 1e6).toFixed(0)} MB after`);
    // Buffers live outside the V8 heap, so the heap cap alone would not catch a buffered upload:
    // the process's peak resident memory must grow by well under the upload's size too (DuckDB's
    // CSV → Parquet pipeline holds a few row groups, ~200 MB here, whatever the file size).
    expect(after - before).toBeLessThan(size * 0.6);

    const q = await call('POST', '/api/v1/queries', { sql: 'SELECT count(*), count(DISTINCT id), sum(qty) FROM big.rows' });
    expect(q.status, JSON.stringify(q.body)).toBe(200);
    expect(q.body.rows).toEqual([[N, N, (N / 1000) * 499500]]);
    const snaps = await call('POST', '/api/v1/queries', { sql: 'SELECT count(*) FROM "big"."rows$snapshots"' });
    expect(snaps.body.rows).toEqual([[1]]);
  }, 300_000);
});
