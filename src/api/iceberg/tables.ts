import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from '@sinclair/typebox';
import { isLakehouseError, lakehouseError } from '../../core/errors.js';
import type { LoadedTable, TableChange } from '../../catalog/catalog.js';
import type { TableIdent } from '../../catalog/store.js';
import { serializeTableMetadata, type TableMetadata } from '../../iceberg/metadata.js';
import { parseTableRequirements } from '../../iceberg/requirements.js';
import type { Schema } from '../../iceberg/schema.js';
import type { SortOrder } from '../../iceberg/sort-order.js';
import { newTableMetadata, parseTableUpdate, parseTableUpdates, type UnboundPartitionSpec } from '../../iceberg/updates.js';
import { storageCredentialsFor } from './credentials-access.js';
import { wantsVendedCredentials, type StorageCredential } from './credentials.js';
import { defineRoute, etagOf, identOf, need, noContent, notModified, parseNamespace, sendJson, type RestContext } from './common.js';
import { NamespacePathParams, pageOf } from './namespaces.js';
import {
  CommitTableRequest, CommitTableResponse, CommitTransactionRequest, CreateTableRequest, DataAccessHeader, ListTablesResponse,
  LoadTableResult, NamespaceParam, NoContent, PageQuery, RegisterTableRequest, RenameTableRequest, ReportMetricsRequest,
  TableMetadata as TableMetadataSchema, errors,
} from './schemas.js';

export const TablePathParams = Type.Object({
  namespace: NamespaceParam,
  table: Type.String({ description: 'A table name', examples: ['sales'] }),
});

type SnapshotMode = 'all' | 'refs';

/** `snapshots=refs`: only the snapshots that a branch or tag points at. */
function serializeForMode(md: TableMetadata, mode: SnapshotMode): object {
  const out = serializeTableMetadata(md) as Record<string, unknown>;
  if (mode === 'refs') {
    const ids = new Set(Object.values(md.refs).map((r) => r['snapshot-id']));
    out.snapshots = (out.snapshots as { 'snapshot-id': bigint }[]).filter((s) => ids.has(s['snapshot-id']));
  }
  return out;
}

function sendLoaded(reply: FastifyReply, t: LoadedTable, mode: SnapshotMode = 'all', creds: StorageCredential[] = []): FastifyReply {
  reply.header('etag', etagOf(t.metadataLocation, mode));
  return sendJson(reply, 200, { 'metadata-location': t.metadataLocation, metadata: serializeForMode(t.metadata, mode), ...credentialFields(creds) });
}

/** Vended credentials go in `storage-credentials` and, for clients older than that field, in `config` too. */
function credentialFields(creds: StorageCredential[]): { config: Record<string, string>; 'storage-credentials'?: StorageCredential[] } {
  return creds.length === 0 ? { config: {} } : { config: { ...creds[0].config }, 'storage-credentials': creds };
}

/** Re-raises a parse error of part of a request as a 400 naming the field. */
function requestPart<T>(fn: () => T, where: string): T {
  try {
    return fn();
  } catch (e) {
    if (isLakehouseError(e)) throw lakehouseError(e.status === 400 || e.status === 406 ? e.code : 'BAD_REQUEST', `${where}: ${e.message}`);
    throw e;
  }
}

/** parseTableRequirements, with a bigint where an int belongs answered as a 400 (not a TypeError). */
function parseRequirements(json: unknown) {
  try {
    return parseTableRequirements(json);
  } catch (e) {
    if (e instanceof TypeError) throw lakehouseError('BAD_REQUEST', 'Invalid requirement: an integer field is out of range');
    throw e;
  }
}

