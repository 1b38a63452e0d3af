/**
 * Warehouse size and disk gauges, for "warehouse growth" and "disk filling up" alert rules:
 * - `lakehouse_warehouse_bytes`: live bytes of every table — the sum of `total-files-size` of
 *   each table's current snapshot (a number Iceberg writers keep in the snapshot summary, so only
 *   metadata files are read, no manifests); `lakehouse_warehouse_tables`: tables counted;
 * - `lakehouse_warehouse_disk_free_bytes` / `_disk_size_bytes`: the filesystem holding a local
 *   warehouse (absent for object stores, which do not fill up).
 * Walking every table is not free, so the walk runs at a scrape at most every `minIntervalMs`
 * (default 60 s; the gauges keep the previous walk's values in between) and stops after
 * `maxTables` tables. A rule `rate(lakehouse_warehouse_bytes) > N` then alerts on growth (rate
 * over a gauge is its per-second change, see alerts/metric-values.ts).
 */
import { statfs } from 'node:fs/promises';
import { Gauge, type Registry } from 'prom-client';
import type { Catalog } from '../catalog/catalog.js';
import type { Namespace, TableIdent } from '../catalog/store.js';
import { currentSnapshot } from '../iceberg/metadata.js';

export interface WarehouseMetricsOptions {
  minIntervalMs?: number;
  maxTables?: number;
}

interface Walk {
  bytes: number;
  tables: number;
  disk: { free: number; size: number } | null;
}

async function* tablesOf(catalog: Catalog): AsyncGenerator<TableIdent> {
  const pending: Namespace[] = [[]];
  while (pending.length > 0) {
    const parent = pending.shift()!;
    for (let token: string | null | undefined = undefined; token !== null; ) {
      const page = await catalog.listNamespaces(parent, { pageToken: token, pageSize: 1000 });
      pending.push(...page.items);
      token = page.nextPageToken;
    }
    if (parent.length === 0) continue;
    for (let token: string | null | undefined = undefined; token !== null; ) {
      const page = await catalog.listTables(parent, { pageToken: token, pageSize: 1000 });
      yield* page.items;
      token = page.nextPageToken;
    }
  }
}

function localPath(warehouse: string | undefined): string | null {
  if (!warehouse) return null;
  if (warehouse.startsWith('/')) return warehouse;
  const m = /^file:(\/\/)?(\/.*)$/i.exec(warehouse);
  return m ? m[2] : null;
}

export class WarehouseMetrics {
  #catalog: Catalog | null = null;
  #last: Walk | null = null;
  #lastAt = 0;
  #walk: Promise<void> | null = null;
  readonly #o: Required<WarehouseMetricsOptions>;

  constructor(registry: Registry, opts: WarehouseMetricsOptions = {}) {
    this.#o = { minIntervalMs: opts.minIntervalMs ?? 60_000, maxTables: opts.maxTables ?? 10_000 };
    const self = this;
    const gauge = (name: string, help: string, pick: (w: Walk) => number | null) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        async collect() {
          const w = await self.#current();
          this.reset();
          const v = w ? pick(w) : null;
          if (v !== null) this.set(v);
        },
      });
    gauge('lakehouse_warehouse_bytes', 'Live bytes of all tables (sum of each current snapshot total-files-size)', (w) => w.bytes);
    gauge('lakehouse_warehouse_tables', 'Tables counted in lakehouse_warehouse_bytes', (w) => w.tables);
    gauge('lakehouse_warehouse_disk_free_bytes', 'Free bytes on the filesystem of a local warehouse', (w) => w.disk?.free ?? null);
    gauge('lakehouse_warehouse_disk_size_bytes', 'Size of the filesystem of a local warehouse', (w) => w.disk?.size ?? null);
  }

  bind(catalog: Catalog): void {
    this.#catalog = catalog;
  }

  /** The latest walk, starting a new one (and waiting for it) when the last is older than the interval. */
  async #current(): Promise<Walk | null> {
    if (!this.#catalog) return null;
    if (Date.now() - this.#lastAt >= this.#o.minIntervalMs) {
      this.#walk ??= this.#measure(this.#catalog)
        .then((w) => {
          this.#last = w;
          this.#lastAt = Date.now();
        })
        .catch(() => undefined) // an unreadable catalog keeps the previous values
        .finally(() => (this.#walk = null));
      await this.#walk;
    }
    return this.#last;
  }

  async #measure(catalog: Catalog): Promise<Walk> {
    let bytes = 0;
    let tables = 0;
    for await (const ident of tablesOf(catalog)) {
      if (tables >= this.#o.maxTables) break;
      try {
        const snap = currentSnapshot((await catalog.loadTable(ident)).metadata);
        bytes += Number(snap?.summary?.['total-files-size'] ?? 0) || 0;
        tables++;
      } catch {
        // Dropped between listing and loading, or unreadable: not counted.
      }
    }
    const path = localPath((catalog as { warehouse?: string }).warehouse);
    let disk: Walk['disk'] = null;
    if (path) {
      try {
        const s = await statfs(path);
        disk = { free: Number(s.bavail) * Number(s.bsize), size: Number(s.blocks) * Number(s.bsize) };
      } catch {
        disk = null;
      }
    }
    return { bytes, tables, disk };
  }
}
