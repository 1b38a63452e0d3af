/**
 * Quarantine: a batch whose quality is in doubt is committed to a branch of its table instead of
 * `main` — written and committed exactly like an append (so nothing is lost and it can be
 * inspected with `FOR VERSION AS OF '<branch>'` or the `$refs` metadata table), but invisible to
 * readers of `main`. The branch forks from main's head the first time; later quarantined batches
 * stack on it. Each quarantine snapshot's summary says why (`lakehouse.quarantine.*`).
 *
 * An exactly-once ingestion job keeps its source offsets in main's snapshot summaries, so when it
 * quarantines a batch it must still move main's offsets past it (an append of no files carrying
 * the offsets), or the batch would be replayed on restart.
 */
import type { Catalog, LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { isLakehouseError, lakehouseError } from '../core/errors.js';
import type { DataFile } from '../iceberg/manifest-types.js';
import type { Duck } from '../duck/db.js';
import { currentSchema, currentSnapshot, defaultSpec } from '../iceberg/metadata.js';
import { MAIN_BRANCH } from '../iceberg/snapshot.js';
import { writeDataFiles } from '../table/data-writer.js';
import { fastAppend } from '../table/snapshot-producer.js';
import { createBranch } from '../table/table-admin.js';

export const DEFAULT_QUARANTINE_BRANCH = 'quarantine';

export interface QuarantineOptions {
  branch?: string;
  reason: string;
  batchId?: string | null;
  /** Extra snapshot summary properties (e.g. the job's source offsets). */
  summary?: Record<string, string>;
}

export interface QuarantineResult {
  branch: string;
  snapshotId: bigint;
  dataFiles: number;
  rows: number;
  table: LoadedTable;
}

/** Writes the relation's rows (columns named like the table's) as one snapshot on the quarantine branch. */
export async function quarantineBatch(catalog: Catalog, ident: TableIdent, duck: Duck, relation: string, opts: QuarantineOptions): Promise<QuarantineResult> {
  const table = await catalog.loadTable(ident);
  const md = table.metadata;
  const files = await writeDataFiles({
    duck,
    io: table.io,
    location: md.location,
    schema: currentSchema(md),
    spec: defaultSpec(md),
    properties: md.properties,
    sourceSql: `SELECT * FROM ${relation}`,
  });
  try {
    return await quarantineFiles(catalog, ident, files, opts);
  } catch (e) {
    if (!isLakehouseError(e, 'COMMIT_STATE_UNKNOWN')) await Promise.all(files.map((f) => table.io.delete(f.filePath).catch(() => undefined)));
    throw e;
  }
}

/**
 * Commits data files already written for the table (an ingestion job's batch) to the quarantine
 * branch, creating the branch at main's head when it does not exist. The files stay the caller's
 * to remove after a definite failure.
 */
export async function quarantineFiles(catalog: Catalog, ident: TableIdent, files: DataFile[], opts: QuarantineOptions): Promise<QuarantineResult> {
  const branch = opts.branch ?? DEFAULT_QUARANTINE_BRANCH;
  if (branch === MAIN_BRANCH) throw lakehouseError('VALIDATION_FAILED', 'the quarantine branch cannot be main');
  let table = await catalog.loadTable(ident);
  if (!table.metadata.refs[branch] && currentSnapshot(table.metadata)) {
    try {
      table = await createBranch(catalog, ident, branch);
    } catch (e) {
      // Another writer created it meanwhile: fine, stack on theirs.
      if (!isLakehouseError(e, 'ALREADY_EXISTS')) throw e;
      table = await catalog.loadTable(ident);
    }
  }
  const summary: Record<string, string> = { ...opts.summary, 'lakehouse.quarantine.reason': opts.reason.slice(0, 2000) };
  if (opts.batchId) summary['lakehouse.quarantine.batch-id'] = opts.batchId;
  const committed = await fastAppend(catalog, ident, files, { branch, summary }, table);
  const head = committed.metadata.refs[branch]['snapshot-id'];
  return { branch, snapshotId: head, dataFiles: files.length, rows: files.reduce((a, f) => a + Number(f.recordCount), 0), table: committed };
}
