import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/cli.js';

/** The project venv's interpreter (scripts/venv.sh creates it; CI runs that before `npm test`). */
export const VENV_PYTHON = join(REPO_ROOT, '.venv/bin/python');
export const INTEROP_DIR = join(REPO_ROOT, 'test/interop');

export interface PyResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a script of test/interop with the venv's Python; rejects (with stderr) on a non-zero exit. */
export function runPython(script: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<PyResult> {
  if (!existsSync(VENV_PYTHON)) throw new Error(`${VENV_PYTHON} is missing: run scripts/venv.sh`);
  return new Promise((resolve, reject) => {
    const child = spawn(VENV_PYTHON, [join(INTEROP_DIR, script), ...args], {
      env: { ...process.env, PYTHONWARNINGS: 'ignore', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${script} exited with ${code}:\n${stderr}`));
      else resolve({ code, stdout, stderr });
    });
  });
}
