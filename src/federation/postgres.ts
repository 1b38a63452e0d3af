import pg from 'pg';
import { pgIdent, renderPg, type ColumnInfo } from './pushdown.js';
import { BATCH, SourcePools, TEXT_FORM, type ColumnType, type SqlDialect, type SqlSession } from './sql-source.js';
import type { ExternalSource, PostgresConfig } from './store.js';

/**
 * The PostgreSQL dialect of an SQL source (./sql-source.ts), through `pg` (DuckDB's postgres
 * extension cannot be installed offline). Sessions are read-only and in UTC (timestamptz text
 * then carries +00, and timestamptz comparisons pushed down mean what they mean in DuckDB's UTC
 * connections); the server enforces statementTimeoutMs. Values come back as PostgreSQL's text
 * form, bytea as bytes.
 */
const byteaParser = pg.types.getTypeParser(17, 'text');
const textTypes = {
  // Everything as text, except bytea as bytes.
  getTypeParser: ((oid: number) => (oid === 17 ? byteaParser : (v: string) => v)) as unknown as typeof pg.types.getTypeParser,
};

const pools = new SourcePools<pg.Pool>(
  (src) => {
    const cfg = src.config as PostgresConfig;
    const pool = new pg.Pool({
      connectionString: cfg.connectionString,
      password: src.secrets?.password,
      max: 4,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
      connectionTimeoutMillis: 10_000,
      options: `-c TimeZone=UTC -c default_transaction_read_only=on -c statement_timeout=${cfg.statementTimeoutMs ?? 300_000}`,
      application_name: 'lakehouse-federation',
      types: textTypes,
    });
    // An idle client's error (server restart) must not crash the service.
    pool.on('error', () => undefined);
    return pool;
  },
  (pool) => pool.end(),
);

/** Closes every pool (shutdown, tests). */
export async function closePostgresPools(): Promise<void> {
  await pools.closeAll();
}

/** PostgreSQL types (pg_type.typname) by their DuckDB counterparts; any other is read as its text form. */
const TYPES: Record<string, ColumnType> = {
  int2: { duckType: 'SMALLINT', kind: 'int' },
  int4: { duckType: 'INTEGER', kind: 'int' },
  int8: { duckType: 'BIGINT', kind: 'int' },
  float4: { duckType: 'FLOAT', kind: 'num' },
  float8: { duckType: 'DOUBLE', kind: 'num' },
  text: { duckType: 'VARCHAR', kind: 'text' },
  varchar: { duckType: 'VARCHAR', kind: 'text' },
  name: { duckType: 'VARCHAR', kind: 'text' },
  // Blank-padded: PostgreSQL compares ignoring trailing blanks, DuckDB would not.
  bpchar: { duckType: 'VARCHAR', kind: 'other' },
  bool: { duckType: 'BOOLEAN', kind: 'bool' },
  date: { duckType: 'DATE', kind: 'date' },
  timestamp: { duckType: 'TIMESTAMP', kind: 'timestamp' },
  timestamptz: { duckType: 'TIMESTAMPTZ', kind: 'timestamptz' },
  uuid: { duckType: 'UUID', kind: 'uuid' },
  bytea: { duckType: 'BLOB', kind: 'other' },
  time: { duckType: 'TIME', kind: 'other' },
};

function typeOf(typname: string, formatted: string): ColumnType {
  if (typname === 'numeric') {
    const m = /^numeric\((\d+),(\d+)\)$/.exec(formatted.replace(/\s/g, ''));
    if (m && Number(m[1]) <= 38) return { duckType: `DECIMAL(${m[1]},${m[2]})`, kind: 'num' };
    // Unconstrained or wider than DuckDB's DECIMAL: DOUBLE, as DuckDB's own postgres scanner does.
    return { duckType: 'DOUBLE', kind: 'num' };
  }
  // json, jsonb, arrays, enums, intervals, …: their text form.
  return Object.hasOwn(TYPES, typname) ? TYPES[typname] : TEXT_FORM;
}

async function columns(src: ExternalSource, schema: string, table: string): Promise<ColumnInfo[]> {
  const r = await pools.get(src).query<{ attname: string; typname: string; formatted: string }>(
    `SELECT a.attname, t.typname, format_type(a.atttypid, a.atttypmod) AS formatted
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
        AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
      ORDER BY a.attnum`,
    [schema, table],
  );
  return r.rows.map((row) => ({ name: row.attname, ...typeOf(row.typname, row.formatted) }));
}

/** A pooled client reading through a server-side cursor; cancelled with pg_cancel_backend. */
async function connect(src: ExternalSource): Promise<SqlSession> {
  const pool = pools.get(src);
  const client = await pool.connect();
  const pid = (client as unknown as { processID?: number }).processID;
  return {
    broken: false,
    async exec(sql) {
      await client.query(sql);
    },
    async read(select, params, _columns, limit, onBatch) {
      await client.query({ text: `DECLARE lakehouse_fed NO SCROLL CURSOR FOR ${select} LIMIT ${limit}`, values: params });
      for (;;) {
        const r = await client.query({ text: `FETCH FORWARD ${BATCH} FROM lakehouse_fed`, rowMode: 'array' });
        if (r.rows.length > 0) onBatch(r.rows as unknown[][]);
        if (r.rows.length < BATCH) break;
      }
      // The stats show the cursor's query without the LIMIT the cursor adds.
      return select;
    },
    cancel() {
      if (pid) void pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
    },
    release(broken) {
      client.release(broken);
    },
  };
}

export const postgresDialect: SqlDialect = {
  label: 'PostgreSQL',
  ident: pgIdent,
  columns,
  // Every predicate pushdown.ts translates means in PostgreSQL what it means in DuckDB (COLLATE "C").
  where: async (_src, filter, params) => renderPg(filter, params),
  begin: ['BEGIN READ ONLY'],
  connect,
  ping: async (src) => {
    await pools.get(src).query('SELECT 1');
  },
};
