import type { Kysely } from 'kysely';
import { lakehouseError } from '../core/errors.js';
import { classifyConstraintError } from '../catalog/sql/sql-store.js';
import type { Catalog } from '../catalog/catalog.js';
import { sqlStoreOf } from '../catalog/sql-store-of.js';
import { openSecret, sealSecret } from '../security/encryption/secrets.js';

/**
 * External sources (migration 0009-external-sources) in the catalog database. A source is named
 * in SQL as the first part of `<source>.<schema>.<table>`; its grant-model resource is the
 * namespace `[source, schema]` and the table, so grants, masks and row filters name it exactly as
 * queries do. The one secret (a PostgreSQL or MySQL password) is kept in `secrets.password` and nowhere
 * else: `list`/`get` return it only when asked (`withSecrets`), for the reader that connects.
 */
export type ExternalKind = 'postgres' | 'mysql' | 'files';

export interface PostgresConfig {
  /** postgresql://user@host:port/database (any password is moved to the secret on create). */
  connectionString: string;
  /** Schemas the source exposes (default: every schema the user can read). */
  schemas?: string[];
  /** More rows than this from one table fails the query (default 1,000,000). */
  maxRows?: number;
  statementTimeoutMs?: number;
}

/**
 * A MySQL or MariaDB server: mysql://user@host:port[/database]; `schemas` are its databases. The
 * password is kept like a PostgreSQL one (sealed in `secrets.password`).
 */
export type MysqlConfig = PostgresConfig;

export type FileFormat = 'csv' | 'json' | 'parquet';

export interface FileTable {
  /** SQL name under the source: `<source>.<schema>.<name>` (schema default `main`). */
  schema?: string;
  name: string;
  /** A file, or a directory/prefix ending in `/` (every file in it with the format's extension). */
  location: string;
  format: FileFormat;
  /** CSV only: header row (default true) and delimiter (default `,`). */
  header?: boolean;
  delimiter?: string;
}

export interface FilesConfig {
  tables: FileTable[];
}

export interface ExternalSource {
  name: string;
  kind: ExternalKind;
  description?: string;
  config: PostgresConfig | FilesConfig;
  /** Only with `withSecrets`. */
  secrets?: { password?: string };
  hasPassword: boolean;
  createdAt: string;
  updatedAt: string;
}

interface ExternalSourcesTable {
  catalog_name: string;
  name: string;
  kind: ExternalKind;
  config: string;
  secrets: string;
  created_at: string;
  updated_at: string;
}

interface Db {
  lakehouse_external_sources: ExternalSourcesTable;
}

function toSource(r: ExternalSourcesTable, withSecrets: boolean): ExternalSource {
  const stored = JSON.parse(r.secrets) as { password?: string };
  // Sealed with the master key at rest (security/encryption/secrets.ts).
  const secrets = stored.password === undefined ? {} : { password: openSecret(stored.password) };
  const doc = JSON.parse(r.config) as { description?: string; config: PostgresConfig | FilesConfig };
  return {
    name: r.name,
    kind: r.kind,
    ...(doc.description !== undefined ? { description: doc.description } : {}),
    config: doc.config,
    ...(withSecrets ? { secrets } : {}),
    hasPassword: typeof secrets.password === 'string' && secrets.password !== '',
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export class ExternalSourceStore {
  readonly db: Kysely<Db>;
  constructor(
    db: Kysely<any>,
    readonly catalogName: string,
  ) {
    this.db = db as Kysely<Db>;
  }

  async create(s: { name: string; kind: ExternalKind; description?: string; config: PostgresConfig | FilesConfig; password?: string }): Promise<ExternalSource> {
    const now = new Date().toISOString();
    const row: ExternalSourcesTable = {
      catalog_name: this.catalogName,
      name: s.name,
      kind: s.kind,
      config: JSON.stringify({ description: s.description, config: s.config }),
      secrets: JSON.stringify(s.password ? { password: sealSecret(s.password) } : {}),
      created_at: now,
      updated_at: now,
    };
    try {
      await this.db.insertInto('lakehouse_external_sources').values(row).execute();
    } catch (e) {
      if (classifyConstraintError(e) === 'unique') throw lakehouseError('ALREADY_EXISTS', `external source ${s.name} already exists`);
      throw e;
    }
    return toSource(row, false);
  }

  async list(withSecrets = false): Promise<ExternalSource[]> {
    const rows = await this.db.selectFrom('lakehouse_external_sources').selectAll().where('catalog_name', '=', this.catalogName).orderBy('name').execute();
    return rows.map((r) => toSource(r, withSecrets));
  }

  async get(name: string, withSecrets = false): Promise<ExternalSource | null> {
    const r = await this.db.selectFrom('lakehouse_external_sources').selectAll().where('catalog_name', '=', this.catalogName).where('name', '=', name).executeTakeFirst();
    return r ? toSource(r, withSecrets) : null;
  }

  async delete(name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('lakehouse_external_sources').where('catalog_name', '=', this.catalogName).where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

const stores = new WeakMap<object, ExternalSourceStore>();

/** The external-source store over a SQL catalog's database (null for other catalogs). */
export function externalSourcesOf(catalog: Catalog): ExternalSourceStore | null {
  const store = sqlStoreOf(catalog);
  if (!store) return null;
  let s = stores.get(store);
  if (!s) stores.set(store, (s = new ExternalSourceStore(store.db, store.catalogName)));
  return s;
}
