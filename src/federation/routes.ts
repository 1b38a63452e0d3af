import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Catalog } from '../catalog/catalog.js';
import { isLakehouseError, lakehouseError } from '../core/errors.js';
import { responses } from '../api/own/common.js';
import { auditResource } from '../security/http.js';
import { storageKindOf } from '../storage/registry.js';
import { RESERVED_SOURCE_NAMES, sqlDialectOf } from './bind.js';
import { pingSource } from './sql-source.js';
import { externalSourcesOf, type ExternalSource, type ExternalSourceStore, type MysqlConfig, type PostgresConfig } from './store.js';

/**
 * `/api/v1/external-sources`: registering, listing and removing the external sources queries
 * can join with Iceberg tables (`/api/v1/sources` holds the ingestion sources: Kafka clusters
 * and storage locations). A PostgreSQL or MySQL password is write-only: given as `password` or inside the
 * connection string, it is stored apart (the `secrets` column) and never returned; reads show
 * `hasPassword`. Operated with MANAGE on the catalog (src/security/rules.ts); who may read the
 * tables of a source is decided by grants on `<source>.<schema>[.<table>]`.
 */
const tags = ['external-sources'];
const SourceName = Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$', description: 'The first part of `<source>.<schema>.<table>` in SQL' });
const Ident = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_$]{0,62}$' });

const PostgresIn = Type.Object(
  {
    connectionString: Type.String({ pattern: '^postgres(ql)?://[^\\s]+$', maxLength: 2048, description: 'postgresql://user[:password]@host:port/database (a password here is moved to the secret)' }),
    schemas: Type.Optional(Type.Array(Ident, { minItems: 1, maxItems: 100, description: 'Schemas exposed (default: all the user can read)' })),
    maxRows: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'More rows than this from one table fails the query (default 1,000,000)' })),
    statementTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 86_400_000 })),
  },
  { additionalProperties: false },
);
const MysqlIn = Type.Object(
  {
    connectionString: Type.String({ pattern: '^(mysql|mariadb)://[^\\s]+$', maxLength: 2048, description: 'mysql://user[:password]@host:port[/database] (a password here is moved to the secret)' }),
    schemas: Type.Optional(Type.Array(Ident, { minItems: 1, maxItems: 100, description: 'Databases exposed (default: all the user can read)' })),
    maxRows: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'More rows than this from one table fails the query (default 1,000,000)' })),
    statementTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 86_400_000, description: 'A longer statement is killed (KILL QUERY)' })),
  },
  { additionalProperties: false },
);
const FileTableIn = Type.Object(
  {
    schema: Type.Optional(Ident),
    name: Ident,
    location: Type.String({ minLength: 1, maxLength: 2048, description: 'A file, or a directory/prefix ending in / (every file of the format in it); any supported storage' }),
    format: Type.Union([Type.Literal('csv'), Type.Literal('json'), Type.Literal('parquet')]),
    header: Type.Optional(Type.Boolean()),
    delimiter: Type.Optional(Type.String({ minLength: 1, maxLength: 1 })),
  },
  { additionalProperties: false },
);
const FilesIn = Type.Object({ tables: Type.Array(FileTableIn, { minItems: 1, maxItems: 500 }) }, { additionalProperties: false });

const SourceInput = Type.Union([
  Type.Object(
    { name: SourceName, kind: Type.Literal('postgres'), description: Type.Optional(Type.String({ maxLength: 1000 })), postgres: PostgresIn, password: Type.Optional(Type.String({ maxLength: 4096, writeOnly: true })) },
    { additionalProperties: false },
  ),
  Type.Object(
    { name: SourceName, kind: Type.Literal('mysql'), description: Type.Optional(Type.String({ maxLength: 1000 })), mysql: MysqlIn, password: Type.Optional(Type.String({ maxLength: 4096, writeOnly: true })) },
    { additionalProperties: false },
  ),
  Type.Object({ name: SourceName, kind: Type.Literal('files'), description: Type.Optional(Type.String({ maxLength: 1000 })), files: FilesIn }, { additionalProperties: false }),
]);
type SourceIn = Static<typeof SourceInput>;

