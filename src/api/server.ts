import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from '@sinclair/typebox';
import type { DestinationStream } from 'pino';
import { isLakehouseError, lakehouseError, ERRORS } from '../core/errors.js';
import { parseJsonLossless } from '../core/json.js';
import type { Catalog } from '../catalog/catalog.js';
import type { FileIO } from '../storage/fileio.js';
import { registerHealthRoutes } from '../observability/health.js';
import { loggerOptions, requestIdFor, REQUEST_ID_HEADER } from '../observability/logging.js';
import { Metrics } from '../observability/metrics.js';
import { bindRootLogger } from '../observability/log-levels.js';
import { adminApi } from './own/admin.js';
import { registerIcebergRest } from './iceberg-rest.js';
import { CredentialVendor, type CredentialVendingOptions } from './iceberg/credentials.js';
import { registerConsole } from './console.js';
import { ownApi, ownStoreFor } from './own/index.js';
import { installSecurity, type SecurityOptions } from '../security/http.js';
import { securityApi } from '../security/routes.js';

export interface ServerOptions {
  catalog: Catalog;
  prefix?: string;
  logLevel?: string;
  /** Where JSON log lines go (default stdout). */
  logStream?: DestinationStream;
  /** Metrics registry holder (default: a new one with Node process metrics). */
  metrics?: Metrics;
  /** Warehouse root and its FileIO, for /ready (default: taken from the SqlCatalog). */
  warehouse?: string;
  io?: FileIO;
  /**
   * Authentication and authorization (src/security). Default `{}`: every API request needs
   * credentials. `{ anonymous: true }` lets requests without credentials act as admin.
   */
  security?: SecurityOptions;
  /** PEM certificate and key: serve HTTPS (plain HTTP only when absent). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Vend short-lived S3 credentials on Iceberg loadTable/createTable (src/api/iceberg/credentials.ts). */
  credentialVending?: CredentialVendingOptions;
}

export const API_VERSION = '0.1.0';

/** OpenAPI document header (the paths come from the route schemas). */
export const OPENAPI_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'lakehouse',
    version: API_VERSION,
    description:
      'Self-service data lakehouse: an Iceberg REST catalog under /v1 and the service API under /api/v1. ' +
      'Errors are `{error:{message,type,code}}`. 64-bit snapshot ids are JSON integers under /v1 and decimal strings under /api/v1.',
  },
  tags: [
    { name: 'service', description: 'Liveness, readiness, metrics' },
    {
      name: 'tables',
      description:
        'Tables: create from columns, describe, schema evolution, snapshots, rollback, branches and tags. Column docs are the Iceberg ' +
        'schema field `doc`; column tags are stored in table properties as `lakehouse.column-tags.<fieldId>` = JSON array of strings ' +
        '(keyed by field id, so they survive renames; dropped with the column).',
    },
    { name: 'sources', description: 'Data sources: Kafka clusters and storage locations (secrets are write-only)' },
    { name: 'ingestion', description: 'Ingestion job definitions' },
    { name: 'schedules', description: 'Scheduled jobs (SQL, maintenance, batch ingestion), their runs, run-now and cancel' },
    { name: 'queries', description: 'SQL queries over catalog tables: sync or async, JSON or CSV, paging, cancel, history' },
    { name: 'external-sources', description: 'Federated SQL: PostgreSQL databases and files queried as <source>.<schema>.<table> (passwords are write-only)' },
    { name: 'security', description: 'Principals, roles, grants, API keys, column masks, row filters, audit log (needs MANAGE_GRANTS)' },
  ],
  // Declared, not required per operation in the document: the requirement is enforced by the
  // service (src/security/rules.ts), and a global one makes generic clients send made-up tokens.
  components: { securitySchemes: { bearer: { type: 'http' as const, scheme: 'bearer', description: 'API key (lhk_…), an access token from POST /v1/oauth/tokens, or an OIDC JWT. Required on /v1/** and /api/v1/** unless anonymous access is configured (docs/security.md).' } } },
};

