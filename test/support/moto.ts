/**
 * Starts a moto S3 server for one test file: `const moto = await startMoto()` in beforeAll,
 * `await moto.stop()` in afterAll. Uses scripts/start-moto.sh (which builds .venv on first use,
 * so the first call can take a minute or two). Fails (never skips) when moto cannot start.
 */
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, spawnPeer, waitUntil } from './process.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Moto {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** S3FileIO options for this server. */
  s3Options: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; forcePathStyle: true };
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startMoto(opts: { timeoutMs?: number } = {}): Promise<Moto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const peer = spawnPeer('bash', [path.join(REPO_ROOT, 'scripts/start-moto.sh'), String(port)], { cwd: REPO_ROOT });
  await waitUntil(
    peer,
    'moto_server',
    async () => {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      return res.status < 500;
    },
    opts.timeoutMs ?? 240_000,
  );
  const creds = { region: 'us-east-1', accessKeyId: 'testing', secretAccessKey: 'testing' };
  const s3Options = { endpoint, ...creds, forcePathStyle: true as const };
  return {
    endpoint,
    ...creds,
    s3Options,
    async createBucket(name: string) {
      const client = new S3Client({
        endpoint,
        region: creds.region,
        forcePathStyle: true,
        credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
      });
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
    },
    stop: () => peer.stop(),
  };
}
