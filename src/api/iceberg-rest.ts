import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { lakehouseError } from '../core/errors.js';
import { stringifyJson } from '../core/json.js';
import type { Catalog, LoadedTable } from '../catalog/catalog.js';
import type { Namespace, TableIdent } from '../catalog/store.js';
import { serializeTableMetadata } from '../iceberg/metadata.js';
import { parsePartitionSpec } from '../iceberg/partition.js';
import { parseTableRequirements } from '../iceberg/requirements.js';
import { parseSchema } from '../iceberg/schema.js';
import { parseSortOrder } from '../iceberg/sort-order.js';
import { newTableMetadata, parseTableUpdates } from '../iceberg/updates.js';

/**
 * The Iceberg REST catalog (apache/iceberg open-api/rest-catalog-open-api.yaml), served under
 * `/v1/{prefix}`. Namespaces in paths are multipart, levels joined by the unit separator (%1F).
 */
const SEP = '\u001f';

function parseNamespace(raw: string): Namespace {
  const ns = decodeURIComponent(raw).split(SEP);
  if (ns.some((l) => l.length === 0)) throw lakehouseError('BAD_REQUEST', `invalid namespace ${JSON.stringify(raw)}`);
  return ns;
}

function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json').send(stringifyJson(body));
}

function loadResult(t: LoadedTable): object {
  return { 'metadata-location': t.metadataLocation, metadata: serializeTableMetadata(t.metadata), config: {} };
}

function body(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (b === null || typeof b !== 'object' || Array.isArray(b)) throw lakehouseError('BAD_REQUEST', 'request body must be a JSON object');
  return b as Record<string, unknown>;
}

export const REST_ENDPOINTS = [
  'GET /v1/{prefix}/namespaces', 'POST /v1/{prefix}/namespaces', 'GET /v1/{prefix}/namespaces/{namespace}',
  'HEAD /v1/{prefix}/namespaces/{namespace}', 'DELETE /v1/{prefix}/namespaces/{namespace}',
  'POST /v1/{prefix}/namespaces/{namespace}/properties', 'GET /v1/{prefix}/namespaces/{namespace}/tables',
  'POST /v1/{prefix}/namespaces/{namespace}/tables', 'GET /v1/{prefix}/namespaces/{namespace}/tables/{table}',
  'HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}', 'POST /v1/{prefix}/namespaces/{namespace}/tables/{table}',
  'DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}', 'POST /v1/{prefix}/tables/rename',
];

