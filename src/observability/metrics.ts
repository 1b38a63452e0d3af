import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Catalog } from '../catalog/catalog.js';
import { isLakehouseError } from '../core/errors.js';
import { onObserved } from './events.js';
import { PipelineMetrics } from './pipeline-metrics.js';
import { TableHealthMetrics, type TableHealthOptions } from './table-health-metrics.js';
import { WarehouseMetrics, type WarehouseMetricsOptions } from './warehouse-metrics.js';

/**
 * Prometheus metrics on a registry per server (so several servers in one process don't clash):
 * - `http_request_duration_seconds{method,route,status_code}` — route is the route pattern
 *   (`/api/v1/tables/:namespace/:table`), never the raw URL; unmatched requests use `unmatched`;
 * - `lakehouse_catalog_commits_total{result}` (success | conflict | error),
 *   `lakehouse_catalog_commit_duration_seconds{result}`, `lakehouse_catalog_commit_conflicts_total`;
 * - ingestion, query, scheduler, data-quality and commit-retry families (pipeline-metrics.ts),
 *   fed by events the modules
 *   `observe()` (events.ts) — those modules never import prom-client;
 * - table health gauges for recently changed tables (table-health-metrics.ts);
 * - warehouse size and, for a local warehouse, disk gauges (warehouse-metrics.ts);
 * - Node process metrics (prom-client's collectDefaultMetrics).
 * `close()` unsubscribes from the process-wide events (the server does it on close).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly commits: Counter<'result'>;
  readonly commitDuration: Histogram<'result'>;
  readonly commitConflicts: Counter;
  readonly pipeline: PipelineMetrics;
  readonly tableHealth: TableHealthMetrics;
  readonly warehouse: WarehouseMetrics;
  readonly #unsubscribe: () => void;
  /** Catalogs this instance wrapped (wrapping one again would count its commits twice). */
  readonly #wrapped = new WeakSet<object>();

  constructor(opts: { defaultMetrics?: boolean; tableHealth?: TableHealthOptions; warehouse?: WarehouseMetricsOptions } = {}) {
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route pattern and status',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.commits = new Counter({
      name: 'lakehouse_catalog_commits_total',
      help: 'Catalog table commits by result (success, conflict, error)',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.commitDuration = new Histogram({
      name: 'lakehouse_catalog_commit_duration_seconds',
      help: 'Catalog table commit latency by result',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [this.registry],
    });
    this.commitConflicts = new Counter({
      name: 'lakehouse_catalog_commit_conflicts_total',
      help: 'Catalog table commits rejected because of a concurrent change or failed requirement (CommitFailedException)',
      registers: [this.registry],
    });
    this.pipeline = new PipelineMetrics(this.registry);
    this.tableHealth = new TableHealthMetrics(this.registry, opts.tableHealth);
    this.warehouse = new WarehouseMetrics(this.registry, opts.warehouse);
    this.#unsubscribe = onObserved((e) => {
      if (e.type === 'table.touched') this.tableHealth.touched(e.table);
      else this.pipeline.on(e);
    });
  }

  close(): void {
    this.#unsubscribe();
  }

  /** Times every request; registered as root hooks so they apply to all routes. */
  instrumentServer(app: FastifyInstance): void {
    const starts = new WeakMap<object, bigint>();
    app.addHook('onRequest', async (req) => {
      starts.set(req, process.hrtime.bigint());
    });
    app.addHook('onResponse', async (req, reply) => {
      const start = starts.get(req);
      if (start === undefined) return;
      const route = req.routeOptions?.url ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      this.httpDuration.observe({ method: req.method, route: reply.statusCode === 404 && !req.routeOptions?.url ? 'unmatched' : route, status_code: String(reply.statusCode) }, seconds);
    });
  }

  /**
   * Wraps a catalog so `commitTable` is counted and timed; everything else passes through to the
   * original object (its own `this`). The wrapper is what routes receive — and what every other
   * committer in the process (job manager, scheduler) must be given, or its commits go uncounted.
   * Passing an already wrapped catalog returns it as is.
   */
  instrumentCatalog<C extends Catalog>(catalog: C): C {
    if (this.#wrapped.has(catalog)) return catalog;
    const m = this;
    m.tableHealth.bind(catalog);
    m.warehouse.bind(catalog);
    const commitTable: Catalog['commitTable'] = async (ident, request) => {
      const start = process.hrtime.bigint();
      let result = 'success';
      try {
        const out = await catalog.commitTable(ident, request);
        m.tableHealth.touched(ident);
        return out;
      } catch (e) {
        result = isLakehouseError(e, 'COMMIT_FAILED') ? 'conflict' : 'error';
        if (result === 'conflict') m.commitConflicts.inc();
        throw e;
      } finally {
        m.commits.inc({ result });
        m.commitDuration.observe({ result }, Number(process.hrtime.bigint() - start) / 1e9);
      }
    };
    const wrapped = new Proxy(catalog, {
      get(target, prop) {
        if (prop === 'commitTable') return commitTable;
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as Function).bind(target) : v;
      },
    });
    this.#wrapped.add(wrapped);
    return wrapped;
  }
}
