import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { lakehouseError } from '../../core/errors.js';
import { classifyConstraintError } from '../../catalog/sql/sql-store.js';
import { openSecret, sealSecret } from '../../security/encryption/secrets.js';

/**
 * Persistence of the own API's entities (migration 0002-data-sources) in the catalog database:
 * data sources (Kafka clusters, storage locations) and ingestion job definitions. Non-secret
 * settings and secrets are stored in separate JSON columns; `get`/`list` return secrets only to
 * callers that ask for them (the connection test), routes mask them.
 */
export type SourceKind = 'kafka' | 'storage';

export interface SourceRecord {
  id: string;
  kind: SourceKind;
  name: string;
  config: Record<string, unknown>;
  secrets: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export interface JobRecord {
  id: string;
  name: string;
  sourceId: string;
  definition: Record<string, unknown>;
  /** The principal that defined the job; its runs check that principal's INSERT (security/run-as.ts). */
  runAs: string | null;
  createdAt: string;
  updatedAt: string;
}

interface SourcesTable {
  catalog_name: string;
  id: string;
  kind: SourceKind;
  name: string;
  config: string;
  secrets: string;
  created_at: string;
  updated_at: string;
}

interface JobsTable {
  catalog_name: string;
  id: string;
  name: string;
  source_id: string;
  definition: string;
  run_as?: string | null;
  created_at: string;
  updated_at: string;
}

interface OwnDatabase {
  lakehouse_data_sources: SourcesTable;
  lakehouse_ingestion_jobs: JobsTable;
}

// Secret values are sealed with the master key at rest (security/encryption/secrets.ts).
const sealSecrets = (s: Record<string, string>) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, sealSecret(v)]));
const openSecrets = (s: Record<string, string>) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, openSecret(v)]));
/** A job definition's one secret, the schema registry password, sealed the same way. */
function withRegistryPassword(d: Record<string, unknown>, f: (v: string) => string): Record<string, unknown> {
  const reg = d.schemaRegistry as { password?: unknown } | undefined;
  return typeof reg?.password === 'string' ? { ...d, schemaRegistry: { ...reg, password: f(reg.password) } } : d;
}

