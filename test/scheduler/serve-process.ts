import { join } from 'node:path';
import { BIN } from '../support/cli.js';
import { freePort, spawnPeer, type Peer } from '../support/process.js';
import { ensureDist } from '../workers/harness.js';

/** A `lakehouse serve` child process (the built dist/; ensureDist() rebuilds a stale one). */
export interface ServeProcess {
  peer: Peer;
  url: string;
  pid: number;
  /** Graceful stop (SIGTERM). */
  stop(): Promise<void>;
  /** A crash: SIGKILL, no shutdown hooks run. */
  kill(): Promise<void>;
}

export async function startServe(opts: { dir: string; catalogUrl?: string; env?: Record<string, string> }): Promise<ServeProcess> {
  ensureDist();
  const port = await freePort();
  const peer = spawnPeer(process.execPath, [BIN, 'serve'], {
    env: {
      ...process.env,
      LAKEHOUSE_CONFIG: '',
      LAKEHOUSE_HOST: '127.0.0.1',
      LAKEHOUSE_PORT: String(port),
      LAKEHOUSE_WAREHOUSE: join(opts.dir, 'wh'),
      ...(opts.catalogUrl ? { LAKEHOUSE_CATALOG_URL: opts.catalogUrl } : {}),
      LAKEHOUSE_LOG_LEVEL: 'warn',
      ...opts.env,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (peer.child.exitCode !== null || Date.now() > deadline) throw new Error(`lakehouse serve did not start:\n${peer.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    peer,
    url,
    pid: peer.child.pid!,
    stop: () => peer.stop(),
    async kill() {
      if (peer.child.exitCode === null && peer.child.signalCode === null) peer.child.kill('SIGKILL');
      await peer.exited;
    },
  };
}
