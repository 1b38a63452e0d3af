import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema';

/**
 * The typed API client (types generated from openapi.json by scripts/build-web.mjs). The API key
 * lives in sessionStorage: it survives reloads of the tab but not closing it, and never reaches
 * other tabs or disk beyond the browser's session store.
 */
const KEY = 'lakehouse.apiKey';

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  set: (k: string) => sessionStorage.setItem(KEY, k),
  clear: () => sessionStorage.removeItem(KEY),
};

/** An API error as the service sends it: `{error:{message,type,code}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

const auth: Middleware = {
  onRequest({ request }) {
    const k = session.key();
    if (k) request.headers.set('authorization', `Bearer ${k}`);
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: location.origin });
api.use(auth);

export function headers(extra: Record<string, string> = {}): Record<string, string> {
  const k = session.key();
  return k ? { authorization: `Bearer ${k}`, ...extra } : extra;
}

export function toApiError(status: number, body: unknown): ApiError {
  const e = (body as { error?: { message?: string; type?: string } } | null)?.error;
  if (status === 401) onUnauthorized();
  return new ApiError(status, e?.type ?? `HTTP ${status}`, e?.message ?? (typeof body === 'string' && body ? body : 'request failed'));
}

/** Unwraps an openapi-fetch result: its data, or an ApiError. */
export async function ok<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const r = await p;
  if (!r.response.ok || r.error !== undefined) throw toApiError(r.response.status, r.error);
  return r.data as T;
}

/** A plain request for routes whose path is not fixed in the document (the Iceberg REST prefix) or non-JSON bodies. */
export async function raw(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(path, { ...init, headers: { ...headers(), ...(init.headers as Record<string, string> | undefined) } });
  if (!res.ok) {
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    throw toApiError(res.status, body);
  }
  return res;
}

export type Schemas = paths;
export type TableInfo = paths['/api/v1/tables/{namespace}/{table}']['get']['responses']['200']['content']['application/json'];
export type Snapshot = paths['/api/v1/tables/{namespace}/{table}/snapshots']['get']['responses']['200']['content']['application/json']['snapshots'][number];
export type Principal = paths['/api/v1/security/whoami']['get']['responses']['200']['content']['application/json'];

/** Runs one SQL statement synchronously (small internal reads: previews, metadata tables). */
export async function sql(statement: string, maxRows = 200): Promise<{ columns: { name: string; type: string }[]; rows: unknown[][]; rowCount: number }> {
  const r = await ok(api.POST('/api/v1/queries', { body: { sql: statement, maxRows, pageSize: Math.min(maxRows, 10000) } }));
  return r as unknown as { columns: { name: string; type: string }[]; rows: unknown[][]; rowCount: number };
}

/** Quotes an identifier for SQL (namespace levels and table names). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualified(ns: string, table: string, suffix = ''): string {
  return `${ns.split('.').map(ident).join('.')}.${ident(table + suffix)}`;
}
