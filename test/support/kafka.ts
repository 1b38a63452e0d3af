/**
 * Starts a real Apache Kafka 4.x broker (KRaft, single combined broker+controller node, see
 * scripts/start-kafka.sh) for one test file: `const kafka = await startKafka()` in beforeAll,
 * `await kafka.stop()` in afterAll. The first run downloads ~44 MB of jars from Maven Central into
 * ~/.cache/lakehouse/kafka; startup is ~5-15 s (more on a loaded machine). Fails (never skips)
 * when the broker cannot start. The broker exits when this process goes away (stdin EOF).
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createKafka } from '../../src/ingest/kafka-client.js';
import { REPO_ROOT } from './moto.js';
import { spawnPeer, waitUntil } from './process.js';

export interface KafkaBroker {
  /** `127.0.0.1:<port>` */
  bootstrap: string;
  /** How long the broker took to become ready (ms). */
  startMs: number;
  stop(): Promise<void>;
}

export async function startKafka(opts: { timeoutMs?: number } = {}): Promise<KafkaBroker> {
  const t0 = Date.now();
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-kafka-'));
  const peer = spawnPeer('bash', [path.join(REPO_ROOT, 'scripts/start-kafka.sh'), base, '0', '0'], { cwd: REPO_ROOT });
  let bootstrap = '';
  try {
    await waitUntil(
      peer,
      'Kafka broker',
      async () => {
        const m = /^KAFKA (\S+)$/m.exec(peer.output());
        if (!m) return false;
        bootstrap = m[1];
        // Listening is not enough: the broker must answer metadata (registered and unfenced).
        const admin = createKafka({ brokers: [bootstrap], log: { warn: () => {}, error: () => {} } }).admin();
        try {
          await admin.connect();
          const cluster = await admin.describeCluster();
          return cluster.brokers.length > 0;
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      },
      opts.timeoutMs ?? 240_000,
    );
  } catch (e) {
    await fs.rm(base, { recursive: true, force: true });
    throw e;
  }
  return {
    bootstrap,
    startMs: Date.now() - t0,
    async stop() {
      await peer.stop();
      await fs.rm(base, { recursive: true, force: true });
    },
  };
}
