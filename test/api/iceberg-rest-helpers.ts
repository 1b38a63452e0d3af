import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { expect } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { parseJsonLossless, stringifyJson } from '../../src/core/json.js';
import '../../src/api/iceberg/schemas.js';
import { httpClient, startServer } from '../support/http.js';

export interface Reply {
  status: number;
  body: Record<string, any> | null;
  text: string;
  headers: Headers;
}

export interface RestFixture {
  dir: string;
  catalog: SqlCatalog;
  app: FastifyInstance;
  /** `http://host:port/v1` */
  root: string;
  /** Calls `/v1/lakehouse` + path. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  /** Calls `/v1` + path. */
  raw(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  close(): Promise<void>;
}

/** A listening server over a SQLite catalog in a temp dir (real HTTP via Node's fetch). */
export async function startRest(): Promise<RestFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'lh-rest-'));
  const catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
  const { app, base } = await startServer({ catalog, logLevel: 'warn', security: { anonymous: true } });
  const root = `${base}/v1`;
  // Lossless both ways (64-bit ids); a string body is sent as it is (malformed-request tests).
  const raw: RestFixture['raw'] = httpClient(root, { parse: parseJsonLossless, encode: (body) => (typeof body === 'string' ? body : stringifyJson(body)) });
  return {
    dir,
    catalog,
    app,
    root,
    raw,
    call: (method, path, body, headers) => raw(method, `/lakehouse${path}`, body, headers),
    async close() {
      await app.close();
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const compiled = new Map<TSchema, ReturnType<typeof TypeCompiler.Compile>>();

/** Asserts a response body matches the route's documented TypeBox schema. */
export function expectSchema(schema: TSchema, body: unknown): void {
  let c = compiled.get(schema);
  if (!c) compiled.set(schema, (c = TypeCompiler.Compile(schema)));
  const errors = [...c.Errors(body)].slice(0, 3).map((e) => `${e.path}: ${e.message}`);
  expect(errors).toEqual([]);
}

export const SCHEMA = {
  type: 'struct',
  fields: [
    { id: 1, name: 'id', type: 'long', required: true },
    { id: 2, name: 'name', type: 'string', required: false },
  ],
};

export function expectError(r: Reply, status: number, type: string): void {
  expect({ status: r.status, type: r.body?.error?.type }).toEqual({ status, type });
  expect(r.body!.error.code).toBe(status);
  expect(typeof r.body!.error.message).toBe('string');
}
