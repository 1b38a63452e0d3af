import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT } from '../support/moto.js';

/**
 * End-to-end support for the web console: the service started the way a user starts it —
 * `npm start` (its `prestart` rebuilds the console when stale) configured by LAKEHOUSE_*
 * environment variables over a temp warehouse and SQLite catalog, its address and bootstrap
 * admin key read from what it prints, stopped with SIGTERM — and Debian's Chromium driven
 * headless by playwright-core (never a downloaded browser). Like every test that runs the CLI,
 * it runs the compiled dist/ (`npm test` compiles it before vitest starts).
 */
export const CHROMIUM = process.env.LAKEHOUSE_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts/console');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

export interface ConsoleService {
  base: string;
  /** The service's scratch directory (removed on close). */
  dir: string;
  adminKey: string;
  /** An API call as the admin (setup and cross-checks beside the browser). */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  /** SIGTERM; rejects unless the service shut down gracefully and its port is closed. */
  close(): Promise<void>;
}

/** The tail of a stream, enough for an error message. */
function tail(text: string, max = 8000): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}

/**
 * `npm start` with the given LAKEHOUSE_* settings on top of a temp warehouse and catalog and an
 * OS-chosen port. Inherited LAKEHOUSE_* variables are dropped so the developer's own service
 * configuration cannot leak in.
 */
export async function startService(env: Record<string, string> = {}): Promise<ConsoleService> {
  const dir = mkdtempSync(join(tmpdir(), 'lh-console-'));
  const t0 = Date.now();
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LAKEHOUSE_') && k !== 'PORT'));
  // Its own process group: SIGTERM reaches npm, its script shell and the service together, as
  // Ctrl-C or a service manager's stop does (npm's shell does not pass signals on to its child).
  const child = spawn(NPM, ['start'], {
    cwd: REPO_ROOT,
    env: {
      ...inherited,
      LAKEHOUSE_WAREHOUSE: join(dir, 'wh'),
      LAKEHOUSE_CATALOG_URL: `sqlite:${join(dir, 'catalog.db')}`,
      LAKEHOUSE_HOST: '127.0.0.1',
      LAKEHOUSE_PORT: '0',
      LAKEHOUSE_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout = tail(stdout + d, 64_000)));
  child.stderr!.on('data', (d) => (stderr = tail(stderr + d, 64_000)));
  // 'close': every holder of the pipes (npm, the shell, the service) has exited.
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const output = () => `stderr:\n${tail(stderr)}\nstdout:\n${tail(stdout)}`;

  let base: string;
  try {
    base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start printed no listening address within 120 s\n${output()}`)), 120_000);
      child.on('error', (e) => reject(e));
      void closed.then((code) => reject(new Error(`npm start exited (${code}) before listening\n${output()}`)));
      child.stderr!.on('data', () => {
        // The whole start banner: the address line comes first, the catalog store line last.
        const m = /lakehouse listening on (https?:\/\/\S+)\n[\s\S]*catalog store: /.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
  } catch (e) {
    kill(child, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  // Printed once, on the first start over an empty security store, before the service listens.
  const adminKey = /Authorization: Bearer (lhk_\S+)/.exec(stderr)?.[1];
  if (!adminKey) {
    kill(child, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`no bootstrap admin key printed\n${output()}`);
  }

  process.stderr.write(`console: npm start listening on ${base} after ${Date.now() - t0} ms\n`);

  return {
    base,
    dir,
    adminKey,
    async api(method, path, body, token = adminKey) {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async close() {
      const t1 = Date.now();
      kill(child, 'SIGTERM');
      const gone = await Promise.race([closed.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 30_000))]);
      if (!gone) kill(child, 'SIGKILL');
      const refused = await fetch(`${base}/health`).then(
        () => false,
        () => true,
      );
      rmSync(dir, { recursive: true, force: true });
      if (!gone) throw new Error(`the service did not exit within 30 s of SIGTERM\n${output()}`);
      if (!/\nlakehouse stopped\n/.test(stderr)) throw new Error(`the service did not shut down gracefully on SIGTERM\n${output()}`);
      if (!refused) throw new Error(`${base} still answers after the service stopped`);
      process.stderr.write(`console: service stopped ${Date.now() - t1} ms after SIGTERM\n`);
    },
  };
}

function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    /* already gone */
  }
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launchBrowser(viewport = { width: 1280, height: 860 }): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (Debian's build; the tests never download a browser)`);
  const profile = mkdtempSync(join(tmpdir(), 'lh-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    acceptDownloads: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 60_000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
