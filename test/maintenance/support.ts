import { statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import type { Catalog, LoadedTable } from '../../src/catalog/catalog.js';
import type { TableIdent } from '../../src/catalog/store.js';
import { Duck } from '../../src/duck/db.js';
import { FileContent, ManifestContent, type DataFile, type ManifestFile } from '../../src/iceberg/manifest-types.js';
import { defaultSpec } from '../../src/iceberg/metadata.js';
import type { Schema } from '../../src/iceberg/schema.js';
import type { Snapshot } from '../../src/iceberg/snapshot.js';
import { registerTableView } from '../../src/table/scan-query.js';
import { commitSnapshot, newSnapshotId, writeAddedManifest } from '../../src/table/snapshot-producer.js';

export const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'cat', required: false, type: 'string' },
    { id: 3, name: 'v', required: false, type: 'double' },
  ],
};

export const rows = (from: number, to: number) =>
  `SELECT range AS id, CASE range % 3 WHEN 0 THEN 'a' WHEN 1 THEN 'b' ELSE 'c' END AS cat, range / 2.0 AS v FROM range(${from}, ${to})`;

export const src = (t: LoadedTable) => ({ io: t.io, metadata: t.metadata, resolve: (p: string) => p });

/** All rows of a snapshot (default: current), ordered by id, as JSON text. */
export async function snapshotRows(duck: Duck, t: LoadedTable, snapshot?: Snapshot): Promise<string[]> {
  await registerTableView(duck, 'snap_rows', src(t), snapshot);
  const r = await duck.rows('SELECT id, cat, v FROM snap_rows ORDER BY id');
  return r.map((x) => `${String(x.id)}|${String(x.cat)}|${String(x.v)}`);
}

export async function count(duck: Duck, t: LoadedTable, snapshot?: Snapshot): Promise<{ n: number; distinct: number }> {
  await registerTableView(duck, 'snap_count', src(t), snapshot);
  const [r] = await duck.rows('SELECT count(*) AS n, count(DISTINCT id) AS d FROM snap_count');
  return { n: Number(r.n), distinct: Number(r.d) };
}

/** A catalog whose commitTable runs `before` once, before its first commit. */
export function hookedCatalog(inner: SqlCatalog, before: () => Promise<void>): Catalog {
  let fired = false;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'commitTable') {
        return async (ident: TableIdent, req: Parameters<Catalog['commitTable']>[1]) => {
          if (!fired) {
            fired = true;
            await before();
          }
          return target.commitTable(ident, req);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** Commits an (unpartitioned) equality delete file on `id` written with DuckDB COPY + FIELD_IDS. */
export async function commitEqualityDelete(catalog: Catalog, ident: TableIdent, duck: Duck, ids: number[]): Promise<LoadedTable> {
  const t = await catalog.loadTable(ident);
  const path = `${t.metadata.location}/data/eq-${randomUUID()}.parquet`;
  await duck.run(`COPY (SELECT unnest([${ids.join(', ')}])::BIGINT AS id) TO '${path}' (FORMAT parquet, FIELD_IDS {id: 1})`);
  const file: DataFile = {
    content: FileContent.EQUALITY_DELETES,
    filePath: path,
    fileFormat: 'PARQUET',
    partition: [],
    recordCount: BigInt(ids.length),
    fileSizeInBytes: BigInt(statSync(path).size),
    equalityIds: [1],
  };
  const snapshotId = newSnapshotId();
  let m: ManifestFile | null = null;
  return commitSnapshot(catalog, ident, snapshotId, {
    operation: 'delete',
    changes: { added: [file], removed: [] },
    manifests: async (parent, b) => {
      m ??= await writeAddedManifest(b, defaultSpec(b.metadata), snapshotId, [file], ManifestContent.DELETES);
      return [m, ...parent];
    },
  });
}
