import type { Connection as CallbackConnection } from 'mysql2';
import mysql from 'mysql2/promise';
import { myIdent, mysqlPushable, renderMy, type ColumnInfo } from './pushdown.js';
import { BATCH, SourcePools, TEXT_FORM, type ColumnType, type SqlDialect, type SqlSession } from './sql-source.js';
import type { ExternalSource, MysqlConfig } from './store.js';

/**
 * The MySQL/MariaDB dialect of an SQL source (./sql-source.ts), through `mysql2`. A source's
 * "schemas" are the server's databases. Sessions are read-only transactions in UTC with an empty
 * sql_mode (so that the client-side escaping of parameters, which uses backslashes, means what it
 * says, whatever the server's default mode). Values come back as the server's text form, binary
 * columns as bytes. A statement past the source's statementTimeoutMs is killed from here, as is
 * one whose query is cancelled (KILL QUERY).
 */
interface Pool {
  pool: mysql.Pool;
  /** Binary NO PAD utf8mb4 collation of this server (MariaDB and MySQL 8 name it differently). */
  collation?: Promise<string>;
}

const pools = new SourcePools<Pool>(
  (src) => {
    const u = new URL((src.config as MysqlConfig).connectionString);
    const pool = mysql.createPool({
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port ? Number(u.port) : 3306,
      user: decodeURIComponent(u.username),
      password: src.secrets?.password,
      database: u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : undefined,
      charset: 'utf8mb4',
      connectionLimit: 4,
      maxIdle: 1,
      idleTimeout: 10_000,
      connectTimeout: 10_000,
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
    });
    // An idle connection's error (server restart) must not crash the service.
    pool.on('connection', (c) => (c as unknown as { on(e: string, f: () => void): void }).on('error', () => undefined));
    return { pool };
  },
  (p) => p.pool.end(),
);

/** Closes every pool (shutdown, tests). */
export async function closeMysqlPools(): Promise<void> {
  await pools.closeAll();
}

async function collationOf(entry: Pool): Promise<string> {
  entry.collation ??= entry.pool.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v').then(([rows]) => (/mariadb/i.test(String(rows[0].v)) ? 'utf8mb4_nopad_bin' : 'utf8mb4_0900_bin'));
  return entry.collation.catch((e) => {
    entry.collation = undefined;
    throw e;
  });
}

interface ColumnRow {
  tableSchema: string;
  tableName: string;
  name: string;
  dataType: string;
  columnType: string;
  precision: number | string | null;
  scale: number | string | null;
  charset: string | null;
}

/** MySQL types (DATA_TYPE) bound the same whatever their length or character set; any other is read as its text form. */
const TYPES: Record<string, ColumnType> = {
  double: { duckType: 'DOUBLE', kind: 'num' },
  real: { duckType: 'DOUBLE', kind: 'num' },
  // MySQL compares FLOAT with a DOUBLE constant differently from DuckDB: no pushdown.
  float: { duckType: 'FLOAT', kind: 'other' },
  date: { duckType: 'DATE', kind: 'date' },
  datetime: { duckType: 'TIMESTAMP', kind: 'timestamp' },
  // Shown in the session's time zone, UTC.
  timestamp: { duckType: 'TIMESTAMPTZ', kind: 'other' },
  binary: { duckType: 'BLOB', kind: 'other' },
  varbinary: { duckType: 'BLOB', kind: 'other' },
  tinyblob: { duckType: 'BLOB', kind: 'other' },
  blob: { duckType: 'BLOB', kind: 'other' },
  mediumblob: { duckType: 'BLOB', kind: 'other' },
  longblob: { duckType: 'BLOB', kind: 'other' },
  bit: { duckType: 'BLOB', kind: 'other' },
  time: { duckType: 'TIME', kind: 'other' },
};

const INTEGERS: Record<string, string> = { tinyint: 'TINYINT', smallint: 'SMALLINT', mediumint: 'INTEGER', int: 'INTEGER', integer: 'INTEGER', bigint: 'BIGINT' };
const TEXTS = new Set(['varchar', 'tinytext', 'text', 'mediumtext', 'longtext']);

