/**
 * Several OS processes committing to one SQLite catalog file: busy handling must make them wait,
 * never fail, and the compare-and-swap must never lose an update. The workers run the real store
 * code, transpiled from src/ into a scratch directory (Node 20 can't run .ts directly; typechecking
 * is tsc's job elsewhere).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalogStore } from '../../src/catalog/open-store.js';
import { openSqliteDatabase } from '../../src/catalog/sqlite/dialect.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WORKERS = 4;
const PER_WORKER = 50;

interface WorkerResult {
  workerId: string;
  attempts: number;
  wins: [string, string][];
  ms: number;
}

/** Transpiles `entry` and everything it imports relatively (`./x.js` -> `./x.ts`) into outDir. */
function transpileTree(srcRoot: string, entry: string, outDir: string): void {
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const rel = queue.pop()!;
    if (seen.has(rel)) continue;
    seen.add(rel);
    const source = readFileSync(join(srcRoot, rel), 'utf8');
    for (const m of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      queue.push(join(dirname(rel), `${m[1]}.ts`));
    }
    const { outputText } = ts.transpileModule(source, {
      fileName: rel,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    });
    const out = join(outDir, rel.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
}

let buildDir: string;
let dataDir: string;

beforeAll(() => {
  // Inside the repo so the compiled files resolve kysely/better-sqlite3 from node_modules.
  const cache = join(repoRoot, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  buildDir = mkdtempSync(join(cache, 'lakehouse-catalog-build-'));
  dataDir = mkdtempSync(join(tmpdir(), 'lakehouse-mp-'));
  const t0 = Date.now();
  transpileTree(join(repoRoot, 'src'), 'catalog/open-store.ts', buildDir);
  writeFileSync(join(buildDir, 'package.json'), '{"type":"module"}\n');
  console.log(`transpiled catalog store for workers in ${Date.now() - t0} ms`);
});

afterAll(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function startWorker(url: string, id: number): { child: ChildProcessWithoutNullStreams; ready: Promise<void>; done: Promise<WorkerResult> } {
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'test/catalog/cas-worker.mjs'), join(buildDir, 'catalog/open-store.js'), url, 'mp', `w${id}`, String(PER_WORKER)],
    { cwd: repoRoot, stdio: 'pipe' },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout });
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));
  let result: WorkerResult | undefined;
  lines.on('line', (line) => {
    if (line === 'ready') resolveReady();
    else if (line.startsWith('{')) result = JSON.parse(line) as WorkerResult;
  });
  const done = new Promise<WorkerResult>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => {
      if (code === 0 && result) res(result);
      else rej(new Error(`worker w${id} exited with ${code}: ${stderr}`));
    });
  });
  // A worker that dies before "ready" must not hang the test.
  done.catch(() => resolveReady());
  return { child, ready, done };
}

describe('SQLite catalog shared by several processes', () => {
  it(`${WORKERS} processes x ${PER_WORKER} CAS increments: no lost update`, async () => {
    const url = `sqlite:${join(dataDir, 'shared.db')}`;
    // The workers migrate the fresh file concurrently.
    const workers = Array.from({ length: WORKERS }, (_, i) => startWorker(url, i));
    await Promise.all(workers.map((w) => w.ready));

    const store = await openCatalogStore(url, { catalogName: 'mp' });
    await store.createNamespace(['mp'], {});
    await store.createTable({ namespace: ['mp'], name: 'counter' }, 'chain/0/init');

    // Hold the write lock from yet another connection while the workers start: their commits
    // must wait on the busy timeout (not fail with SQLITE_BUSY) and go through once it's released.
    const blocker = openSqliteDatabase(join(dataDir, 'shared.db'));
    blocker.exec('BEGIN IMMEDIATE');
    const t0 = Date.now();
    for (const w of workers) w.child.stdin.write('go\n');
    await new Promise((r) => setTimeout(r, 400));
    blocker.exec('COMMIT');
    blocker.close();
    const results = await Promise.all(workers.map((w) => w.done));
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(400);

    const attempts = results.reduce((s, r) => s + r.attempts, 0);
    console.log(
      `${WORKERS}x${PER_WORKER} multi-process CAS: ${elapsed} ms incl. 400 ms blocked, ${attempts} attempts ` +
        `(${results.map((r) => `${r.workerId}:${r.attempts}`).join(' ')})`,
    );
    for (const r of results) expect(r.wins.length).toBe(PER_WORKER);

    // Every step n -> n+1 of the chain was won exactly once: a single unbroken history.
    const steps = results.flatMap((r) => r.wins).map(([from, to]) => [Number(from.split('/')[1]), Number(to.split('/')[1]), from, to] as const);
    expect(steps.length).toBe(WORKERS * PER_WORKER);
    steps.sort((a, b) => a[0] - b[0]);
    steps.forEach(([from, to], i) => {
      expect(from).toBe(i);
      expect(to).toBe(i + 1);
    });
    for (let i = 1; i < steps.length; i++) expect(steps[i][2]).toBe(steps[i - 1][3]);

    const rec = await store.getTable({ namespace: ['mp'], name: 'counter' });
    expect(rec?.metadataLocation).toBe(steps[steps.length - 1][3]);
    expect(Number(rec?.metadataLocation.split('/')[1])).toBe(WORKERS * PER_WORKER);
    await store.close();
  });
});
