/**
 * A real PostgreSQL server for tests.
 *
 * `startPostgres()` returns a FRESH, empty database. Databases of one test file (one vitest
 * worker process) share one throwaway cluster made by scripts/start-postgres.sh (~2-3 s); the
 * cluster is torn down when the last database of the file is stopped (or at process exit).
 * Set LAKEHOUSE_TEST_PG_URL to an existing server's admin URL to skip making clusters.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const startScript = join(repoRoot, 'scripts/start-postgres.sh');
const stopScript = join(repoRoot, 'scripts/stop-postgres.sh');

export interface TestPostgres {
  /** URL of a fresh database, e.g. postgresql://postgres@127.0.0.1:PORT/lh_test_… */
  url: string;
  stop(): Promise<void>;
}

interface Cluster {
  adminUrl: string;
  /** Set when we made the cluster (and so must tear it down). */
  baseDir: string | null;
  users: number;
  startMs: number;
}

let cluster: Promise<Cluster> | null = null;
let counter = 0;

/** How long the last cluster start took (ms), for reporting. */
export let lastClusterStartMs = 0;

async function startCluster(): Promise<Cluster> {
  const external = process.env.LAKEHOUSE_TEST_PG_URL;
  if (external) return { adminUrl: external, baseDir: null, users: 0, startMs: 0 };
  const t0 = Date.now();
  const baseDir = mkdtempSync(join(tmpdir(), 'lakehouse-pg.'));
  const { stdout } = await run('bash', [startScript, baseDir], { maxBuffer: 16 << 20, timeout: 15 * 60_000 });
  const adminUrl = stdout.trim().split('\n').pop()!;
  const startMs = Date.now() - t0;
  lastClusterStartMs = startMs;
  // Never leave a server behind, even when a test file forgets stop() or crashes.
  process.once('exit', () => {
    try {
      execFileSync('bash', [stopScript, baseDir], { stdio: 'ignore' });
    } catch {
      /* best effort */
    }
  });
  return { adminUrl, baseDir, users: 0, startMs };
}

async function admin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function startPostgres(): Promise<TestPostgres> {
  cluster ??= startCluster().catch((e) => {
    cluster = null;
    throw e;
  });
  const c = await cluster;
  c.users++;
  const database = `lh_test_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  try {
    await admin(c.adminUrl, (client) => client.query(`CREATE DATABASE "${database}"`));
  } catch (e) {
    await release(c);
    throw e;
  }
  let stopped = false;
  return {
    url: withDatabase(c.adminUrl, database),
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await admin(c.adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
      } finally {
        await release(c);
      }
    },
  };
}

async function release(c: Cluster): Promise<void> {
  c.users--;
  if (c.users > 0 || c.baseDir === null) return;
  cluster = null;
  await run('bash', [stopScript, c.baseDir]);
}
