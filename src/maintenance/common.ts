import { isLakehouseError } from '../core/errors.js';
import { readManifest } from '../iceberg/manifest.js';
import { FileContent, ManifestEntryStatus, type ManifestFile } from '../iceberg/manifest-types.js';
import type { TableMetadata } from '../iceberg/metadata.js';
import { partitionType } from '../iceberg/partition.js';
import type { Snapshot } from '../iceberg/snapshot.js';
import type { NestedField, StructType } from '../iceberg/types.js';
import type { FileIO } from '../storage/fileio.js';
import type { LoadedTable } from '../catalog/catalog.js';
import { makePathResolver, type PathResolver } from '../table/paths.js';
import { listManifests } from '../table/scan-planner.js';

export function resolverOf(md: TableMetadata): PathResolver {
  return makePathResolver(md.location, md.location);
}

/** Canonical form for comparing locations (`file:` prefixes and duplicate slashes removed). */
export function canonicalPath(p: string): string {
  let s = p;
  if (s.startsWith('file://')) s = s.slice('file://'.length);
  else if (s.startsWith('file:')) s = s.slice('file:'.length);
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/i.exec(s);
  return m ? m[1] + m[2].replace(/\/{2,}/g, '/') : s.replace(/\/{2,}/g, '/');
}

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
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

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

export function retryDelay(attempt: number): number {
  const base = Math.min(1000, 5 * 2 ** attempt);
  return base / 2 + Math.random() * base;
}

/** Runs `fn` again on COMMIT_FAILED (a lost race), with jittered backoff. */
export async function withCommitRetry<T>(fn: (attempt: number) => Promise<T>, maxRetries = 50): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!isLakehouseError(e, 'COMMIT_FAILED') || attempt >= maxRetries) throw e;
      await sleep(retryDelay(attempt));
    }
  }
}

/** All fields ever defined (newest definition wins), so old specs still type their partitions. */
function allFieldsSchema(md: TableMetadata): StructType {
  const byId = new Map<number, NestedField>();
  const ordered = [...md.schemas].sort((a, b) => (a['schema-id'] === md['current-schema-id'] ? 1 : b['schema-id'] === md['current-schema-id'] ? -1 : a['schema-id'] - b['schema-id']));
  for (const s of ordered) for (const f of s.fields) byId.set(f.id, f);
  return { type: 'struct', fields: [...byId.values()] };
}

export function partitionTypeOf(md: TableMetadata, specId: number): StructType | undefined {
  const spec = md['partition-specs'].find((s) => s['spec-id'] === specId);
  if (!spec) return undefined;
  try {
    return partitionType(spec, allFieldsSchema(md));
  } catch {
    return undefined;
  }
}

export interface ManifestFiles {
  /** Files of ADDED/EXISTING entries. */
  live: { path: string; content: FileContent }[];
  /** Files of DELETED entries. */
  deleted: { path: string; content: FileContent }[];
}

/** Reads manifests once each (cached by path) for the file paths they list. */
export class ManifestPathReader {
  private readonly cache = new Map<string, Promise<ManifestFiles>>();
  constructor(
    private readonly md: TableMetadata,
    private readonly io: FileIO,
  ) {}

  read(m: ManifestFile): Promise<ManifestFiles> {
    const resolve = resolverOf(this.md);
    const path = resolve(m.manifestPath);
    let p = this.cache.get(path);
    if (!p) {
      p = (async () => {
        const { entries } = readManifest(await this.io.read(path), { file: path, partitionType: partitionTypeOf(this.md, m.partitionSpecId) });
        const out: ManifestFiles = { live: [], deleted: [] };
        for (const e of entries) {
          const f = { path: resolve(e.dataFile.filePath), content: e.dataFile.content };
          if (e.status === ManifestEntryStatus.DELETED) out.deleted.push(f);
          else out.live.push(f);
        }
        return out;
      })();
      this.cache.set(path, p);
    }
    return p;
  }
}

export interface SnapshotFiles {
  manifestLists: Set<string>;
  manifests: Map<string, ManifestFile>;
}

/** Manifest lists and manifests of a set of snapshots. */
export async function snapshotManifests(md: TableMetadata, snapshots: readonly Snapshot[], io: FileIO, tolerateMissing = false): Promise<SnapshotFiles> {
  const resolve = resolverOf(md);
  const manifestLists = new Set<string>();
  const manifests = new Map<string, ManifestFile>();
  const lists = await mapLimit(snapshots, 8, async (s) => {
    if (s['manifest-list']) manifestLists.add(resolve(s['manifest-list']));
    try {
      return await listManifests(md, s, io, resolve);
    } catch (e) {
      if (tolerateMissing && isNotFound(e)) return [];
      throw e;
    }
  });
  for (const list of lists) for (const m of list) manifests.set(resolve(m.manifestPath), m);
  return { manifestLists, manifests };
}

export function isNotFound(e: unknown): boolean {
  return isLakehouseError(e, 'NOT_FOUND') || isLakehouseError(e, 'FILE_NOT_FOUND') || (e as { code?: string })?.code === 'ENOENT';
}

export function metadataDir(md: TableMetadata): string {
  return `${md.location.replace(/\/+$/, '')}/metadata`;
}

export function loadedSnapshotOf(table: LoadedTable, branch: string): Snapshot | undefined {
  const ref = table.metadata.refs[branch];
  if (!ref) return undefined;
  return table.metadata.snapshots.find((s) => s['snapshot-id'] === ref['snapshot-id']);
}
