/**
 * Helpers for test peers run as child processes: free ports, readiness polling, stopping by pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Peer {
  child: ChildProcess;
  /** Collected stdout+stderr (last 64 KiB), for error messages. */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Spawns a peer process; it is killed when this (test worker) process exits. */
export function spawnPeer(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Peer {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
    });
  }
  // stdin stays an open pipe: peers that watch stdin (MiniHdfs) exit when we go away.
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  let buf = '';
  const collect = (d: Buffer) => {
    buf += d.toString();
    if (buf.length > 65536) buf = buf.slice(-65536);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      live.delete(child);
      resolve(code);
    });
    child.once('error', (e) => {
      buf += `\nspawn error: ${e.message}`;
      live.delete(child);
      resolve(-1);
    });
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || !live.has(child)) return;
    child.stdin?.end();
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  return { child, output: () => buf, exited, stop };
}

/** Polls `check` until it returns true; fails early when the peer exits, or after `timeoutMs`. */
export async function waitUntil(peer: Peer, what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void peer.exited.then(() => {
    dead = true;
  });
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${what} exited before becoming ready (code ${peer.child.exitCode}):\n${peer.output()}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  await peer.stop();
  throw new Error(`${what} not ready after ${timeoutMs} ms:\n${peer.output()}`);
}

/**
 * Whether a test file of an optional peer (one whose first preparation is a large download or a
 * build, done by .ci/run) runs: `<env>=1` forces it, `=0` skips it, otherwise it runs when
 * `<script> --check` says the peer is prepared. A skip is announced on stderr with the way out.
 */
export function optionalPeer(script: string, env: string, what: string): boolean {
  const forced = process.env[env];
  if (forced === '1') return true;
  if (forced !== '0' && spawnSync('bash', [script, '--check']).status === 0) return true;
  process.stderr.write(`${what}: skipped (${forced === '0' ? `${env}=0` : `not prepared: ${script} --prepare, or ${env}=1`})\n`);
  return false;
}
