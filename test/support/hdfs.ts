/**
 * Starts a real HDFS (MiniDFSCluster with WebHDFS, see scripts/start-hdfs.sh) for one test file:
 * `const hdfs = await startHdfs()` in beforeAll, `await hdfs.stop()` in afterAll. The first run
 * downloads ~92 MB of jars from Maven Central into ~/.cache/lakehouse/hdfs; startup is ~5-10 s.
 * Fails (never skips) when HDFS cannot start.
 */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './moto.js';
import { spawnPeer, waitUntil } from './process.js';

export interface Hdfs {
  /** NameNode HTTP address serving WebHDFS, e.g. http://127.0.0.1:40123 */
  httpAddress: string;
  /** `webhdfs://127.0.0.1:<port>` — prefix for WebHdfsFileIO locations. */
  webhdfsUri: string;
  /** `hdfs://127.0.0.1:<rpcPort>` — the cluster's native URI (map it to httpAddress). */
  hdfsUri: string;
  stop(): Promise<void>;
}

export async function startHdfs(opts: { timeoutMs?: number } = {}): Promise<Hdfs> {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-hdfs-'));
  const peer = spawnPeer('bash', [path.join(REPO_ROOT, 'scripts/start-hdfs.sh'), base, '0'], { cwd: REPO_ROOT });
  let httpAddress = '';
  let hdfsUri = '';
  try {
    await waitUntil(
      peer,
      'MiniDFSCluster',
      async () => {
        const out = peer.output();
        const web = /^WEBHDFS (http:\/\/\S+)$/m.exec(out);
        const rpc = /^HDFS (hdfs:\/\/\S+)$/m.exec(out);
        if (!web || !rpc) return false;
        httpAddress = web[1];
        hdfsUri = rpc[1];
        const res = await fetch(`${httpAddress}/webhdfs/v1/?op=GETFILESTATUS&user.name=test`, {
          signal: AbortSignal.timeout(5000),
        });
        await res.body?.cancel();
        return res.ok;
      },
      opts.timeoutMs ?? 240_000,
    );
  } catch (e) {
    await fs.rm(base, { recursive: true, force: true });
    throw e;
  }
  return {
    httpAddress,
    webhdfsUri: httpAddress.replace(/^http:/, 'webhdfs:'),
    hdfsUri,
    async stop() {
      await peer.stop();
      await fs.rm(base, { recursive: true, force: true });
    },
  };
}