export function registerIcebergRest(app: FastifyInstance, catalog: Catalog, prefix: string): void {
  type P = { namespace: string; table: string };
  const page = (q: Record<string, string | undefined>) => ({
    pageToken: q.pageToken ?? null,
    pageSize: q.pageSize === undefined ? null : Number(q.pageSize),
  });
  const ident = (p: P): TableIdent => ({ namespace: parseNamespace(p.namespace), name: decodeURIComponent(p.table) });

  app.get('/v1/config', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    if (q.warehouse && q.warehouse !== prefix && q.warehouse !== catalog.name) {
      throw lakehouseError('NOT_FOUND', `unknown warehouse ${q.warehouse}`);
    }
    return sendJson(reply, 200, { defaults: {}, overrides: { prefix }, endpoints: REST_ENDPOINTS });
  });

  const base = `/v1/${prefix}`;
  app.get(`${base}/namespaces`, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const parent = q.parent ? parseNamespace(q.parent) : [];
    const res = await catalog.listNamespaces(parent, page(q));
    return sendJson(reply, 200, { namespaces: res.items, 'next-page-token': res.nextPageToken });
  });
  app.post(`${base}/namespaces`, async (req, reply) => {
    const b = body(req);
    if (!Array.isArray(b.namespace) || b.namespace.length === 0 || !b.namespace.every((l) => typeof l === 'string' && l)) {
      throw lakehouseError('BAD_REQUEST', 'namespace must be a non-empty array of non-empty strings');
    }
    const properties = (b.properties ?? {}) as Record<string, string>;
    await catalog.createNamespace(b.namespace as string[], properties);
    return sendJson(reply, 200, { namespace: b.namespace, properties });
  });
  app.get(`${base}/namespaces/:namespace`, async (req, reply) => {
    const ns = parseNamespace((req.params as P).namespace);
    return sendJson(reply, 200, { namespace: ns, properties: await catalog.loadNamespace(ns) });
  });
  app.head(`${base}/namespaces/:namespace`, async (req, reply) => {
    await catalog.loadNamespace(parseNamespace((req.params as P).namespace));
    return reply.code(204).send();
  });
  app.delete(`${base}/namespaces/:namespace`, async (req, reply) => {
    await catalog.dropNamespace(parseNamespace((req.params as P).namespace));
    return reply.code(204).send();
  });
  app.post(`${base}/namespaces/:namespace/properties`, async (req, reply) => {
    const ns = parseNamespace((req.params as P).namespace);
    const b = body(req);
    const store = (catalog as unknown as { store?: { updateNamespaceProperties: Function } }).store;
    if (!store) throw lakehouseError('UNSUPPORTED_OPERATION', 'namespace properties are not supported by this catalog');
    const res = await store.updateNamespaceProperties(ns, (b.removals ?? []) as string[], (b.updates ?? {}) as Record<string, string>);
    return sendJson(reply, 200, res);
  });

  app.get(`${base}/namespaces/:namespace/tables`, async (req, reply) => {
    const ns = parseNamespace((req.params as P).namespace);
    const res = await catalog.listTables(ns, page(req.query as Record<string, string | undefined>));
    return sendJson(reply, 200, { identifiers: res.items, 'next-page-token': res.nextPageToken });
  });
  app.post(`${base}/namespaces/:namespace/tables`, async (req, reply) => {
    const ns = parseNamespace((req.params as P).namespace);
    const b = body(req);
    if (typeof b.name !== 'string' || !b.name) throw lakehouseError('BAD_REQUEST', 'name is required');
    const id: TableIdent = { namespace: ns, name: b.name };
    const properties = (b.properties ?? {}) as Record<string, string>;
    const md = newTableMetadata({
      schema: parseSchema(b.schema),
      spec: b['partition-spec'] ? parsePartitionSpec(b['partition-spec']) : undefined,
      sortOrder: b['write-order'] ? parseSortOrder(b['write-order']) : undefined,
      location: typeof b.location === 'string' ? b.location : catalog.defaultTableLocation(id),
      properties,
    });
    if (b['stage-create'] === true) {
      return sendJson(reply, 200, { 'metadata-location': null, metadata: serializeTableMetadata(md), config: {} });
    }
    return sendJson(reply, 200, loadResult(await catalog.createTable(id, md)));
  });
  app.get(`${base}/namespaces/:namespace/tables/:table`, async (req, reply) => {
    const t = await catalog.loadTable(ident(req.params as P));
    const etag = `"${t.metadataLocation}"`;
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    reply.header('etag', etag);
    return sendJson(reply, 200, loadResult(t));
  });
  app.head(`${base}/namespaces/:namespace/tables/:table`, async (req, reply) => {
    if (!(await catalog.tableExists(ident(req.params as P)))) throw lakehouseError('NO_SUCH_TABLE', 'table does not exist');
    return reply.code(204).send();
  });
  app.post(`${base}/namespaces/:namespace/tables/:table`, async (req, reply) => {
    const b = body(req);
    const t = await catalog.commitTable(ident(req.params as P), {
      requirements: parseTableRequirements(b.requirements ?? []),
      updates: parseTableUpdates(b.updates ?? []),
    });
    return sendJson(reply, 200, { 'metadata-location': t.metadataLocation, metadata: serializeTableMetadata(t.metadata) });
  });
  app.delete(`${base}/namespaces/:namespace/tables/:table`, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    await catalog.dropTable(ident(req.params as P), q.purgeRequested === 'true');
    return reply.code(204).send();
  });
  app.post(`${base}/tables/rename`, async (req, reply) => {
    const b = body(req) as { source?: TableIdent; destination?: TableIdent };
    if (!b.source || !b.destination) throw lakehouseError('BAD_REQUEST', 'source and destination are required');
    await catalog.renameTable(b.source, b.destination);
    return reply.code(204).send();
  });
}
