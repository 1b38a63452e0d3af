import { resolve } from 'node:path';
import { lakehouseError } from './core/errors.js';

/** Service configuration from environment variables (validated at start). */
export interface Config {
  host: string;
  port: number;
  /** Warehouse root for new tables (absolute path, file://, s3://…). */
  warehouse: string;
  /** Catalog store URL: `sqlite:<path>` (default) or `postgres://…`. */
  catalogUrl: string;
  catalogName: string;
  logLevel: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const warehouse = env.LAKEHOUSE_WAREHOUSE ?? resolve('warehouse');
  const port = Number(env.LAKEHOUSE_PORT ?? env.PORT ?? 8181);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw lakehouseError('VALIDATION_FAILED', `LAKEHOUSE_PORT must be a port number, got ${JSON.stringify(env.LAKEHOUSE_PORT ?? env.PORT)}`);
  }
  const isLocal = !/^[a-z][a-z0-9+.-]*:\/\//i.test(warehouse) || warehouse.startsWith('file:');
  const catalogUrl = env.LAKEHOUSE_CATALOG_URL ?? (isLocal ? `sqlite:${resolve(warehouse.replace(/^file:(\/\/)?/, ''), 'catalog.db')}` : '');
  if (!catalogUrl) throw lakehouseError('VALIDATION_FAILED', 'LAKEHOUSE_CATALOG_URL is required when the warehouse is not local');
  return {
    host: env.LAKEHOUSE_HOST ?? '127.0.0.1',
    port,
    warehouse: isLocal ? resolve(warehouse.replace(/^file:(\/\/)?/, '')) : warehouse,
    catalogUrl,
    catalogName: env.LAKEHOUSE_CATALOG_NAME ?? 'lakehouse',
    logLevel: env.LAKEHOUSE_LOG_LEVEL ?? 'info',
  };
}
