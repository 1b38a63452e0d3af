import { DuckDBInstance, type DuckDBConnection, type DuckDBMaterializedResult } from '@duckdb/node-api';

/**
 * Embedded DuckDB. Every connection runs in UTC so TIMESTAMPTZ ↔ TIMESTAMP casts and
 * timestamp literals never depend on the host's zone.
 */
export interface DuckOptions {
  /** Database file, or ':memory:' (default). */
  path?: string;
  threads?: number;
  memoryLimit?: string;
}

export class Duck {
  private constructor(
    readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
  ) {}

  static async open(opts: DuckOptions = {}): Promise<Duck> {
    const config: Record<string, string> = {};
    if (opts.threads) config.threads = String(opts.threads);
    if (opts.memoryLimit) config.memory_limit = opts.memoryLimit;
    const instance = await DuckDBInstance.create(opts.path ?? ':memory:', config);
    const conn = await instance.connect();
    await conn.run("SET TimeZone = 'UTC'");
    return new Duck(instance, conn);
  }

  async run(sql: string): Promise<void> {
    await this.conn.run(sql);
  }

  async all(sql: string): Promise<DuckDBMaterializedResult> {
    return (await this.conn.run(sql)) as DuckDBMaterializedResult;
  }

  /** Rows as plain objects of JS values (bigint for BIGINT, etc.). */
  async rows(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await this.conn.runAndReadAll(sql);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

/** Quotes an identifier for DuckDB SQL. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal for DuckDB SQL. */
export function str(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
