import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { lakehouseError } from '../core/errors.js';
import { stringifyJson } from '../core/json.js';
import type { JsonValue } from '../duck/result-json.js';
import { toTable } from '../query/formats.js';
import { call as callApi } from './sql.js';

/**
 * `lakehouse schedules <list|show|create|update|delete|run|cancel|runs>`: the scheduler's REST API
 * (`/api/v1/schedules`) of a running service (--url, else LAKEHOUSE_URL, else
 * http://localhost:8181; a bearer token from --token or LAKEHOUSE_TOKEN). Schedules are named by id or by name. Output is a table (default) or
 * the API's JSON (--format json). Failures leave through main's handler: `error [CODE]: message`
 * on stderr, exit 1; `run --wait` also exits 1 when the run does not succeed.
 */
export const SCHEDULES_USAGE = `usage: lakehouse schedules <command> [--url http://host:port] [--token T] [--format table|json]
  list [--owner O]                          the schedules and their next run
  show <schedule>                           one schedule (id or name)
  create [--file spec.json | --json '{…}'] [fields…]
                                            fields: --name N --kind sql|maintenance|batch-ingest --params '{…}'
                                            (--cron '*/5 * * * *' | --interval SECONDS) --timezone TZ --owner O
                                            --description D --timeout-ms N --max-attempts N --backoff-ms N
                                            --concurrency skip|queue --catch-up none|one|all --start-at ISO --enabled true|false
                                            data-quality checks of a table on a schedule: --kind maintenance
                                            --params '{"namespace":"db","table":"t","action":"quality-checks",
                                            "options":{"failOn":"critical|any|never","checks":[…]}}'
  update <schedule> [--file | --json] [fields…]   change the given fields (the rest is kept)
  delete <schedule>                         delete it and its run history
  run <schedule> [--wait] [--timeout-ms N]  queue a run now; --wait until it ends (exit 1 unless it succeeded)
  cancel <run-id>                           cancel a queued or running run
  runs [<schedule>] [--run RUN_ID] [--status s1,s2] [--since ISO] [--until ISO] [--limit N]
                                            run history, newest first; --run shows one run with its logs
`;

const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  format: { type: 'string', default: 'table' },
  owner: { type: 'string' },
  file: { type: 'string' },
  json: { type: 'string' },
  name: { type: 'string' },
  kind: { type: 'string' },
  params: { type: 'string' },
  cron: { type: 'string' },
  interval: { type: 'string' },
  timezone: { type: 'string' },
  description: { type: 'string' },
  'timeout-ms': { type: 'string' },
  'max-attempts': { type: 'string' },
  'backoff-ms': { type: 'string' },
  concurrency: { type: 'string' },
  'catch-up': { type: 'string' },
  'start-at': { type: 'string' },
  enabled: { type: 'string' },
  wait: { type: 'boolean' },
  run: { type: 'string' },
  status: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];
type Json = Record<string, any>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The fields PUT takes (the output has more: id, nextRunAt, timestamps). */
const INPUT_FIELDS = ['name', 'description', 'kind', 'params', 'cron', 'intervalSeconds', 'timezone', 'owner', 'enabled', 'timeoutMs', 'retry', 'concurrency', 'catchUp', 'startAt'];

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw lakehouseError('BAD_REQUEST', `--${name} needs a non-negative integer`);
  return n;
}

