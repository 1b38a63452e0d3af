import { randomBytes, randomUUID } from 'node:crypto';
import { isLakehouseError, lakehouseError } from '../core/errors.js';
import { compareValues, toBinary } from '../iceberg/conversions.js';
import { writeManifest } from '../iceberg/manifest.js';
import { writeManifestList } from '../iceberg/manifest-list.js';
import {
  FileContent, ManifestContent, ManifestEntryStatus, type DataFile, type ManifestFile, type PartitionFieldSummary,
} from '../iceberg/manifest-types.js';
import { currentSchema, specById, snapshotById, type TableMetadata } from '../iceberg/metadata.js';
import { partitionType, type PartitionSpec } from '../iceberg/partition.js';
import type { TableRequirement } from '../iceberg/requirements.js';
import { MAIN_BRANCH, type Snapshot, type SnapshotSummary } from '../iceberg/snapshot.js';
import type { TableUpdate } from '../iceberg/updates.js';
import type { StructType } from '../iceberg/types.js';
import type { IcebergValue } from '../iceberg/values.js';
import { identToString, type Catalog, type LoadedTable } from '../catalog/catalog.js';
import { observe } from '../observability/events.js';
import type { TableIdent } from '../catalog/store.js';
import { listManifests } from './scan-planner.js';
import { tableResolver } from './paths.js';

/** A random positive 63-bit snapshot id (Java derives it the same way from a random UUID). */
export function newSnapshotId(): bigint {
  return randomBytes(8).readBigInt64BE() & 0x7fffffffffffffffn;
}

function metadataDir(md: TableMetadata): string {
  return `${md.location.replace(/\/+$/, '')}/metadata`;
}

/** Manifest-list partition summaries (spec "Manifest Lists": field_summary). */
export function partitionSummaries(files: DataFile[], ptype: StructType): PartitionFieldSummary[] {
  return ptype.fields.map((f, i) => {
    let containsNull = false;
    let containsNan = false;
    let lo: IcebergValue = null;
    let hi: IcebergValue = null;
    for (const df of files) {
      const v = df.partition[i] ?? null;
      if (v === null) containsNull = true;
      else if (typeof v === 'number' && Number.isNaN(v)) containsNan = true;
      else {
        if (lo === null || compareValues(f.type, v, lo) < 0) lo = v;
        if (hi === null || compareValues(f.type, v, hi) > 0) hi = v;
      }
    }
    const type = f.type as string;
    return {
      containsNull,
      containsNan,
      lowerBound: lo === null ? null : toBinary(type, lo),
      upperBound: hi === null ? null : toBinary(type, hi),
    };
  });
}

export interface NewManifest {
  file: ManifestFile;
}

/**
 * Writes one manifest of ADDED entries for files produced by snapshot `snapshotId`. Their data
 * sequence number is inherited from the snapshot, unless `dataSequenceNumber` pins it (compaction
 * keeps the sequence number it started from).
 */
export async function writeAddedManifest(
  table: LoadedTable,
  spec: PartitionSpec,
  snapshotId: bigint,
  files: DataFile[],
  content: ManifestContent,
  dataSequenceNumber: bigint | null = null,
): Promise<ManifestFile> {
  const md = table.metadata;
  const schema = currentSchema(md);
  const ptype = partitionType(spec, schema);
  const bytes = writeManifest({
    formatVersion: md['format-version'],
    spec: { specId: spec['spec-id'], fields: spec.fields.map((f) => ({ ...f })) },
    partitionType: ptype,
    schema,
    content,
    entries: files.map((dataFile) => ({ status: ManifestEntryStatus.ADDED, snapshotId, sequenceNumber: dataSequenceNumber, fileSequenceNumber: null, dataFile })),
  });
  const path = `${metadataDir(md)}/${randomUUID()}-m0.avro`;
  await table.io.writeIfAbsent(path, bytes);
  return {
    manifestPath: path,
    manifestLength: BigInt(bytes.length),
    partitionSpecId: spec['spec-id'],
    content,
    // -1: assigned when the manifest list is written (inheritance, spec "Sequence Numbers").
    sequenceNumber: -1n,
    minSequenceNumber: dataSequenceNumber ?? -1n,
    addedSnapshotId: snapshotId,
    addedFilesCount: files.length,
    existingFilesCount: 0,
    deletedFilesCount: 0,
    addedRowsCount: files.reduce((a, f) => a + f.recordCount, 0n),
    existingRowsCount: 0n,
    deletedRowsCount: 0n,
    partitions: partitionSummaries(files, ptype),
  };
}

/**
 * Summary properties a snapshot carries over from its parent unless it sets them itself: the
 * ingestion watermarks (`kafka.offsets.<topic>`, src/ingest/offsets.ts). A job resumes from the
 * newest ones in main's ancestry; without the carry, a compaction or SQL write followed by snapshot
 * expiry could drop every snapshot holding them, and the job would re-read (duplicate) what it had
 * committed. Built per attempt from the actual parent, so a retried commit carries the latest.
 */
