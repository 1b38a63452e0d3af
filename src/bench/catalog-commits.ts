import { randomUUID } from 'node:crypto';
import { openSqlCatalog } from '../catalog/open-catalog.js';
import type { Catalog } from '../catalog/catalog.js';
import type { SqlCatalog } from '../catalog/sql-catalog.js';
import { Duck } from '../duck/db.js';
import { writeManifestList } from '../iceberg/manifest-list.js';
import { ManifestContent, type ManifestFile } from '../iceberg/manifest-types.js';
import { currentSchema, currentSnapshot, defaultSpec } from '../iceberg/metadata.js';
import type { Schema } from '../iceberg/schema.js';
import type { Snapshot } from '../iceberg/snapshot.js';
import { newTableMetadata } from '../iceberg/updates.js';
import { writeDataFiles } from '../table/data-writer.js';
import { newSnapshotId, writeAddedManifest, buildSummary } from '../table/snapshot-producer.js';

/**
 * Catalog commit throughput, the Iceberg REST way: the client has already written its data file,
 * manifest and manifest list; a commit is what the catalog does per request — load the current
 * metadata, check `assert-ref-snapshot-id`, apply `add-snapshot` + `set-snapshot-ref`, write the
 * new metadata file (fsynced) and compare-and-swap the pointer. Snapshots are prepared up front,
 * each chained on the previous one, and committed sequentially.
 */
export interface CatalogCommitResult {
  commitsPerSecond: number;
  /** Load-table latency through the same catalog, ms (p50, p99). */
  loadP50Ms: number;
  loadP99Ms: number;
}

export async function benchCatalogCommits(storeUrl: string, warehouse: string, commits: number): Promise<number> {
  return (await benchCommitsVia(storeUrl, warehouse, commits)).commitsPerSecond;
}

/**
 * The same measurement with the commits (and table loads) sent through `via` — e.g. our REST
 * catalog in front of the same store — instead of the embedded catalog.
 */
export async function benchCommitsVia(
  storeUrl: string,
  warehouse: string,
  commits: number,
  via?: (catalog: SqlCatalog) => Promise<{ catalog: Catalog; close(): Promise<void> }>,
): Promise<CatalogCommitResult> {
  const catalog = await openSqlCatalog({ storeUrl, warehouse });
  const remote = via ? await via(catalog) : null;
  const committer: Catalog = remote?.catalog ?? catalog;
  const duck = await Duck.open({ threads: 1 });
  try {
    await catalog.createNamespace(['catalog_commits']);
    const ident = { namespace: ['catalog_commits'], name: 't' };
    const schema: Schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'id', required: true, type: 'long' }] };
    let table = await catalog.createTable(ident, newTableMetadata({ schema, location: catalog.defaultTableLocation(ident) }));
    const md = table.metadata;
    const files = await writeDataFiles({ duck, io: table.io, location: md.location, schema: currentSchema(md), spec: defaultSpec(md), properties: md.properties, sourceSql: 'SELECT 1::BIGINT AS id' });

    // Client side: one manifest per snapshot, manifest lists chained like real appends.
    const prepared: Snapshot[] = [];
    const manifests: ManifestFile[] = [];
    let parent: Snapshot | undefined;
    for (let i = 0; i < commits; i++) {
      const id = newSnapshotId();
      const seq = md['last-sequence-number'] + i + 1;
      const m = await writeAddedManifest(table, defaultSpec(md), id, files, ManifestContent.DATA);
      manifests.unshift({ ...m, sequenceNumber: BigInt(seq), minSequenceNumber: BigInt(seq) });
      const list = `${md.location}/metadata/snap-${id}-1-${randomUUID()}.avro`;
      await table.io.writeIfAbsent(list, writeManifestList({ formatVersion: 2, snapshotId: id, parentSnapshotId: parent?.['snapshot-id'] ?? null, sequenceNumber: BigInt(seq), manifests }));
      const snap: Snapshot = {
        'snapshot-id': id, 'sequence-number': seq, 'timestamp-ms': Date.now(), 'manifest-list': list,
        summary: buildSummary('append', parent, { added: files, removed: [] }), 'schema-id': 0,
      };
      if (parent) snap['parent-snapshot-id'] = parent['snapshot-id'];
      prepared.push(snap);
      parent = snap;
    }

    const t0 = performance.now();
    let prev: bigint | null = null;
    for (const snapshot of prepared) {
      table = await committer.commitTable(ident, {
        requirements: [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': prev }],
        updates: [
          { action: 'add-snapshot', snapshot },
          { action: 'set-snapshot-ref', 'ref-name': 'main', type: 'branch', 'snapshot-id': snapshot['snapshot-id'] },
        ],
      });
      prev = snapshot['snapshot-id'];
    }
    const ms = performance.now() - t0;
    if (currentSnapshot(table.metadata)?.summary['total-records'] !== String(commits)) throw new Error('catalog commit bench: wrong total-records');
    const loads: number[] = [];
    for (let i = 0; i < 200; i++) {
      const s = performance.now();
      await committer.loadTable(ident);
      loads.push(performance.now() - s);
    }
    loads.sort((a, b) => a - b);
    return { commitsPerSecond: commits / (ms / 1000), loadP50Ms: loads[100], loadP99Ms: loads[197] };
  } finally {
    duck.close();
    await remote?.close();
    await catalog.close();
  }
}
