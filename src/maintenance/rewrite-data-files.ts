import { isLakehouseError, lakehouseError } from '../core/errors.js';
import {
  FileContent, ManifestContent, type DataFile, type ManifestFile,
} from '../iceberg/manifest-types.js';
import { readManifest, type ManifestReadResult } from '../iceberg/manifest.js';
import { currentSchema, specById, type TableMetadata } from '../iceberg/metadata.js';
import { isUnpartitioned } from '../iceberg/partition.js';
import { indexById } from '../iceberg/schema.js';
import { MAIN_BRANCH } from '../iceberg/snapshot.js';
import { isUnsorted, type SortOrder } from '../iceberg/sort-order.js';
import type { StructType } from '../iceberg/types.js';
import type { IcebergValue, PartitionTuple } from '../iceberg/values.js';
import type { Catalog, LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { ident as q, type Duck } from '../duck/db.js';
import { DEFAULT_TARGET_FILE_SIZE, writeDataFiles } from '../table/data-writer.js';
import { DELETE_FILE_PATH_ID } from '../table/position-delete-writer.js';
import { buildReadSql } from '../table/read-sql.js';
import { filterManifests } from '../table/row-delta.js';
import { partitionKey, planScan, type DataTask, type LiveFile, type ScanPlan } from '../table/scan-planner.js';
import { commitSnapshot, newSnapshotId, writeAddedManifest, type FileChanges } from '../table/snapshot-producer.js';
import { loadedSnapshotOf, resolverOf } from './common.js';

/**
 * Compaction (Java's RewriteDataFiles, bin-pack / sort strategy) as one `replace` snapshot.
 *
 * Planning: the live data files of the branch head are grouped per partition (per spec). In each
 * partition the candidates are files smaller than 75% of the target size and files with at least
 * `deleteFileThreshold` delete files; a partition is rewritten when it has `minInputFiles`
 * candidates, a candidate with deletes, or candidates adding up to the target size. Candidates are
 * read through the normal read path (position and equality deletes applied), optionally sorted,
 * and written with writeDataFiles under the partition's own spec (partition values preserved).
 *
 * Commit: removes the replaced data files and every delete file that no longer applies to any
 * remaining data file. The new files carry the *starting* sequence number (the head's sequence
 * number at planning, Java's `use-starting-sequence-number`), written explicitly in their manifest
 * entries: an equality delete committed concurrently (higher sequence number) still applies to the
 * rewritten rows. On a retry after a concurrent commit a partition group stays only if every file
 * it replaces is still live and gained no new position deletes (new equality deletes are fine, see
 * above); otherwise that group is given up (reported as `conflict`) and the rest committed.
 * Concurrent appends never invalidate anything.
 */
export interface PartitionInfo {
  specId: number;
  partition: PartitionTuple;
  /** Partition values by partition field name. */
  values: Record<string, IcebergValue>;
}

export interface RewriteDataFilesOptions {
  /** Default: `write.target-file-size-bytes` (512 MiB). */
  targetFileSizeBytes?: number;
  /** Candidates a partition needs to be rewritten (default 5). */
  minInputFiles?: number;
  /** Only partitions for which this returns true are considered. */
  partitionFilter?: (p: PartitionInfo) => boolean;
  /** Sort the rewritten rows (default: the table's default sort order; `null` = unsorted). */
  sortOrder?: SortOrder | null;
  /** A file with at least this many applicable delete files is always rewritten (default 1). */
  deleteFileThreshold?: number;
  /** Remove delete files that apply to no remaining data file (default true). */
  removeDanglingDeletes?: boolean;
  branch?: string;
  maxRetries?: number;
}

export type GroupStatus = 'rewritten' | 'conflict' | 'failed';

export interface FileGroupResult {
  specId: number;
  partition: PartitionTuple;
  inputFiles: number;
  inputBytes: bigint;
  inputDeleteFiles: number;
  outputFiles: number;
  outputBytes: bigint;
  status: GroupStatus;
  reason?: string;
}

export interface RewriteDataFilesResult {
  /** The committed snapshot, or null when nothing was committed. */
  snapshotId: bigint | null;
  startingSnapshotId: bigint | null;
  startingSequenceNumber: number | null;
  groups: FileGroupResult[];
  /** Partitions considered and found healthy (nothing to do). */
  skippedPartitions: number;
  rewrittenDataFiles: number;
  addedDataFiles: number;
  removedDeleteFiles: number;
  table: LoadedTable;
}

interface Group {
  key: string;
  specId: number;
  partition: PartitionTuple;
  tasks: DataTask[];
  output: DataFile[] | null;
  result: FileGroupResult;
}

class NothingToCommit extends Error {}

/** Bound sort key of a sort order over the current schema (transforms that preserve order sort by their source). */
function orderBySql(order: SortOrder, md: TableMetadata): string | null {
  const byId = indexById(currentSchema(md));
  const parts: string[] = [];
  for (const f of order.fields) {
    const src = byId.get(f['source-id']);
    if (!src || src.parentId !== null) break;
    const t = f.transform;
    if (t === 'void') continue;
    const monotonic = t === 'identity' || t === 'year' || t === 'month' || t === 'day' || t === 'hour' || t.startsWith('truncate');
    if (!monotonic) break;
    parts.push(`${q(src.field.name)} ${f.direction === 'desc' ? 'DESC' : 'ASC'} ${f['null-order'] === 'nulls-last' ? 'NULLS LAST' : 'NULLS FIRST'}`);
  }
  return parts.length ? parts.join(', ') : null;
}

/** A position delete file's only referenced data file (referenced_data_file, or equal file_path bounds). */
export function referencedDataFile(d: DataFile): string | null {
  if (d.referencedDataFile) return d.referencedDataFile;
  const lo = d.lowerBounds?.get(DELETE_FILE_PATH_ID);
  const hi = d.upperBounds?.get(DELETE_FILE_PATH_ID);
  if (lo && hi && Buffer.from(lo).equals(Buffer.from(hi))) return Buffer.from(lo).toString('utf8');
  return null;
}

/**
 * Delete files of `plan` that apply to no data file once `replaced` are removed and `added`
 * (data sequence number `addedSeq`) are added — the scan planner's applicability rules.
 */
export function danglingDeletes(md: TableMetadata, plan: ScanPlan, replaced: ReadonlySet<string>, added: { specId: number; file: DataFile }[], addedSeq: bigint): LiveFile[] {
  if (md['format-version'] < 2) return [];
  const specs = new Map(md['partition-specs'].map((s) => [s['spec-id'], s]));
  const minOld = new Map<string, bigint>();
  const minAll = new Map<string, bigint>();
  const seqByPath = new Map<string, bigint>();
  let globalMin: bigint | null = null;
  const note = (m: Map<string, bigint>, k: string, s: bigint) => {
    const cur = m.get(k);
    if (cur === undefined || s < cur) m.set(k, s);
  };
  for (const t of plan.tasks) {
    if (replaced.has(t.file.filePath)) continue;
    const k = partitionKey(t.specId, t.file.partition);
    note(minOld, k, t.dataSequenceNumber);
    note(minAll, k, t.dataSequenceNumber);
    seqByPath.set(t.file.filePath, t.dataSequenceNumber);
    if (globalMin === null || t.dataSequenceNumber < globalMin) globalMin = t.dataSequenceNumber;
  }
  for (const a of added) {
    note(minAll, partitionKey(a.specId, a.file.partition), addedSeq);
    if (globalMin === null || addedSeq < globalMin) globalMin = addedSeq;
  }
  const out: LiveFile[] = [];
  for (const d of plan.deleteFiles) {
    let removable: boolean;
    const seq = d.dataSequenceNumber;
    if (d.file.content === FileContent.POSITION_DELETES) {
      // Position deletes only ever name files that existed when they were written: never new ones.
      const ref = referencedDataFile(d.file);
      if (ref !== null) {
        const s = seqByPath.get(ref);
        removable = s === undefined || s > seq;
      } else {
        const m = minOld.get(partitionKey(d.specId, d.file.partition));
        removable = m === undefined || m > seq;
      }
    } else {
      const spec = specs.get(d.specId);
      const m = !spec || isUnpartitioned(spec) ? globalMin : minAll.get(partitionKey(d.specId, d.file.partition));
      removable = m === undefined || m === null || m >= seq;
    }
    if (removable) out.push(d);
  }
  return out;
}

function newDeletesFor(before: DataTask, now: DataTask): LiveFile[] {
  const known = new Set(before.deletes.map((d) => d.file.filePath));
  return now.deletes.filter((d) => {
    if (known.has(d.file.filePath)) return false;
    // Equality deletes committed after planning keep applying to the rewritten rows (their
    // sequence number is above the starting sequence number): no conflict.
    if (d.file.content === FileContent.EQUALITY_DELETES) return false;
    const ref = referencedDataFile(d.file);
    return ref === null || ref === before.file.filePath;
  });
}

export async function rewriteDataFiles(catalog: Catalog, tableIdent: TableIdent, duck: Duck, opts: RewriteDataFilesOptions = {}): Promise<RewriteDataFilesResult> {
  const branch = opts.branch ?? MAIN_BRANCH;
  const base = await catalog.loadTable(tableIdent);
  const md = base.metadata;
  const start = loadedSnapshotOf(base, branch);
  const result: RewriteDataFilesResult = {
    snapshotId: null,
    startingSnapshotId: start?.['snapshot-id'] ?? null,
    startingSequenceNumber: start?.['sequence-number'] ?? null,
    groups: [],
    skippedPartitions: 0,
    rewrittenDataFiles: 0,
    addedDataFiles: 0,
    removedDeleteFiles: 0,
    table: base,
  };
  if (!start) return result;
  const resolve = resolverOf(md);
  const target = opts.targetFileSizeBytes ?? Number(md.properties['write.target-file-size-bytes'] ?? DEFAULT_TARGET_FILE_SIZE);
  const minInput = opts.minInputFiles ?? 5;
  const threshold = Math.max(1, opts.deleteFileThreshold ?? 1);
  const small = BigInt(Math.floor(target * 0.75));
  // Manifests are immutable: parse each once per call, so a commit retry after a concurrent
  // append re-plans by reading only the manifests that append added (a full re-parse per retry
  // is slower than a streaming writer's commit interval, and the compaction would never land).
  const parsed = new Map<string, Promise<ManifestReadResult>>();
  const manifestReader = (file: string, partitionType: StructType | undefined) => {
    let r = parsed.get(file);
    if (!r) {
      r = base.io.read(file).then((bytes) => readManifest(bytes, { file, partitionType }));
      r.catch(() => parsed.delete(file));
      parsed.set(file, r);
    }
    return r;
  };
  const plan = await planScan(md, start, { io: base.io, resolve, manifestReader });

  // ---- planning: one file group per partition
  const byPartition = new Map<string, DataTask[]>();
  for (const t of plan.tasks) {
    const k = partitionKey(t.specId, t.file.partition);
    const list = byPartition.get(k);
    if (list) list.push(t);
    else byPartition.set(k, [t]);
  }
  const groups: Group[] = [];
  for (const [key, tasks] of byPartition) {
    const { specId, file } = tasks[0];
    if (opts.partitionFilter) {
      const spec = specById(md, specId);
      const values: Record<string, IcebergValue> = {};
      spec.fields.forEach((f, i) => (values[f.name] = file.partition[i] ?? null));
      if (!opts.partitionFilter({ specId, partition: file.partition, values })) continue;
    }
    const candidates = tasks.filter((t) => t.file.fileSizeInBytes < small || t.deletes.length >= threshold);
    const withDeletes = candidates.some((t) => t.deletes.length >= threshold);
    const bytes = candidates.reduce((a, t) => a + t.file.fileSizeInBytes, 0n);
    const due = withDeletes || (candidates.length >= 2 && (candidates.length >= minInput || bytes >= BigInt(target)));
    if (!due) {
      result.skippedPartitions++;
      continue;
    }
    groups.push({
      key,
      specId,
      partition: file.partition,
      tasks: candidates,
      output: null,
      result: {
        specId,
        partition: file.partition,
        inputFiles: candidates.length,
        inputBytes: bytes,
        inputDeleteFiles: new Set(candidates.flatMap((t) => t.deletes.map((d) => d.file.filePath))).size,
        outputFiles: 0,
        outputBytes: 0n,
        status: 'failed',
      },
    });
  }
  result.groups = groups.map((g) => g.result);
  if (groups.length === 0) return result;

  // ---- rewriting: read through the normal read path (deletes applied), write under the group's spec
  const order = opts.sortOrder === undefined ? md['sort-orders'].find((o) => o['order-id'] === md['default-sort-order-id']) ?? null : opts.sortOrder;
  const orderBy = order && !isUnsorted(order) ? orderBySql(order, md) : null;
  const schema = currentSchema(md);
  const properties = { ...md.properties, 'write.target-file-size-bytes': String(target) };
  for (const g of groups) {
    try {
      const readSql = await buildReadSql({ duck, io: base.io, metadata: md, schema, tasks: g.tasks });
      const sourceSql = orderBy ? `SELECT * FROM (${readSql}) ORDER BY ${orderBy}` : readSql;
      const files = await writeDataFiles({ duck, io: base.io, location: md.location, schema, spec: specById(md, g.specId), properties, sourceSql });
      g.output = files.map((f) => ({ ...f, sortOrderId: orderBy && order ? order['order-id'] : f.sortOrderId }));
      g.result.outputFiles = g.output.length;
      g.result.outputBytes = g.output.reduce((a, f) => a + f.fileSizeInBytes, 0n);
      g.result.status = 'rewritten';
    } catch (e) {
      g.result.status = 'failed';
      g.result.reason = (e as Error).message;
    }
  }
  const ready = groups.filter((g) => g.output !== null);
  if (ready.length === 0) return result;

  // ---- commit
  const v2 = md['format-version'] >= 2;
  const startingSeq = BigInt(start['sequence-number']);
  const snapshotId = newSnapshotId();
  const changes: FileChanges = { added: [], removed: [] };
  let active: Group[] = ready;
  let toRemove: LiveFile[] = [];
  const written = new Set<string>();
  let used = new Set<string>();
  const addedCache = new Map<string, ManifestFile>();
  const rewrittenCache = new Map<string, ManifestFile>();
  const dropOutput = async (gs: Group[]) => {
    for (const g of gs) for (const f of g.output ?? []) await base.io.delete(f.filePath).catch(() => undefined);
  };
  try {
    const committed = await commitSnapshot(
      catalog,
      tableIdent,
      snapshotId,
      {
        operation: 'replace',
        changes,
        validate: async (b, parent) => {
          if (!parent) {
            for (const g of active) {
              g.result.status = 'conflict';
              g.result.reason = `branch ${branch} no longer exists`;
            }
            throw new NothingToCommit();
          }
          const p = parent['snapshot-id'] === start['snapshot-id'] ? plan : await planScan(b.metadata, parent, { io: b.io, resolve: resolverOf(b.metadata), manifestReader });
          const live = new Map(p.tasks.map((t) => [t.file.filePath, t]));
          const still: Group[] = [];
          for (const g of active) {
            let reason: string | null = null;
            for (const t of g.tasks) {
              const now = live.get(t.file.filePath);
              if (!now) {
                reason = `${t.file.filePath} was removed by a concurrent commit`;
                break;
              }
              const added = newDeletesFor(t, now);
              if (added.length > 0) {
                reason = `concurrent commit added delete file ${added[0].file.filePath} for ${t.file.filePath}`;
                break;
              }
            }
            if (reason === null) still.push(g);
            else {
              g.result.status = 'conflict';
              g.result.reason = reason;
            }
          }
          active = still;
          if (active.length === 0) throw new NothingToCommit();
          const replacedPaths = new Set(active.flatMap((g) => g.tasks.map((t) => t.file.filePath)));
          const replaced = [...replacedPaths].map((path) => live.get(path)!);
          const added = active.flatMap((g) => g.output!.map((file) => ({ specId: g.specId, file })));
          const dangling = opts.removeDanglingDeletes === false ? [] : danglingDeletes(b.metadata, p, replacedPaths, added, startingSeq);
          toRemove = [...replaced, ...dangling];
          changes.added = added.map((a) => a.file);
          changes.removed = toRemove.map((f) => f.file);
        },
        manifests: async (parentManifests, b) => {
          const out: ManifestFile[] = [];
          const bySpec = new Map<number, Group[]>();
          for (const g of active) bySpec.set(g.specId, [...(bySpec.get(g.specId) ?? []), g]);
          for (const [specId, gs] of bySpec) {
            const files = gs.flatMap((g) => g.output!);
            if (files.length === 0) continue;
            const key = `${specId}|${gs.map((g) => g.key).sort().join('\u0000')}`;
            let m = addedCache.get(key);
            if (!m) {
              m = await writeAddedManifest(b, specById(b.metadata, specId), snapshotId, files, ManifestContent.DATA, v2 ? startingSeq : null);
              written.add(m.manifestPath);
              addedCache.set(key, m);
            }
            out.push(m);
          }
          out.push(...(await filterManifests(b, parentManifests, toRemove, snapshotId, rewrittenCache, written)));
          used = new Set(out.map((m) => m.manifestPath));
          return out;
        },
      },
      { branch, maxRetries: opts.maxRetries },
      base,
    );
    for (const p of written) if (!used.has(p)) await base.io.delete(p).catch(() => undefined);
    await dropOutput(ready.filter((g) => !active.includes(g)));
    result.snapshotId = snapshotId;
    result.table = committed;
    result.rewrittenDataFiles = toRemove.filter((f) => f.file.content === FileContent.DATA).length;
    result.removedDeleteFiles = toRemove.length - result.rewrittenDataFiles;
    result.addedDataFiles = changes.added.length;
    return result;
  } catch (e) {
    if (isLakehouseError(e, 'COMMIT_STATE_UNKNOWN')) throw e;
    for (const p of written) await base.io.delete(p).catch(() => undefined);
    await dropOutput(ready);
    if (e instanceof NothingToCommit) {
      result.table = await catalog.loadTable(tableIdent);
      return result;
    }
    // Still losing the race after every retry (a writer committing faster than one attempt takes):
    // yield — the writer must never be the one that fails; the next run tries again.
    if (isLakehouseError(e, 'COMMIT_FAILED')) {
      for (const g of active) {
        g.result.status = 'conflict';
        g.result.reason = `yielded to concurrent commits: ${(e as Error).message}`;
      }
      result.table = await catalog.loadTable(tableIdent);
      return result;
    }
    throw e;
  }
}
