/**
 * Starts fake-gcs-server (GCS JSON API emulator, in memory) for one test file:
 * `const gcs = await startFakeGcs()` in beforeAll, `await gcs.stop()` in afterAll. Uses
 * scripts/start-fake-gcs.sh, which builds the pinned server with Go on first use (a few minutes;
 * CI warms it with --prepare). Fails (never skips) when it cannot start.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, spawnPeer, waitUntil } from './process.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface FakeGcs {
  endpoint: string;
  /** GcsFileIO options for this server (anonymous). */
  gcsOptions: { apiEndpoint: string; projectId: string };
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startFakeGcs(opts: { timeoutMs?: number } = {}): Promise<FakeGcs> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const peer = spawnPeer('bash', [path.join(REPO_ROOT, 'scripts/start-fake-gcs.sh'), String(port)], { cwd: REPO_ROOT });
  await waitUntil(
    peer,
    'fake-gcs-server',
    async () => {
      const res = await fetch(`${endpoint}/storage/v1/b?project=test`, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      return res.status < 500;
    },
    opts.timeoutMs ?? 600_000,
  );
  return {
    endpoint,
    gcsOptions: { apiEndpoint: endpoint, projectId: 'lakehouse-test' },
    async createBucket(name: string) {
      const res = await fetch(`${endpoint}/storage/v1/b?project=lakehouse-test`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      const body = await res.text();
      if (!res.ok && res.status !== 409) throw new Error(`create bucket ${name}: HTTP ${res.status} ${body}`);
    },
    stop: () => peer.stop(),
  };
}
