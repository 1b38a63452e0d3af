import { lakehouseError } from '../core/errors.js';
import type { FileIO } from '../storage/fileio.js';
import { readManifest, type ManifestReadResult } from '../iceberg/manifest.js';
import { readManifestList } from '../iceberg/manifest-list.js';
import {
  FileContent, ManifestContent, ManifestEntryStatus, type DataFile, type ManifestFile,
} from '../iceberg/manifest-types.js';
import { partitionType, isUnpartitioned, type PartitionSpec } from '../iceberg/partition.js';
import type { TableMetadata } from '../iceberg/metadata.js';
import type { Snapshot } from '../iceberg/snapshot.js';
import type { NestedField, StructType } from '../iceberg/types.js';
import type { PathResolver } from './paths.js';

/** A live file of a snapshot with its inherited sequence number (spec "Sequence Number Inheritance"). */
export interface LiveFile {
  file: DataFile;
  /** Location to read from (after path resolution). */
  location: string;
  specId: number;
  dataSequenceNumber: bigint;
  snapshotId: bigint;
  manifestPath: string;
}

export interface DataTask extends LiveFile {
  deletes: LiveFile[];
}

export interface ScanPlan {
  tasks: DataTask[];
  deleteFiles: LiveFile[];
  manifests: ManifestFile[];
  stats: { manifestsRead: number; manifestsSkipped: number; dataFiles: number; deleteFiles: number; filesPruned: number };
}

export interface PlanOptions {
  io: FileIO;
  resolve: PathResolver;
  /** Manifest-level pruning: return false to skip a manifest. */
  manifestFilter?: (m: ManifestFile, spec: PartitionSpec) => boolean;
  /** File-level pruning on partition values and column statistics. */
  fileFilter?: (f: DataFile, spec: PartitionSpec) => boolean;
  concurrency?: number;
  /**
   * Reads and parses one manifest (default: io.read + readManifest). Manifests are immutable, so a
   * caller that plans the same table again and again within one operation (a commit retry loop)
   * can memoize by location; parsing dominates planning cost.
   */
  manifestReader?: (file: string, partitionType: StructType | undefined) => Promise<ManifestReadResult>;
}

/** All fields ever defined, newest definition winning, so dropped partition sources still type. */
function allFieldsSchema(md: TableMetadata): StructType {
  const byId = new Map<number, NestedField>();
  const ordered = [...md.schemas].sort((a, b) => (a['schema-id'] === md['current-schema-id'] ? 1 : b['schema-id'] === md['current-schema-id'] ? -1 : a['schema-id'] - b['schema-id']));
  for (const s of ordered) for (const f of s.fields) byId.set(f.id, f);
  return { type: 'struct', fields: [...byId.values()] };
}

export async function listManifests(md: TableMetadata, snapshot: Snapshot, io: FileIO, resolve: PathResolver): Promise<ManifestFile[]> {
  if (snapshot['manifest-list']) {
    const file = resolve(snapshot['manifest-list']);
    return readManifestList(await io.read(file), { file });
  }
  // v1 snapshots may list manifests inline; their counts are unknown until read.
  return (snapshot.manifests ?? []).map((p) => ({
    manifestPath: p, manifestLength: 0n, partitionSpecId: 0, content: ManifestContent.DATA,
    sequenceNumber: 0n, minSequenceNumber: 0n, addedSnapshotId: snapshot['snapshot-id'],
    addedFilesCount: 0, existingFilesCount: 0, deletedFilesCount: 0,
    addedRowsCount: 0n, existingRowsCount: 0n, deletedRowsCount: 0n,
  }));
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  });
  await Promise.all(workers);
  return out;
}