function typeOf(r: ColumnRow): ColumnType {
  const dataType = r.dataType.toLowerCase();
  if (Object.hasOwn(INTEGERS, dataType)) return { duckType: `${/unsigned/i.test(r.columnType) ? 'U' : ''}${INTEGERS[dataType]}`, kind: 'int' };
  if (dataType === 'decimal' || dataType === 'numeric') {
    const p = Number(r.precision);
    if (p <= 38) return { duckType: `DECIMAL(${p},${Number(r.scale ?? 0)})`, kind: 'num' };
    // Wider than DuckDB's DECIMAL: DOUBLE, and comparisons stay in DuckDB (rounded values).
    return { duckType: 'DOUBLE', kind: 'other' };
  }
  // Pushed comparisons use a utf8mb4 collation: only columns of that character set.
  if (TEXTS.has(dataType)) return { duckType: 'VARCHAR', kind: r.charset === 'utf8mb4' ? 'text' : 'other' };
  // char (MySQL strips its trailing blanks), enum, set, json, year, geometry, …: their text form.
  return Object.hasOwn(TYPES, dataType) ? TYPES[dataType] : TEXT_FORM;
}

async function columns(src: ExternalSource, schema: string, table: string): Promise<ColumnInfo[]> {
  const [r] = await pools.get(src).pool.query<mysql.RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS tableSchema, TABLE_NAME AS tableName, COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, NUMERIC_PRECISION AS \`precision\`,
            NUMERIC_SCALE AS scale, CHARACTER_SET_NAME AS charset
       FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?
      ORDER BY ORDINAL_POSITION`,
    [schema, table],
  );
  // information_schema compares names case-insensitively on some platforms: keep exact matches only.
  const rows = (r as ColumnRow[]).filter((row) => row.tableSchema === schema && row.tableName === table);
  return rows.map((row) => ({ name: row.name, ...typeOf(row) }));
}

/**
 * A pooled connection whose result is streamed (never held whole); cancelled with KILL QUERY.
 * Binary columns come back as bytes, everything else as the server's text.
 */
async function connect(src: ExternalSource): Promise<SqlSession> {
  const entry = pools.get(src);
  const conn = await entry.pool.getConnection();
  let broken = false;
  return {
    get broken() {
      return broken;
    },
    async exec(sql) {
      await conn.query(sql);
    },
    async read(select, params, columns, limit, onBatch) {
      const sql = `${select} LIMIT ${limit}`;
      const blobs = new Set(columns.filter((c) => c.duckType === 'BLOB').map((c) => c.name));
      // The callback connection underneath streams; the promise API would buffer the whole result.
      const stream = (conn.connection as unknown as CallbackConnection)
        .query({
          sql,
          values: params,
          rowsAsArray: true,
          typeCast: (field, next) => (blobs.has(field.name) ? field.buffer() : field.type === 'NULL' ? next() : field.string('utf8')),
        })
        .stream({ highWaterMark: 1000 });
      const hand = (rows: unknown[][]) => {
        try {
          onBatch(rows);
        } catch (e) {
          // A connection left mid-result cannot be reused.
          stream.destroy();
          broken = true;
          throw e;
        }
      };
      let batch: unknown[][] = [];
      for await (const row of stream as AsyncIterable<unknown[]>) {
        batch.push(row);
        if (batch.length >= BATCH) {
          hand(batch);
          batch = [];
        }
      }
      if (batch.length > 0) hand(batch);
      return sql;
    },
    cancel() {
      void entry.pool.query(`KILL QUERY ${Number(conn.threadId)}`).catch(() => undefined);
    },
    release(b) {
      if (b) conn.destroy();
      else conn.release();
    },
  };
}

export const mysqlDialect: SqlDialect = {
  label: 'MySQL',
  ident: myIdent,
  columns,
  where: async (src, filter, params) => {
    // Conjuncts MySQL may evaluate differently from DuckDB stay in DuckDB.
    const pushed = mysqlPushable(filter);
    return pushed ? renderMy(pushed, params, await collationOf(pools.get(src))) : null;
  },
  begin: [`SET SESSION time_zone = '+00:00', sql_mode = ''`, 'START TRANSACTION READ ONLY'],
  connect,
  clientTimeoutMs: (src) => (src.config as MysqlConfig).statementTimeoutMs ?? 300_000,
  ping: async (src) => {
    await pools.get(src).pool.query('SELECT 1');
  },
};
