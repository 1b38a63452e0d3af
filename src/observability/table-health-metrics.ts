/**
 * Table health gauges (small files, delete-file ratio, snapshots, manifests, bytes) for the tables
 * this process changed recently. Computing health reads the head's manifests, so it is bounded:
 * at most `maxTables` tables are tracked (least recently touched dropped), a table's numbers are
 * recomputed at scrape only when it changed since and at most every `minIntervalMs`, and one
 * scrape recomputes at most `maxPerScrape` tables (the rest keep their previous values).
 */
import { Gauge, type Registry } from 'prom-client';
import type { Catalog } from '../catalog/catalog.js';
import { identToString } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { tableHealth, type TableHealth } from '../maintenance/health.js';

interface Tracked {
  ident: TableIdent;
  touchedAt: number;
  computedAt: number;
  health: TableHealth | null;
}

export interface TableHealthOptions {
  maxTables?: number;
  maxPerScrape?: number;
  minIntervalMs?: number;
}

const GAUGES: [name: string, help: string, pick: (h: TableHealth) => number][] = [
  ['lakehouse_table_small_files', 'Data files below 75% of the target file size at the main head', (h) => h.smallFiles],
  ['lakehouse_table_data_files', 'Live data files at the main head', (h) => h.dataFiles],
  ['lakehouse_table_delete_file_ratio', 'Delete files per data file at the main head', (h) => h.deleteFileRatio],
  ['lakehouse_table_snapshots', 'Snapshots kept in table metadata', (h) => h.snapshots],
  ['lakehouse_table_manifests', 'Manifests of the main head', (h) => h.manifests],
  ['lakehouse_table_bytes', 'Bytes of live data and delete files at the main head', (h) => h.totalBytes],
];

export class TableHealthMetrics {
  readonly #tracked = new Map<string, Tracked>();
  #catalog: Catalog | null = null;
  #refresh: Promise<void> | null = null;
  readonly #o: Required<TableHealthOptions>;

  constructor(registry: Registry, opts: TableHealthOptions = {}) {
    this.#o = { maxTables: opts.maxTables ?? 50, maxPerScrape: opts.maxPerScrape ?? 10, minIntervalMs: opts.minIntervalMs ?? 30_000 };
    const self = this;
    for (const [name, help, pick] of GAUGES) {
      new Gauge({
        name,
        help,
        labelNames: ['table'],
        registers: [registry],
        async collect() {
          await self.#refreshOnce();
          this.reset();
          for (const [table, t] of self.#tracked) if (t.health) this.set({ table }, pick(t.health));
        },
      });
    }
  }

  /** The catalog health is read through (the server's). */
  bind(catalog: Catalog): void {
    this.#catalog = catalog;
  }

  touched(ident: TableIdent): void {
    const key = identToString(ident);
    const t = this.#tracked.get(key);
    this.#tracked.delete(key); // re-insert: Map order is recency
    this.#tracked.set(key, { ident, touchedAt: Date.now(), computedAt: t?.computedAt ?? 0, health: t?.health ?? null });
    while (this.#tracked.size > this.#o.maxTables) this.#tracked.delete(this.#tracked.keys().next().value!);
  }

  /** One refresh shared by the gauges of a scrape (they collect one after another). */
  #refreshOnce(): Promise<void> {
    this.#refresh ??= this.#recompute().finally(() => {
      setTimeout(() => (this.#refresh = null), 250).unref();
    });
    return this.#refresh;
  }

  async #recompute(): Promise<void> {
    const catalog = this.#catalog;
    if (!catalog) return;
    const now = Date.now();
    const due = [...this.#tracked.entries()]
      .filter(([, t]) => t.touchedAt >= t.computedAt && now - t.computedAt >= this.#o.minIntervalMs)
      .sort((a, b) => a[1].computedAt - b[1].computedAt)
      .slice(0, this.#o.maxPerScrape);
    for (const [key, t] of due) {
      try {
        t.health = await tableHealth(await catalog.loadTable(t.ident));
        t.computedAt = Date.now();
      } catch {
        // Dropped (or unreadable) tables stop being reported.
        this.#tracked.delete(key);
      }
    }
  }
}
