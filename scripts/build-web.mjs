#!/usr/bin/env node
// Builds the web console (web/ → web/dist, served at / by src/api/console.ts) and prints the
// bundle size. Steps: the typed API client's types from openapi.json (openapi-typescript), a
// type check of web/ (tsc), the bundle (vite).
//   node scripts/build-web.mjs             build
//   node scripts/build-web.mjs --if-stale  build only when web/dist is missing or older than any
//                                          source (web/, openapi.json, package-lock.json); used
//                                          by `npm start` so a fresh checkout serves a console
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_BUDGET_GZIP_KIB, measureBundle } from './lib/bundle-size.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WEB = join(ROOT, 'web');
const DIST = join(WEB, 'dist');
const SCHEMA = join(WEB, 'src/api/schema.d.ts');
const OPENAPI = join(ROOT, 'openapi.json');

function newestMtime(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const e of readdirSync(path)) {
    if (e === 'dist' || e === 'node_modules' || e === 'schema.d.ts') continue;
    newest = Math.max(newest, newestMtime(join(path, e)));
  }
  return newest;
}

function isStale() {
  const built = join(DIST, 'index.html');
  if (!existsSync(built)) return true;
  const sources = Math.max(newestMtime(WEB), statSync(OPENAPI).mtimeMs, statSync(join(ROOT, 'package-lock.json')).mtimeMs);
  return sources > statSync(built).mtimeMs;
}

const ifStale = process.argv.includes('--if-stale');
// Before `npm start` a failed build must not keep the service from starting: it then serves
// the last built console (or a page saying it is not built), and says why.
function fail(message) {
  process.stderr.write(`web console: ${message}${ifStale ? ' (the service starts anyway)' : ''}\n`);
  process.exit(ifStale ? 0 : 1);
}

// One build at a time: two services started together (`npm start` runs the --if-stale build
// first) would otherwise write web/dist and schema.d.ts over each other. The second waits and
// then finds the console fresh. A lock older than the longest build is left over from a killed
// build and taken over.
const LOCK = join(WEB, '.build.lock');
async function lock() {
  for (const t0 = Date.now(); ; ) {
    try {
      mkdirSync(LOCK);
      process.on('exit', () => rmSync(LOCK, { recursive: true, force: true }));
      return;
    } catch (e) {
      if (e?.code !== 'EEXIST') throw e;
      let age = 0;
      try {
        age = Date.now() - statSync(LOCK).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      if (age > 10 * 60_000) rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() - t0 > 11 * 60_000) fail('another console build holds web/.build.lock');
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
}

if (ifStale) {
  if (!isStale()) process.exit(0);
  await lock();
  if (!isStale()) process.exit(0);
  // A production install (npm ci --omit=dev) has no build tools: serve without a console.
  if (!existsSync(join(ROOT, 'node_modules/vite/package.json'))) {
    process.stderr.write('lakehouse: web console not built (vite is not installed; run npm ci, then npm run build:web)\n');
    process.exit(0);
  }
}

if (!ifStale) await lock();

const t0 = Date.now();
try {
  const { default: openapiTS, astToString } = await import('openapi-typescript');
  const types = astToString(await openapiTS(JSON.parse(readFileSync(OPENAPI, 'utf8'))));
  writeFileSync(SCHEMA, `// Generated from openapi.json by scripts/build-web.mjs (openapi-typescript). Do not edit.\n${types}`);
} catch (e) {
  fail(`generating the API client types from openapi.json failed: ${e?.message ?? e}`);
}

const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(WEB, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) fail('type check failed (is web/ in step with openapi.json?)');

const { build } = await import('vite');
try {
  await build({ configFile: join(WEB, 'vite.config.ts'), logLevel: 'warn' });
} catch (e) {
  fail(`vite build failed: ${e?.message ?? e}`);
}

const size = measureBundle(DIST);
const kib = (n) => (n / 1024).toFixed(1);
process.stdout.write(
  `web console built in ${((Date.now() - t0) / 1000).toFixed(1)} s → web/dist\n` +
    size.files.map((f) => `  ${f.file}  ${kib(f.raw)} KiB (gzip ${kib(f.gzip)} KiB)\n`).join('') +
    `  bundle total ${kib(size.raw)} KiB (gzip ${kib(size.gzip)} KiB; budget ${BUNDLE_BUDGET_GZIP_KIB} KiB gzip)\n`,
);
if (size.gzip > BUNDLE_BUDGET_GZIP_KIB * 1024) fail(`bundle is ${kib(size.gzip)} KiB gzip, over its ${BUNDLE_BUDGET_GZIP_KIB} KiB budget (scripts/lib/bundle-size.mjs)`);
