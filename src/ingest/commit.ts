/**
 * The ingestion commit: one fast append whose snapshot summary carries the Kafka offsets the
 * batch consumed. The offsets check and the merge run inside commitSnapshot's optimistic retry
 * loop (its `validate` hook sees every refreshed parent), so a commit lands only if the table's
 * recorded offsets are still what the batch was built on — a concurrent or zombie writer that
 * already committed the same offsets makes this commit fail with OffsetConflictError instead of
 * duplicating rows.
 */
import type { Catalog, LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { specById } from '../iceberg/metadata.js';
import { ManifestContent, type DataFile, type ManifestFile } from '../iceberg/manifest-types.js';
import { commitSnapshot, newSnapshotId, writeAddedManifest } from '../table/snapshot-producer.js';
import { JOB_ID_KEY, offsetsSummary, recordedOffsets, type TopicOffsets } from './offsets.js';

export class OffsetConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OffsetConflictError';
  }
}

export interface OffsetCommit {
  jobId: string;
  topics: string[];
  /**
   * Given the offsets recorded in the parent snapshot, throws OffsetConflictError when the batch
   * no longer applies, else returns the complete offsets to record in the new snapshot.
   */
  resolve(parentOffsets: TopicOffsets): TopicOffsets;
  /** Extra summary properties. */
  summary?: Record<string, string>;
}

export interface OffsetCommitResult {
  table: LoadedTable;
  /** The offsets recorded in the new snapshot. */
  offsets: TopicOffsets;
}

export async function appendWithOffsets(
  catalog: Catalog,
  ident: TableIdent,
  files: DataFile[],
  oc: OffsetCommit,
  initial?: LoadedTable,
): Promise<OffsetCommitResult> {
  const base = initial ?? (await catalog.loadTable(ident));
  const snapshotId = newSnapshotId();
  const spec = specById(base.metadata, base.metadata['default-spec-id']);
  let added: ManifestFile | null = null;
  // commitSnapshot rebuilds the summary from this object on every attempt, after `validate`.
  const summary: Record<string, string> = {};
  let recorded: TopicOffsets = new Map();
  const table = await commitSnapshot(
    catalog,
    ident,
    snapshotId,
    {
      operation: 'append',
      changes: { added: files, removed: [] },
      validate: async (b, parent) => {
        const parentOffsets = recordedOffsets(b.metadata, oc.topics, parent?.['snapshot-id'] ?? null);
        recorded = oc.resolve(parentOffsets);
        for (const k of Object.keys(summary)) delete summary[k];
        Object.assign(summary, oc.summary ?? {}, offsetsSummary(recorded), { [JOB_ID_KEY]: oc.jobId });
      },
      manifests: async (parentManifests, b) => {
        if (files.length === 0) return parentManifests;
        added ??= await writeAddedManifest(b, spec, snapshotId, files, ManifestContent.DATA);
        return [added, ...parentManifests];
      },
    },
    { summary },
    base,
  );
  return { table, offsets: recorded };
}
