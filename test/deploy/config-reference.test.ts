import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// docs/configuration.md is generated from src/config.ts (through dist/config.js, built by `npm test`):
// this fails when someone changes the schema, the env mapping or the defaults table without
// running `npm run config-reference`.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('docs/configuration.md', () => {
  it('matches what scripts/gen-config-reference.mjs generates', () => {
    const r = spawnSync(process.execPath, [`${ROOT}scripts/gen-config-reference.mjs`, '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/warning:/);
    expect(r.status, r.stderr).toBe(0);
  });
});
