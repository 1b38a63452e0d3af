import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from '@sinclair/typebox';
import { isLakehouseError, lakehouseError } from '../../core/errors.js';
import type { LoadedView } from '../../catalog/catalog.js';
import type { TableIdent } from '../../catalog/store.js';
import {
  newViewMetadata, parseViewRequirements, parseViewUpdate, parseViewUpdates, parseViewVersion, serializeViewMetadata, type ViewVersion,
} from '../../iceberg/view-metadata.js';
import type { Schema } from '../../iceberg/schema.js';
import { defineRoute, identOf, need, noContent, parseNamespace, sendJson, type RestContext } from './common.js';
import { NamespacePathParams, pageOf } from './namespaces.js';
import {
  CommitViewRequest, CreateViewRequest, ListTablesResponse, LoadViewResult, NamespaceParam, NoContent, PageQuery,
  RegisterViewRequest, RenameTableRequest, errors,
} from './schemas.js';

const ViewPathParams = Type.Object({
  namespace: NamespaceParam,
  view: Type.String({ description: 'A view name', examples: ['sales'] }),
});

function sendView(reply: FastifyReply, v: LoadedView): FastifyReply {
  return sendJson(reply, 200, { 'metadata-location': v.metadataLocation, metadata: serializeViewMetadata(v.metadata), config: {} });
}

function asBadRequest<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isLakehouseError(e) && e.status !== 400) throw lakehouseError('BAD_REQUEST', e.message);
    throw e;
  }
}

