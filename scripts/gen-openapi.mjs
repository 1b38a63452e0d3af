#!/usr/bin/env node
// Writes openapi.json (repo root) from the live route schemas: `npm run openapi` (builds dist first).
// `node scripts/gen-openapi.mjs --check` exits 1 when the committed file differs.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateOpenApi } from '../dist/api/own/openapi.js';

const target = fileURLToPath(new URL('../openapi.json', import.meta.url));
const doc = await generateOpenApi();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {}
  if (current !== doc) {
    process.stderr.write('openapi.json is out of date: run `npm run openapi`\n');
    process.exit(1);
  }
} else {
  writeFileSync(target, doc);
  process.stderr.write(`wrote ${target}\n`);
}