export const CARRIED_SUMMARY_PREFIXES: readonly string[] = ['kafka.offsets.'];

/** Java's SnapshotSummary keys: added-*, removed-*, total-*. */
export interface FileChanges {
  added: DataFile[];
  removed: DataFile[];
}

export function buildSummary(operation: SnapshotSummary['operation'], parent: Snapshot | undefined, changes: FileChanges, extra: Record<string, string> = {}): SnapshotSummary {
  const prev = parent?.summary ?? ({} as Record<string, string>);
  const n = (k: string) => BigInt(prev[k] ?? '0');
  const sum = (files: DataFile[], pred: (f: DataFile) => boolean, val: (f: DataFile) => bigint) => files.filter(pred).reduce((a, f) => a + val(f), 0n);
  const isData = (f: DataFile) => f.content === FileContent.DATA;
  const isDelete = (f: DataFile) => f.content !== FileContent.DATA;
  const isPos = (f: DataFile) => f.content === FileContent.POSITION_DELETES;
  const isEq = (f: DataFile) => f.content === FileContent.EQUALITY_DELETES;
  const one = () => 1n;
  const rec = (f: DataFile) => f.recordCount;
  const size = (f: DataFile) => f.fileSizeInBytes;
  const s: Record<string, string> = { operation };
  const put = (k: string, v: bigint) => {
    if (v !== 0n) s[k] = v.toString();
  };
  put('added-data-files', sum(changes.added, isData, one));
  put('deleted-data-files', sum(changes.removed, isData, one));
  put('added-delete-files', sum(changes.added, isDelete, one));
  put('removed-delete-files', sum(changes.removed, isDelete, one));
  put('added-records', sum(changes.added, isData, rec));
  put('deleted-records', sum(changes.removed, isData, rec));
  put('added-files-size', sum(changes.added, () => true, size));
  put('removed-files-size', sum(changes.removed, () => true, size));
  put('added-position-deletes', sum(changes.added, isPos, rec));
  put('added-equality-deletes', sum(changes.added, isEq, rec));
  const parts = new Set([...changes.added, ...changes.removed].map((f) => JSON.stringify(f.partition, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))));
  s['changed-partition-count'] = String(parts.size);
  s['total-records'] = (n('total-records') + sum(changes.added, isData, rec) - sum(changes.removed, isData, rec)).toString();
  s['total-files-size'] = (n('total-files-size') + sum(changes.added, () => true, size) - sum(changes.removed, () => true, size)).toString();
  s['total-data-files'] = (n('total-data-files') + sum(changes.added, isData, one) - sum(changes.removed, isData, one)).toString();
  s['total-delete-files'] = (n('total-delete-files') + sum(changes.added, isDelete, one) - sum(changes.removed, isDelete, one)).toString();
  s['total-position-deletes'] = (n('total-position-deletes') + sum(changes.added, isPos, rec) - sum(changes.removed, isPos, rec)).toString();
  s['total-equality-deletes'] = (n('total-equality-deletes') + sum(changes.added, isEq, rec) - sum(changes.removed, isEq, rec)).toString();
  for (const [k, v] of Object.entries(prev)) if (v !== undefined && CARRIED_SUMMARY_PREFIXES.some((p) => k.startsWith(p))) s[k] = v;
  return { ...s, ...extra, operation } as SnapshotSummary;
}

export interface CommitSnapshotOptions {
  branch?: string;
  /** Extra summary properties (e.g. Kafka offsets for exactly-once ingestion). */
  summary?: Record<string, string>;
  maxRetries?: number;
}

export interface SnapshotPlan {
  operation: SnapshotSummary['operation'];
  /** Manifests of the new snapshot, given the parent's manifests (called again after a conflict). */
  manifests(parentManifests: ManifestFile[], base: LoadedTable): Promise<ManifestFile[]>;
  changes: FileChanges;
  /** Checks that the plan still holds on a refreshed base (e.g. deleted files still live). */
  validate?(base: LoadedTable, parent: Snapshot | undefined): Promise<void>;
}

function retryDelay(attempt: number): number {
  const base = Math.min(1000, 5 * 2 ** attempt);
  return base / 2 + Math.random() * base;
}

/**
 * Commits a new snapshot with optimistic concurrency: on COMMIT_FAILED the table is reloaded and
 * the snapshot rebuilt on the new head (data files and their manifests are reused; only the
 * manifest list is rewritten), as Java's SnapshotProducer does.
 */
