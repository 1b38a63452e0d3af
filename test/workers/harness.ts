/**
 * Shared by the concurrency and crash tests: spawning append-worker.mjs processes (which run the
 * compiled dist/ code) and walking a table's history.
 */
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TableMetadata } from '../../src/iceberg/metadata.js';
import type { Snapshot } from '../../src/iceberg/snapshot.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const workerScript = join(repoRoot, 'test/workers/append-worker.mjs');

function newestMtime(dir: string): number {
  let m = 0;
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    m = Math.max(m, ent.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return m;
}

/**
 * The workers import dist/. `npm test` builds it first; a lone `vitest run <file>` may find it
 * missing or older than src/, so build it then (type errors are tsc's job elsewhere).
 */
export function ensureDist(): void {
  const marker = join(repoRoot, 'dist/table/table-ops.js');
  if (existsSync(marker) && statSync(marker).mtimeMs >= newestMtime(join(repoRoot, 'src'))) return;
  try {
    execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: repoRoot, stdio: 'pipe' });
  } catch (e) {
    // tsc still emits on type errors (elsewhere in a tree under concurrent edits); only a
    // missing output is fatal.
    if (!existsSync(marker)) throw e;
  }
}

export interface WorkerDone {
  start: number;
  attempts: number;
  retries: number;
  ms: number;
}

export interface WorkerHandle {
  child: ChildProcessWithoutNullStreams;
  /** seqs acknowledged (a `committed w i` line was read) so far, in order. */
  acked: number[];
  /** The seq the worker resumed at (its `start` line), once printed. */
  start?: number;
  /** Called after each acknowledged commit line. */
  onCommit?: (seq: number) => void;
  /** Resolves with the exit code/signal and the final `done` line (absent when killed). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; done?: WorkerDone; stderr: string }>;
}

export function spawnWriter(args: {
  storeUrl: string;
  warehouse: string;
  ns: string;
  table: string;
  writer: number;
  count: number;
  rows: number;
  /** false: the worker doesn't fsync table files (LAKEHOUSE_WORKER_FSYNC=0). */
  fsync?: boolean;
}): WorkerHandle {
  const child = spawn(
    process.execPath,
    [workerScript, args.storeUrl, args.warehouse, args.ns, args.table, String(args.writer), String(args.count), String(args.rows)],
    { cwd: repoRoot, stdio: 'pipe', env: { ...process.env, LAKEHOUSE_WORKER_FSYNC: args.fsync === false ? '0' : '1' } },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const handle: WorkerHandle = { child, acked: [], exited: undefined as never };
  let done: WorkerDone | undefined;
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    const parts = line.split(' ');
    if (parts[0] === 'committed') {
      const seq = Number(parts[2]);
      handle.acked.push(seq);
      handle.onCommit?.(seq);
    } else if (parts[0] === 'start') {
      handle.start = Number(parts[2]);
    } else if (parts[0] === 'done') {
      done = JSON.parse(parts.slice(2).join(' ')) as WorkerDone;
    }
  });
  const lineClosed = new Promise<void>((r) => lines.once('close', () => r()));
  handle.exited = new Promise((res, rej) => {
    child.once('error', rej);
    child.once('close', (code, signal) => {
      // 'close' fires after stdio ends, but let readline drain its last lines first.
      void lineClosed.then(() => res({ code, signal, done, stderr }));
    });
  });
  return handle;
}

/** main's ancestry, newest first (walks parent ids from the current snapshot). */
export function mainAncestry(md: TableMetadata): Snapshot[] {
  const byId = new Map(md.snapshots.map((s) => [s['snapshot-id'], s]));
  const out: Snapshot[] = [];
  let id: bigint | null | undefined = md.refs.main?.['snapshot-id'] ?? md['current-snapshot-id'];
  const seen = new Set<bigint>();
  while (id !== null && id !== undefined) {
    if (seen.has(id)) throw new Error(`cycle in snapshot ancestry at ${id}`);
    seen.add(id);
    const s = byId.get(id);
    if (!s) throw new Error(`snapshot ${id} in main's ancestry is missing from the metadata`);
    out.push(s);
    id = s['parent-snapshot-id'];
  }
  return out;
}

/**
 * Checks the summaries along an ancestry (newest first): total-records is the parent's plus
 * added-records on every step; returns the head's total.
 */
export function checkTotals(ancestry: Snapshot[]): bigint {
  const oldestFirst = [...ancestry].reverse();
  let total = 0n;
  for (const s of oldestFirst) {
    total += BigInt(s.summary['added-records'] ?? '0');
    if (BigInt(s.summary['total-records']) !== total) {
      throw new Error(`snapshot ${s['snapshot-id']}: total-records ${s.summary['total-records']} != running total ${total}`);
    }
  }
  return total;
}
