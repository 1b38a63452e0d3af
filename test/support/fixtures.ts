import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';

/** The shared reference tables (read-only), beside the repo as `../shared` (CI copies it there too). */
export const REFERENCE_DIR = [join(REPO_ROOT, '../shared/fixtures/iceberg-reference'), '/work/shared/fixtures/iceberg-reference'].find((d) =>
  existsSync(d),
)!;

export interface ReferenceCheck {
  sql: string;
  rows: unknown[][];
  from: string;
}

export interface ReferenceTable {
  name: string;
  dir: string;
  metadata: string;
  checks: ReferenceCheck[];
}

export function referenceTables(): ReferenceTable[] {
  return readdirSync(REFERENCE_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(REFERENCE_DIR, d.name, 'expected.json')))
    .map((d) => {
      const expected = JSON.parse(readFileSync(join(REFERENCE_DIR, d.name, 'expected.json'), 'utf8'));
      return { name: d.name, dir: join(REFERENCE_DIR, d.name), metadata: expected.metadata, checks: expected.checks };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Equality with the fixture README's rule: floats compare with a relative tolerance of 1e-6. */
export function valuesEqual(actual: unknown, expected: unknown): boolean {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (Number.isInteger(expected) && Number.isInteger(actual)) return expected === actual;
    return Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected));
  }
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => valuesEqual(actual[i], e));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return false;
    const ek = Object.keys(expected);
    return ek.length === Object.keys(actual).length && ek.every((k) => valuesEqual((actual as never)[k], (expected as never)[k]));
  }
  return actual === expected;
}
