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
 *
 * Every operation runs in both phases except the two Iceberg commit operations (table commit and
 * multi-table transaction): their request bodies (a union of every requirement and update type)
 * made the coverage phase send them about 2,300 of its 9,000 requests (77 of 435 s of worker time).
 * They still get the fuzzing phase here, and iceberg-rest-tables.test.ts checks them
 * deterministically: every requirement type passing and failing, every update type, unknown and
 * malformed requirements/updates (400), 64-bit ids, missing tables, atomic multi-table commits.
 * SCHEMATHESIS_FULL=1 runs the coverage phase on them too.
 * SCHEMATHESIS_REPORT_DIR=<dir> keeps JUnit and HAR reports (per-request timings) for finding
 * what dominates the run.
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
    const commitOps = ['POST /v1/lakehouse/namespaces/{namespace}/tables/{table}', 'POST /v1/lakehouse/transactions/commit'];
    writeFileSync(
      `${s.dir}/schemathesis.toml`,
      '[phases.coverage]\nunexpected-methods = []\n' +
        (process.env.SCHEMATHESIS_FULL === '1' ? '' : `\n[[operations]]\ninclude-name = ${JSON.stringify(commitOps)}\nphases.coverage.enabled = false\n`),
    );
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
    if (process.env.SCHEMATHESIS_REPORT_DIR) args.push('--report', 'junit,har', '--report-dir', process.env.SCHEMATHESIS_REPORT_DIR);
    const run = (extra: string[], timeoutMs: number) =>
      new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const child = spawn(BIN, [...args, ...extra], { cwd: s.dir, env: { ...process.env, NO_COLOR: '1' } });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('error', reject);
        child.on('close', (c) => {
          clearTimeout(timer);
          resolve({ code: c, out });
        });
      });
    let { code, out } = await run([], 400_000);
    // CPython < 3.11.8 can raise "AST constructor recursion depth mismatch" from ast.parse under
    // threads (gh-106905); Hypothesis parses lambdas while schemathesis' workers run, so an
    // operation can end in that tool error without any request being wrong. Only when every
    // problem is that error (no check failed), those operations run again, alone and single-threaded.
    const crashed = toolCrashes(out);
    if (code !== 0 && crashed.length > 0) {
      process.stderr.write(`schemathesis: re-running ${crashed.join(', ')} after CPython's AST recursion-depth error (gh-106905)\n`);
      ({ code, out } = await run([...crashed.flatMap((op) => ['--include-name', op]), '--workers', '1'], 300_000));
    }
    const serverErrors = s.logs.filter((l) => Number(l.level) >= 50);
    if (code !== 0) process.stderr.write(`${out}\n--- server error logs ---\n${serverErrors.map((l) => JSON.stringify(l)).join('\n')}\n`);
    expect(code, out.slice(-4000)).toBe(0);
  }, 720_000);
});

/** The operations whose only problem was CPython's AST recursion-depth error; [] when anything else went wrong. */
function toolCrashes(out: string): string[] {
  if (/=+ FAILURES =+/.test(out)) return [];
  const errors = /=+ ERRORS =+\n([\s\S]*?)(?:\n=+ [A-Z]|$)/.exec(out)?.[1];
  if (!errors) return [];
  const blocks = errors.split(/^_{3,} (.+?) _{3,}$/m).slice(1);
  const ops: string[] = [];
  for (let i = 0; i < blocks.length; i += 2) {
    if (!/AST constructor recursion depth mismatch/.test(blocks[i + 1] ?? '')) return [];
    ops.push(blocks[i].trim());
  }
  return ops;
}