const SourceOutput = Type.Object({
  name: Type.String(),
  kind: Type.Union([Type.Literal('postgres'), Type.Literal('mysql'), Type.Literal('files')]),
  description: Type.Optional(Type.String()),
  postgres: Type.Optional(Type.Object({ connectionString: Type.String(), schemas: Type.Optional(Type.Array(Type.String())), maxRows: Type.Optional(Type.Integer()), statementTimeoutMs: Type.Optional(Type.Integer()) })),
  mysql: Type.Optional(Type.Object({ connectionString: Type.String(), schemas: Type.Optional(Type.Array(Type.String())), maxRows: Type.Optional(Type.Integer()), statementTimeoutMs: Type.Optional(Type.Integer()) })),
  files: Type.Optional(Type.Object({ tables: Type.Array(Type.Object({ schema: Type.String(), name: Type.String(), location: Type.String(), format: Type.String(), header: Type.Optional(Type.Boolean()), delimiter: Type.Optional(Type.String()) })) })),
  hasPassword: Type.Boolean({ description: 'A password is stored (it is never returned)' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});
const NameParams = Type.Object({ name: SourceName });

function out(s: ExternalSource) {
  const base = { name: s.name, kind: s.kind, ...(s.description !== undefined ? { description: s.description } : {}), hasPassword: s.hasPassword, createdAt: s.createdAt, updatedAt: s.updatedAt };
  if (s.kind === 'postgres') return { ...base, postgres: s.config as PostgresConfig };
  if (s.kind === 'mysql') return { ...base, mysql: s.config as MysqlConfig };
  const files = s.config as { tables: { schema?: string }[] };
  return { ...base, files: { tables: files.tables.map((t) => ({ ...t, schema: t.schema ?? 'main' })) } };
}

/** The connection string without its password, and the password. */
export function splitPassword(connectionString: string): { url: string; password?: string } {
  let u: URL;
  try {
    u = new URL(connectionString);
  } catch {
    throw lakehouseError('BAD_REQUEST', 'connectionString is not a URL');
  }
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.password = '';
  return { url: u.toString(), password };
}

export function registerExternalSourceRoutes(app: FastifyInstance, catalog: Catalog): void {
  const store = (): ExternalSourceStore => {
    const s = externalSourcesOf(catalog);
    if (!s) throw lakehouseError('UNSUPPORTED_OPERATION', 'external sources need the SQL catalog store');
    return s;
  };

  app.get('/external-sources', { schema: { tags, summary: 'List external sources (no secrets)', response: responses({ 200: Type.Object({ sources: Type.Array(SourceOutput) }) }) } }, async () => ({
    sources: (await store().list()).map(out),
  }));

  app.post('/external-sources', { schema: { tags, summary: 'Register an external source (PostgreSQL database, MySQL/MariaDB server or files) for federated SQL', body: SourceInput, response: responses({ 201: SourceOutput }) } }, async (req, reply) => {
    const b = req.body as SourceIn;
    auditResource(req, b.name, `external source ${b.kind}`);
    if (RESERVED_SOURCE_NAMES.has(b.name) || b.name === catalog.name.toLowerCase()) throw lakehouseError('BAD_REQUEST', `source name ${b.name} is reserved`);
    // `<name>.<schema>` must mean one thing in grants, masks and row filters.
    const clash = await catalog.loadNamespace([b.name]).then(
      () => true,
      (e) => {
        if (isLakehouseError(e, 'NO_SUCH_NAMESPACE')) return false;
        throw e;
      },
    );
    if (clash) throw lakehouseError('ALREADY_EXISTS', `a namespace named ${b.name} exists; an external source may not share its name`);
    let created: ExternalSource;
    if (b.kind === 'postgres') {
      const { url, password } = splitPassword(b.postgres.connectionString);
      created = await store().create({ name: b.name, kind: 'postgres', description: b.description, config: { ...b.postgres, connectionString: url }, password: b.password ?? password });
    } else if (b.kind === 'mysql') {
      const { url, password } = splitPassword(b.mysql.connectionString);
      created = await store().create({ name: b.name, kind: 'mysql', description: b.description, config: { ...b.mysql, connectionString: url }, password: b.password ?? password });
    } else {
      for (const t of b.files.tables) {
        try {
          storageKindOf(t.location);
        } catch (e) {
          throw lakehouseError('BAD_REQUEST', `table ${t.name}: ${(e as Error).message}`);
        }
      }
      const keys = b.files.tables.map((t) => `${(t.schema ?? 'main').toLowerCase()}.${t.name.toLowerCase()}`);
      if (new Set(keys).size !== keys.length) throw lakehouseError('BAD_REQUEST', 'two file tables with the same schema and name');
      created = await store().create({ name: b.name, kind: 'files', description: b.description, config: b.files });
    }
    return reply.code(201).send(out(created));
  });

  app.get('/external-sources/:name', { schema: { tags, summary: 'Describe an external source (no secrets)', params: NameParams, response: responses({ 200: SourceOutput }) } }, async (req) => {
    const { name } = req.params as { name: string };
    const s = await store().get(name);
    if (!s) throw lakehouseError('NOT_FOUND', `external source ${name} does not exist`);
    return out(s);
  });

  app.delete('/external-sources/:name', { schema: { tags, summary: 'Remove an external source (its grants, masks and row filters stay until revoked)', params: NameParams, response: responses({ 204: Type.Null() }) } }, async (req, reply) => {
    const { name } = req.params as { name: string };
    auditResource(req, name);
    if (!(await store().delete(name))) throw lakehouseError('NOT_FOUND', `external source ${name} does not exist`);
    return reply.code(204).send();
  });

  app.post('/external-sources/:name/test', { schema: { tags, summary: 'Check that the source answers (PostgreSQL, MySQL: connect and SELECT 1)', params: NameParams, response: responses({ 200: Type.Object({ ok: Type.Boolean() }) }) } }, async (req) => {
    const { name } = req.params as { name: string };
    const s = await store().get(name, true);
    if (!s) throw lakehouseError('NOT_FOUND', `external source ${name} does not exist`);
    const dialect = sqlDialectOf(s);
    if (dialect) await pingSource(dialect, s);
    return { ok: true };
  });
}
