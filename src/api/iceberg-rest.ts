import type { FastifyInstance } from 'fastify';
import type { Catalog } from '../catalog/catalog.js';
import type { RestContext } from './iceberg/common.js';
import type { CredentialVendor } from './iceberg/credentials.js';
import { IdempotencyCache } from './iceberg/idempotency.js';
import { registerConfigRoute, registerNamespaceRoutes } from './iceberg/namespaces.js';
import { registerTableRoutes } from './iceberg/tables.js';
import { registerViewRoutes } from './iceberg/views.js';

/**
 * The Iceberg REST catalog (apache/iceberg open-api/rest-catalog-open-api.yaml), served under
 * `/v1/{prefix}` with the prefix advertised in `/v1/config`'s overrides. Every route carries
 * TypeBox schemas (validation + OpenAPI documentation) and the spec's operationId; see
 * src/api/iceberg/*.ts. Namespaces in paths are multipart, levels joined by the unit separator (%1F).
 */
export interface IcebergRestOptions {
  /** Idempotency-Key reuse window (default 30 minutes). */
  idempotencyTtlMs?: number;
  /** Vended credentials for tables on S3 (./iceberg/credentials.ts). */
  vendor?: CredentialVendor;
}

export function registerIcebergRest(app: FastifyInstance, catalog: Catalog, prefix: string, opts: IcebergRestOptions = {}): RestContext {
  const ctx: RestContext = {
    catalog,
    prefix,
    base: `/v1/${prefix}`,
    idempotency: new IdempotencyCache(opts.idempotencyTtlMs),
    endpoints: [],
    vendor: opts.vendor,
  };
  registerNamespaceRoutes(app, ctx);
  registerTableRoutes(app, ctx);
  registerViewRoutes(app, ctx);
  // Last: `endpoints` lists every route registered above.
  registerConfigRoute(app, ctx);
  ctx.endpoints.splice(ctx.endpoints.indexOf('GET /v1/config'), 1);
  return ctx;
}