export function registerTableRoutes(app: FastifyInstance, ctx: RestContext): void {
  const { catalog } = ctx;
  const tableIdent = (p: unknown): TableIdent => {
    const { namespace, table } = p as { namespace: string; table: string };
    return identOf(namespace, table);
  };
  const DataAccess = Type.Object({ 'x-iceberg-access-delegation': DataAccessHeader });

  defineRoute(app, ctx, {
    method: 'GET',
    path: '/namespaces/{namespace}/tables',
    operationId: 'listTables',
    summary: 'List all table identifiers underneath a given namespace',
    description: 'Return all table identifiers under this namespace',
    params: NamespacePathParams,
    querystring: Type.Object(PageQuery),
    response: { 200: ListTablesResponse, ...errors(404) },
    handler: async (req, reply) => {
      const ns = parseNamespace((req.params as { namespace: string }).namespace);
      const res = await catalog.listTables(ns, pageOf(req.query as Record<string, unknown>));
      return sendJson(reply, 200, { identifiers: res.items, 'next-page-token': res.nextPageToken });
    },
  });

  defineRoute(app, ctx, {
    method: 'POST',
    path: '/namespaces/{namespace}/tables',
    operationId: 'createTable',
    summary: 'Create a table in the given namespace',
    description:
      'Create a table or start a create transaction, like atomic CTAS. If `stage-create` is false, the table is created ' +
      'immediately. If `stage-create` is true, the table is not created, but table metadata is initialized and returned; ' +
      'the service should prepare as needed for a commit to the table commit endpoint to complete the create transaction ' +
      '(a commit with the `assert-create` requirement).',
    params: NamespacePathParams,
    headers: DataAccess,
    body: CreateTableRequest,
    idempotent: true,
    response: { 200: LoadTableResult, ...errors(404, 409) },
    handler: async (req, reply) => {
      const ns = parseNamespace((req.params as { namespace: string }).namespace);
      const b = req.body as Record<string, unknown> & { name: string; properties?: Record<string, string> };
      const id: TableIdent = { namespace: ns, name: b.name };
      const schema = requestPart(() => (parseTableUpdate({ action: 'add-schema', schema: b.schema }) as { schema: Schema }).schema, 'schema');
      const spec = b['partition-spec']
        ? (parseTableUpdate({ action: 'add-spec', spec: b['partition-spec'] }) as { spec: UnboundPartitionSpec }).spec
        : undefined;
      const sortOrder = b['write-order']
        ? (parseTableUpdate({ action: 'add-sort-order', 'sort-order': b['write-order'] }) as { 'sort-order': SortOrder })['sort-order']
        : undefined;
      const md = newTableMetadata({
        schema,
        spec,
        sortOrder,
        location: typeof b.location === 'string' && b.location ? b.location.replace(/\/+$/, '') : catalog.defaultTableLocation(id),
        properties: b.properties ?? {},
      });
      const vend = wantsVendedCredentials(req.headers['x-iceberg-access-delegation']);
      if (b['stage-create'] === true) {
        // Nothing is committed: the create completes with a commit carrying assert-create.
        await catalog.loadNamespace(ns);
        if (await catalog.tableExists(id)) throw lakehouseError('ALREADY_EXISTS', `Table already exists: ${[...ns, b.name].join('.')}`);
        const creds = vend ? await storageCredentialsFor(req, ctx, id, md.location, true) : [];
        return sendJson(reply, 200, { 'metadata-location': null, metadata: serializeTableMetadata(md), ...credentialFields(creds) });
      }
      const created = await catalog.createTable(id, md);
      return sendLoaded(reply, created, 'all', vend ? await storageCredentialsFor(req, ctx, id, created.metadata.location, true) : []);
    },
  });

  defineRoute(app, ctx, {
    method: 'POST',
    path: '/namespaces/{namespace}/register',
    operationId: 'registerTable',
    summary: 'Register a table in the given namespace using given metadata file location',
    description: 'Register a table using given metadata file location (replacing an existing table\'s pointer when `overwrite` is true).',
    params: NamespacePathParams,
    headers: DataAccess,
    body: RegisterTableRequest,
    idempotent: true,
    response: { 200: LoadTableResult, ...errors(404, 406, 409) },
    handler: async (req, reply) => {
      const ns = parseNamespace((req.params as { namespace: string }).namespace);
      const b = req.body as { name: string; 'metadata-location': string; overwrite?: boolean };
      const register = need(catalog.registerTable, 'Registering tables').bind(catalog);
      return sendLoaded(reply, await register({ namespace: ns, name: b.name }, b['metadata-location'], b.overwrite === true));
    },
  });

  defineRoute(app, ctx, {
    method: 'GET',
    path: '/namespaces/{namespace}/tables/{table}',
    operationId: 'loadTable',
    summary: 'Load a table from the catalog',
    description:
      "Load a table from the catalog: its metadata location, full metadata and config. The ETag header identifies the metadata " +
      'version (and snapshots mode); with a matching If-None-Match the answer is 304 Not Modified.',
    params: TablePathParams,
    headers: Type.Object({
      'x-iceberg-access-delegation': DataAccessHeader,
      'if-none-match': Type.Optional(Type.String({ description: 'An ETag from a previous load/create/commit response' })),
    }),
    querystring: Type.Object({
      snapshots: Type.Optional(
        Type.Union([Type.Literal('all'), Type.Literal('refs')], {
          description: 'The snapshots to return: `all` (default) or `refs` (only snapshots referenced by branches or tags)',
        }),
      ),
      'referenced-by': Type.Optional(Type.String({ description: 'View reference chain (accepted and ignored)' })),
    }),
    response: { 200: LoadTableResult, 304: Type.Null({ description: 'Not Modified' }), ...errors(404) },
    handler: async (req, reply) => {
      const mode = ((req.query as { snapshots?: SnapshotMode }).snapshots ?? 'all') as SnapshotMode;
      const id = tableIdent(req.params);
      const t = await catalog.loadTable(id);
      const etag = etagOf(t.metadataLocation, mode);
      if (notModified(req, etag)) return reply.code(304).header('etag', etag).send();
      const vend = wantsVendedCredentials(req.headers['x-iceberg-access-delegation']);
      return sendLoaded(reply, t, mode, vend ? await storageCredentialsFor(req, ctx, id, t.metadata.location) : []);
    },
  });

  defineRoute(app, ctx, {
    method: 'POST',
    path: '/namespaces/{namespace}/tables/{table}',
    operationId: 'updateTable',
    summary: 'Commit updates to a table',
    description:
      'Commit updates to a table. Requirements are assertions checked against the current metadata before the updates are ' +
      'applied; a failed requirement is a 409 CommitFailedException and changes nothing. With `assert-create` the commit ' +
      'completes a staged create (the table must not exist).',
    params: TablePathParams,
    body: CommitTableRequest,
    idempotent: true,
    response: { 200: CommitTableResponse, ...errors(404, 409) },
    handler: async (req, reply) => {
      const b = req.body as { requirements: unknown[]; updates: unknown[] };
      const t = await catalog.commitTable(tableIdent(req.params), {
        requirements: parseRequirements(b.requirements),
        updates: parseTableUpdates(b.updates),
      });
      reply.header('etag', etagOf(t.metadataLocation, 'all'));
      return sendJson(reply, 200, { 'metadata-location': t.metadataLocation, metadata: serializeTableMetadata(t.metadata) });
    },
  });

  defineRoute(app, ctx, {
    method: 'DELETE',
    path: '/namespaces/{namespace}/tables/{table}',
    operationId: 'dropTable',
    summary: 'Drop a table from the catalog',
    description: 'Remove a table from the catalog; with purgeRequested the table\'s files are deleted too.',
    params: TablePathParams,
    querystring: Type.Object({
      purgeRequested: Type.Optional(Type.Boolean({ default: false, description: 'Whether the user requested to purge the underlying table\'s data and metadata' })),
    }),
    idempotent: true,
    response: { 204: NoContent, ...errors(404) },
    handler: async (req, reply) => {
      await catalog.dropTable(tableIdent(req.params), (req.query as { purgeRequested?: boolean }).purgeRequested === true);
      return noContent(reply);
    },
  });

  defineRoute(app, ctx, {
    method: 'HEAD',
    path: '/namespaces/{namespace}/tables/{table}',
    operationId: 'tableExists',
    summary: 'Check if a table exists',
    description: 'Check if a table exists within a given namespace. The response does not contain a body.',
    params: TablePathParams,
    response: { 204: NoContent, ...errors(404) },
    handler: async (req, reply) => {
      const id = tableIdent(req.params);
      if (!(await catalog.tableExists(id))) throw lakehouseError('NO_SUCH_TABLE', `Table does not exist: ${[...id.namespace, id.name].join('.')}`);
      return noContent(reply);
    },
  });

  defineRoute(app, ctx, {
    method: 'POST',
    path: '/namespaces/{namespace}/tables/{table}/unregister',
    operationId: 'unregisterTable',
    summary: 'Unregister a table without removing its data or metadata files',
    params: TablePathParams,
    idempotent: true,
    response: { 200: Type.Object({ 'metadata-location': Type.String(), metadata: TableMetadataSchema }), ...errors(404) },
    handler: async (req, reply) => {
      const id = tableIdent(req.params);
      const t = await catalog.loadTable(id);
      await catalog.dropTable(id, false);
      return sendJson(reply, 200, { 'metadata-location': t.metadataLocation, metadata: serializeTableMetadata(t.metadata) });
    },
  });

  defineRoute(app, ctx, {
    method: 'GET',
    path: '/namespaces/{namespace}/tables/{table}/credentials',
    operationId: 'loadCredentials',
    summary: 'Load vended credentials for a table from the catalog',
    description:
      'Short-lived S3 credentials scoped to the table location (STS AssumeRole with a session policy: read-only, or read-write for a ' +
      'caller that may write the table). Empty when the service has no credential vending configured or the table is not on S3.',
    params: TablePathParams,
    response: {
      200: Type.Object({ 'storage-credentials': Type.Array(Type.Object({ prefix: Type.String(), config: Type.Record(Type.String(), Type.String()) })) }),
      ...errors(404),
    },
    handler: async (req, reply) => {
      const id = tableIdent(req.params);
      const t = await catalog.loadTable(id);
      return sendJson(reply, 200, { 'storage-credentials': await storageCredentialsFor(req, ctx, id, t.metadata.location) });
    },
  });

  defineRoute(app, ctx, {
    method: 'POST',
    path: '/tables/rename',
    operationId: 'renameTable',
    summary: 'Rename a table from its current name to a new name',
    description: 'Rename a table from one identifier to another. It\'s valid to move a table across namespaces, but the target namespace must exist.',
    body: RenameTableRequest,
    idempotent: true,
    response: { 204: NoContent, ...errors(404, 406, 409) },
    handler: async (req, reply) => {
      const b = req.body as { source: TableIdent; destination: TableIdent };
      await catalog.renameTable(b.source, b.destination);
      return noContent(reply);
    },
  });

  defineRoute(app, ctx, {
    method: 'POST',
    path: '/namespaces/{namespace}/tables/{table}/metrics',
    operationId: 'reportMetrics',
    summary: 'Send a metrics report to this endpoint to be processed by the backend',
    params: TablePathParams,
    body: ReportMetricsRequest,
    response: { 204: NoContent, ...errors(404) },
    handler: async (req, reply) => {
      const id = tableIdent(req.params);
      if (!(await catalog.tableExists(id))) throw lakehouseError('NO_SUCH_TABLE', `Table does not exist: ${[...id.namespace, id.name].join('.')}`);
      const report = req.body as Record<string, unknown>;
      req.log.info(
        { table: [...id.namespace, id.name].join('.'), reportType: report['report-type'], metricsReport: JSON.parse(JSON.stringify(report, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))) },
        'iceberg metrics report',
      );
      return noContent(reply);
    },
  });

  defineRoute(app, ctx, {
    method: 'POST',
    path: '/transactions/commit',
    operationId: 'commitTransaction',
    summary: 'Commit updates to multiple tables in an atomic operation',
    description:
      'Commit updates to multiple tables in an atomic operation. Every requirement of every table is checked and every new ' +
      'metadata file written before all pointers are swapped in one catalog transaction: a failure changes no table.',
    body: CommitTransactionRequest,
    idempotent: true,
    response: { 204: NoContent, ...errors(404, 406, 409) },
    handler: async (req, reply) => {
      const b = req.body as { 'table-changes': { identifier: TableIdent; requirements: unknown[]; updates: unknown[] }[] };
      const changes: TableChange[] = b['table-changes'].map((c, i) =>
        requestPart(
          () => ({ ident: c.identifier, requirements: parseRequirements(c.requirements), updates: parseTableUpdates(c.updates) }),
          `table-changes[${i}]`,
        ),
      );
      const commit = need(catalog.commitTransaction, 'Multi-table transactions').bind(catalog);
      await commit(changes);
      return noContent(reply);
    },
  });
}
