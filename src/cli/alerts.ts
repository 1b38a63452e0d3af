import { parseArgs } from 'node:util';
import { ERRORS, lakehouseError, type ErrorCode } from '../core/errors.js';

/**
 * `lakehouse alerts list|rules|history|silence` against a running service's `/api/v1/alerts`:
 *   list     [--state firing|pending|inactive]     current alerts
 *   rules                                          alert rules
 *   history  [--key K] [--event firing,resolved] [--limit N]
 *   silence  --match name=value … --for 2h|--until <date-time> [--comment text]
 * Output is a plain table (or --format json). Errors leave through main's handler.
 */
export const ALERTS_USAGE = `  lakehouse alerts list [--state firing|pending|inactive] | rules | history [--key K] [--event E,…] [--limit N]
                  | silence --match label=value|label=~regex … (--for 2h | --until <ISO time>) [--comment …]
                                       alert state, rules, history and silences of the service at --url (default http://127.0.0.1:8181); --format table|json
`;

async function call(base: string, method: string, path: string, body?: unknown, token?: string): Promise<any> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(`${base.replace(/\/+$/, '')}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw lakehouseError('SERVICE_UNAVAILABLE', `cannot reach ${base}: ${(e as Error).message}`);
  }
  const text = await res.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const err = parsed?.error;
    // The service's code back from its wire shape (status and exception type).
    const keys = Object.keys(ERRORS) as ErrorCode[];
    const code = keys.find((k) => ERRORS[k].status === res.status && ERRORS[k].type === err?.type) ?? keys.find((k) => ERRORS[k].status === res.status) ?? 'INTERNAL';
    throw lakehouseError(code, err?.message ?? `HTTP ${res.status}: ${text}`);
  }
  return parsed;
}

function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(columns), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n') + '\n';
}

/** `2h`, `30m`, `90s`, `1d` → ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!m) throw lakehouseError('BAD_REQUEST', `--for needs a duration like 30m, 2h or 1d: ${text}`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

export function parseMatcher(text: string): { name: string; op: string; value: string } {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(=~|!~|!=|=)(.*)$/.exec(text);
  if (!m) throw lakehouseError('BAD_REQUEST', `--match needs label=value, label!=value, label=~regex or label!~regex: ${text}`);
  return { name: m[1], op: m[2], value: m[3] };
}

export async function alertsCommand(args: string[], usage = `usage:\n${ALERTS_USAGE}`): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string', default: process.env.LAKEHOUSE_URL ?? 'http://127.0.0.1:8181' },
      token: { type: 'string', default: process.env.LAKEHOUSE_TOKEN },
      format: { type: 'string', default: 'table' },
      state: { type: 'string' },
      key: { type: 'string' },
      event: { type: 'string' },
      limit: { type: 'string' },
      match: { type: 'string', multiple: true },
      for: { type: 'string' },
      until: { type: 'string' },
      comment: { type: 'string' },
    },
  });
  const [sub] = positionals;
  if (values.format !== 'table' && values.format !== 'json') {
    process.stderr.write(usage);
    return 2;
  }
  const base = values.url!;
  const out = (obj: unknown, rows: Record<string, unknown>[], columns: string[]) => process.stdout.write(values.format === 'json' ? `${JSON.stringify(obj, null, 2)}\n` : table(rows, columns));
  switch (sub) {
    case 'list': {
      const q = values.state ? `?state=${encodeURIComponent(values.state)}` : '';
      const r = await call(base, 'GET', `/alerts${q}`, undefined, values.token);
      out(r, r.alerts, ['state', 'severity', 'name', 'key', 'value', 'activeSince', 'message']);
      return 0;
    }
    case 'rules': {
      const r = await call(base, 'GET', '/alerts/rules', undefined, values.token);
      const sel = (metric: string, matchers: any[] = [], agg = 'sum', fn = 'value') => {
        const inner = `${agg}(${metric}${matchers.length ? `{${matchers.map((m: any) => `${m.name}${m.op}"${m.value}"`).join(',')}}` : ''})`;
        return fn === 'value' ? inner : `${fn}(${inner})`;
      };
      const rows = r.rules.map((x: any) => ({
        ...x,
        condition: `${sel(x.metric, x.matchers, x.aggregation, x.fn)}${x.denominator ? ` / ${sel(x.denominator.metric, x.denominator.matchers, x.denominator.aggregation, x.fn)}` : ''} ${x.comparison} ${x.threshold}`,
        for: `${x.forSeconds}s`,
      }));
      out(r, rows, ['name', 'severity', 'condition', 'for', 'enabled', 'id']);
      return 0;
    }
    case 'history': {
      const p = new URLSearchParams();
      if (values.key) p.set('key', values.key);
      if (values.event) p.set('event', values.event);
      if (values.limit) p.set('limit', values.limit);
      const r = await call(base, 'GET', `/alerts/history${p.size ? `?${p}` : ''}`, undefined, values.token);
      out(r, r.history, ['at', 'event', 'severity', 'name', 'key', 'value', 'message']);
      return 0;
    }
    case 'silence': {
      if (!values.match?.length || (!values.for && !values.until)) {
        process.stderr.write(usage);
        return 2;
      }
      const until = values.until ?? new Date(Date.now() + parseDuration(values.for!)).toISOString();
      const r = await call(base, 'POST', '/alerts/silences', { matchers: values.match.map(parseMatcher), until, ...(values.comment ? { comment: values.comment } : {}) }, values.token);
      out(r, [r], ['id', 'until', 'matchers', 'comment']);
      return 0;
    }
    case 'help':
      process.stdout.write(usage);
      return 0;
    default:
      process.stderr.write(usage);
      return 2;
  }
}
