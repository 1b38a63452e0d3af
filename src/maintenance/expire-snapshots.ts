import { FileContent } from '../iceberg/manifest-types.js';
import { snapshotById, type TableMetadata } from '../iceberg/metadata.js';
import type { Snapshot } from '../iceberg/snapshot.js';
import type { TableRequirement } from '../iceberg/requirements.js';
import type { Catalog, LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { ManifestPathReader, mapLimit, resolverOf, snapshotManifests, withCommitRetry } from './common.js';

/**
 * Snapshot expiry (Java's ExpireSnapshots) as one `remove-snapshots` commit, then cleanup of the
 * files only the expired snapshots referenced.
 *
 * Retained: every ref head (branches and tags, so the current snapshot too); per branch, its
 * ancestors while fewer than `min-snapshots-to-keep` (the ref's, else `retainLast`, else
 * `history.expire.min-snapshots-to-keep`, default 1) are kept or younger than the cut-off (the
 * ref's `max-snapshot-age-ms`, else `olderThanMs`, else now − `history.expire.max-snapshot-age-ms`,
 * default 5 days); snapshots on no branch's history younger than the default cut-off.
 *
 * The commit asserts every ref head it saw, so it never removes a snapshot that became a head
 * concurrently; on a lost race it recomputes. Cleanup then reloads the table and deletes manifest
 * lists, manifests, data and delete files, and statistics files referenced by the expired
 * snapshots and by none of the remaining ones (new commits only build on remaining heads, so
 * they cannot reference anything deleted here).
 */
export interface ExpireSnapshotsOptions {
  olderThanMs?: number;
  retainLast?: number;
  /** Delete the files of expired snapshots (default true). */
  deleteFiles?: boolean;
  /** Clock (tests). */
  nowMs?: number;
  maxRetries?: number;
}

export interface ExpireSnapshotsResult {
  expiredSnapshotIds: bigint[];
  deletedManifestLists: number;
  deletedManifests: number;
  deletedDataFiles: number;
  deletedDeleteFiles: number;
  deletedStatisticsFiles: number;
  table: LoadedTable;
}

const DAY = 24 * 3600 * 1000;

function num(v: string | undefined, dflt: number): number {
  const n = Number(v);
  return v !== undefined && Number.isFinite(n) ? n : dflt;
}

/** Snapshot ids `opts` expires on `md` (see the module comment for the rules). */
export function snapshotsToExpire(md: TableMetadata, opts: ExpireSnapshotsOptions = {}): bigint[] {
  const now = opts.nowMs ?? Date.now();
  const defaultMaxAge = num(md.properties['history.expire.max-snapshot-age-ms'], 5 * DAY);
  const defaultMinKeep = opts.retainLast ?? num(md.properties['history.expire.min-snapshots-to-keep'], 1);
  const defaultOlderThan = opts.olderThanMs ?? now - defaultMaxAge;
  const retain = new Set<bigint>();
  const onBranch = new Set<bigint>();
  if (md['current-snapshot-id'] !== null) retain.add(md['current-snapshot-id']);
  for (const ref of Object.values(md.refs)) {
    retain.add(ref['snapshot-id']);
    if (ref.type !== 'branch') continue;
    const minKeep = ref['min-snapshots-to-keep'] ?? defaultMinKeep;
    const olderThan = ref['max-snapshot-age-ms'] !== undefined ? now - ref['max-snapshot-age-ms'] : defaultOlderThan;
    let kept = 0;
    let retaining = true;
    for (let s = snapshotById(md, ref['snapshot-id']); s; s = s['parent-snapshot-id'] != null ? snapshotById(md, s['parent-snapshot-id']) : undefined) {
      onBranch.add(s['snapshot-id']);
      if (retaining && (kept < minKeep || s['timestamp-ms'] >= olderThan)) {
        retain.add(s['snapshot-id']);
        kept++;
      } else retaining = false;
    }
  }
  const out: bigint[] = [];
  for (const s of md.snapshots) {
    const id = s['snapshot-id'];
    if (retain.has(id)) continue;
    if (!onBranch.has(id) && s['timestamp-ms'] >= defaultOlderThan) continue;
    out.push(id);
  }
  return out;
}

export async function expireSnapshots(catalog: Catalog, ident: TableIdent, opts: ExpireSnapshotsOptions = {}): Promise<ExpireSnapshotsResult> {
  const fixed = { ...opts, nowMs: opts.nowMs ?? Date.now() };
  const { before, after, ids } = await withCommitRetry(async () => {
    const base = await catalog.loadTable(ident);
    const md = base.metadata;
    const ids = snapshotsToExpire(md, fixed);
    if (ids.length === 0) return { before: base, after: base, ids };
    const requirements: TableRequirement[] = [{ type: 'assert-table-uuid', uuid: md['table-uuid'] }];
    for (const [ref, r] of Object.entries(md.refs)) requirements.push({ type: 'assert-ref-snapshot-id', ref, 'snapshot-id': r['snapshot-id'] });
    if (!md.refs.main) requirements.push({ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': null });
    const after = await catalog.commitTable(ident, { requirements, updates: [{ action: 'remove-snapshots', 'snapshot-ids': ids }] });
    return { before: base, after, ids };
  }, opts.maxRetries ?? 50);
  const result: ExpireSnapshotsResult = {
    expiredSnapshotIds: ids,
    deletedManifestLists: 0,
    deletedManifests: 0,
    deletedDataFiles: 0,
    deletedDeleteFiles: 0,
    deletedStatisticsFiles: 0,
    table: after,
  };
  if (ids.length === 0 || opts.deleteFiles === false) return result;

  const gone = new Set(ids);
  const expired = before.metadata.snapshots.filter((s) => gone.has(s['snapshot-id']));
  // Cleanup against the freshest state: anything committed since builds on remaining heads.
  const latest = await catalog.loadTable(ident);
  const kept = latest.metadata.snapshots.filter((s) => !gone.has(s['snapshot-id']));
  const deleted = await deleteUnreachable(before, expired, latest, kept);
  return { ...result, ...deleted, table: latest };
}

async function deleteUnreachable(
  before: LoadedTable,
  expired: Snapshot[],
  latest: LoadedTable,
  kept: Snapshot[],
): Promise<Pick<ExpireSnapshotsResult, 'deletedManifestLists' | 'deletedManifests' | 'deletedDataFiles' | 'deletedDeleteFiles' | 'deletedStatisticsFiles'>> {
  const io = latest.io;
  const ex = await snapshotManifests(before.metadata, expired, before.io, true);
  const kp = await snapshotManifests(latest.metadata, kept, io);
  const lists = [...ex.manifestLists].filter((p) => !kp.manifestLists.has(p));
  const manifests = [...ex.manifests.keys()].filter((p) => !kp.manifests.has(p));
  const files = new Map<string, FileContent>();
  if (manifests.length > 0) {
    const exReader = new ManifestPathReader(before.metadata, before.io);
    const candidates = await mapLimit(manifests, 8, (p) => exReader.read(ex.manifests.get(p)!));
    for (const c of candidates) for (const f of [...c.live, ...c.deleted]) files.set(f.path, f.content);
    const kpReader = new ManifestPathReader(latest.metadata, io);
    const reachable = await mapLimit([...kp.manifests.values()], 8, (m) => kpReader.read(m));
    for (const r of reachable) for (const f of r.live) files.delete(f.path);
  }
  const resolve = resolverOf(latest.metadata);
  const keptStats = new Set([...(latest.metadata.statistics ?? []), ...(latest.metadata['partition-statistics'] ?? [])].map((s) => resolve((s as { 'statistics-path': string })['statistics-path'])));
  const expiredIds = new Set(expired.map((s) => s['snapshot-id']));
  const stats = [...(before.metadata.statistics ?? []), ...(before.metadata['partition-statistics'] ?? [])]
    .map((s) => s as { 'snapshot-id': bigint; 'statistics-path': string })
    .filter((s) => expiredIds.has(BigInt(s['snapshot-id'])))
    .map((s) => resolve(s['statistics-path']))
    .filter((p) => !keptStats.has(p));
  const del = async (paths: string[]) => {
    await mapLimit(paths, 8, (p) => io.delete(p).catch(() => undefined));
    return paths.length;
  };
  const dataFiles = [...files].filter(([, c]) => c === FileContent.DATA).map(([p]) => p);
  const deleteFiles = [...files].filter(([, c]) => c !== FileContent.DATA).map(([p]) => p);
  // Content first, then manifests, then manifest lists: a crash leaves nothing dangling that is still listed.
  return {
    deletedDataFiles: await del(dataFiles),
    deletedDeleteFiles: await del(deleteFiles),
    deletedStatisticsFiles: await del(stats),
    deletedManifests: await del(manifests),
    deletedManifestLists: await del(lists),
  };
}
