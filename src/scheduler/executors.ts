import type { Catalog } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { lakehouseError } from '../core/errors.js';
import { Duck } from '../duck/db.js';
import { expireSnapshots, maintenanceStatus, removeOrphanFiles, rewriteDataFiles, rewriteManifests } from '../maintenance/index.js';
import { QueryEngine } from '../query/engine.js';
import { batchIngestExecutor, batchIngestParams } from './batch-ingest-job.js';
import { QUALITY_ACTION, qualityJobOptions, runQualityChecks } from './quality-job.js';
import type { JobKind, JobRecord, RunRecord, SchedulerStore } from './store.js';
import { checkJobAccess, jobPrincipal } from '../security/run-as.js';
import type { Privilege } from '../security/model.js';

/**
 * What each job kind does. An executor gets an AbortSignal (timeout, cancel, lost lease); the
 * library calls below are not interruptible mid-way, so the signal is checked between steps and
 * the runner stops waiting for an executor whose signal fired (the run is recorded at once).
 */
export interface ExecContext {
  catalog: Catalog;
  /** The scheduler's store (its database also holds the ingest ledger and storage sources). */
  store: SchedulerStore;
  job: JobRecord;
  run: RunRecord;
  signal: AbortSignal;
  log(message: string, level?: 'info' | 'warn' | 'error'): void;
}

export interface ExecResult {
  rowsAffected?: number | null;
  filesAffected?: number | null;
}

export type Executor = (ctx: ExecContext) => Promise<ExecResult>;

export const MAINTENANCE_ACTIONS = ['compaction', 'expire-snapshots', 'remove-orphans', 'rewrite-manifests', 'auto', QUALITY_ACTION] as const;
export type MaintenanceActionName = (typeof MAINTENANCE_ACTIONS)[number];
/** The actions that change the table's files (what `auto` chooses from). */
type FileAction = Exclude<MaintenanceActionName, 'auto' | typeof QUALITY_ACTION>;

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw lakehouseError('VALIDATION_FAILED', `params.${what} must be a non-empty string`);
  return v;
}

function optNum(o: Record<string, unknown>, k: string): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw lakehouseError('VALIDATION_FAILED', `params.options.${k} must be a non-negative number`);
  return v;
}

function tableOf(params: Record<string, unknown>): TableIdent {
  const ns = params.namespace;
  const namespace = Array.isArray(ns) ? ns.map(String) : str(ns, 'namespace').split('.');
  return { namespace, name: str(params.table, 'table') };
}

/** Checks a job's params for its kind (VALIDATION_FAILED); used by the API before storing. */
export function validateParams(kind: JobKind, params: Record<string, unknown>): void {
  if (kind === 'sql') {
    str(params.sql, 'sql');
    if (params.defaultNamespace !== undefined) str(params.defaultNamespace, 'defaultNamespace');
  } else if (kind === 'maintenance') {
    tableOf(params);
    if (!MAINTENANCE_ACTIONS.includes(params.action as MaintenanceActionName)) {
      throw lakehouseError('VALIDATION_FAILED', `params.action must be one of ${MAINTENANCE_ACTIONS.join(', ')}`);
    }
    const o = (params.options ?? {}) as Record<string, unknown>;
    if (typeof o !== 'object' || Array.isArray(o)) throw lakehouseError('VALIDATION_FAILED', 'params.options must be an object');
    for (const k of ['targetFileSizeBytes', 'minInputFiles', 'olderThanAgeMs', 'retainLast', 'targetManifestSizeBytes']) optNum(o, k);
    if (params.action === QUALITY_ACTION) qualityJobOptions(o);
  } else if (kind === 'batch-ingest') {
    batchIngestParams(params);
  }
}

function aborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? 'aborted'));
}

const sqlExecutor: Executor = async ({ catalog, job, signal, log }) => {
  const sql = str(job.params.sql, 'sql');
  const defaultNamespace = typeof job.params.defaultNamespace === 'string' ? job.params.defaultNamespace.split('.') : undefined;
  aborted(signal);
  // As the job's principal: the engine checks each table the statement touches.
  const res = await new QueryEngine(catalog).query(sql, { defaultNamespace, maxRows: 100, principal: await jobPrincipal(catalog, job.runAs) });
  const isWrite = res.columns.length === 1 && res.columns[0].name === 'rows' && res.rows.length === 1;
  const rows = isWrite ? Number(res.rows[0][0]) : res.rows.length;
  log(`${isWrite ? 'wrote' : 'returned'} ${rows} rows in ${res.stats.planningMs + res.stats.executionMs} ms (${res.stats.filesScanned} files scanned)`);
  return { rowsAffected: rows, filesAffected: res.stats.filesScanned };
};

type Outcome = { files: number; rows?: number };

