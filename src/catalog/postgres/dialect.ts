/**
 * PostgreSQL dialect for the catalog store: a `pg` Pool behind Kysely's PostgresDialect.
 * Commits need no special isolation: the compare-and-swap is one conditional UPDATE, which
 * under READ COMMITTED re-checks its WHERE clause against the latest row version after waiting
 * for a concurrent writer, so exactly one of several racing swaps matches.
 */
import pg from 'pg';
import { PostgresDialect } from 'kysely';

export interface PostgresDialectOptions {
  /** Pool size. Default 10. */
  maxConnections?: number;
}

export interface PostgresDialectHandle {
  dialect: PostgresDialect;
  pool: pg.Pool;
}

export function createPostgresDialect(url: string, options: PostgresDialectOptions = {}): PostgresDialectHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    application_name: 'lakehouse-catalog',
  });
  // An idle client that loses its server (restart, network) emits 'error' on the pool; without
  // a listener that would crash the process. The next checkout simply gets a fresh connection.
  pool.on('error', () => {});
  return { dialect: new PostgresDialect({ pool }), pool };
}
