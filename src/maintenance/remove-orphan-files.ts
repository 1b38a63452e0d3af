import type { TableMetadata } from '../iceberg/metadata.js';
import type { Catalog, LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { metadataVersionOf } from '../catalog/metadata-files.js';
import { VERSION_HINT_FILE } from '../table/locate.js';
import { canonicalPath, ManifestPathReader, mapLimit, metadataDir, resolverOf, snapshotManifests } from './common.js';

/**
 * Every file a table's metadata references: the current metadata file and the metadata log,
 * version hint, statistics files, and for every snapshot its manifest list, manifests and the
 * data/delete files of all their entries (DELETED entries included unless `liveOnly`: a file only
 * DELETED entries name is read by no snapshot, but keeping it is the conservative choice).
 * Canonical paths.
 */
export async function referencedFiles(table: LoadedTable, opts: { liveOnly?: boolean; skipSnapshots?: Set<string> } = {}): Promise<Set<string>> {
  const known = opts.skipSnapshots;
  const md = table.metadata;
  const resolve = resolverOf(md);
  const out = new Set<string>();
  const add = (p: string) => out.add(canonicalPath(resolve(p)));
  add(table.metadataLocation);
  for (const e of md['metadata-log']) add(e['metadata-file']);
  add(`${metadataDir(md)}/${VERSION_HINT_FILE}`);
  for (const s of [...(md.statistics ?? []), ...(md['partition-statistics'] ?? [])]) add((s as { 'statistics-path': string })['statistics-path']);
  const snaps = known ? md.snapshots.filter((s) => !known.has(String(s['snapshot-id']))) : md.snapshots;
  const sm = await snapshotManifests(md, snaps, table.io);
  for (const l of sm.manifestLists) add(l);
  const reader = new ManifestPathReader(md, table.io);
  const all = await mapLimit([...sm.manifests.entries()], 8, async ([p, m]) => {
    add(p);
    return reader.read(m);
  });
  for (const r of all) for (const f of opts.liveOnly ? r.live : [...r.live, ...r.deleted]) add(f.path);
  return out;
}

export interface RemoveOrphanFilesOptions {
  /** Only files last modified before this are deleted (default: now − 3 days). */
  olderThanMs?: number;
  dryRun?: boolean;
  /** Folder to scan (default: the table location). */
  location?: string;
}

export interface RemoveOrphanFilesResult {
  /** Orphans found (deleted unless dryRun). */
  orphanFiles: string[];
  deletedFiles: number;
  scannedFiles: number;
  table: LoadedTable;
}

/**
 * Java's DeleteOrphanFiles: lists every file under the table location, subtracts every file
 * referenced by the table's metadata (see referencedFiles) and deletes the rest when older than
 * the safety age. The listing happens before the metadata is loaded, and snapshots committed
 * while scanning are read again before deleting, so files of commits that land meanwhile are kept;
 * the safety age protects files of commits still in flight.
 */
export async function removeOrphanFiles(catalog: Catalog, ident: TableIdent, opts: RemoveOrphanFilesOptions = {}): Promise<RemoveOrphanFilesResult> {
  const olderThan = opts.olderThanMs ?? Date.now() - 3 * 24 * 3600 * 1000;
  const first = await catalog.loadTable(ident);
  const root = (opts.location ?? first.metadata.location).replace(/\/+$/, '');
  const listed = await first.io.list(root);
  const table = await catalog.loadTable(ident);
  const referenced = await referencedFiles(table);
  let candidates = listed.filter((f) => f.lastModified < olderThan && !referenced.has(canonicalPath(f.location)));
  let latest = table;
  if (candidates.length > 0) {
    latest = await catalog.loadTable(ident);
    if (latest.metadataLocation !== table.metadataLocation) {
      const known = new Set(table.metadata.snapshots.map((s) => String(s['snapshot-id'])));
      const more = await referencedFiles(latest, { skipSnapshots: known });
      candidates = candidates.filter((f) => !more.has(canonicalPath(f.location)));
    }
  }
  const orphanFiles = candidates.map((f) => f.location).sort();
  if (!opts.dryRun) await mapLimit(orphanFiles, 8, (p) => latest.io.delete(p));
  return { orphanFiles, deletedFiles: opts.dryRun ? 0 : orphanFiles.length, scannedFiles: listed.length, table: latest };
}

export const DELETE_AFTER_COMMIT = 'write.metadata.delete-after-commit.enabled';

export interface DeleteObsoleteMetadataResult {
  deleted: string[];
  table: LoadedTable;
}

/** Metadata files that fell out of the metadata log: versions below the oldest one still logged. */
export function obsoleteMetadataFiles(md: TableMetadata, metadataLocation: string, files: string[]): string[] {
  const keep = new Set([metadataLocation, ...md['metadata-log'].map((e) => e['metadata-file'])].map(canonicalPath));
  const minKept = Math.min(...[...keep].map(metadataVersionOf));
  return files.filter((f) => {
    const name = f.slice(f.lastIndexOf('/') + 1);
    if (!/\.metadata\.json(\.gz)?$/.test(name)) return false;
    return !keep.has(canonicalPath(f)) && metadataVersionOf(f) < minKept;
  });
}

/**
 * Deletes metadata files no longer in the metadata log (`write.metadata.previous-versions-max`
 * bounds the log) when `write.metadata.delete-after-commit.enabled` is true (or `force`). Only
 * versions older than the oldest logged one go: a concurrent commit's new file is always newer.
 */
export async function deleteObsoleteMetadata(catalog: Catalog, ident: TableIdent, opts: { force?: boolean } = {}): Promise<DeleteObsoleteMetadataResult> {
  const table = await catalog.loadTable(ident);
  const md = table.metadata;
  if (!opts.force && (md.properties[DELETE_AFTER_COMMIT] ?? 'false').toLowerCase() !== 'true') return { deleted: [], table };
  const files = (await table.io.list(metadataDir(md))).map((f) => f.location);
  const deleted = obsoleteMetadataFiles(md, table.metadataLocation, files);
  await mapLimit(deleted, 8, (p) => table.io.delete(p));
  return { deleted, table };
}
