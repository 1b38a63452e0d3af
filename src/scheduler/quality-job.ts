/**
 * Scheduled data-quality runs: a table's declared checks (`lakehouse.quality.checks`, or checks
 * given in the job) evaluated over its current snapshot on the job's cron or interval. Each run
 * appends its results to `<table>__quality` (batch_id = the run id, so SQL can pick out one run),
 * counts every check in the quality metrics, raises a `DataQualityCheckFailed` alert per failing
 * check and resolves those that pass again. Whether failing checks also fail the run is the job's
 * `failOn` policy (default: a failing critical check does) — a failed run is what the scheduler's
 * failure metrics and "failed runs" alert rules see.
 *
 * Reached as maintenance action `quality-checks` (params `{namespace, table, action:
 * 'quality-checks', options?: {checks?, failOn?}}`): the job kinds are fixed by a check constraint
 * of the scheduler's table (migration 0003), and a check over a table's snapshot is table-scoped
 * upkeep like the other actions.
 */
import type { Catalog } from '../catalog/catalog.js';
import { identToString } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { lakehouseError } from '../core/errors.js';
import { Duck } from '../duck/db.js';
import { AlertManager, alertManagerFor, alertStoreFor } from '../observability/alerts/index.js';
import { hasRootLogger, moduleLogger } from '../observability/log-levels.js';
import { qualityMonitorFor, validateCheckSpecs, type CheckResult, type CheckSpec } from '../quality/index.js';

export const QUALITY_ACTION = 'quality-checks';
export const FAIL_ON = ['critical', 'any', 'never'] as const;
export type FailOn = (typeof FAIL_ON)[number];

export interface QualityJobOptions {
  /** Checks to run instead of the table's declared ones. */
  checks?: CheckSpec[];
  failOn: FailOn;
}

/** Reads (and validates) the quality options of a maintenance job's `params.options`. */
export function qualityJobOptions(options: Record<string, unknown>): QualityJobOptions {
  const failOn = options.failOn ?? 'critical';
  if (!FAIL_ON.includes(failOn as FailOn)) throw lakehouseError('VALIDATION_FAILED', `params.options.failOn must be one of ${FAIL_ON.join(', ')}`);
  const checks = options.checks === undefined ? undefined : validateCheckSpecs(options.checks, 'params.options.checks');
  return { checks, failOn: failOn as FailOn };
}

export interface QualityRunContext {
  runId: string;
  signal: AbortSignal;
  log(message: string, level?: 'info' | 'warn' | 'error'): void;
}

function failing(results: CheckResult[], failOn: FailOn): CheckResult[] {
  if (failOn === 'never') return [];
  return results.filter((c) => !c.passed && (failOn === 'any' || c.severity === 'critical'));
}

/** Runs the checks of one table; resolves with the rows checked, throws QUALITY_CHECKS_FAILED per policy. */
export async function runQualityChecks(catalog: Catalog, ident: TableIdent, options: Record<string, unknown>, ctx: QualityRunContext): Promise<{ rows: number; checks: number }> {
  const o = qualityJobOptions(options);
  // Alerts go through the process's running alert manager; without one (alerting not started),
  // through a manager of our own over the same store, whose deliveries the run waits for.
  let alerts = alertManagerFor(catalog);
  let own: AlertManager | null = null;
  if (!alerts) {
    const store = alertStoreFor(catalog);
    if (store) alerts = own = new AlertManager({ store, logger: hasRootLogger() ? moduleLogger('alerts') : undefined });
  }
  const monitor = qualityMonitorFor(catalog, { alerts: alerts ?? undefined });
  if (!monitor) throw lakehouseError('UNSUPPORTED_OPERATION', 'scheduled quality checks need the SQL catalog store');
  if (ctx.signal.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('aborted');
  const duck = await Duck.open();
  let results: CheckResult[];
  try {
    results = await monitor.evaluateTable(ident, duck, { batchId: ctx.runId, checks: o.checks });
  } finally {
    duck.close();
    await own?.idle();
  }
  const table = identToString(ident);
  if (results.length === 0) {
    ctx.log(`${table}: no quality checks declared (table property lakehouse.quality.checks) or given`, 'warn');
    return { rows: 0, checks: 0 };
  }
  const failed = results.filter((c) => !c.passed);
  for (const c of failed) ctx.log(`check ${c.name} (${c.severity}) failed: ${c.message}`, c.severity === 'critical' ? 'error' : 'warn');
  ctx.log(`${table}: ${results.length} checks over ${results[0].totalRows} rows, ${results.length - failed.length} passed, ${failed.length} failed`);
  const fatal = failing(results, o.failOn);
  if (fatal.length > 0) {
    throw lakehouseError('QUALITY_CHECKS_FAILED', `${fatal.length} data-quality check(s) of ${table} failed: ${fatal.map((c) => c.name).join(', ')}`);
  }
  return { rows: results[0].totalRows, checks: results.length };
}
