/** A throwaway PostgreSQL cluster for the benchmark, via scripts/start-postgres.sh / stop-postgres.sh. */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
// dist/bench/postgres.js -> repo root
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface BenchPostgres {
  url: string;
  stop(): Promise<void>;
}

export async function startBenchPostgres(): Promise<BenchPostgres> {
  const base = mkdtempSync(join(tmpdir(), 'lakehouse-pg.'));
  const stopScript = join(repoRoot, 'scripts/stop-postgres.sh');
  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    try {
      execFileSync('bash', [stopScript, base], { stdio: 'ignore' });
    } catch {
      /* best effort */
    }
  };
  process.once('exit', stopSync);
  let stdout: string;
  try {
    ({ stdout } = await run('bash', [join(repoRoot, 'scripts/start-postgres.sh'), base], { maxBuffer: 16 << 20, timeout: 15 * 60_000 }));
  } catch (e) {
    stopSync();
    throw e;
  }
  const url = stdout.trim().split('\n').pop()!;
  return {
    url,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', stopSync);
      await run('bash', [stopScript, base]);
    },
  };
}
