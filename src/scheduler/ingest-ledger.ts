import type { Kysely } from 'kysely';
import { nullableNumber as num } from '../catalog/sql/row-values.js';

/**
 * Which source files have been ingested into which table (migration 0006-scheduler-ingest).
 * Written right after each file's data commit; the commit's snapshot summary carries the same
 * location (`lakehouse.ingest.source`), so a crash between the two is repaired on the next run
 * from the table's retained snapshots (see batch-ingest-job.ts).
 */
export interface IngestedFile {
  location: string;
  /** ETag / Last-Modified of a URL, size:mtime of a stored file; null when unknown. */
  version: string | null;
  size: number | null;
  rows: number | null;
  snapshotId: string | null;
  jobId: string | null;
  runId: string | null;
  ingestedAt: number;
}

interface LedgerTable {
  catalog_name: string;
  table_uuid: string;
  location: string;
  version: string | null;
  size: number | string | null;
  rows: number | string | null;
  snapshot_id: string | null;
  job_id: string | null;
  run_id: string | null;
  ingested_at: number | string;
}

interface LedgerDatabase {
  lakehouse_ingested_files: LedgerTable;
}


export class IngestLedger {
  readonly #db: Kysely<LedgerDatabase>;

  constructor(
    db: Kysely<any>,
    readonly catalogName: string,
  ) {
    this.#db = db as Kysely<LedgerDatabase>;
  }

  /** Every ledger entry of a table, by location. */
  async entries(tableUuid: string): Promise<Map<string, IngestedFile>> {
    const rows = await this.#db
      .selectFrom('lakehouse_ingested_files')
      .selectAll()
      .where('catalog_name', '=', this.catalogName)
      .where('table_uuid', '=', tableUuid)
      .execute();
    return new Map(
      rows.map((r) => [
        r.location,
        { location: r.location, version: r.version, size: num(r.size), rows: num(r.rows), snapshotId: r.snapshot_id, jobId: r.job_id, runId: r.run_id, ingestedAt: Number(r.ingested_at) },
      ]),
    );
  }

  /** Inserts or replaces the entry of one file (a changed file ingested again replaces it). */
  async record(tableUuid: string, f: IngestedFile): Promise<void> {
    const row: LedgerTable = {
      catalog_name: this.catalogName,
      table_uuid: tableUuid,
      location: f.location,
      version: f.version,
      size: f.size,
      rows: f.rows,
      snapshot_id: f.snapshotId,
      job_id: f.jobId,
      run_id: f.runId,
      ingested_at: f.ingestedAt,
    };
    const { version, size, rows, snapshot_id, job_id, run_id, ingested_at } = row;
    await this.#db
      .insertInto('lakehouse_ingested_files')
      .values(row)
      .onConflict((oc) => oc.columns(['catalog_name', 'table_uuid', 'location']).doUpdateSet({ version, size, rows, snapshot_id, job_id, run_id, ingested_at }))
      .execute();
  }
}