async function runAction(catalog: Catalog, ident: TableIdent, action: FileAction, o: Record<string, unknown>, log: ExecContext['log']): Promise<Outcome> {
  switch (action) {
    case 'compaction': {
      const duck = await Duck.open();
      try {
        const r = await rewriteDataFiles(catalog, ident, duck, { targetFileSizeBytes: optNum(o, 'targetFileSizeBytes'), minInputFiles: optNum(o, 'minInputFiles') });
        const conflicts = r.groups.filter((g) => g.status !== 'rewritten').length;
        log(`compaction: ${r.rewrittenDataFiles} data files → ${r.addedDataFiles}, ${r.removedDeleteFiles} delete files removed, ${r.skippedPartitions} partitions healthy${conflicts ? `, ${conflicts} groups yielded` : ''}`);
        return { files: r.rewrittenDataFiles + r.removedDeleteFiles };
      } finally {
        duck.close();
      }
    }
    case 'expire-snapshots': {
      const age = optNum(o, 'olderThanAgeMs');
      const r = await expireSnapshots(catalog, ident, { olderThanMs: age === undefined ? undefined : Date.now() - age, retainLast: optNum(o, 'retainLast') });
      const files = r.deletedManifestLists + r.deletedManifests + r.deletedDataFiles + r.deletedDeleteFiles + r.deletedStatisticsFiles;
      log(`expire-snapshots: ${r.expiredSnapshotIds.length} snapshots expired, ${files} files deleted`);
      return { files };
    }
    case 'remove-orphans': {
      const age = optNum(o, 'olderThanAgeMs');
      const r = await removeOrphanFiles(catalog, ident, { olderThanMs: age === undefined ? undefined : Date.now() - age });
      log(`remove-orphans: ${r.deletedFiles} of ${r.scannedFiles} files deleted`);
      return { files: r.deletedFiles };
    }
    case 'rewrite-manifests': {
      const r = await rewriteManifests(catalog, ident, { targetManifestSizeBytes: optNum(o, 'targetManifestSizeBytes') });
      log(`rewrite-manifests: ${r.rewrittenManifests} manifests → ${r.addedManifests}`);
      return { files: r.rewrittenManifests };
    }
  }
}

const FROM_POLICY: Record<string, FileAction> = {
  'rewrite-data-files': 'compaction',
  'expire-snapshots': 'expire-snapshots',
  'rewrite-manifests': 'rewrite-manifests',
  'remove-orphan-files': 'remove-orphans',
};

const maintenanceExecutor: Executor = async ({ catalog, job, run, signal, log }) => {
  const ident = tableOf(job.params);
  const action = job.params.action as MaintenanceActionName;
  const o = (job.params.options ?? {}) as Record<string, unknown>;
  if (action === QUALITY_ACTION) {
    const r = await runQualityChecks(catalog, ident, o, { runId: run.id, signal, log });
    return { rowsAffected: r.rows, filesAffected: null };
  }
  let actions: FileAction[];
  if (action === 'auto') {
    const { health, due } = await maintenanceStatus(await catalog.loadTable(ident));
    log(`health: ${health.dataFiles} data files (${health.smallFiles} small), ${health.deleteFiles} delete files, ${health.snapshots} snapshots, ${health.manifests} manifests`);
    actions = due.actions.map((a) => FROM_POLICY[a]);
    log(actions.length ? `due: ${actions.join(', ')} (${due.reasons.join('; ')})` : 'nothing due by the table policy');
  } else if (MAINTENANCE_ACTIONS.includes(action)) actions = [action as FileAction];
  else throw lakehouseError('VALIDATION_FAILED', `unknown maintenance action ${String(action)}`);
  let files = 0;
  for (const a of actions) {
    aborted(signal);
    files += (await runAction(catalog, ident, a, o, log)).files;
  }
  return { filesAffected: files, rowsAffected: null };
};

/** Runs `ex` only if the job's principal still holds `privilege` on its table (security/run-as.ts). */
function asJobPrincipal(privilege: (job: JobRecord) => Privilege, ex: Executor): Executor {
  return async (ctx) => {
    const table = ctx.job.kind === 'batch-ingest' ? batchIngestParams(ctx.job.params).table : tableOf(ctx.job.params);
    await checkJobAccess(ctx.catalog, { owner: ctx.job.runAs, privilege: privilege(ctx.job), table, job: `schedule '${ctx.job.name}'` });
    return ex(ctx);
  };
}

export const DEFAULT_EXECUTORS: Record<JobKind, Executor> = {
  sql: sqlExecutor,
  maintenance: asJobPrincipal((job) => (job.params.action === QUALITY_ACTION ? 'SELECT' : 'MODIFY'), maintenanceExecutor),
  'batch-ingest': asJobPrincipal(() => 'INSERT', batchIngestExecutor),
};
