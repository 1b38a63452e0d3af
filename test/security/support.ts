import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { securityOf, type SecurityOptions, type SecurityRuntime } from '../../src/security/http.js';
import { bearer, jsonOrText, startServer, stringsAsIs } from '../support/http.js';

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
  const { app, base, call: http } = await startServer(
    { catalog, logLevel: 'silent', security: { ...security, bootstrapOut: { write: (t: string) => (bootstrapText += t) } }, tls: opts.tls },
    { parse: jsonOrText, encode: stringsAsIs },
  );
  const adminKey = /Bearer (lhk_\S+)/.exec(bootstrapText)?.[1] ?? '';
  const adminCredential = /credential=(\S+)/.exec(bootstrapText)?.[1] ?? '';
  const call: SecureServer['call'] = (method, path, o = {}) => http(method, path, o.body, { ...o.headers, ...(o.token === undefined ? {} : bearer(o.token)) });
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