export async function commitSnapshot(
  catalog: Catalog,
  ident: TableIdent,
  snapshotId: bigint,
  plan: SnapshotPlan,
  opts: CommitSnapshotOptions = {},
  initial?: LoadedTable,
): Promise<LoadedTable> {
  const branch = opts.branch ?? MAIN_BRANCH;
  const maxRetries = opts.maxRetries ?? 50;
  let base = initial ?? (await catalog.loadTable(ident));
  for (let attempt = 0; ; attempt++) {
    const md = base.metadata;
    const ref = md.refs[branch];
    if (ref && ref.type !== 'branch') throw lakehouseError('VALIDATION_FAILED', `${branch} is a tag, not a branch`);
    const parent = ref ? snapshotById(md, ref['snapshot-id']) : undefined;
    let manifests: ManifestFile[];
    try {
      await plan.validate?.(base, parent);
      const parentManifests = parent ? await listManifests(md, parent, base.io, tableResolver(base)) : [];
      manifests = await plan.manifests(parentManifests, base);
    } catch (e) {
      // A base that fell behind may have had its snapshot expired (and its manifest list and
      // manifests deleted) by a concurrent expiry: that is a conflict, not a missing file, when
      // the branch has moved on. A file missing from the current head is a real error.
      if (!isLakehouseError(e, 'FILE_NOT_FOUND') || attempt >= maxRetries) throw e;
      const fresh = await catalog.loadTable(ident);
      if ((fresh.metadata.refs[branch]?.['snapshot-id'] ?? null) === (parent?.['snapshot-id'] ?? null)) throw e;
      observe({ type: 'catalog.retry', table: identToString(ident) });
      base = fresh;
      continue;
    }
    const sequenceNumber = md['format-version'] >= 2 ? md['last-sequence-number'] + 1 : 0;
    const listBytes = writeManifestList({
      formatVersion: md['format-version'],
      snapshotId,
      parentSnapshotId: parent?.['snapshot-id'] ?? null,
      sequenceNumber: BigInt(sequenceNumber),
      manifests,
    });
    const listPath = `${metadataDir(md)}/snap-${snapshotId}-${attempt + 1}-${randomUUID()}.avro`;
    await base.io.writeIfAbsent(listPath, listBytes);
    const snapshot: Snapshot = {
      'snapshot-id': snapshotId,
      'sequence-number': sequenceNumber,
      'timestamp-ms': Math.max(Date.now(), md['last-updated-ms']),
      'manifest-list': listPath,
      summary: buildSummary(plan.operation, parent, plan.changes, opts.summary),
      'schema-id': md['current-schema-id'],
    };
    if (parent) snapshot['parent-snapshot-id'] = parent['snapshot-id'];
    const updates: TableUpdate[] = [
      { action: 'add-snapshot', snapshot },
      { action: 'set-snapshot-ref', 'ref-name': branch, type: 'branch', 'snapshot-id': snapshotId },
    ];
    const requirements: TableRequirement[] = [
      { type: 'assert-table-uuid', uuid: md['table-uuid'] },
      { type: 'assert-ref-snapshot-id', ref: branch, 'snapshot-id': parent?.['snapshot-id'] ?? null },
    ];
    try {
      return await catalog.commitTable(ident, { requirements, updates });
    } catch (e) {
      // Only a commit known not to have happened may clean up: after COMMIT_STATE_UNKNOWN the
      // pointer may already reference this manifest list.
      if (isLakehouseError(e, 'COMMIT_STATE_UNKNOWN')) throw e;
      await base.io.delete(listPath).catch(() => undefined);
      if (!isLakehouseError(e, 'COMMIT_FAILED') || attempt >= maxRetries) throw e;
      observe({ type: 'catalog.retry', table: identToString(ident) });
      await new Promise((r) => setTimeout(r, retryDelay(attempt)));
      base = await catalog.loadTable(ident);
    }
  }
}

/** Fast append (Java's AppendFiles): one new manifest, parent manifests carried over. */
export async function fastAppend(catalog: Catalog, ident: TableIdent, files: DataFile[], opts: CommitSnapshotOptions = {}, initial?: LoadedTable): Promise<LoadedTable> {
  const base = initial ?? (await catalog.loadTable(ident));
  const snapshotId = newSnapshotId();
  const spec = specById(base.metadata, base.metadata['default-spec-id']);
  let added: ManifestFile | null = null;
  try {
    return await commitSnapshot(
      catalog,
      ident,
      snapshotId,
      {
        operation: 'append',
        changes: { added: files, removed: [] },
        manifests: async (parentManifests, b) => {
          if (files.length === 0) return parentManifests;
          added ??= await writeAddedManifest(b, spec, snapshotId, files, ManifestContent.DATA);
          return [added, ...parentManifests];
        },
      },
      opts,
      base,
    );
  } catch (e) {
    // A definite failure removes the manifest this append wrote (the data files stay the
    // caller's); an unknown outcome keeps everything.
    if (added && !isLakehouseError(e, 'COMMIT_STATE_UNKNOWN')) {
      await base.io.delete((added as ManifestFile).manifestPath).catch(() => undefined);
    }
    throw e;
  }
}
