import { randomUUID } from 'node:crypto';
import { isLakehouseError } from '../core/errors.js';
import { inheritManifestMetadata, readManifest, writeManifest } from '../iceberg/manifest.js';
import { ManifestContent, ManifestEntryStatus, type ManifestEntry, type ManifestFile } from '../iceberg/manifest-types.js';
import { currentSchema, specById } from '../iceberg/metadata.js';
import { MAIN_BRANCH } from '../iceberg/snapshot.js';
import type { StructType } from '../iceberg/types.js';
import type { Catalog, LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { partitionKey } from '../table/scan-planner.js';
import { commitSnapshot, newSnapshotId, partitionSummaries } from '../table/snapshot-producer.js';
import { loadedSnapshotOf, mapLimit, metadataDir, partitionTypeOf, resolverOf } from './common.js';

/**
 * Java's RewriteManifests: the live entries of the branch head's data manifests are clustered by
 * spec and partition into new manifests of about `targetManifestSizeBytes` (default
 * `commit.manifest.target-size-bytes`, 8 MiB), as one `replace` snapshot. Entries keep their
 * snapshot ids and data/file sequence numbers (written explicitly as EXISTING entries), so rows
 * and delete applicability are unchanged. Delete manifests are carried over as they are.
 * On a retry, manifests added concurrently are carried over next to the rewritten ones; if a
 * rewritten manifest is gone from the new head, the rewrite is redone on the new head.
 */
export interface RewriteManifestsOptions {
  targetManifestSizeBytes?: number;
  branch?: string;
  maxRetries?: number;
}

export interface RewriteManifestsResult {
  snapshotId: bigint | null;
  rewrittenManifests: number;
  addedManifests: number;
  entries: number;
  table: LoadedTable;
}

interface Rewrite {
  replaced: Set<string>;
  added: ManifestFile[];
  entries: number;
}

export async function rewriteManifests(catalog: Catalog, ident: TableIdent, opts: RewriteManifestsOptions = {}): Promise<RewriteManifestsResult> {
  const branch = opts.branch ?? MAIN_BRANCH;
  const base = await catalog.loadTable(ident);
  const result: RewriteManifestsResult = { snapshotId: null, rewrittenManifests: 0, addedManifests: 0, entries: 0, table: base };
  if (!loadedSnapshotOf(base, branch)) return result;
  const target = opts.targetManifestSizeBytes ?? Number(base.metadata.properties['commit.manifest.target-size-bytes'] ?? 8 * 1024 * 1024);
  const snapshotId = newSnapshotId();
  const written = new Set<string>();
  let current: Rewrite | null = null;
  let used = new Set<string>();

  const plan = async (parentManifests: ManifestFile[], b: LoadedTable): Promise<Rewrite | null> => {
    const md = b.metadata;
    const resolve = resolverOf(md);
    const data = parentManifests.filter((m) => m.content === ManifestContent.DATA);
    if (data.length <= 1) return null;
    const read = await mapLimit(data, 8, async (m) => {
      const path = resolve(m.manifestPath);
      const { entries, meta } = readManifest(await b.io.read(path), { file: path, partitionType: partitionTypeOf(md, m.partitionSpecId) });
      return { m, meta, entries: inheritManifestMetadata(entries, m).filter((e) => e.status !== ManifestEntryStatus.DELETED) };
    });
    const bySpec = new Map<number, { ptype: StructType; entries: ManifestEntry[]; bytes: bigint; count: number }>();
    for (const r of read) {
      const specId = r.meta.partitionSpecId ?? r.m.partitionSpecId;
      const g = bySpec.get(specId) ?? { ptype: r.meta.partitionType, entries: [], bytes: 0n, count: 0 };
      g.entries.push(...r.entries);
      g.bytes += r.m.manifestLength;
      g.count += r.entries.length;
      bySpec.set(specId, g);
    }
    const added: ManifestFile[] = [];
    let total = 0;
    for (const [specId, g] of bySpec) {
      if (g.entries.length === 0) continue;
      const perEntry = Math.max(1, Number(g.bytes) / Math.max(1, g.count));
      const perManifest = Math.max(1, Math.floor(target / perEntry));
      const keyed = g.entries.map((e) => ({ e, k: `${partitionKey(specId, e.dataFile.partition)}\u0000${e.dataFile.filePath}` }));
      keyed.sort((a, b2) => (a.k < b2.k ? -1 : a.k > b2.k ? 1 : 0));
      const sorted = keyed.map((x) => x.e);
      const spec = specById(md, specId);
      for (let i = 0; i < sorted.length; i += perManifest) {
        const chunk: ManifestEntry[] = sorted.slice(i, i + perManifest).map((e) => ({ ...e, status: ManifestEntryStatus.EXISTING }));
        const bytes = writeManifest({
          formatVersion: md['format-version'],
          spec: { specId, fields: spec.fields.map((f) => ({ ...f })) },
          partitionType: g.ptype,
          schema: currentSchema(md),
          content: ManifestContent.DATA,
          entries: chunk,
        });
        const path = `${metadataDir(md)}/${randomUUID()}-m0.avro`;
        await b.io.writeIfAbsent(path, bytes);
        written.add(path);
        let minSeq: bigint | null = null;
        for (const e of chunk) if (e.sequenceNumber !== null && (minSeq === null || e.sequenceNumber < minSeq)) minSeq = e.sequenceNumber;
        added.push({
          manifestPath: path,
          manifestLength: BigInt(bytes.length),
          partitionSpecId: specId,
          content: ManifestContent.DATA,
          sequenceNumber: -1n,
          minSequenceNumber: minSeq ?? -1n,
          addedSnapshotId: snapshotId,
          addedFilesCount: 0,
          existingFilesCount: chunk.length,
          deletedFilesCount: 0,
          addedRowsCount: 0n,
          existingRowsCount: chunk.reduce((a, e) => a + e.dataFile.recordCount, 0n),
          deletedRowsCount: 0n,
          partitions: partitionSummaries(chunk.map((e) => e.dataFile), g.ptype),
        });
        total += chunk.length;
      }
    }
    return { replaced: new Set(data.map((m) => m.manifestPath)), added, entries: total };
  };

  try {
    const committed = await commitSnapshot(
      catalog,
      ident,
      snapshotId,
      {
        operation: 'replace',
        changes: { added: [], removed: [] },
        manifests: async (parentManifests, b) => {
          const paths = new Set(parentManifests.map((m) => m.manifestPath));
          if (!current || ![...current.replaced].every((p) => paths.has(p))) current = await plan(parentManifests, b);
          if (!current) throw new NothingToRewrite();
          const replaced = current.replaced;
          const out = [...current.added, ...parentManifests.filter((m) => !replaced.has(m.manifestPath))];
          used = new Set(out.map((m) => m.manifestPath));
          return out;
        },
      },
      { branch, maxRetries: opts.maxRetries },
      base,
    );
    for (const p of written) if (!used.has(p)) await base.io.delete(p).catch(() => undefined);
    const c = current as Rewrite | null;
    return { snapshotId, rewrittenManifests: c?.replaced.size ?? 0, addedManifests: c?.added.length ?? 0, entries: c?.entries ?? 0, table: committed };
  } catch (e) {
    if (isLakehouseError(e, 'COMMIT_STATE_UNKNOWN')) throw e;
    for (const p of written) await base.io.delete(p).catch(() => undefined);
    if (e instanceof NothingToRewrite) return { ...result, table: await catalog.loadTable(ident) };
    throw e;
  }
}

class NothingToRewrite extends Error {}
