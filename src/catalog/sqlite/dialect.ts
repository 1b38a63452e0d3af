/**
 * better-sqlite3 dialect for the catalog store.
 *
 * - WAL journal (readers never block the writer), synchronous=NORMAL (durable enough in WAL),
 *   foreign keys ON (the schema relies on them), and a busy timeout so a connection that finds
 *   the file locked by another process or connection waits instead of failing with SQLITE_BUSY.
 * - Every transaction starts with `BEGIN IMMEDIATE`: it takes the write lock up front (waiting
 *   via the busy timeout) rather than upgrading a read lock mid-transaction, which in WAL mode
 *   fails at once with SQLITE_BUSY_SNAPSHOT and is not retried by the busy handler.
 * - The adapter declares transactional DDL (SQLite has it), so Kysely's Migrator runs each
 *   migration batch in one of those immediate transactions: several processes migrating the same
 *   file at once serialise instead of racing.
 * - better-sqlite3 is synchronous: while one connection waits in its busy handler the whole
 *   thread sleeps. Two connections to the same file in ONE process could therefore deadlock (the
 *   lock holder can't reach its COMMIT while the waiter blocks the event loop), so writes are also
 *   serialised per file inside the process by `serializeWrites`.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type DialectAdapter,
  type SqliteDialectConfig,
} from 'kysely';

export interface SqliteDialectOptions {
  /** How long to wait for another writer before failing with SQLITE_BUSY. Default 30 s. */
  busyTimeoutMs?: number;
}

export interface SqliteDialectHandle {
  dialect: SqliteDialect;
  /** Runs `fn` while holding this process's write lock for the database file. */
  serializeWrites: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Resolved file path, or ':memory:'. */
  path: string;
}

export const DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 30_000;

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class LakehouseSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

/** A FIFO async mutex. */
class AsyncMutex {
  #tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

const fileLocks = new Map<string, AsyncMutex>();

function lockFor(path: string): AsyncMutex {
  let m = fileLocks.get(path);
  if (!m) {
    m = new AsyncMutex();
    fileLocks.set(path, m);
  }
  return m;
}

/** Opens a better-sqlite3 connection with the catalog's pragmas. */
export function openSqliteDatabase(path: string, options: SqliteDialectOptions = {}): Database.Database {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_SQLITE_BUSY_TIMEOUT_MS;
  const memory = path === ':memory:';
  if (!memory) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: busyTimeoutMs });
  // busy_timeout first: switching to WAL needs a lock another process may hold right now.
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
  if (!memory) db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  return db;
}

export function createSqliteDialect(path: string, options: SqliteDialectOptions = {}): SqliteDialectHandle {
  const resolved = path === ':memory:' ? path : resolve(path);
  const dialect = new LakehouseSqliteDialect({ database: async () => openSqliteDatabase(resolved, options) });
  // An in-memory database is private to its connection: nothing to serialise against.
  const serializeWrites =
    resolved === ':memory:'
      ? <T>(fn: () => Promise<T>) => fn()
      : <T>(fn: () => Promise<T>) => lockFor(resolved).run(fn);
  return { dialect, serializeWrites, path: resolved };
}
