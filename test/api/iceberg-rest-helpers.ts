import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { expect } from 'vitest';
import { buildServer } from '../../src/api/server.js';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { parseJsonLossless, stringifyJson } from '../../src/core/json.js';
import '../../src/api/iceberg/schemas.js';

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
  const app = await buildServer({ catalog, logLevel: 'warn', security: { anonymous: true } });
  const root = `${await app.listen({ host: '127.0.0.1', port: 0 })}/v1`;
  const raw = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const res = await fetch(`${root}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : stringifyJson(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (parseJsonLossless(text) as Record<string, any>) : null, text, headers: res.headers };
  };
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