function toSource(r: SourcesTable): SourceRecord {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    config: JSON.parse(r.config) as Record<string, unknown>,
    secrets: openSecrets(JSON.parse(r.secrets) as Record<string, string>),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toJob(r: JobsTable): JobRecord {
  return {
    id: r.id,
    name: r.name,
    sourceId: r.source_id,
    definition: withRegistryPassword(JSON.parse(r.definition) as Record<string, unknown>, openSecret),
    runAs: r.run_as ?? null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export class OwnStore {
  readonly db: Kysely<OwnDatabase>;

  constructor(db: Kysely<any>, readonly catalogName: string) {
    this.db = db as Kysely<OwnDatabase>;
  }

  async #guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const kind = classifyConstraintError(e);
      if (kind === 'unique') throw lakehouseError('ALREADY_EXISTS', `${what} already exists`);
      if (kind === 'foreignKey') throw lakehouseError('RESOURCE_IN_USE', `${what}: referenced by or referring to another resource`);
      throw e;
    }
  }

  // ------------------------------------------------------------------------------------ sources

  async listSources(kind: SourceKind): Promise<SourceRecord[]> {
    const rows = await this.db
      .selectFrom('lakehouse_data_sources')
      .selectAll()
      .where('catalog_name', '=', this.catalogName)
      .where('kind', '=', kind)
      .orderBy('name')
      .execute();
    return rows.map(toSource);
  }

  async getSource(kind: SourceKind | null, id: string): Promise<SourceRecord | null> {
    let q = this.db.selectFrom('lakehouse_data_sources').selectAll().where('catalog_name', '=', this.catalogName).where('id', '=', id);
    if (kind) q = q.where('kind', '=', kind);
    const row = await q.executeTakeFirst();
    return row ? toSource(row) : null;
  }

  async createSource(kind: SourceKind, name: string, config: Record<string, unknown>, secrets: Record<string, string>): Promise<SourceRecord> {
    const now = new Date().toISOString();
    const row: SourcesTable = {
      catalog_name: this.catalogName,
      id: randomUUID(),
      kind,
      name,
      config: JSON.stringify(config),
      secrets: JSON.stringify(sealSecrets(secrets)),
      created_at: now,
      updated_at: now,
    };
    await this.#guard(`${kind} source ${JSON.stringify(name)}`, () => this.db.insertInto('lakehouse_data_sources').values(row).execute());
    return toSource(row);
  }

  async updateSource(kind: SourceKind, id: string, name: string, config: Record<string, unknown>, secrets: Record<string, string>): Promise<SourceRecord> {
    const now = new Date().toISOString();
    const res = await this.#guard(`${kind} source ${JSON.stringify(name)}`, () =>
      this.db
        .updateTable('lakehouse_data_sources')
        .set({ name, config: JSON.stringify(config), secrets: JSON.stringify(sealSecrets(secrets)), updated_at: now })
        .where('catalog_name', '=', this.catalogName)
        .where('kind', '=', kind)
        .where('id', '=', id)
        .executeTakeFirst(),
    );
    if (Number(res.numUpdatedRows) === 0) throw lakehouseError('NOT_FOUND', `no ${kind} source ${id}`);
    return (await this.getSource(kind, id))!;
  }

  async deleteSource(kind: SourceKind, id: string): Promise<void> {
    const used = await this.db
      .selectFrom('lakehouse_ingestion_jobs')
      .select('id')
      .where('catalog_name', '=', this.catalogName)
      .where('source_id', '=', id)
      .executeTakeFirst();
    if (used) throw lakehouseError('RESOURCE_IN_USE', `source ${id} is used by ingestion job ${used.id}`);
    const res = await this.#guard(`source ${id}`, () =>
      this.db
        .deleteFrom('lakehouse_data_sources')
        .where('catalog_name', '=', this.catalogName)
        .where('kind', '=', kind)
        .where('id', '=', id)
        .executeTakeFirst(),
    );
    if (Number(res.numDeletedRows) === 0) throw lakehouseError('NOT_FOUND', `no ${kind} source ${id}`);
  }

  // --------------------------------------------------------------------------------------- jobs

  async listJobs(): Promise<JobRecord[]> {
    const rows = await this.db.selectFrom('lakehouse_ingestion_jobs').selectAll().where('catalog_name', '=', this.catalogName).orderBy('name').execute();
    return rows.map(toJob);
  }

  async getJob(id: string): Promise<JobRecord | null> {
    const row = await this.db
      .selectFrom('lakehouse_ingestion_jobs')
      .selectAll()
      .where('catalog_name', '=', this.catalogName)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toJob(row) : null;
  }

  async createJob(name: string, sourceId: string, definition: Record<string, unknown>, runAs: string | null = null): Promise<JobRecord> {
    const now = new Date().toISOString();
    const row: JobsTable = {
      catalog_name: this.catalogName,
      id: randomUUID(),
      name,
      source_id: sourceId,
      definition: JSON.stringify(withRegistryPassword(definition, sealSecret)),
      run_as: runAs,
      created_at: now,
      updated_at: now,
    };
    await this.#guard(`ingestion job ${JSON.stringify(name)}`, () => this.db.insertInto('lakehouse_ingestion_jobs').values(row).execute());
    return toJob(row);
  }

  async updateJob(id: string, name: string, sourceId: string, definition: Record<string, unknown>, runAs: string | null = null): Promise<JobRecord> {
    const res = await this.#guard(`ingestion job ${JSON.stringify(name)}`, () =>
      this.db
        .updateTable('lakehouse_ingestion_jobs')
        .set({ name, source_id: sourceId, definition: JSON.stringify(withRegistryPassword(definition, sealSecret)), run_as: runAs, updated_at: new Date().toISOString() })
        .where('catalog_name', '=', this.catalogName)
        .where('id', '=', id)
        .executeTakeFirst(),
    );
    if (Number(res.numUpdatedRows) === 0) throw lakehouseError('NOT_FOUND', `no ingestion job ${id}`);
    return (await this.getJob(id))!;
  }

  async deleteJob(id: string): Promise<void> {
    const res = await this.db
      .deleteFrom('lakehouse_ingestion_jobs')
      .where('catalog_name', '=', this.catalogName)
      .where('id', '=', id)
      .executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw lakehouseError('NOT_FOUND', `no ingestion job ${id}`);
  }
}
