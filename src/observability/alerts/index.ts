/**
 * Alerting for the service: `startAlerting` is what the server wiring calls once — an alert
 * manager over the catalog database evaluating the rules against the server's metrics registry.
 */
import type { Registry } from 'prom-client';
import type { Catalog } from '../../catalog/catalog.js';
import { AlertManager, type AlertLogger } from './manager.js';
import { alertStoreFor } from './store.js';

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

/** Starts rule evaluation (stop with `await manager.stop()`); null without a SQL catalog store. */
export function startAlerting(catalog: Catalog, opts: StartAlertingOptions): AlertManager | null {
  const store = alertStoreFor(catalog);
  if (!store) return null;
  const manager = new AlertManager({ store, registry: opts.registry, logger: opts.logger });
  manager.start(opts.intervalMs ?? 15_000);
  return manager;
}
