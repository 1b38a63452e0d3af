/**
 * The console's bundle stays lean (issue 9): the built assets' gzip total is within the budget the
 * build enforces (scripts/lib/bundle-size.mjs), and index.html loads only assets that exist.
 * web/dist is built by `npm ci` (prepare) and `npm start`; built here when missing or stale.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE_BUDGET_GZIP_KIB, measureBundle } from '../../scripts/lib/bundle-size.mjs';
import { REPO_ROOT } from '../support/moto.js';

describe('console bundle', () => {
  it(`is within ${BUNDLE_BUDGET_GZIP_KIB} KiB gzip, and index.html loads only built assets`, () => {
    const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build-web.mjs'), '--if-stale'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
    const dist = join(REPO_ROOT, 'web/dist');
    const size = measureBundle(dist);
    console.log(`console bundle: ${(size.raw / 1024).toFixed(1)} KiB, gzip ${(size.gzip / 1024).toFixed(1)} KiB in ${size.files.length} files`);
    expect(size.files.length).toBeGreaterThan(0);
    expect(size.gzip).toBeLessThanOrEqual(BUNDLE_BUDGET_GZIP_KIB * 1024);
    const html = readFileSync(join(dist, 'index.html'), 'utf8');
    const referenced = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(referenced.length).toBeGreaterThan(0);
    for (const a of referenced) expect(size.files.map((f) => f.file)).toContain(a);
  }, 240_000);
});
