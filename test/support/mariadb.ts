/**
 * A real MariaDB server for tests.
 *
 * `startMariadb()` returns a FRESH, empty database and an admin URL (user `lh_admin` with a
 * password, over TCP). Databases of one test file (one vitest worker process) share one
 * throwaway server made by scripts/start-mariadb.sh (~5 s); it is stopped when the last database
 * of the file is stopped (or at process exit). Set LAKEHOUSE_TEST_MYSQL_URL to an existing
 * server's admin URL (mysql://user:password@host:port/) to skip making servers.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';

const run = promisify(execFile);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(repoRoot, 'scripts/start-mariadb.sh');

export interface TestMariadb {
  /** Admin URL of the server, with the password: mysql://lh_admin:…@127.0.0.1:PORT/ */
  adminUrl: string;
  /** The fresh database's name. */
  database: string;
  /** Runs statements as the admin, in the fresh database. */
  admin<T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

interface Server {
  adminUrl: string;
  /** Set when we made the server (and so must stop it). */
  baseDir: string | null;
  users: number;
}

let server: Promise<Server> | null = null;
let counter = 0;

async function startServer(): Promise<Server> {
  const external = process.env.LAKEHOUSE_TEST_MYSQL_URL;
  if (external) return { adminUrl: external, baseDir: null, users: 0 };
  const baseDir = mkdtempSync(join(tmpdir(), 'lakehouse-mariadb.'));
  const { stdout } = await run('bash', [script, baseDir], { maxBuffer: 16 << 20, timeout: 15 * 60_000 });
  // Never leave a server behind, even when a test file forgets stop() or crashes.
  process.once('exit', () => {
    try {
      execFileSync('bash', [script, '--stop', baseDir], { stdio: 'ignore' });
    } catch {
      /* best effort */
    }
  });
  return { adminUrl: stdout.trim().split('\n').pop()!, baseDir, users: 0 };
}

async function connect(adminUrl: string, database?: string): Promise<mysql.Connection> {
  const u = new URL(adminUrl);
  return mysql.createConnection({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database,
    charset: 'utf8mb4',
    multipleStatements: true,
  });
}

export async function startMariadb(): Promise<TestMariadb> {
  server ??= startServer().catch((e) => {
    server = null;
    throw e;
  });
  const s = await server;
  s.users++;
  const database = `lh_test_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = async <T>(fn: (c: mysql.Connection) => Promise<T>, db: string | null = database): Promise<T> => {
    // null: no database (creating and dropping it).
    const c = await connect(s.adminUrl, db ?? undefined);
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  try {
    await admin((c) => c.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4`), null);
  } catch (e) {
    await release(s);
    throw e;
  }
  let stopped = false;
  return {
    adminUrl: s.adminUrl,
    database,
    admin: (fn) => admin(fn),
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await admin((c) => c.query(`DROP DATABASE IF EXISTS \`${database}\``), null);
      } finally {
        await release(s);
      }
    },
  };
}

async function release(s: Server): Promise<void> {
  s.users--;
  if (s.users > 0 || s.baseDir === null) return;
  server = null;
  await run('bash', [script, '--stop', s.baseDir]);
}
