import type { FastifyInstance } from 'fastify';
import type { Catalog } from '../../catalog/catalog.js';
import { lakehouseError } from '../../core/errors.js';
import { alertStoreOf, registerAlertRoutes } from './alerts.js';
import { parseOwnJson } from './common.js';
import { registerIngestRoutes } from './ingest.js';
import { registerJobRoutes } from './jobs.js';
import { registerScheduleRoutes } from './schedules.js';
import { registerQueryRoutes } from './queries.js';
import { registerSourceRoutes } from './sources.js';
import { OwnStore } from './store.js';
import { registerTableHealthRoute } from './table-health.js';
import { registerTableRoutes } from './tables.js';
import { sqlStoreOf } from '../../catalog/sql-store-of.js';
import { registerExternalSourceRoutes } from '../../federation/routes.js';

export interface OwnApiOptions {
  catalog: Catalog;
  /** Data sources and jobs need the SQL catalog store; without one those routes answer 406. */
  store: OwnStore | null;
}

/** The service's own API (mounted under /api/v1). */
export async function ownApi(app: FastifyInstance, opts: OwnApiOptions): Promise<void> {
  // 64-bit ids travel as decimal strings here (see common.ts), not as bigint.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    try {
      done(null, parseOwnJson(String(text)));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  registerTableRoutes(app, opts.catalog);
  registerTableHealthRoute(app, opts.catalog);
  registerIngestRoutes(app, opts.catalog, opts.store);
  registerQueryRoutes(app, opts.catalog);
  registerExternalSourceRoutes(app, opts.catalog);
  if (opts.store) {
    registerSourceRoutes(app, opts.store);
    registerJobRoutes(app, opts.store);
    registerScheduleRoutes(app, opts.store);
    registerAlertRoutes(app, alertStoreOf(opts.store));
  } else {
    app.all('/sources/*', { schema: { hide: true } }, async () => {
      throw lakehouseError('UNSUPPORTED_OPERATION', 'data sources need the SQL catalog store');
    });
  }
}

/** The own store over a SqlCatalog's database, or null for other catalogs. */
export function ownStoreFor(catalog: Catalog): OwnStore | null {
  const store = sqlStoreOf(catalog);
  if (!store) return null;
  return new OwnStore(store.db as never, store.catalogName);
}
