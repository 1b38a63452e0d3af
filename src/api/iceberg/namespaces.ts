import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { lakehouseError } from '../../core/errors.js';
import { defineRoute, need, noContent, parseNamespace, sendJson, type RestContext } from './common.js';
import {
  CatalogConfig, CreateNamespaceRequest, CreateNamespaceResponse, GetNamespaceResponse, ListNamespacesResponse, NamespaceParam,
  NoContent, PageQuery, UpdateNamespacePropertiesRequest, UpdateNamespacePropertiesResponse, errors,
} from './schemas.js';

type Q = Record<string, unknown>;

/** Paging only when the client sends `pageToken` (possibly empty), as the spec's PageToken says. */
export function pageOf(q: Q): { pageToken: string | null; pageSize: number | null } | undefined {
  if (q.pageToken === undefined) return undefined;
  return { pageToken: (q.pageToken as string) || null, pageSize: (q.pageSize as number | undefined) ?? null };
}

export const NamespacePathParams = Type.Object({ namespace: NamespaceParam });

export function registerConfigRoute(app: FastifyInstance, ctx: RestContext): void {
  defineRoute(app, ctx, {
    method: 'GET',
    path: '/v1/config',
    operationId: 'getConfig',
    tags: ['Configuration API'],
    summary: 'List all catalog configuration settings',
    description:
      'All REST clients should first call this route to get catalog configuration properties from the server. ' +
      '`overrides.prefix` is the path prefix of every other route; `endpoints` lists the routes this server implements.',
    querystring: Type.Object({
      warehouse: Type.Optional(Type.String({ description: 'Warehouse location or identifier to request from the service' })),
    }),
    response: { 200: CatalogConfig, ...errors(404) },
    handler: async (req, reply) => {
      const q = req.query as Q;
      const wh = q.warehouse as string | undefined;
      const known = [ctx.prefix, ctx.catalog.name, (ctx.catalog as { warehouse?: string }).warehouse].filter(Boolean);
      if (wh && !known.includes(wh)) throw lakehouseError('NOT_FOUND', `Warehouse does not exist: ${wh}`);
      return sendJson(reply, 200, {
        defaults: {},
        overrides: { prefix: ctx.prefix },
        endpoints: ctx.endpoints,
        'idempotency-key-lifetime': ctx.idempotency.lifetime,
      });
    },
  });
}

export function registerNamespaceRoutes(app: FastifyInstance, ctx: RestContext): void {
  const { catalog } = ctx;
  // Without a stored `location`, where the namespace's tables go by default is reported as one (as
  // Lakekeeper and Polaris do): Trino places new tables under it (docs/engines.md).
  const withLocation = (ns: string[], properties: Record<string, string>): Record<string, string> =>
    properties.location || !catalog.defaultNamespaceLocation ? properties : { ...properties, location: catalog.defaultNamespaceLocation(ns) };

  defineRoute(app, ctx, {
    method: 'GET',
    path: '/namespaces',
    operationId: 'listNamespaces',
    summary: 'List namespaces, optionally providing a parent namespace to list underneath',
    description:
      'List all namespaces at a certain level, optionally starting from a given parent namespace (levels separated by %1F). ' +
      'If `parent` is not provided, all top-level namespaces are listed.',
    querystring: Type.Object({
      ...PageQuery,
      parent: Type.Optional(Type.String({ description: 'An optional namespace, underneath which to list namespaces (levels separated by %1F)' })),
    }),
    response: { 200: ListNamespacesResponse, ...errors(404) },
    handler: async (req, reply) => {
      const q = req.query as Q;
      const parent = q.parent ? parseNamespace(q.parent as string) : [];
      if (parent.length > 0) await catalog.loadNamespace(parent);
      const res = await catalog.listNamespaces(parent, pageOf(q));
      return sendJson(reply, 200, { namespaces: res.items, 'next-page-token': res.nextPageToken });
    },
  });

  defineRoute(app, ctx, {
    method: 'POST',
    path: '/namespaces',
    operationId: 'createNamespace',
    summary: 'Create a namespace',
    description: 'Create a namespace, with an optional set of properties.',
    body: CreateNamespaceRequest,
    idempotent: true,
    response: { 200: CreateNamespaceResponse, ...errors(406, 409) },
    handler: async (req, reply) => {
      const b = req.body as { namespace: string[]; properties?: Record<string, string> };
      const properties = b.properties ?? {};
      await catalog.createNamespace(b.namespace, properties);
      return sendJson(reply, 200, { namespace: b.namespace, properties: withLocation(b.namespace, properties) });
    },
  });

  defineRoute(app, ctx, {
    method: 'GET',
    path: '/namespaces/{namespace}',
    operationId: 'loadNamespaceMetadata',
    summary: 'Load the metadata properties for a namespace',
    description: 'Return all stored metadata properties for a given namespace',
    params: NamespacePathParams,
    response: { 200: GetNamespaceResponse, ...errors(404) },
    handler: async (req, reply) => {
      const ns = parseNamespace((req.params as { namespace: string }).namespace);
      return sendJson(reply, 200, { namespace: ns, properties: withLocation(ns, await catalog.loadNamespace(ns)) });
    },
  });

  defineRoute(app, ctx, {
    method: 'HEAD',
    path: '/namespaces/{namespace}',
    operationId: 'namespaceExists',
    summary: 'Check if a namespace exists',
    description: 'Check if a namespace exists. The response does not contain a body.',
    params: NamespacePathParams,
    response: { 204: NoContent, ...errors(404) },
    handler: async (req, reply) => {
      await catalog.loadNamespace(parseNamespace((req.params as { namespace: string }).namespace));
      return noContent(reply);
    },
  });

  defineRoute(app, ctx, {
    method: 'DELETE',
    path: '/namespaces/{namespace}',
    operationId: 'dropNamespace',
    summary: 'Drop a namespace from the catalog. Namespace must be empty.',
    params: NamespacePathParams,
    idempotent: true,
    response: { 204: NoContent, ...errors(404, 409) },
    handler: async (req, reply) => {
      await catalog.dropNamespace(parseNamespace((req.params as { namespace: string }).namespace));
      return noContent(reply);
    },
  });

  defineRoute(app, ctx, {
    method: 'POST',
    path: '/namespaces/{namespace}/properties',
    operationId: 'updateProperties',
    summary: 'Set or remove properties on a namespace',
    description:
      'Set and/or remove properties on a namespace. The request body specifies a list of properties to remove and a map of ' +
      'key value pairs to update. Properties that are not in the request are not modified or removed by this call.',
    params: NamespacePathParams,
    body: UpdateNamespacePropertiesRequest,
    idempotent: true,
    response: { 200: UpdateNamespacePropertiesResponse, ...errors(404, 406, 422) },
    handler: async (req, reply) => {
      const ns = parseNamespace((req.params as { namespace: string }).namespace);
      const b = req.body as { removals?: string[]; updates?: Record<string, string> };
      const removals = b.removals ?? [];
      const updates = b.updates ?? {};
      const dup = removals.filter((k) => k in updates);
      if (dup.length > 0) {
        throw lakehouseError('UNPROCESSABLE_ENTITY', `Duplicate key to update and remove: ${dup.join(', ')}`);
      }
      const update = need(catalog.updateNamespaceProperties, 'Updating namespace properties').bind(catalog);
      return sendJson(reply, 200, await update(ns, removals, updates));
    },
  });
}
