import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ERRORS, lakehouseError, type ErrorCode } from '../core/errors.js';
import { stringifyJson } from '../core/json.js';
import type { JsonValue } from '../duck/result-json.js';
import { toCsv, toTable, type Tabular } from '../query/formats.js';

/**
 * `lakehouse sql "<query>"`: with --url, through the running service's query API (all pages);
 * otherwise on the local warehouse opened from the same configuration as `serve`.
 * Errors leave through main's handler: `error [CODE]: message` on stderr, exit 1.
 */
interface SqlResult extends Tabular {
  truncated: boolean;
  stats?: unknown;
}

const FORMATS = ['json', 'csv', 'table'] as const;

export async function sqlCommand(args: string[], usage: string): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      format: { type: 'string', default: 'table' },
      namespace: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      'max-rows': { type: 'string' },
      'timeout-ms': { type: 'string' },
    },
  });
  const format = values.format as (typeof FORMATS)[number];
  if (positionals.length !== 1 || !FORMATS.includes(format)) {
    process.stderr.write(usage);
    return 2;
  }
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw lakehouseError('BAD_REQUEST', `--${name} needs a positive integer`);
    return n;
  };
  const req = { sql: positionals[0], namespace: values.namespace, maxRows: int('max-rows', values['max-rows']), timeoutMs: int('timeout-ms', values['timeout-ms']) };
  const token = values.token ?? process.env.LAKEHOUSE_TOKEN;
  const result = values.url ? await remote(values.url, req, token) : await local(req);
  if (format === 'json') process.stdout.write(`${stringifyJson(result)}\n`);
  else if (format === 'csv') process.stdout.write(toCsv(result));
  else {
    process.stdout.write(toTable(result));
    process.stdout.write(`(${result.rows.length} row${result.rows.length === 1 ? '' : 's'}${result.truncated ? ', truncated' : ''})\n`);
  }
  return 0;
}

interface SqlRequest {
  sql: string;
  namespace?: string;
  maxRows?: number;
  timeoutMs?: number;
}

async function local(req: SqlRequest): Promise<SqlResult> {
  const { loadConfig, securityConfigOf, storageConfigOf } = await import('../config.js');
  const { enableEncryption } = await import('../security/encryption/enable.js');
  const { openSqlCatalog } = await import('../catalog/open-catalog.js');
  const { QueryEngine } = await import('../query/engine.js');
  const config = loadConfig();
  if (config.warehouse.startsWith('/')) mkdirSync(config.warehouse, { recursive: true });
  const catalog = await openSqlCatalog({ storeUrl: config.catalogUrl, warehouse: config.warehouse, name: config.catalogName, storage: storageConfigOf(config) });
  // Encrypted tables read (and write) here as in the service, with the same master key.
  const ring = securityConfigOf(config).masterKeys;
  const encryption = ring ? enableEncryption(catalog, ring) : null;
  const controller = new AbortController();
  const timer = req.timeoutMs
    ? setTimeout(() => controller.abort(lakehouseError('QUERY_TIMEOUT', `query exceeded its time limit of ${req.timeoutMs} ms`)), req.timeoutMs)
    : undefined;
  const onSigint = () => controller.abort(lakehouseError('QUERY_CANCELLED', 'query cancelled (SIGINT)'));
  process.once('SIGINT', onSigint);
  try {
    const r = await new QueryEngine(catalog).query(req.sql, {
      defaultNamespace: req.namespace?.split('.'),
      maxRows: req.maxRows,
      signal: controller.signal,
    });
    return { columns: r.columns, rows: r.rows, truncated: r.truncated, stats: r.stats };
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSigint);
    encryption?.disable();
    await catalog.close();
  }
}

/** The registry code for a wire error (status + type), for `error [CODE]`. */
function codeOf(status: number, type: string): ErrorCode {
  const keys = Object.keys(ERRORS) as ErrorCode[];
  return keys.find((k) => ERRORS[k].status === status && ERRORS[k].type === type) ?? keys.find((k) => ERRORS[k].status === status) ?? 'INTERNAL';
}

export async function call(url: string, init?: RequestInit): Promise<any> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers: { accept: 'application/json', ...(init?.body ? { 'content-type': 'application/json' } : {}), ...(init?.headers as Record<string, string> | undefined) } });
  } catch (e) {
    throw lakehouseError('SERVICE_UNAVAILABLE', `cannot reach ${url}: ${(e as Error).cause ?? (e as Error).message}`);
  }
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (!res.ok) {
    const err = body?.error;
    throw lakehouseError(err ? codeOf(res.status, String(err.type)) : codeOf(res.status, ''), err?.message ?? `HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
  return body;
}

async function remote(base: string, req: SqlRequest, bearer: string | undefined): Promise<SqlResult> {
  const root = `${base.replace(/\/+$/, '')}/api/v1/queries`;
  const headers: Record<string, string> = bearer ? { authorization: `Bearer ${bearer}` } : {};
  const first = await call(root, {
    method: 'POST',
    headers,
    body: JSON.stringify({ sql: req.sql, defaultNamespace: req.namespace, maxRows: req.maxRows, timeoutMs: req.timeoutMs, pageSize: 100_000 }),
  });
  const rows: JsonValue[][] = [...first.rows];
  let token: string | undefined = first.nextPageToken;
  while (token) {
    const page = await call(`${root}/${first.queryId}/results?pageSize=100000&pageToken=${encodeURIComponent(token)}`, { headers });
    rows.push(...page.rows);
    token = page.nextPageToken;
  }
  return { columns: first.columns, rows, truncated: first.truncated, stats: first.stats };
}
