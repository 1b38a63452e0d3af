import type { Catalog, LoadedTable } from '../catalog/catalog.js';
import { isLakehouseError } from '../core/errors.js';
import type { TableIdent } from '../catalog/store.js';
import { currentSchema, defaultSpec } from '../iceberg/metadata.js';
import type { Duck } from '../duck/db.js';
import { writeDataFiles } from './data-writer.js';
import { fastAppend, type CommitSnapshotOptions } from './snapshot-producer.js';
import { registerTableView } from './scan-query.js';
import { tableResolver } from './paths.js';

/** Appends the rows of a SQL relation (columns named like the table's) as one snapshot. */
export async function appendSql(catalog: Catalog, ident: TableIdent, duck: Duck, sourceSql: string, opts: CommitSnapshotOptions = {}): Promise<LoadedTable> {
  const table = await catalog.loadTable(ident);
  const md = table.metadata;
  const files = await writeDataFiles({
    duck,
    io: table.io,
    location: md.location,
    schema: currentSchema(md),
    spec: defaultSpec(md),
    properties: md.properties,
    sourceSql,
  });
  try {
    return await fastAppend(catalog, ident, files, opts, table);
  } catch (e) {
    // Files of an append that definitely failed are unreferenced: remove them now rather than
    // leave them to orphan cleanup. After an unknown outcome they may be live, so they stay.
    if (!isLakehouseError(e, 'COMMIT_STATE_UNKNOWN')) {
      await Promise.all(files.map((f) => table.io.delete(f.filePath).catch(() => undefined)));
    }
    throw e;
  }
}

/** Binds a catalog table's current snapshot as a DuckDB view. */
export async function bindTable(duck: Duck, viewName: string, table: LoadedTable): Promise<void> {
  await registerTableView(duck, viewName, { io: table.io, metadata: table.metadata, resolve: tableResolver(table) });
}
