import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.js';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';

/** A listening server over a temp SQLite catalog and warehouse, with captured JSON log lines. */
export interface TestServer {
  dir: string;
  catalog: SqlCatalog;
  app: FastifyInstance;
  base: string;
  logs: Record<string, unknown>[];
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers; text: string }>;
  close(): Promise<void>;
}

export async function startTestServer(logLevel = 'info'): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'lh-own-'));
  mkdirSync(`${dir}/wh`);
  const catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      cb();
    },
  });
  const app = await buildServer({ catalog, logLevel, logStream: logStream as never, security: { anonymous: true } });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const call: TestServer['call'] = async (method, path, body, headers = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, headers: res.headers, text };
  };
  return {
    dir,
    catalog,
    app,
    base,
    logs,
    call,
    async close() {
      await app.close();
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
