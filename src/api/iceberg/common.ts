import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaCompiler, HTTPMethods } from 'fastify';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { TSchema } from '@sinclair/typebox';
import { lakehouseError } from '../../core/errors.js';
import { stringifyJson } from '../../core/json.js';
import type { Catalog } from '../../catalog/catalog.js';
import type { Namespace, TableIdent } from '../../catalog/store.js';
import type { CredentialVendor } from './credentials.js';
import type { IdempotencyCache } from './idempotency.js';
import { IdempotencyHeaders } from './schemas.js';

/** Namespaces in paths and `parent` are multipart, levels joined by the unit separator (%1F). */
export const NAMESPACE_SEPARATOR = '\u001f';

export interface RestContext {
  catalog: Catalog;
  prefix: string;
  /** `/v1/{prefix}` */
  base: string;
  idempotency: IdempotencyCache;
  /** Spec endpoint strings ("GET /v1/{prefix}/namespaces") of every route registered. */
  endpoints: string[];
  /** Vends short-lived S3 credentials on request (X-Iceberg-Access-Delegation); absent: none are vended. */
  vendor?: CredentialVendor;
}

/** Path params arrive decoded once (Fastify); levels are split on %1F. */
export function parseNamespace(raw: string): Namespace {
  const ns = raw.split(NAMESPACE_SEPARATOR);
  if (ns.some((l) => l.length === 0)) throw lakehouseError('BAD_REQUEST', `Invalid namespace: ${JSON.stringify(raw)}`);
  return ns;
}

export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json').send(stringifyJson(body));
}

export function noContent(reply: FastifyReply): FastifyReply {
  return reply.code(204).send();
}

export function etagOf(...parts: string[]): string {
  return `"${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 40)}"`;
}

/** True when `If-None-Match` lists `etag` (or `*`). */
export function notModified(req: FastifyRequest, etag: string): boolean {
  const h = req.headers['if-none-match'];
  if (!h) return false;
  const tags = String(h).split(',').map((t) => t.trim().replace(/^W\//, ''));
  return tags.includes('*') || tags.includes(etag);
}

/** Names `what` a catalog capability lacks: 406 UnsupportedOperationException. */
export function need<T>(fn: T | undefined, what: string): T {
  if (!fn) throw lakehouseError('UNSUPPORTED_OPERATION', `${what} is not supported by this catalog`);
  return fn;
}

export function identOf(namespace: string, name: string): TableIdent {
  return { namespace: parseNamespace(namespace), name };
}

export interface RouteDef {
  method: HTTPMethods;
  /** Spec path below `/v1/{prefix}` (e.g. `/namespaces/{namespace}`), or an absolute `/v1/…` path. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags?: string[];
  params?: TSchema;
  querystring?: TSchema;
  headers?: TSchema;
  body?: TSchema;
  response: Record<number, TSchema>;
  /** Mutating route: honours Idempotency-Key. */
  idempotent?: boolean;
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | void>;
}

/**
 * Registers one spec route: TypeBox schemas for validation (TypeBox compiler; bigint-safe via
 * `Int64`) and documentation, the spec's operationId, and Idempotency-Key hooks when mutating.
 * Responses are sent as pre-serialised JSON strings, so the response schemas only document.
 */
export function defineRoute(app: FastifyInstance, ctx: RestContext, def: RouteDef): void {
  const absolute = def.path.startsWith('/v1/');
  const specPath = absolute ? def.path : `/v1/{prefix}${def.path}`;
  const url = (absolute ? def.path : `${ctx.base}${def.path}`).replace(/\{([^}]+)\}/g, ':$1');
  let headers = def.headers;
  if (def.idempotent) {
    headers = headers
      ? { ...headers, properties: { ...(headers as { properties?: object }).properties, ...IdempotencyHeaders.properties } }
      : IdempotencyHeaders;
  }
  const schema: Record<string, unknown> = {
    operationId: def.operationId,
    tags: def.tags ?? ['Catalog API'],
    summary: def.summary,
    response: def.response,
  };
  if (def.description) schema.description = def.description;
  if (def.params) schema.params = def.params;
  if (def.querystring) schema.querystring = def.querystring;
  if (headers) schema.headers = headers;
  if (def.body) schema.body = def.body;
  app.route({
    method: def.method,
    url,
    schema,
    // @fastify/swagger skips HEAD routes unless asked (and then suffixes their operationId with `-head`).
    ...(def.method === 'HEAD' ? { config: { swagger: { exposeHeadRoute: true } } } : {}),
    validatorCompiler: TypeBoxValidatorCompiler as unknown as FastifySchemaCompiler<Record<string, unknown>>,
    // Replies are strings already: nothing to compile for serialisation.
    serializerCompiler: () => (data: unknown) => (typeof data === 'string' ? data : stringifyJson(data)),
    ...(def.idempotent
      ? { onRequest: ctx.idempotency.onRequest, onSend: ctx.idempotency.onSend, onResponse: ctx.idempotency.onResponse }
      : {}),
    // Validation failures are the spec's 400 BadRequestException (not the service's ValidationException).
    attachValidation: true,
    handler: async (req, reply) => {
      if (req.validationError) throw lakehouseError('BAD_REQUEST', `Invalid request: ${req.validationError.message}`);
      return def.handler(req, reply);
    },
  });
  ctx.endpoints.push(`${def.method} ${specPath}`);
}
