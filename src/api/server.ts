import Fastify, { type FastifyInstance } from 'fastify';
import { isLakehouseError, lakehouseError, ERRORS } from '../core/errors.js';
import { parseJsonLossless } from '../core/json.js';
import type { Catalog } from '../catalog/catalog.js';
import { registerIcebergRest } from './iceberg-rest.js';

export interface ServerOptions {
  catalog: Catalog;
  prefix?: string;
  logLevel?: string;
}

/**
 * The HTTP service. Request bodies are parsed losslessly (snapshot ids exceed 2^53); every error
 * leaves as `{error:{message,type,code}}` with the registry's status.
 */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ exposeHeadRoutes: false, logger: { level: opts.logLevel ?? 'info' }, genReqId: () => crypto.randomUUID() });
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    if (text === '' || text === undefined) return done(null, undefined);
    try {
      done(null, parseJsonLossless(String(text)));
    } catch (e) {
      done(lakehouseError('BAD_REQUEST', `malformed JSON body: ${(e as Error).message}`), undefined);
    }
  });
  app.setErrorHandler((err, req, reply) => {
    const e = isLakehouseError(err)
      ? err
      : (err as { statusCode?: number }).statusCode && (err as { statusCode: number }).statusCode < 500
        ? lakehouseError('BAD_REQUEST', (err as Error).message)
        : lakehouseError('INTERNAL', 'internal error');
    if (e.status >= 500) req.log.error({ err }, 'request failed');
    reply.code(e.status).type('application/json').send(JSON.stringify(e.toWire()));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).type('application/json').send(
      JSON.stringify({ error: { message: `no route ${req.method} ${req.url}`, type: ERRORS.NOT_FOUND.type, code: 404 } }),
    );
  });
  app.get('/health', async () => ({ status: 'ok' }));
  registerIcebergRest(app, opts.catalog, opts.prefix ?? opts.catalog.name);
  return app;
}
