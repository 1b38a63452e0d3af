import { parseArgs } from 'node:util';
import { lakehouseError } from '../core/errors.js';
import { stringifyJson } from '../core/json.js';
import type { JsonValue } from '../duck/result-json.js';
import { toTable } from '../query/formats.js';
import { call as callApi } from './sql.js';

/**
 * `lakehouse jobs <command>`: ingestion job operations against a running service (--url, or
 * LAKEHOUSE_URL, default http://localhost:8181; --token or LAKEHOUSE_TOKEN when the service
 * requires an API key). A job is named by its id or its name. `--format json` prints the API's answer
 * as it is (for scripts); the default is a readable table.
 */
export const JOBS_USAGE = `  lakehouse jobs list|show|start|pause|resume|stop|status|runs [<job id or name>] [--url http://host:port] [--token T] [--format table|json]
  lakehouse jobs reset <job> --earliest | --latest | --timestamp <ms or ISO time> | --offset <topic>:<partition>=<offset> … --url …
                                       ingestion jobs of a running service (status: per-partition lag, rows/s, last commit, errors)
`;

const COMMANDS = ['list', 'show', 'start', 'pause', 'resume', 'stop', 'reset', 'status', 'runs'] as const;
type Command = (typeof COMMANDS)[number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function table(columns: string[], rows: JsonValue[][]): string {
  return toTable({ columns: columns.map((name) => ({ name, type: 'VARCHAR' })), rows });
}

export async function jobsCommand(args: string[], usage = `usage:\n${JOBS_USAGE}`): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      format: { type: 'string', default: 'table' },
      earliest: { type: 'boolean' },
      latest: { type: 'boolean' },
      timestamp: { type: 'string' },
      offset: { type: 'string', multiple: true },
    },
  });
  const [cmd, job, ...extra] = positionals as [Command | 'help' | undefined, string | undefined, ...string[]];
  if (cmd === 'help') {
    process.stdout.write(usage);
    return 0;
  }
  const url = values.url ?? process.env.LAKEHOUSE_URL ?? 'http://localhost:8181';
  const token = values.token ?? process.env.LAKEHOUSE_TOKEN;
  const call = (u: string, init: RequestInit = {}) => callApi(u, token ? { ...init, headers: { authorization: `Bearer ${token}` } } : init);
  if (!cmd || !COMMANDS.includes(cmd as Command) || extra.length > 0 || (cmd !== 'list' && !job) || !['table', 'json'].includes(values.format!)) {
    process.stderr.write(usage);
    return 2;
  }
  const api = `${url.replace(/\/+$/, '')}/api/v1`;
  const json = values.format === 'json';
  const out = (s: string) => process.stdout.write(s);

  if (cmd === 'list') {
    const res = await call(`${api}/ingestion-jobs`);
    if (json) out(`${stringifyJson(res)}\n`);
    else {
      out(table(['id', 'name', 'topics', 'target', 'schedule', 'enabled'], res.jobs.map((j: any) => [
        j.id, j.name, j.topicPattern ? `/${j.topicPattern}/` : j.topics.join(','), `${j.target.namespace}.${j.target.table}`, j.schedule, String(j.enabled),
      ])));
    }
    return 0;
  }

  const id = await resolveJob(call, api, job!);
  switch (cmd) {
    case 'show': {
      const res = await call(`${api}/ingestion-jobs/${id}`);
      out(`${stringifyJson(res)}\n`);
      return 0;
    }
    case 'start':
    case 'pause':
    case 'resume':
    case 'stop': {
      const st = await call(`${api}/ingestion-jobs/${id}/${cmd}`, { method: 'POST' });
      if (json) out(`${stringifyJson(st)}\n`);
      else out(`${job}: ${st.state}\n`);
      return 0;
    }
    case 'reset': {
      const body = resetBody(values);
      const st = await call(`${api}/ingestion-jobs/${id}/reset`, { method: 'POST', body: JSON.stringify(body) });
      if (json) out(`${stringifyJson(st)}\n`);
      else out(statusText(job!, st));
      return 0;
    }
    case 'status': {
      const st = await call(`${api}/ingestion-jobs/${id}/status`);
      out(json ? `${stringifyJson(st)}\n` : statusText(job!, st));
      return 0;
    }
    case 'runs': {
      const res = await call(`${api}/ingestion-jobs/${id}/runs`);
      if (json) out(`${stringifyJson(res)}\n`);
      else {
        out(table(['run', 'state', 'started', 'ended', 'rows', 'dead letters', 'commits', 'last commit', 'error'], res.runs.map((r: any) => [
          r.runId, r.state, r.startedAt, r.endedAt, r.rowsCommitted, r.deadLetters, r.commits, r.lastCommitAt ?? null, r.error ?? null,
        ])));
      }
      return 0;
    }
    default:
      return 2;
  }
}

/** A job id, or the id of the job with that name. */
async function resolveJob(call: (u: string) => Promise<any>, api: string, job: string): Promise<string> {
  if (UUID.test(job)) return job;
  const res = await call(`${api}/ingestion-jobs`);
  const hit = (res.jobs as { id: string; name: string }[]).find((j) => j.name === job);
  if (!hit) throw lakehouseError('NOT_FOUND', `no ingestion job named ${job}`);
  return hit.id;
}

function resetBody(v: { earliest?: boolean; latest?: boolean; timestamp?: string; offset?: string[] }): unknown {
  const given = [v.earliest, v.latest, v.timestamp !== undefined, (v.offset?.length ?? 0) > 0].filter(Boolean).length;
  if (given !== 1) throw lakehouseError('BAD_REQUEST', 'reset needs exactly one of --earliest, --latest, --timestamp, --offset');
  if (v.earliest) return { position: 'earliest' };
  if (v.latest) return { position: 'latest' };
  if (v.timestamp !== undefined) {
    const ms = /^\d+$/.test(v.timestamp) ? Number(v.timestamp) : Date.parse(v.timestamp);
    if (!Number.isFinite(ms)) throw lakehouseError('BAD_REQUEST', `--timestamp ${v.timestamp}: not epoch milliseconds or an ISO time`);
    return { timestampMs: ms };
  }
  const offsets: Record<string, Record<string, string>> = {};
  for (const o of v.offset!) {
    const m = /^(.+):(\d+)=(\d+)$/.exec(o);
    if (!m) throw lakehouseError('BAD_REQUEST', `--offset ${o}: expected <topic>:<partition>=<offset>`);
    (offsets[m[1]] ??= {})[m[2]] = m[3];
  }
  return { offsets };
}

function statusText(job: string, st: any): string {
  const lines = [
    `job ${job} (${st.jobId}): ${st.state}`,
    `  rows/s (last minute): ${st.rowsPerSecond}   total lag: ${st.totalLag ?? 'unknown (broker not reachable)'}`,
    `  last commit: ${st.lastCommitAt ?? 'never'}   this run: ${st.rowsCommitted} rows, ${st.deadLettersCommitted} dead letters, ${st.commits} commits`,
    `  dead-letter table rows: ${st.deadLetterTableRows}`,
  ];
  let text = `${lines.join('\n')}\n`;
  text += table(['topic', 'partition', 'committed offset', 'end offset', 'lag'], st.partitions.map((p: any) => [p.topic, p.partition, p.committedOffset, p.endOffset, p.lag]));
  if (st.errors.length > 0) text += `errors (newest last):\n${st.errors.map((e: any) => `  ${e.at} ${e.message}`).join('\n')}\n`;
  return text;
}
