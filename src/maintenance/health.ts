import { FileContent, ManifestContent } from '../iceberg/manifest-types.js';
import { MAIN_BRANCH } from '../iceberg/snapshot.js';
import type { LoadedTable } from '../catalog/catalog.js';
import { DEFAULT_TARGET_FILE_SIZE } from '../table/data-writer.js';
import { listManifests, readLiveFiles } from '../table/scan-planner.js';
import { loadedSnapshotOf, resolverOf } from './common.js';

/** File-layout health of a table's branch head. */
export interface TableHealth {
  dataFiles: number;
  /** Data files smaller than 75% of the target file size. */
  smallFiles: number;
  deleteFiles: number;
  /** deleteFiles / dataFiles (0 without data files). */
  deleteFileRatio: number;
  snapshots: number;
  manifests: number;
  deleteManifests: number;
  /** Bytes of live data and delete files. */
  totalBytes: number;
  /** Average data file size in bytes. */
  avgFileSize: number;
  records: number;
  targetFileSizeBytes: number;
}

export async function tableHealth(table: LoadedTable, opts: { branch?: string } = {}): Promise<TableHealth> {
  const md = table.metadata;
  const target = Number(md.properties['write.target-file-size-bytes'] ?? DEFAULT_TARGET_FILE_SIZE);
  const snap = loadedSnapshotOf(table, opts.branch ?? MAIN_BRANCH);
  const h: TableHealth = {
    dataFiles: 0, smallFiles: 0, deleteFiles: 0, deleteFileRatio: 0, snapshots: md.snapshots.length, manifests: 0, deleteManifests: 0,
    totalBytes: 0, avgFileSize: 0, records: 0, targetFileSizeBytes: target,
  };
  if (!snap) return h;
  const resolve = resolverOf(md);
  const manifests = await listManifests(md, snap, table.io, resolve);
  h.manifests = manifests.length;
  h.deleteManifests = manifests.filter((m) => m.content === ManifestContent.DELETES).length;
  const { files } = await readLiveFiles(md, manifests, { io: table.io, resolve });
  let dataBytes = 0;
  for (const f of files) {
    const size = Number(f.file.fileSizeInBytes);
    h.totalBytes += size;
    if (f.file.content === FileContent.DATA) {
      h.dataFiles++;
      dataBytes += size;
      h.records += Number(f.file.recordCount);
      if (size < target * 0.75) h.smallFiles++;
    } else h.deleteFiles++;
  }
  h.deleteFileRatio = h.dataFiles ? h.deleteFiles / h.dataFiles : 0;
  h.avgFileSize = h.dataFiles ? dataBytes / h.dataFiles : 0;
  return h;
}

/** Thresholds read from table properties (`lakehouse.maintenance.*`). */
export interface MaintenancePolicy {
  enabled: boolean;
  /** `lakehouse.maintenance.compaction.small-file-threshold` (default 10): compaction when at least this many small files. */
  smallFileThreshold: number;
  /** `lakehouse.maintenance.compaction.delete-file-ratio` (default 0.1): compaction when delete/data files reach it. */
  deleteFileRatio: number;
  /** `lakehouse.maintenance.max-snapshots` (default 100): expiry when more snapshots are kept. */
  maxSnapshots: number;
  /** `lakehouse.maintenance.max-manifests` (default 100): manifest rewrite when the head has more. */
  maxManifests: number;
  /** `lakehouse.maintenance.orphan-files.enabled` (default false). */
  orphanRemoval: boolean;
}

export const POLICY_PREFIX = 'lakehouse.maintenance.';

export function maintenancePolicy(properties: Record<string, string>): MaintenancePolicy {
  const n = (k: string, d: number) => {
    const v = Number(properties[POLICY_PREFIX + k]);
    return properties[POLICY_PREFIX + k] !== undefined && Number.isFinite(v) ? v : d;
  };
  const b = (k: string, d: boolean) => {
    const v = properties[POLICY_PREFIX + k];
    return v === undefined ? d : v.toLowerCase() === 'true';
  };
  return {
    enabled: b('enabled', true),
    smallFileThreshold: n('compaction.small-file-threshold', 10),
    deleteFileRatio: n('compaction.delete-file-ratio', 0.1),
    maxSnapshots: n('max-snapshots', 100),
    maxManifests: n('max-manifests', 100),
    orphanRemoval: b('orphan-files.enabled', false),
  };
}

export type MaintenanceAction = 'rewrite-data-files' | 'expire-snapshots' | 'rewrite-manifests' | 'remove-orphan-files';

export interface DueActions {
  actions: MaintenanceAction[];
  reasons: string[];
}

/** Which maintenance actions the table's policy says are due, given its health. */
export function dueActions(health: TableHealth, policy: MaintenancePolicy): DueActions {
  const out: DueActions = { actions: [], reasons: [] };
  if (!policy.enabled) return out;
  if (health.smallFiles >= policy.smallFileThreshold) {
    out.actions.push('rewrite-data-files');
    out.reasons.push(`${health.smallFiles} small files (threshold ${policy.smallFileThreshold})`);
  } else if (health.deleteFiles > 0 && health.deleteFileRatio >= policy.deleteFileRatio) {
    out.actions.push('rewrite-data-files');
    out.reasons.push(`delete file ratio ${health.deleteFileRatio.toFixed(2)} (threshold ${policy.deleteFileRatio})`);
  }
  if (health.snapshots > policy.maxSnapshots) {
    out.actions.push('expire-snapshots');
    out.reasons.push(`${health.snapshots} snapshots (max ${policy.maxSnapshots})`);
  }
  if (health.manifests > policy.maxManifests) {
    out.actions.push('rewrite-manifests');
    out.reasons.push(`${health.manifests} manifests (max ${policy.maxManifests})`);
  }
  if (policy.orphanRemoval) out.actions.push('remove-orphan-files');
  return out;
}

/** tableHealth + the table's policy in one call. */
export async function maintenanceStatus(table: LoadedTable): Promise<{ health: TableHealth; policy: MaintenancePolicy; due: DueActions }> {
  const health = await tableHealth(table);
  const policy = maintenancePolicy(table.metadata.properties);
  return { health, policy, due: dueActions(health, policy) };
}
