import { randomUUID } from 'node:crypto';
import { isLakehouseError, lakehouseError } from '../core/errors.js';
import { inheritManifestMetadata, readManifest, writeManifest } from '../iceberg/manifest.js';
import { UNASSIGNED_SEQUENCE_NUMBER } from '../iceberg/manifest-list.js';
import {
  FileContent, ManifestContent, ManifestEntryStatus, type DataFile, type ManifestEntry, type ManifestFile,
} from '../iceberg/manifest-types.js';
import { currentSchema, defaultSpec, snapshotById, specById, type TableMetadata } from '../iceberg/metadata.js';
import { partitionType } from '../iceberg/partition.js';
import { indexById, type Schema } from '../iceberg/schema.js';
import { MAIN_BRANCH, type Snapshot, type SnapshotSummary } from '../iceberg/snapshot.js';
import type { NestedField, StructType } from '../iceberg/types.js';
import type { Catalog, LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { ident, str, type Duck } from '../duck/db.js';
import { readParquetSchemas, type ParquetFileSchema } from '../duck/parquet-schema.js';
import { FileKeys, encryptedFileSchema } from '../security/encryption/parquet-encryption.js';
import { projectFile } from '../duck/projection.js';
import { sqlLiteral } from '../duck/types.js';
import { writeDataFiles } from './data-writer.js';
import { findAnyField, initialDefaults, readNameMapping } from './read-sql.js';
import { tableResolver } from './paths.js';
import { writePositionDeleteFile } from './position-delete-writer.js';
import { partitionKey, planScan, type DataTask, type LiveFile, type ScanPlan } from './scan-planner.js';
import {
  commitSnapshot, newSnapshotId, partitionSummaries, writeAddedManifest, type CommitSnapshotOptions, type FileChanges,
} from './snapshot-producer.js';

/**
 * Row-level writes (Java's RowDelta / OverwriteFiles / DeleteFiles): delete by a SQL filter,
 * overwrite by a filter, replace the whole table. Each is one snapshot committed through
 * `commitSnapshot`, so it retries on conflicts. For every live data file the filter is evaluated
 * on the rows still live (existing position/equality deletes applied):
 *   - no row matches: the file is untouched (its manifest carried over unchanged);
 *   - every live row matches: the file is removed (its manifest rewritten with a DELETED entry,
 *     the other entries carried as EXISTING with their sequence numbers and snapshot ids);
 *   - some rows match: merge-on-read writes a position delete file (v2), copy-on-write (v1, or
 *     `write.delete.mode=copy-on-write`) rewrites the surviving rows into a new data file.
 * On retry after a conflict the files this operation touches must still be live (else
 * COMMIT_FAILED: a concurrent delete/compaction got there first); files partly deleted or
 * rewritten must also have gained no new delete files. Concurrent appends do not conflict.
 */
export type DeleteMode = 'merge-on-read' | 'copy-on-write';

export interface RowDeltaOptions extends CommitSnapshotOptions {
  /** Default: `write.delete.mode` (merge-on-read when unset); v1 tables always copy-on-write. */
  mode?: DeleteMode;
  /** One position delete file per data file (default, Java ≥1.8) or per partition. Default: `write.delete.granularity`. */
  granularity?: 'file' | 'partition';
}

const POS_COL = '__lh_pos';
const TASK_COL = '__lh_task';
const col = (id: number) => ident(`_f${id}`);

// ---------------------------------------------------------------------------------------------
// Live rows of a data file, as SQL (columns named like the schema, plus the row position).
// ---------------------------------------------------------------------------------------------

class LiveRows {
  private constructor(
    private readonly md: TableMetadata,
    private readonly schema: Schema,
    private readonly local: Map<string, string>,
    private readonly parquet: Map<string, ParquetFileSchema>,
    private readonly keys: FileKeys,
  ) {}

  static async open(duck: Duck, table: LoadedTable, tasks: DataTask[]): Promise<LiveRows> {
    const files = new Map<string, LiveFile>();
    for (const t of tasks) {
      files.set(t.location, t);
      for (const d of t.deletes) files.set(d.location, d);
    }
    const local = new Map<string, string>();
    await Promise.all([...files.keys()].map(async (loc) => local.set(loc, await table.io.localPath(loc))));
    // Encrypted files: keys registered, schemas from the table (see read-sql.ts).
    const keys = await FileKeys.register(duck, [...files.values()]);
    const plain = [...files.keys()].filter((loc) => !keys.has(loc)).map((loc) => local.get(loc)!);
    const parquet = await readParquetSchemas(duck, [...new Set(plain)]);
    return new LiveRows(table.metadata, currentSchema(table.metadata), local, parquet, keys);
  }

  private schemaOf(f: LiveFile): ParquetFileSchema {
    const s = this.keys.has(f.location) ? encryptedFileSchema(this.md, this.keys.schemaIdOf(f.location), f.location) : this.parquet.get(this.local.get(f.location)!);
    if (!s) throw lakehouseError('CORRUPT_FILE', 'no Parquet schema read', { file: f.location });
    return s;
  }

  /** `SELECT <fields by name>, __lh_pos FROM <file> WHERE <not already deleted>`. */
  sql(task: DataTask): string {
    const md = this.md;
    const fields = this.schema.fields;
    const byId = indexById(this.schema);
    const nameMapping = readNameMapping(md, this.schema);
    const defaults = initialDefaults(this.schema);
    const extra = new Map<number, NestedField>();
    for (const d of task.deletes) {
      for (const id of d.file.equalityIds ?? []) {
        if (!fields.some((f) => f.id === id)) {
          const f = findAnyField(md, id);
          if (f) extra.set(id, f);
        }
      }
    }
    const inner = [...fields, ...extra.values()];
    const constants = new Map<number, string>();
    const spec = md['partition-specs'].find((s) => s['spec-id'] === task.specId);
    spec?.fields.forEach((pf, i) => {
      const target = byId.get(pf['source-id']);
      if (pf.transform === 'identity' && target && target.parentId === null) {
        constants.set(pf['source-id'], sqlLiteral(target.field.type, task.file.partition[i] ?? null));
      }
    });
    const proj = projectFile(inner, this.schemaOf(task).root, 'src', { constants, defaults, nameMapping });
    const select = proj.map((p) => `${p.sql} AS ${col(p.field.id)}`).join(', ');
    const conds: string[] = [];
    const pos = task.deletes.filter((d) => d.file.content === FileContent.POSITION_DELETES);
    if (pos.length > 0) {
      const files = this.keys.readAll(pos.map((d) => ({ location: d.location, local: this.local.get(d.location)! })));
      conds.push(`NOT EXISTS (SELECT 1 FROM ${files} p WHERE p.file_path = ${str(task.file.filePath)} AND p.pos = d.${POS_COL})`);
    }
    for (const e of task.deletes.filter((d) => d.file.content === FileContent.EQUALITY_DELETES)) {
      const eqFields = (e.file.equalityIds ?? []).map((id) => inner.find((f) => f.id === id)).filter((f): f is NestedField => !!f);
      if (eqFields.length === 0) continue;
      const eproj = projectFile(eqFields, this.schemaOf(e).root, 'src', { nameMapping });
      const esql = `SELECT ${eproj.map((p) => `${p.sql} AS ${col(p.field.id)}`).join(', ')} FROM read_parquet(${str(this.local.get(e.location)!)}${this.keys.option(e.location)}) src`;
      conds.push(`NOT EXISTS (SELECT 1 FROM (${esql}) e WHERE ${eqFields.map((f) => `e.${col(f.id)} IS NOT DISTINCT FROM d.${col(f.id)}`).join(' AND ')})`);
    }
    const outer = fields.map((f) => `d.${col(f.id)} AS ${ident(f.name)}`).join(', ');
    return (
      `SELECT ${outer}, d.${POS_COL} FROM (SELECT ${select}, src.file_row_number AS ${POS_COL} ` +
      `FROM read_parquet(${str(this.local.get(task.location)!)}, file_row_number = true${this.keys.option(task.location)}) src) d` +
      (conds.length ? ` WHERE ${conds.join(' AND ')}` : '')
    );
  }

  /** The live rows minus the deleted ones, with the schema's columns only. */
  survivorsSql(task: DataTask, predicateSql: string): string {
    return `SELECT * EXCLUDE (${POS_COL}) FROM (${this.sql(task)}) WHERE NOT coalesce((${predicateSql}), false)`;
  }
}


// ---------------------------------------------------------------------------------------------
// Manifest rewriting.
// ---------------------------------------------------------------------------------------------

/**
 * One manifest holding the live entries of `manifests` (all of one partition spec and content),
 * with the files in `remove` marked DELETED for snapshot `snapshotId` and the rest EXISTING with
 * their original snapshot ids and sequence numbers (Java's ManifestFilterManager); entries
 * already DELETED are dropped. Merging
 * keeps a compaction of many small commits from writing one manifest per manifest it touches
 * (Java's MergingSnapshotProducer merges them the same way).
 */
export async function rewriteManifestsRemoving(table: LoadedTable, manifests: readonly ManifestFile[], remove: ReadonlySet<string>, snapshotId: bigint): Promise<{ file: ManifestFile; removed: DataFile[] }> {
  const md = table.metadata;
  const first = manifests[0];
  if (!first || manifests.some((m) => m.partitionSpecId !== first.partitionSpecId || m.content !== first.content)) {
    throw lakehouseError('INTERNAL', 'manifests merged into one must share a partition spec and content');
  }
  const schema = currentSchema(md);
  const spec = specById(md, first.partitionSpecId);
  let ptype;
  try {
    ptype = partitionType(spec, schema);
  } catch {
    ptype = undefined;
  }
  const resolve = tableResolver(table);
  const out: ManifestEntry[] = [];
  const removed: DataFile[] = [];
  let existingFiles = 0;
  let existingRows = 0n;
  let deletedRows = 0n;
  let minSeq: bigint | null = null;
  let manifestPartitionType: StructType | undefined;
  for (const manifest of manifests) {
    const path = resolve(manifest.manifestPath);
    const { entries, meta } = readManifest(await table.io.read(path), { file: path, partitionType: ptype });
    manifestPartitionType ??= meta.partitionType;
    for (const e of inheritManifestMetadata(entries, manifest)) {
      if (e.status === ManifestEntryStatus.DELETED) continue;
      if (remove.has(e.dataFile.filePath)) {
        out.push({ ...e, status: ManifestEntryStatus.DELETED, snapshotId });
        removed.push(e.dataFile);
        deletedRows += e.dataFile.recordCount;
      } else {
        out.push({ ...e, status: ManifestEntryStatus.EXISTING });
        existingFiles++;
        existingRows += e.dataFile.recordCount;
        if (e.sequenceNumber !== null && (minSeq === null || e.sequenceNumber < minSeq)) minSeq = e.sequenceNumber;
      }
    }
  }
  const bytes = writeManifest({
    formatVersion: md['format-version'],
    spec: { specId: spec['spec-id'], fields: spec.fields.map((f) => ({ ...f })) },
    partitionType: manifestPartitionType!,
    schema,
    content: first.content,
    entries: out,
  });
  const newPath = `${md.location.replace(/\/+$/, '')}/metadata/${randomUUID()}-m1.avro`;
  await table.io.writeIfAbsent(newPath, bytes);
  return {
    removed,
    file: {
      manifestPath: newPath,
      manifestLength: BigInt(bytes.length),
      partitionSpecId: spec['spec-id'],
      content: first.content,
      sequenceNumber: UNASSIGNED_SEQUENCE_NUMBER,
      minSequenceNumber: minSeq ?? UNASSIGNED_SEQUENCE_NUMBER,
      addedSnapshotId: snapshotId,
      addedFilesCount: 0,
      existingFilesCount: existingFiles,
      deletedFilesCount: removed.length,
      addedRowsCount: 0n,
      existingRowsCount: existingRows,
      deletedRowsCount: deletedRows,
      partitions: partitionSummaries(out.map((e) => e.dataFile), manifestPartitionType!),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Committing a row delta.
// ---------------------------------------------------------------------------------------------

interface AddedFile {
  specId: number;
  file: DataFile;
}

interface RowDeltaCommit {
  operation: SnapshotSummary['operation'];
  added: AddedFile[];
  /**
   * The live files (data or delete) to remove, chosen on the plan of the snapshot the commit is
   * built on (`plan` null: the branch has no snapshot). Throws COMMIT_FAILED when the operation
   * no longer applies.
   */
  remove(plan: ScanPlan | null, rebased: boolean): LiveFile[];
}

/**
 * The parent's manifests with `toRemove` marked DELETED: every manifest that loses files is merged
 * with the others of its spec and content into one rewritten manifest (entries keep their sequence
 * numbers), as Java's MergingSnapshotProducer does, so removing files from N small commits writes
 * a handful of manifests rather than N; manifests holding only DELETED entries of an earlier
 * snapshot are dropped. `cache` keeps rewrites across commit retries; new paths go to `written`.
 */
export async function filterManifests(
  table: LoadedTable,
  parentManifests: readonly ManifestFile[],
  toRemove: readonly LiveFile[],
  snapshotId: bigint,
  cache: Map<string, ManifestFile>,
  written: Set<string>,
): Promise<ManifestFile[]> {
  const byManifest = new Map<string, Set<string>>();
  for (const f of toRemove) {
    const set = byManifest.get(f.manifestPath) ?? new Set<string>();
    set.add(f.file.filePath);
    byManifest.set(f.manifestPath, set);
  }
  const out: ManifestFile[] = [];
  const touched = new Map<string, ManifestFile[]>();
  for (const m of parentManifests) {
    if (byManifest.has(m.manifestPath)) {
      const k = `${m.partitionSpecId}|${m.content}`;
      touched.set(k, [...(touched.get(k) ?? []), m]);
    } else if (m.addedFilesCount === 0 && m.existingFilesCount === 0 && m.deletedFilesCount > 0) {
      continue;
    } else {
      out.push(m);
    }
  }
  let found = 0;
  for (const group of touched.values()) {
    const remove = new Set<string>();
    for (const m of group) for (const f of byManifest.get(m.manifestPath)!) remove.add(f);
    const key = `${group.map((m) => m.manifestPath).sort().join('\u0000')}\u0001${[...remove].sort().join('\u0000')}`;
    let nm = cache.get(key);
    if (!nm) {
      const r = await rewriteManifestsRemoving(table, group, remove, snapshotId);
      if (r.removed.length !== remove.size) throw lakehouseError('COMMIT_FAILED', 'files to remove are no longer in their manifests');
      nm = r.file;
      written.add(nm.manifestPath);
      cache.set(key, nm);
    }
    found += remove.size;
    if (nm.existingFilesCount > 0 || nm.deletedFilesCount > 0) out.push(nm);
  }
  if (found !== toRemove.length) throw lakehouseError('COMMIT_FAILED', 'files to remove are no longer live');
  return out;
}

function branchSnapshot(md: TableMetadata, branch: string): Snapshot | undefined {
  const ref = md.refs[branch];
  if (!ref) return undefined;
  if (ref.type !== 'branch') throw lakehouseError('VALIDATION_FAILED', `${branch} is a tag, not a branch`);
  return snapshotById(md, ref['snapshot-id']);
}

async function planOf(table: LoadedTable, snapshot: Snapshot | undefined): Promise<ScanPlan | null> {
  if (!snapshot) return null;
  const md = table.metadata;
  return planScan(md, snapshot, { io: table.io, resolve: tableResolver(table) });
}

async function commitRowDelta(
  catalog: Catalog,
  tableIdent: TableIdent,
  base: LoadedTable,
  basePlan: ScanPlan | null,
  baseSnapshotId: bigint | null,
  delta: RowDeltaCommit,
  opts: CommitSnapshotOptions,
): Promise<LoadedTable> {
  const snapshotId = newSnapshotId();
  const changes: FileChanges = { added: delta.added.map((a) => a.file), removed: [] };
  let toRemove: LiveFile[] = [];
  let addedManifests: ManifestFile[] | null = null;
  const rewritten = new Map<string, ManifestFile>();
  const written = new Set<string>();
  let used = new Set<string>();
  try {
    const result = await commitSnapshot(
      catalog,
      tableIdent,
      snapshotId,
      {
        operation: delta.operation,
        changes,
        validate: async (b, parent) => {
          const parentId = parent?.['snapshot-id'] ?? null;
          const rebased = parentId !== baseSnapshotId;
          const plan = rebased ? await planOf(b, parent) : basePlan;
          toRemove = delta.remove(plan, rebased);
          changes.removed = toRemove.map((f) => f.file);
        },
        manifests: async (parentManifests, b) => {
          if (!addedManifests) {
            addedManifests = [];
            const groups = new Map<string, AddedFile[]>();
            for (const a of delta.added) {
              const key = `${a.specId}|${a.file.content === FileContent.DATA ? 'data' : 'deletes'}`;
              groups.set(key, [...(groups.get(key) ?? []), a]);
            }
            for (const files of groups.values()) {
              const content = files[0].file.content === FileContent.DATA ? ManifestContent.DATA : ManifestContent.DELETES;
              const m = await writeAddedManifest(b, specById(b.metadata, files[0].specId), snapshotId, files.map((f) => f.file), content);
              written.add(m.manifestPath);
              addedManifests.push(m);
            }
          }
          const out = [...addedManifests, ...(await filterManifests(b, parentManifests, toRemove, snapshotId, rewritten, written))];
          used = new Set(out.map((m) => m.manifestPath));
          return out;
        },
      },
      opts,
      base,
    );
    // Manifests written for attempts that lost a race are not referenced by anything.
    for (const p of written) if (!used.has(p)) await base.io.delete(p).catch(() => undefined);
    return result;
  } catch (e) {
    if (!isLakehouseError(e, 'COMMIT_STATE_UNKNOWN')) {
      for (const p of written) await base.io.delete(p).catch(() => undefined);
      for (const a of delta.added) await base.io.delete(a.file.filePath).catch(() => undefined);
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Planning a delete by filter.
// ---------------------------------------------------------------------------------------------

interface DeletePlan {
  /** Data files whose every live row matches. */
  removed: DataTask[];
  /** Data files with some (not all) live rows matching. */
  partial: DataTask[];
  /** Files added by the operation (position delete files, or rewritten data files). */
  added: AddedFile[];
}

function deleteMode(md: TableMetadata, opts: RowDeltaOptions): DeleteMode {
  if (md['format-version'] < 2) return 'copy-on-write';
  const m = opts.mode ?? md.properties['write.delete.mode'] ?? 'merge-on-read';
  return m === 'copy-on-write' ? 'copy-on-write' : 'merge-on-read';
}

async function planDelete(duck: Duck, table: LoadedTable, plan: ScanPlan, predicateSql: string, opts: RowDeltaOptions): Promise<DeletePlan> {
  const md = table.metadata;
  const tasks = plan.tasks;
  const out: DeletePlan = { removed: [], partial: [], added: [] };
  if (tasks.length === 0) return out;
  const live = await LiveRows.open(duck, table, tasks);
  const pred = `(${predicateSql})`;
  const union = tasks.map((t, i) => `SELECT ${i} AS ${TASK_COL}, * FROM (${live.sql(t)})`).join('\nUNION ALL\n');
  let counts: Record<string, unknown>[];
  try {
    counts = await duck.rows(
      `SELECT ${TASK_COL} AS task, count(*) AS live, count(*) FILTER (WHERE ${pred}) AS hit FROM (${union}) GROUP BY ${TASK_COL}`,
    );
  } catch (e) {
    throw lakehouseError('BAD_REQUEST', `delete filter failed: ${(e as Error).message.split('\n')[0]}`);
  }
  for (const r of counts) {
    const task = tasks[Number(r.task)];
    const liveRows = BigInt(r.live as bigint);
    const hit = BigInt(r.hit as bigint);
    if (hit === 0n) continue;
    if (hit === liveRows) out.removed.push(task);
    else out.partial.push(task);
  }
  if (out.partial.length === 0) return out;

  const schema = currentSchema(md);
  if (deleteMode(md, opts) === 'copy-on-write') {
    for (const task of out.partial) {
      const files = await writeDataFiles({
        duck, io: table.io, location: md.location, schema, spec: specById(md, task.specId), properties: md.properties,
        sourceSql: live.survivorsSql(task, predicateSql),
      });
      for (const f of files) out.added.push({ specId: task.specId, file: f });
    }
    return out;
  }
  const granularity = opts.granularity ?? (md.properties['write.delete.granularity'] === 'partition' ? 'partition' : 'file');
  const groups = new Map<string, DataTask[]>();
  for (const task of out.partial) {
    const key = granularity === 'file' ? task.file.filePath : partitionKey(task.specId, task.file.partition);
    groups.set(key, [...(groups.get(key) ?? []), task]);
  }
  for (const group of groups.values()) {
    const first = group[0];
    const sourceSql = group
      .map((t) => `SELECT ${str(t.file.filePath)} AS file_path, ${POS_COL} AS pos FROM (${live.sql(t)}) WHERE ${pred}`)
      .join('\nUNION ALL\n');
    const file = await writePositionDeleteFile({
      duck, io: table.io, location: md.location, schema, spec: specById(md, first.specId), partition: first.file.partition,
      properties: md.properties, sourceSql,
    });
    if (file) out.added.push({ specId: first.specId, file });
  }
  return out;
}

/** On a rebased plan: files to remove / partly deleted must be live, partly deleted ones with no new deletes. */
function touchedFilesRemoval(dp: DeletePlan): RowDeltaCommit['remove'] {
  const copyOnWrite = dp.added.some((a) => a.file.content === FileContent.DATA);
  return (plan, rebased) => {
    if (!rebased) {
      const cow = copyOnWrite ? dp.partial : [];
      return [...dp.removed, ...cow];
    }
    const live = new Map((plan?.tasks ?? []).map((t) => [t.file.filePath, t]));
    const out: LiveFile[] = [];
    for (const t of dp.removed) {
      const now = live.get(t.file.filePath);
      if (!now) throw lakehouseError('COMMIT_FAILED', `cannot delete from ${t.file.filePath}: removed by a concurrent commit`);
      out.push(now);
    }
    for (const t of dp.partial) {
      const now = live.get(t.file.filePath);
      if (!now) throw lakehouseError('COMMIT_FAILED', `cannot delete from ${t.file.filePath}: removed by a concurrent commit`);
      const before = new Set(t.deletes.map((d) => d.file.filePath));
      const added = now.deletes.filter((d) => !before.has(d.file.filePath));
      if (added.length > 0) {
        throw lakehouseError('COMMIT_FAILED', `cannot delete from ${t.file.filePath}: concurrent commit added delete file ${added[0].file.filePath}`);
      }
      if (copyOnWrite) out.push(now);
    }
    return out;
  };
}

// ---------------------------------------------------------------------------------------------
// Public operations.
// ---------------------------------------------------------------------------------------------

/**
 * Deletes the rows matching `predicateSql` (a DuckDB boolean expression over the table's columns)
 * as one `delete` snapshot. When no row matches nothing is committed and the table is returned
 * as loaded.
 */
export async function deleteWhere(catalog: Catalog, tableIdent: TableIdent, duck: Duck, predicateSql: string, opts: RowDeltaOptions = {}): Promise<LoadedTable> {
  const base = await catalog.loadTable(tableIdent);
  const snapshot = branchSnapshot(base.metadata, opts.branch ?? MAIN_BRANCH);
  const plan = await planOf(base, snapshot);
  if (!plan || !snapshot) return base;
  const dp = await planDelete(duck, base, plan, predicateSql, opts);
  if (dp.removed.length === 0 && dp.partial.length === 0) return base;
  return commitRowDelta(catalog, tableIdent, base, plan, snapshot['snapshot-id'], {
    // Spec "Snapshots": `delete` covers removed data files and added delete files; a
    // copy-on-write rewrite adds data files, which makes it an `overwrite`.
    operation: dp.added.some((a) => a.file.content === FileContent.DATA) ? 'overwrite' : 'delete',
    added: dp.added,
    remove: touchedFilesRemoval(dp),
  }, opts);
}

/**
 * Deletes the rows matching `predicateSql` and appends the rows of `sourceSql` in one `overwrite`
 * snapshot (Java's OverwriteFiles / Spark's dynamic overwrite by filter).
 */
export async function overwriteWhere(
  catalog: Catalog,
  tableIdent: TableIdent,
  duck: Duck,
  predicateSql: string,
  sourceSql: string,
  opts: RowDeltaOptions = {},
): Promise<LoadedTable> {
  const base = await catalog.loadTable(tableIdent);
  const md = base.metadata;
  const snapshot = branchSnapshot(md, opts.branch ?? MAIN_BRANCH);
  const plan = await planOf(base, snapshot);
  const dp: DeletePlan = plan ? await planDelete(duck, base, plan, predicateSql, opts) : { removed: [], partial: [], added: [] };
  const spec = defaultSpec(md);
  let appended: DataFile[];
  try {
    appended = await writeDataFiles({ duck, io: base.io, location: md.location, schema: currentSchema(md), spec, properties: md.properties, sourceSql });
  } catch (e) {
    for (const a of dp.added) await base.io.delete(a.file.filePath).catch(() => undefined);
    throw e;
  }
  const added = [...appended.map((file) => ({ specId: spec['spec-id'], file })), ...dp.added];
  return commitRowDelta(catalog, tableIdent, base, plan, snapshot?.['snapshot-id'] ?? null, {
    operation: 'overwrite',
    added,
    remove: touchedFilesRemoval(dp),
  }, opts);
}

/**
 * Replaces the table's contents with the rows of `sourceSql` (Java's `overwriteByRowFilter(true)`
 * / INSERT OVERWRITE of the whole table): every data and delete file live when the commit lands
 * is removed — on retry, files appended concurrently are replaced too (last writer wins).
 */
export async function replaceAll(catalog: Catalog, tableIdent: TableIdent, duck: Duck, sourceSql: string, opts: CommitSnapshotOptions = {}): Promise<LoadedTable> {
  const base = await catalog.loadTable(tableIdent);
  const md = base.metadata;
  const snapshot = branchSnapshot(md, opts.branch ?? MAIN_BRANCH);
  const plan = await planOf(base, snapshot);
  const spec = defaultSpec(md);
  const files = await writeDataFiles({ duck, io: base.io, location: md.location, schema: currentSchema(md), spec, properties: md.properties, sourceSql });
  return commitRowDelta(catalog, tableIdent, base, plan, snapshot?.['snapshot-id'] ?? null, {
    operation: 'overwrite',
    added: files.map((file) => ({ specId: spec['spec-id'], file })),
    remove: (p) => (p ? [...p.tasks, ...p.deleteFiles] : []),
  }, opts);
}
