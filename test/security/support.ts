import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.js';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { securityOf, type SecurityOptions, type SecurityRuntime } from '../../src/security/http.js';

/** A listening server with authentication on, over a temp SQLite catalog; the bootstrap admin key captured. */
export interface SecureServer {
  dir: string;
  catalog: SqlCatalog;
  app: FastifyInstance;
  runtime: SecurityRuntime;
  base: string;
  /** The admin key printed at first start. */
  adminKey: string;
  adminCredential: string;
  bootstrapText: string;
  call(method: string, path: string, opts?: { body?: unknown; token?: string; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers; text: string }>;
  close(): Promise<void>;
}

export async function startSecureServer(security: SecurityOptions = {}, opts: { catalogUrl?: string; tls?: { cert: string; key: string } } = {}): Promise<SecureServer> {
  const dir = mkdtempSync(join(tmpdir(), 'lh-sec-'));
  mkdirSync(`${dir}/wh`);
  const catalog = await openSqlCatalog({ storeUrl: opts.catalogUrl ?? `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
  let bootstrapText = '';
  const app = await buildServer({
    catalog,
    logLevel: 'silent',
    security: { ...security, bootstrapOut: { write: (t: string) => (bootstrapText += t) } },
    tls: opts.tls,
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const adminKey = /Bearer (lhk_\S+)/.exec(bootstrapText)?.[1] ?? '';
  const adminCredential = /credential=(\S+)/.exec(bootstrapText)?.[1] ?? '';
  const call: SecureServer['call'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
    if (o.body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, body: o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body) });
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
    runtime: securityOf(app)!,
    base,
    adminKey,
    adminCredential,
    bootstrapText,
    call,
    async close() {
      await app.close();
      await catalog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
