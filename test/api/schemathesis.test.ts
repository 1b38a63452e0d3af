import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli.js';
import { startTestServer, type TestServer } from './own-support.js';

/**
 * Property-based API testing with Schemathesis (PyPI, pinned in scripts/requirements.txt) against
 * the committed openapi.json and a live server on a free port with a temp warehouse: no 5xx, and
 * every response conforms to its documented schema. Bounded (examples per operation, seed) so it
 * stays well under two minutes. SCHEMATHESIS_MAX_EXAMPLES / SCHEMATHESIS_EXCLUDE tune it.
 */
const BIN = `${REPO_ROOT}.venv/bin/schemathesis`;

// Operations excluded for a known bug outside this suite's owner (remove once fixed):
// POST /v1/{prefix}/transactions/commit answers 500 when a requirement holds an integer beyond 2^53
// (src/iceberg/requirements.ts intField: JSON.stringify of a bigint in the error message throws).
const KNOWN_FAILING = process.env.SCHEMATHESIS_EXCLUDE ?? '';

describe('Schemathesis against openapi.json and the live server', () => {
  let s: TestServer;
  beforeAll(async () => {
    const venv = spawnSync('bash', [`${REPO_ROOT}scripts/venv.sh`], { stdio: 'inherit' });
    if (venv.status !== 0) throw new Error('scripts/venv.sh failed');
    if (!existsSync(BIN)) throw new Error(`${BIN} missing: is schemathesis in scripts/requirements.txt?`);
    s = await startTestServer('error');
  }, 600_000);
  afterAll(async () => {
    await s?.close();
  });

  it('finds no server errors and no schema-breaking responses', async () => {
    // The coverage phase's "unexpected HTTP method on every path" probes are many and slow; the
    // not-found handler answers them uniformly, so they are left out to stay within budget.
    writeFileSync(`${s.dir}/schemathesis.toml`, '[phases.coverage]\nunexpected-methods = []\n');
    const args = [
      '--config-file', `${s.dir}/schemathesis.toml`,
      'run', `${REPO_ROOT}openapi.json`,
      '--url', s.base,
      '--checks', 'not_a_server_error,response_schema_conformance',
      '--phases', process.env.SCHEMATHESIS_PHASES ?? 'coverage,fuzzing',
      '--max-examples', process.env.SCHEMATHESIS_MAX_EXAMPLES ?? '5',
      '--seed', '42',
      '--generation-database', 'none',
      '--request-timeout', '20',
      '--workers', '2',
      '--no-color',
      '--output-truncate', 'false',
      '--suppress-health-check', 'all',
    ];
    if (KNOWN_FAILING) args.push('--exclude-path-regex', KNOWN_FAILING);
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(BIN, args, { cwd: s.dir, env: { ...process.env, NO_COLOR: '1' } });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), 400_000);
      child.on('error', reject);
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve({ code: c, out });
      });
    });
    const serverErrors = s.logs.filter((l) => Number(l.level) >= 50);
    if (code !== 0) process.stderr.write(`${out}\n--- server error logs ---\n${serverErrors.map((l) => JSON.stringify(l)).join('\n')}\n`);
    expect(code, out.slice(-4000)).toBe(0);
  }, 420_000);
});