function parseJson(what: string, text: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw lakehouseError('BAD_REQUEST', `${what} is not JSON: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw lakehouseError('BAD_REQUEST', `${what} must be a JSON object`);
  return v as Json;
}

/** The spec given by --file / --json, overlaid with the individual field options. */
function specOf(v: Values): Json {
  let spec: Json = {};
  if (v.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(v.file, 'utf8');
    } catch (e) {
      throw lakehouseError('BAD_REQUEST', `cannot read --file ${v.file}: ${(e as Error).message}`);
    }
    spec = parseJson(`--file ${v.file}`, text);
  }
  if (v.json !== undefined) spec = { ...spec, ...parseJson('--json', v.json) };
  const set = (k: string, val: unknown) => {
    if (val !== undefined) spec[k] = val;
  };
  set('name', v.name);
  set('kind', v.kind);
  if (v.params !== undefined) spec.params = parseJson('--params', v.params);
  if (v.cron !== undefined) {
    spec.cron = v.cron;
    delete spec.intervalSeconds;
  }
  if (v.interval !== undefined) {
    spec.intervalSeconds = int('interval', v.interval);
    delete spec.cron;
  }
  set('timezone', v.timezone);
  set('owner', v.owner);
  set('description', v.description);
  set('timeoutMs', int('timeout-ms', v['timeout-ms']));
  set('concurrency', v.concurrency);
  set('catchUp', v['catch-up']);
  set('startAt', v['start-at']);
  if (v.enabled !== undefined) {
    if (!/^(true|false)$/.test(v.enabled)) throw lakehouseError('BAD_REQUEST', '--enabled takes true or false');
    spec.enabled = v.enabled === 'true';
  }
  const maxAttempts = int('max-attempts', v['max-attempts']);
  const backoffMs = int('backoff-ms', v['backoff-ms']);
  if (maxAttempts !== undefined || backoffMs !== undefined) spec.retry = { ...(spec.retry ?? {}), ...(maxAttempts !== undefined ? { maxAttempts } : {}), ...(backoffMs !== undefined ? { backoffMs } : {}) };
  return spec;
}

const cell = (v: unknown): JsonValue => (v === undefined ? null : typeof v === 'object' && v !== null ? JSON.stringify(v) : (v as JsonValue));

function table(columns: string[], rows: Json[]): string {
  return toTable({ columns: columns.map((name) => ({ name, type: /Affected|attempt/.test(name) ? 'BIGINT' : 'VARCHAR' })), rows: rows.map((r) => columns.map((c) => cell(r[c]))) });
}

const scheduleLine = (s: Json) => ({ ...s, when: s.cron ? `cron ${s.cron} ${s.timezone}` : `every ${s.intervalSeconds} s` });
const SCHEDULE_COLUMNS = ['id', 'name', 'kind', 'when', 'enabled', 'owner', 'nextRunAt'];
const RUN_COLUMNS = ['id', 'scheduledFor', 'trigger', 'status', 'attempt', 'startedAt', 'endedAt', 'rowsAffected', 'filesAffected', 'error'];

function describe(obj: Json, logs?: Json[]): string {
  const rows = Object.entries(obj)
    .filter(([k]) => k !== 'logs')
    .map(([k, v]) => ({ field: k, value: cell(v) }));
  let out = table(['field', 'value'], rows);
  if (logs?.length) out += `logs:\n${logs.map((l) => `  ${l.at} ${String(l.level).padEnd(5)} ${l.message}`).join('\n')}\n`;
  return out;
}

export async function schedulesCommand(args: string[], usage: string): Promise<number> {
  const [sub, ...rest] = args;
  const { values: v, positionals } = parseArgs({ args: rest, allowPositionals: true, options: OPTIONS });
  const format = v.format;
  if (format !== 'table' && format !== 'json') {
    process.stderr.write(SCHEDULES_USAGE);
    return 2;
  }
  const base = `${(v.url ?? process.env.LAKEHOUSE_URL ?? 'http://localhost:8181').replace(/\/+$/, '')}/api/v1`;
  const token = v.token ?? process.env.LAKEHOUSE_TOKEN;
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const call = (url: string, init: RequestInit = {}) => callApi(url, { ...init, headers: auth });
  const out = (json: unknown, text: () => string) => process.stdout.write(format === 'json' ? `${stringifyJson(json as JsonValue)}\n` : text());
  const arg = (what: string): string => {
    if (positionals.length !== 1) throw lakehouseError('BAD_REQUEST', `schedules ${sub} takes one ${what}\n${SCHEDULES_USAGE}`);
    return positionals[0];
  };
  /** A schedule by id, or else by (exact) name. */
  const resolve = async (ref: string): Promise<Json> => {
    if (UUID.test(ref)) return call(`${base}/schedules/${ref}`);
    const found = ((await call(`${base}/schedules`)).schedules as Json[]).find((s) => s.name === ref);
    if (!found) throw lakehouseError('NOT_FOUND', `no schedule named ${ref}`);
    return found;
  };
  const post = (url: string, body?: Json, method = 'POST') => call(url, { method, ...(body ? { body: JSON.stringify(body) } : {}) });

  switch (sub) {
    case 'list': {
      const res = await call(`${base}/schedules${v.owner ? `?owner=${encodeURIComponent(v.owner)}` : ''}`);
      out(res, () => `${table(SCHEDULE_COLUMNS, (res.schedules as Json[]).map(scheduleLine))}(${res.schedules.length} schedules)\n`);
      return 0;
    }
    case 'show': {
      const s = await resolve(arg('schedule'));
      out(s, () => describe(s));
      return 0;
    }
    case 'create': {
      if (positionals.length) throw lakehouseError('BAD_REQUEST', `schedules create takes no positional arguments\n${SCHEDULES_USAGE}`);
      const s = await post(`${base}/schedules`, specOf(v));
      out(s, () => `created schedule ${s.name} (${s.id}); next run ${s.nextRunAt ?? 'none'}\n`);
      return 0;
    }
    case 'update': {
      const cur = await resolve(arg('schedule'));
      const merged: Json = Object.fromEntries(INPUT_FIELDS.filter((k) => cur[k] !== null && cur[k] !== undefined).map((k) => [k, cur[k]]));
      const patch = specOf(v);
      if (patch.cron !== undefined) delete merged.intervalSeconds;
      if (patch.intervalSeconds !== undefined) delete merged.cron;
      // startAt of a stored schedule is its creation time; sending it back would make slots since then "missed".
      if (patch.startAt === undefined) delete merged.startAt;
      const s = await post(`${base}/schedules/${cur.id}`, { ...merged, ...patch }, 'PUT');
      out(s, () => `updated schedule ${s.name} (${s.id}); next run ${s.nextRunAt ?? 'none'}\n`);
      return 0;
    }
    case 'delete': {
      const cur = await resolve(arg('schedule'));
      await call(`${base}/schedules/${cur.id}`, { method: 'DELETE' });
      out({ deleted: cur.id }, () => `deleted schedule ${cur.name} (${cur.id})\n`);
      return 0;
    }
    case 'run': {
      const cur = await resolve(arg('schedule'));
      let run = await post(`${base}/schedules/${cur.id}/run`);
      if (v.wait) {
        const deadline = v['timeout-ms'] !== undefined ? Date.now() + int('timeout-ms', v['timeout-ms'])! : Infinity;
        while (['queued', 'running'].includes(run.status)) {
          if (Date.now() > deadline) throw lakehouseError('QUERY_TIMEOUT', `run ${run.id} still ${run.status} after ${v['timeout-ms']} ms`);
          await new Promise((r) => setTimeout(r, 250));
          run = await call(`${base}/schedules/runs/${run.id}`);
        }
      }
      out(run, () => (v.wait ? describe(run, run.logs) : `queued run ${run.id} of ${cur.name}\n`));
      if (v.wait && run.status !== 'succeeded') {
        // The run's own error code when it has one ("[CODE] message"), else the run's status.
        const m = /^\[([A-Z_]+)\] ([\s\S]*)$/.exec(run.error ?? '');
        const code = m ? m[1] : run.status === 'cancelled' ? 'CANCELLED' : 'RUN_FAILED';
        process.stderr.write(`error [${code}]: run ${run.id} ${run.status}${run.error ? `: ${m ? m[2] : run.error}` : ''}\n`);
        return 1;
      }
      return 0;
    }
    case 'cancel': {
      const run = await post(`${base}/schedules/runs/${encodeURIComponent(arg('run id'))}/cancel`);
      out(run, () => `run ${run.id}: ${run.status}${run.cancelRequested && run.status === 'running' ? ' (cancel requested)' : ''}\n`);
      return 0;
    }
    case 'runs': {
      if (v.run !== undefined) {
        const run = await call(`${base}/schedules/runs/${encodeURIComponent(v.run)}`);
        out(run, () => describe(run, run.logs));
        return 0;
      }
      if (positionals.length > 1) throw lakehouseError('BAD_REQUEST', `schedules runs takes at most one schedule\n${SCHEDULES_USAGE}`);
      const q = new URLSearchParams();
      for (const k of ['status', 'since', 'until', 'limit'] as const) if (v[k] !== undefined) q.set(k, String(v[k]));
      const path = positionals.length ? `/schedules/${(await resolve(positionals[0])).id}/runs` : '/schedules/runs';
      const res = await call(`${base}${path}${q.size ? `?${q}` : ''}`);
      out(res, () => `${table(RUN_COLUMNS, res.runs as Json[])}(${res.runs.length} runs)\n`);
      return 0;
    }
    case 'help':
    case '--help':
      process.stdout.write(SCHEDULES_USAGE);
      return 0;
    default:
      process.stderr.write(sub ? `unknown schedules command: ${sub}\n${SCHEDULES_USAGE}` : `${usage}\n${SCHEDULES_USAGE}`);
      return 2;
  }
}
