// The console bundle's size (web/dist/assets), shared by the build (which prints it and refuses a
// bundle over budget) and by test/console/bundle.test.ts. Issue 9 asks for a lean bundle: the
// budget is the gzip total a first visit downloads, with room for growth but not for a second UI
// framework or an accidental dependency.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const BUNDLE_BUDGET_GZIP_KIB = 150;

/** Every asset with its raw and gzip size, and the totals (bytes). */
export function measureBundle(distDir) {
  const files = readdirSync(join(distDir, 'assets'))
    .sort()
    .map((f) => {
      const buf = readFileSync(join(distDir, 'assets', f));
      return { file: `assets/${f}`, raw: buf.length, gzip: gzipSync(buf).length };
    });
  return { files, raw: files.reduce((a, f) => a + f.raw, 0), gzip: files.reduce((a, f) => a + f.gzip, 0) };
}
