import { access, constants } from 'node:fs/promises';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Catalog } from '../catalog/catalog.js';
import { sqlStoreOf } from '../catalog/sql-store-of.js';
import type { FileIO } from '../storage/fileio.js';

/**
 * Liveness (`/health`: the process answers) and readiness (`/ready`: the catalog store answers a
 * query and the warehouse storage is reachable; 503 with the failing checks' reasons otherwise).
 */
export interface ReadinessOptions {
  catalog: Catalog;
  /** Warehouse root; when absent, taken from the catalog (SqlCatalog.warehouse). */
  warehouse?: string;
  io?: FileIO;
  timeoutMs?: number;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  reason?: string;
  latencyMs: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      timer.unref();
    }),
  ]);
}

async function check(name: string, fn: () => Promise<unknown>, timeoutMs: number): Promise<CheckResult> {
  const start = Date.now();
  try {
    await withTimeout(fn(), timeoutMs, name);
    return { name, ok: true, latencyMs: Date.now() - start };
  } catch (e) {
    return { name, ok: false, reason: (e as Error).message || String(e), latencyMs: Date.now() - start };
  }
}

export async function readinessChecks(opts: ReadinessOptions): Promise<CheckResult[]> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const anyCat = opts.catalog as unknown as { warehouse?: string; io?: FileIO };
  const warehouse = opts.warehouse ?? anyCat.warehouse;
  const io = opts.io ?? anyCat.io;
  const checks: Promise<CheckResult>[] = [
    check(
      'catalog-store',
      async () => {
        const db = sqlStoreOf(opts.catalog)?.db;
        if (db) await sql`select 1`.execute(db);
        else await opts.catalog.listNamespaces([], { pageSize: 1 });
      },
      timeoutMs,
    ),
  ];
  if (warehouse) {
    checks.push(
      check(
        'warehouse-storage',
        async () => {
          if (warehouse.startsWith('/') || /^file:/i.test(warehouse)) {
            await access(warehouse.replace(/^file:(\/\/)?/i, ''), constants.R_OK | constants.W_OK);
          } else if (io) {
            // Any answer (found or not) proves the storage is reachable and the credentials work.
            await io.stat(`${warehouse.replace(/\/+$/, '')}/.lakehouse-ready-probe`);
          }
        },
        timeoutMs,
      ),
    );
  }
  return Promise.all(checks);
}

const CheckSchema = Type.Object({
  name: Type.String(),
  ok: Type.Boolean(),
  reason: Type.Optional(Type.String()),
  latencyMs: Type.Integer(),
});

export function registerHealthRoutes(app: FastifyInstance, opts: ReadinessOptions): void {
  app.get(
    '/health',
    {
      schema: {
        tags: ['service'],
        summary: 'Liveness: the process is up',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async (_req, reply) => reply.type('application/json').send(JSON.stringify({ status: 'ok' })),
  );
  app.get(
    '/ready',
    {
      schema: {
        tags: ['service'],
        summary: 'Readiness: catalog store and warehouse storage reachable',
        response: {
          200: Type.Object({ status: Type.Literal('ready'), checks: Type.Array(CheckSchema) }),
          503: Type.Object({ status: Type.Literal('unavailable'), reasons: Type.Array(Type.String()), checks: Type.Array(CheckSchema) }),
        },
      },
    },
    async (req, reply) => {
      const checks = await readinessChecks(opts);
      const failed = checks.filter((c) => !c.ok);
      if (failed.length > 0) {
        req.log.warn({ checks: failed }, 'not ready');
        return reply
          .code(503)
          .type('application/json')
          .send(JSON.stringify({ status: 'unavailable', reasons: failed.map((c) => `${c.name}: ${c.reason}`), checks }));
      }
      return reply.type('application/json').send(JSON.stringify({ status: 'ready', checks }));
    },
  );
}
