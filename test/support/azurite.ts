/**
 * Starts an Azurite Blob service (in memory) for one test file: `const az = await startAzurite()`
 * in beforeAll, `await az.stop()` in afterAll. Uses scripts/start-azurite.sh (npm devDependency
 * `azurite`). Fails (never skips) when Azurite cannot start.
 */
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, spawnPeer, waitUntil } from './process.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Azurite's well-known development account. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  /** Blob service base URL, e.g. http://127.0.0.1:10000 (account goes in the path). */
  url: string;
  /** AzureFileIO options for this server. */
  azureOptions: { endpoint: string; accountKey: string };
  createContainer(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startAzurite(opts: { timeoutMs?: number } = {}): Promise<Azurite> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const peer = spawnPeer('bash', [path.join(REPO_ROOT, 'scripts/start-azurite.sh'), String(port)], { cwd: REPO_ROOT });
  await waitUntil(
    peer,
    'azurite',
    async () => {
      const res = await fetch(`${url}/${AZURITE_ACCOUNT}?comp=list`, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      return res.status < 500;
    },
    opts.timeoutMs ?? 60_000,
  );
  const endpoint = `${url}/{account}`;
  return {
    url,
    azureOptions: { endpoint, accountKey: AZURITE_KEY },
    async createContainer(name: string) {
      const svc = new BlobServiceClient(
        `${url}/${AZURITE_ACCOUNT}`,
        new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
      );
      await svc.getContainerClient(name).createIfNotExists();
    },
    stop: () => peer.stop(),
  };
}
