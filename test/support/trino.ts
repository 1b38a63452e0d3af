/**
 * A real single-node Trino (scripts/start-trino.sh: trino-server-core + the Iceberg plugin from
 * Maven Central, run on Java 24+) whose catalog `lakehouse` is our Iceberg REST service, and a
 * client for Trino's HTTP protocol (`POST /v1/statement`, then follow `nextUri`). The first run
 * downloads ~515 MiB into ~/.cache/lakehouse/trino; startup is ~30-120 s depending on load (the
 * first start of a JDK also writes a class-data archive at exit, which makes later starts faster).
 * Fails (never skips) when Trino cannot start. Trino exits when this process goes away (stdin EOF).
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './moto.js';
import { spawnPeer, waitUntil } from './process.js';

export interface TrinoResult {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  /** Rows written, for INSERT / CREATE TABLE AS. */
  updateCount?: number;
}

export interface Trino {
  url: string;
  /** Milliseconds from spawn to answering queries. */
  startMs: number;
  /** Resident memory of the Trino JVM (KiB, from /proc), or null when not found. */
  rssKb(): Promise<number | null>;
  query(sql: string): Promise<TrinoResult>;
  stop(): Promise<void>;
}

interface StatementResponse {
  nextUri?: string;
  columns?: { name: string; type: string }[];
  data?: unknown[][];
  updateCount?: number;
  stats?: { state: string };
  error?: { message: string; errorName?: string; failureInfo?: { stack?: string[] } };
}

/**
 * Runs one statement through Trino's client protocol and collects all its rows. A statement
 * refused with NO_NODES_AVAILABLE (just after start the node has not yet announced the catalog;
 * nothing ran) is sent again until the deadline.
 */
export async function trinoQuery(url: string, sql: string, opts: { user?: string; timeoutMs?: number } = {}): Promise<TrinoResult> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    try {
      return await runStatement(url, sql, deadline, opts.user);
    } catch (e) {
      if (!(e instanceof NoNodesError) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

class NoNodesError extends Error {}

async function runStatement(url: string, sql: string, deadline: number, user?: string): Promise<TrinoResult> {
  const headers = { 'X-Trino-User': user ?? 'lakehouse-test', 'X-Trino-Source': 'lakehouse-tests' };
  let res = await fetch(`${url}/v1/statement`, { method: 'POST', headers, body: sql });
  if (!res.ok) throw new Error(`Trino refused the statement (HTTP ${res.status}): ${await res.text()}`);
  let body = (await res.json()) as StatementResponse;
  const out: TrinoResult = { columns: [], rows: [] };
  for (;;) {
    if (body.error) {
      const message = `Trino: ${body.error.errorName ?? 'error'}: ${body.error.message}\n${(body.error.failureInfo?.stack ?? []).slice(0, 8).join('\n')}`;
      throw body.error.errorName === 'NO_NODES_AVAILABLE' ? new NoNodesError(message) : new Error(message);
    }
    if (body.columns) out.columns = body.columns;
    if (body.data) out.rows.push(...body.data);
    if (body.updateCount !== undefined) out.updateCount = body.updateCount;
    if (!body.nextUri) return out;
    if (Date.now() > deadline) {
      await fetch(body.nextUri, { method: 'DELETE' }).catch(() => undefined);
      throw new Error(`Trino statement timed out: ${sql}`);
    }
    res = await fetch(body.nextUri, { headers });
    if (res.status === 503 || res.status === 429) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    if (!res.ok) throw new Error(`Trino nextUri HTTP ${res.status}: ${await res.text()}`);
    body = (await res.json()) as StatementResponse;
  }
}

export async function startTrino(opts: { rest: string; credential?: string; props?: string[]; timeoutMs?: number }): Promise<Trino> {
  const t0 = Date.now();
  const data = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-trino-'));
  const args = [path.join(REPO_ROOT, 'scripts/start-trino.sh'), '--rest', opts.rest, '--data', data];
  if (opts.credential) args.push('--credential', opts.credential);
  for (const p of opts.props ?? []) args.push('--prop', p);
  const peer = spawnPeer('bash', args, { cwd: REPO_ROOT });
  let url = '';
  try {
    await waitUntil(
      peer,
      'Trino',
      async () => {
        const m = /^TRINO (\S+)$/m.exec(peer.output());
        if (!m) return false;
        url = m[1];
        // The catalog must be usable too (its first REST call to our service happens here).
        await trinoQuery(url, 'SHOW SCHEMAS FROM lakehouse', { timeoutMs: 30_000 });
        return true;
      },
      opts.timeoutMs ?? 300_000,
    );
  } catch (e) {
    // waitUntil's message carries the server's output (its log goes to stdout/stderr).
    await fs.rm(data, { recursive: true, force: true });
    throw e;
  }
  return {
    url,
    startMs: Date.now() - t0,
    async rssKb() {
      // The JVM is a child of the script (bash); find it by its config path, which is unique to this run.
      for (const pid of await fs.readdir('/proc').catch(() => [] as string[])) {
        if (!/^\d+$/.test(pid)) continue;
        const cmd = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (!cmd.includes('io.trino.server.TrinoServer') || !cmd.includes(data)) continue;
        const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
        const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
        return m ? Number(m[1]) : null;
      }
      return null;
    },
    query: (sql) => trinoQuery(url, sql),
    async stop() {
      await peer.stop();
      await fs.rm(data, { recursive: true, force: true });
    },
  };
}
