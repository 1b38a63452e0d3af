import type { Kysely } from 'kysely';
import type { Sample } from './baseline.js';

/**
 * Persistence of baselines (migration 0008-observability, `lakehouse_quality_baselines`): one row
 * per (table, metric) holding its window as compact JSON `[[value, hour], …]`.
 */
interface BaselinesTable {
  catalog_name: string;
  table_ident: string;
  metric: string;
  samples: string;
  updated_at: number | string;
}

interface BaselineDatabase {
  lakehouse_quality_baselines: BaselinesTable;
}

export class BaselineStore {
  readonly db: Kysely<BaselineDatabase>;

  constructor(db: Kysely<any>, readonly catalogName: string) {
    this.db = db as Kysely<BaselineDatabase>;
  }

  async load(table: string): Promise<Map<string, Sample[]>> {
    const rows = await this.db
      .selectFrom('lakehouse_quality_baselines')
      .select(['metric', 'samples'])
      .where('catalog_name', '=', this.catalogName)
      .where('table_ident', '=', table)
      .execute();
    return new Map(rows.map((r) => [r.metric, (JSON.parse(r.samples) as [number, number][]).map(([v, h]) => ({ v, h }))]));
  }

  /** Writes the given windows in one transaction. */
  async save(table: string, windows: Map<string, Sample[]>, now: number): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      for (const [metric, samples] of windows) {
        const cols = { samples: JSON.stringify(samples.map((s) => [s.v, s.h])), updated_at: now };
        await tx
          .insertInto('lakehouse_quality_baselines')
          .values({ catalog_name: this.catalogName, table_ident: table, metric, ...cols })
          .onConflict((oc) => oc.columns(['catalog_name', 'table_ident', 'metric']).doUpdateSet(cols))
          .execute();
      }
    });
  }

  /** Forgets a table's history (after a legitimate change of shape, say). */
  async reset(table: string): Promise<void> {
    await this.db.deleteFrom('lakehouse_quality_baselines').where('catalog_name', '=', this.catalogName).where('table_ident', '=', table).execute();
  }
}