export function registerViewRoutes(app: FastifyInstance, ctx: RestContext): void {
  const { catalog } = ctx;
  const viewIdent = (p: unknown): TableIdent => {
    const { namespace, view } = p as { namespace: string; view: string };
    return identOf(namespace, view);
  };
  const show = (id: TableIdent) => [...id.namespace, id.name].join('.');

  defineRoute(app, ctx, {
    method: 'GET',
    path: '/namespaces/{namespace}/views',
    operationId: 'listViews',
    summary: 'List all view identifiers underneath a given namespace',
    description: 'Return all view identifiers under this namespace',
    params: NamespacePathParams,
    querystring: Type.Object(PageQuery),
    response: { 200: ListTablesResponse, ...errors(404, 406) },
    handler: async (req, reply) => {
      const ns = parseNamespace((req.params as { namespace: string }).namespace);
      const list = need(catalog.listViews, 'Views').bind(catalog);
      const res = await list(ns, pageOf(req.query as Record<string, unknown>));
      return sendJson(reply, 200, { identifiers: res.items, 'next-page-token': res.nextPageToken });
    },
  });

  defineRoute(app, ctx, {
    method: 'POST',
    path: '/namespaces/{namespace}/views',
    operationId: 'createView',
    summary: 'Create a view in the given namespace',
    description: 'Create a view in the given namespace. Tables and views share names: an existing table or view of that name is a 409.',
    params: NamespacePathParams,
    body: CreateViewRequest,
    idempotent: true,
    response: { 200: LoadViewResult, ...errors(404, 406, 409) },
    handler: async (req, reply) => {
      const ns = parseNamespace((req.params as { namespace: string }).namespace);
      const b = req.body as Record<string, unknown> & { name: string; location?: string; properties: Record<string, string> };
      const id: TableIdent = { namespace: ns, name: b.name };
      const schema = (parseViewUpdate({ action: 'add-schema', schema: b.schema }) as { schema: Schema }).schema;
      const version: ViewVersion = parseViewVersion(b['view-version']);
      const create = need(catalog.createView, 'Views').bind(catalog);
      const md = asBadRequest(() =>
        newViewMetadata({
          location: b.location ? b.location.replace(/\/+$/, '') : catalog.defaultTableLocation(id),
          schema,
          version,
          properties: b.properties,
        }),
      );
      return sendView(reply, await create(id, md));
    },
  });

  defineRoute(app, ctx, {
    method: 'POST',
    path: '/namespaces/{namespace}/register-view',
    operationId: 'registerView',
    summary: 'Register a view in the catalog',
    description: 'Register a view in the given namespace using given metadata file location.',
    params: NamespacePathParams,
    body: RegisterViewRequest,
    idempotent: true,
    response: { 200: LoadViewResult, ...errors(404, 406, 409) },
    handler: async (req, reply) => {
      const ns = parseNamespace((req.params as { namespace: string }).namespace);
      const b = req.body as { name: string; 'metadata-location': string };
      const register = need(catalog.registerView, 'Registering views').bind(catalog);
      return sendView(reply, await register({ namespace: ns, name: b.name }, b['metadata-location']));
    },
  });

  defineRoute(app, ctx, {
    method: 'GET',
    path: '/namespaces/{namespace}/views/{view}',
    operationId: 'loadView',
    summary: 'Load a view from the catalog',
    description: 'Load a view from the catalog: its metadata location, full view metadata and config.',
    params: ViewPathParams,
    querystring: Type.Object({ 'referenced-by': Type.Optional(Type.String({ description: 'View reference chain (accepted and ignored)' })) }),
    response: { 200: LoadViewResult, ...errors(404, 406) },
    handler: async (req, reply) => {
      const load = need(catalog.loadView, 'Views').bind(catalog);
      return sendView(reply, await load(viewIdent(req.params)));
    },
  });

  defineRoute(app, ctx, {
    method: 'POST',
    path: '/namespaces/{namespace}/views/{view}',
    operationId: 'replaceView',
    summary: 'Replace a view',
    description: 'Commit updates to a view (e.g. add-view-version + set-current-view-version -1), checking assert-view-uuid first.',
    params: ViewPathParams,
    body: CommitViewRequest,
    idempotent: true,
    response: { 200: LoadViewResult, ...errors(404, 406, 409) },
    handler: async (req, reply) => {
      const b = req.body as { requirements?: unknown[]; updates: unknown[] };
      const commit = need(catalog.commitView, 'Views').bind(catalog);
      const v = await commit(viewIdent(req.params), { requirements: parseViewRequirements(b.requirements), updates: parseViewUpdates(b.updates) });
      return sendView(reply, v);
    },
  });

  defineRoute(app, ctx, {
    method: 'DELETE',
    path: '/namespaces/{namespace}/views/{view}',
    operationId: 'dropView',
    summary: 'Drop a view from the catalog',
    description: 'Remove a view from the catalog',
    params: ViewPathParams,
    idempotent: true,
    response: { 204: NoContent, ...errors(404, 406) },
    handler: async (req, reply) => {
      const drop = need(catalog.dropView, 'Views').bind(catalog);
      await drop(viewIdent(req.params));
      return noContent(reply);
    },
  });

  defineRoute(app, ctx, {
    method: 'HEAD',
    path: '/namespaces/{namespace}/views/{view}',
    operationId: 'viewExists',
    summary: 'Check if a view exists',
    description: 'Check if a view exists within a given namespace. This request does not return a response body.',
    params: ViewPathParams,
    response: { 204: NoContent, ...errors(404, 406) },
    handler: async (req, reply) => {
      const exists = need(catalog.viewExists, 'Views').bind(catalog);
      const id = viewIdent(req.params);
      if (!(await exists(id))) throw lakehouseError('NO_SUCH_VIEW', `View does not exist: ${show(id)}`);
      return noContent(reply);
    },
  });

  defineRoute(app, ctx, {
    method: 'POST',
    path: '/views/rename',
    operationId: 'renameView',
    summary: 'Rename a view from its current name to a new name',
    description: "Rename a view from one identifier to another. It's valid to move a view across namespaces, but the target namespace must exist.",
    body: RenameTableRequest,
    idempotent: true,
    response: { 204: NoContent, ...errors(404, 406, 409) },
    handler: async (req, reply) => {
      const b = req.body as { source: TableIdent; destination: TableIdent };
      const rename = need(catalog.renameView, 'Views').bind(catalog);
      await rename(b.source, b.destination);
      return noContent(reply);
    },
  });
}
