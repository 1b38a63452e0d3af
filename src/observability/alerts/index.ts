/**
 * Alerting for the service: `startAlerting` is what the server wiring calls once — an alert
 * manager over the catalog database evaluating the rules against the server's metrics registry.
 */
import type { Registry } from 'prom-client';
import type { Catalog } from '../../catalog/catalog.js';
import { AlertManager, type AlertLogger } from './manager.js';
import { alertStoreFor } from './store.js';
import { hasRootLogger, moduleLogger } from '../log-levels.js';
import { sqlStoreOf } from '../../catalog/sql-store-of.js';

export { AlertManager, type AlertLogger, type RaisedAlert } from './manager.js';
export { AlertStore, alertStoreFor } from './store.js';
export { signBody, verifySignature, SIGNATURE_HEADER, DELIVERY_HEADER } from './webhook.js';
export type * from './types.js';

export interface StartAlertingOptions {
  registry: Registry;
  logger?: AlertLogger;
  /** Default 15 s. */
  intervalMs?: number;
}

/** The running alert manager per catalog database, for modules that raise alerts (ingestion jobs' data quality). */
const running = new WeakMap<object, AlertManager>();

const dbOf = (catalog: Catalog): object | undefined => sqlStoreOf(catalog)?.db;

/** Starts rule evaluation (stop with `await manager.stop()`); null without a SQL catalog store. */
export function startAlerting(catalog: Catalog, opts: StartAlertingOptions): AlertManager | null {
  const store = alertStoreFor(catalog);
  if (!store) return null;
  // With a server running, log through its `alerts` module logger (level settable at runtime).
  const logger = opts.logger && hasRootLogger() ? moduleLogger('alerts') : opts.logger;
  const manager = new AlertManager({ store, registry: opts.registry, logger });
  manager.start(opts.intervalMs ?? 15_000);
  const db = dbOf(catalog);
  if (db) running.set(db, manager);
  return manager;
}

/** The alert manager started for this catalog's database in this process, if any. */
export function alertManagerFor(catalog: Catalog): AlertManager | null {
  const db = dbOf(catalog);
  return (db && running.get(db)) || null;
}