/** Reads every live (not DELETED) entry of a snapshot's manifests, with inherited sequence numbers. */
export async function readLiveFiles(md: TableMetadata, manifests: ManifestFile[], opts: PlanOptions): Promise<{ files: LiveFile[]; read: number; skipped: number; pruned: number }> {
  const schema = allFieldsSchema(md);
  const specs = new Map(md['partition-specs'].map((s) => [s['spec-id'], s]));
  const partitionTypes = new Map<number, StructType | undefined>();
  for (const [id, spec] of specs) {
    try {
      partitionTypes.set(id, partitionType(spec, schema));
    } catch {
      partitionTypes.set(id, undefined);
    }
  }
  let skipped = 0;
  let pruned = 0;
  const selected = manifests.filter((m) => {
    const spec = specs.get(m.partitionSpecId);
    if (spec && opts.manifestFilter && !opts.manifestFilter(m, spec)) {
      skipped++;
      return false;
    }
    return true;
  });
  const perManifest = await mapLimit(selected, opts.concurrency ?? 16, async (m) => {
    const file = opts.resolve(m.manifestPath);
    const pt = partitionTypes.get(m.partitionSpecId);
    const { entries, meta } = opts.manifestReader ? await opts.manifestReader(file, pt) : readManifest(await opts.io.read(file), { file, partitionType: pt });
    const specId = meta?.partitionSpecId ?? m.partitionSpecId;
    const spec = specs.get(specId);
    if (!spec) throw lakehouseError('INVALID_METADATA', `manifest uses unknown partition spec ${specId}`, { file });
    const out: LiveFile[] = [];
    for (const e of entries) {
      if (e.status === ManifestEntryStatus.DELETED) continue;
      if (opts.fileFilter && e.dataFile.content === FileContent.DATA && !opts.fileFilter(e.dataFile, spec)) {
        pruned++;
        continue;
      }
      const seq = e.sequenceNumber ?? (e.status === ManifestEntryStatus.ADDED || md['format-version'] === 1 ? m.sequenceNumber : null);
      if (seq === null) throw lakehouseError('INVALID_METADATA', `EXISTING entry without a sequence number: ${e.dataFile.filePath}`, { file });
      out.push({
        file: e.dataFile,
        location: opts.resolve(e.dataFile.filePath),
        specId,
        dataSequenceNumber: seq,
        snapshotId: e.snapshotId ?? m.addedSnapshotId,
        manifestPath: m.manifestPath,
      });
    }
    return out;
  });
  return { files: perManifest.flat(), read: selected.length, skipped, pruned };
}

export function partitionKey(specId: number, tuple: readonly unknown[]): string {
  return `${specId}|${tuple
    .map((v) => (v === null || v === undefined ? '\u0000null' : v instanceof Uint8Array ? `b:${Buffer.from(v).toString('hex')}` : `${typeof v}:${String(v)}`))
    .join('|')}`;
}

/**
 * Plans a snapshot scan: live data files with the delete files that apply to each (spec "Scan
 * Planning"): a position delete applies to data files with data sequence number ≤ its own, in the
 * same partition (or the file it references); an equality delete to data files with a strictly
 * lower data sequence number, in the same partition — or everywhere when its spec is unpartitioned.
 */
export async function planScan(md: TableMetadata, snapshot: Snapshot, opts: PlanOptions): Promise<ScanPlan> {
  const manifests = await listManifests(md, snapshot, opts.io, opts.resolve);
  const { files, read, skipped, pruned } = await readLiveFiles(md, manifests, opts);
  const data = files.filter((f) => f.file.content === FileContent.DATA);
  const deletes = files.filter((f) => f.file.content !== FileContent.DATA);
  const specs = new Map(md['partition-specs'].map((s) => [s['spec-id'], s]));

  const posByPartition = new Map<string, LiveFile[]>();
  const posByFile = new Map<string, LiveFile[]>();
  const eqByPartition = new Map<string, LiveFile[]>();
  const eqGlobal: LiveFile[] = [];
  for (const d of deletes) {
    if (d.file.content === FileContent.POSITION_DELETES) {
      if (d.file.referencedDataFile) push(posByFile, d.file.referencedDataFile, d);
      else push(posByPartition, partitionKey(d.specId, d.file.partition), d);
    } else {
      const spec = specs.get(d.specId);
      if (!spec || isUnpartitioned(spec)) eqGlobal.push(d);
      else push(eqByPartition, partitionKey(d.specId, d.file.partition), d);
    }
  }
  const tasks: DataTask[] = data.map((f) => {
    const key = partitionKey(f.specId, f.file.partition);
    const applicable: LiveFile[] = [];
    for (const d of [...(posByPartition.get(key) ?? []), ...(posByFile.get(f.file.filePath) ?? [])]) {
      if (f.dataSequenceNumber <= d.dataSequenceNumber) applicable.push(d);
    }
    for (const d of [...(eqByPartition.get(key) ?? []), ...eqGlobal]) {
      if (f.dataSequenceNumber < d.dataSequenceNumber) applicable.push(d);
    }
    return { ...f, deletes: applicable };
  });
  return {
    tasks,
    deleteFiles: deletes,
    manifests,
    stats: { manifestsRead: read, manifestsSkipped: skipped, dataFiles: data.length, deleteFiles: deletes.length, filesPruned: pruned },
  };
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