/**
 * The HTTP service. Request bodies are parsed losslessly (snapshot ids exceed 2^53); every error
 * leaves as `{error:{message,type,code}}` with the registry's status. Each request gets an id
 * (incoming `x-request-id` honoured) that is on every log line and in the response header.
 */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    exposeHeadRoutes: false,
    logger: loggerOptions(opts.logLevel ?? 'info', opts.logStream),
    requestIdHeader: false,
    genReqId: requestIdFor,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 2048 },
    ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
    // Router-level failures (bad URL encoding, over-long path parameters) in the same error shape.
    frameworkErrors: (err, req, reply) => {
      const status = (err as { statusCode?: number }).statusCode ?? 400;
      (reply as FastifyReply)
        .code(status)
        .header(REQUEST_ID_HEADER, req.id)
        .type('application/json')
        .send(JSON.stringify({ error: { message: err.message, type: ERRORS.BAD_REQUEST.type, code: status } }));
    },
  });
  const metrics = opts.metrics ?? new Metrics();
  const catalog = metrics.instrumentCatalog(opts.catalog);

  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    if (text === '' || text === undefined) return done(null, undefined);
    try {
      done(null, parseJsonLossless(String(text)));
    } catch (e) {
      done(lakehouseError('BAD_REQUEST', `malformed JSON body: ${(e as Error).message}`), undefined);
    }
  });
  app.setErrorHandler((err, req, reply) => {
    const status = (err as { statusCode?: number }).statusCode;
    const e = isLakehouseError(err)
      ? err
      : status && status < 500
        ? lakehouseError((err as { validation?: unknown }).validation ? 'VALIDATION_FAILED' : 'BAD_REQUEST', (err as Error).message)
        : lakehouseError('INTERNAL', 'internal error');
    if (e.status >= 500) req.log.error({ err }, 'request failed');
    reply.code(e.status).type('application/json').send(JSON.stringify(e.toWire()));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).type('application/json').send(
      JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: ERRORS.NOT_FOUND.type, code: 404 } }),
    );
  });
  app.addHook('onRequest', async (req, reply) => {
    reply.header(REQUEST_ID_HEADER, req.id);
  });
  // Graceful shutdown: requests in flight when close() starts still complete, and their
  // connections are closed after the response instead of being kept alive (which would hold
  // server.close() until the keep-alive timeout).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });
  metrics.instrumentServer(app);
  // Module loggers (ingestion jobs, alerting) write through this server's logger; the metrics
  // stop listening to process-wide events with the server.
  bindRootLogger(app.log);
  app.addHook('onClose', async () => metrics.close());
  // Before any route: its onRoute hook must see them all.
  const security = await installSecurity(app, { catalog: opts.catalog, prefix: opts.prefix ?? opts.catalog.name, security: opts.security ?? {} });

  await app.register(swagger, {
    openapi: OPENAPI_INFO,
    // HEAD routes are registered on their own and keep the spec's operationId (no `-head` suffix).
    transform: ({ schema, url, route }) => {
      const s = schema as { operationId?: string } | undefined;
      if (route.method === 'HEAD' && s?.operationId?.endsWith('-head')) {
        return { schema: { ...s, operationId: s.operationId.slice(0, -5) } as typeof schema, url };
      }
      return { schema, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  registerHealthRoutes(app, { catalog: opts.catalog, warehouse: opts.warehouse, io: opts.io });
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['service'],
        summary: 'Prometheus metrics',
        response: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: Type.String() } } } },
      },
    },
    async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  const vendor = opts.credentialVending ? new CredentialVendor(opts.credentialVending) : undefined;
  if (vendor) app.addHook('onClose', async () => vendor.close());
  registerIcebergRest(app, catalog, opts.prefix ?? opts.catalog.name, { vendor });
  await app.register(ownApi, { prefix: '/api/v1', catalog, store: ownStoreFor(opts.catalog) });
  await app.register(adminApi, { prefix: '/api/v1/admin' });
  await app.register(securityApi, { prefix: '/api/v1/security', runtime: security });
  registerConsole(app);
  return app;
}

/** The live OpenAPI document of a built server (after `ready`). */
export async function openApiDocument(app: FastifyInstance): Promise<Record<string, unknown>> {
  await app.ready();
  return app.swagger() as unknown as Record<string, unknown>;
}
