/**
 * Data quality: declarative checks, batch profiles, adaptive baselines, quarantine.
 * `qualityMonitorFor(catalog)` is what an ingestion job or a scheduled run calls per batch.
 */
import type { Catalog } from '../catalog/catalog.js';
import { BaselineStore } from './baseline-store.js';
import { QualityMonitor, type QualityMonitorOptions } from './monitor.js';
import { sqlStoreOf } from '../catalog/sql-store-of.js';

export { QualityMonitor, type AlertSink, type Anomaly, type BatchEvaluation, type EvaluateOptions } from './monitor.js';
export { quarantineBatch, quarantineFiles, DEFAULT_QUARANTINE_BRANCH, type QuarantineResult } from './quarantine.js';
export { runChecks, checksFromProperties, validateCheckSpecs, CHECKS_PROPERTY, type CheckSpec, type CheckResult } from './checks.js';
export { profileBatch, type BatchProfile } from './profile.js';
export { qualityIdent, QUALITY_SUFFIX } from './results-table.js';
export { BaselineStore } from './baseline-store.js';

/** A monitor over a SqlCatalog's database (baselines live there), or null for other catalogs. */
export function qualityMonitorFor(catalog: Catalog, opts: Omit<QualityMonitorOptions, 'catalog' | 'baselines'> = {}): QualityMonitor | null {
  const store = sqlStoreOf(catalog);
  if (!store) return null;
  return new QualityMonitor({ ...opts, catalog, baselines: new BaselineStore(store.db as never, store.catalogName) });
}
