#!/usr/bin/env node
// Generates docs/configuration.md from the configuration schema of the compiled service
// (dist/config.js: the TypeBox `ConfigSchema` and the `ENV_VARS` env → path mapping). Defaults are
// applied in code (loadConfig), not in the schema, so they come from the doc table at the top of
// src/config.ts; variables read outside the schema are found by scanning src/ for process.env.
//
//   node scripts/gen-config-reference.mjs           write docs/configuration.md
//   node scripts/gen-config-reference.mjs --check   exit 1 when docs/configuration.md is stale
//
// dist/ is compiled first (tsc -p tsconfig.build.json) when missing or older than src/config.ts.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC_CONFIG = join(ROOT, 'src/config.ts');
const DIST_CONFIG = join(ROOT, 'dist/config.js');
const OUT = join(ROOT, 'docs/configuration.md');

function ensureBuilt() {
  if (existsSync(DIST_CONFIG) && statSync(DIST_CONFIG).mtimeMs + 1 >= statSync(SRC_CONFIG).mtimeMs) return;
  process.stderr.write('dist/config.js missing or stale: running tsc -p tsconfig.build.json\n');
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
}

/** Rows of the `| file key | environment variable | default |` table in src/config.ts's doc comment. */
function docTable(source) {
  const rows = new Map();
  for (const line of source.split('\n')) {
    const m = /^\s*\*\s*\|(.*)\|\s*$/.exec(line);
    if (!m) continue;
    const cells = m[1].split('|').map((c) => c.trim());
    if (cells.length < 3 || /^-+$/.test(cells[0]) || cells[0] === 'file key') continue;
    rows.set(cells[0], { env: cells[1], default: cells.slice(2).join(' | ') });
  }
  return rows;
}

/** Leaves of an object schema: [{ path: ['storage','s3','endpoint'], schema, required }]. */
function leaves(schema, path = [], required = true) {
  if (schema.type === 'object' && schema.properties) {
    const req = new Set(schema.required ?? []);
    return Object.entries(schema.properties).flatMap(([k, s]) => leaves(s, [...path, k], required && req.has(k)));
  }
  return [{ path, schema, required }];
}

function typeOf(s) {
  if (s.anyOf && s.anyOf.every((x) => 'const' in x)) return s.anyOf.map((x) => `\`${x.const}\``).join(', ');
  return s.type ?? 'any';
}

function constraints(s) {
  const out = [];
  if (s.minLength !== undefined) out.push(`min length ${s.minLength}`);
  if (s.minimum !== undefined) out.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) out.push(`≤ ${s.maximum}`);
  if (s.pattern !== undefined) out.push(`pattern \`${s.pattern}\``);
  return out.join('; ');
}

const cell = (v) =>
  v === undefined || v === '' ? '' : String(v).replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\n/g, ' ');

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

// What the variables read outside the schema mean (a variable missing here is listed as "see source").
const OTHER_DOCS = {
  LAKEHOUSE_CONFIG: 'Path of a JSON config file (keys as in the table above); environment variables override it field by field.',
  PORT: 'Fallback for `LAKEHOUSE_PORT` (platforms that inject `PORT`).',
  LAKEHOUSE_SCHEDULER: '`off` / `0` / `false` / `no` → this process runs no scheduler runner (e.g. a read-only replica).',
  LAKEHOUSE_SCHEDULER_POLL_MS: 'How often (ms) the scheduler runner looks for due work (default 1000).',
  LAKEHOUSE_TOKEN: 'Bearer token (an API key or an OAuth2 access token) the client commands (`sql --url`, `jobs`, `schedules`, `alerts`) send to a running service; `--token` overrides it.',
  LAKEHOUSE_SCHEDULER_LEASE_MS: "Scheduler lease time-to-live (ms, default 30000): how long a crashed process's runs wait before another process takes them over.",
  LAKEHOUSE_QUERY_MEMORY_LIMIT: 'DuckDB `memory_limit` of each SQL query (default `2GB`).',
  LAKEHOUSE_KAFKA_RAW_FETCH: '`0` → streaming ingestion jobs read Kafka through kafkajs\' consumer instead of their own fetch loop (default: own loop wherever the SQL fast path applies; same outcome, less CPU per record).',
  AWS_REGION: 'S3 region when `storage.s3.region` is not set (then `AWS_DEFAULT_REGION`, then `us-east-1`).',
  AWS_DEFAULT_REGION: 'S3 region fallback after `AWS_REGION`.',
  HADOOP_USER_NAME: 'WebHDFS user when `storage.webhdfs.user` is not set (then the OS user).',
};

export async function render() {
  ensureBuilt();
  const { ConfigSchema, ENV_VARS } = await import(pathToFileURL(DIST_CONFIG).href);
  const table = docTable(readFileSync(SRC_CONFIG, 'utf8'));
  const envByPath = new Map(Object.entries(ENV_VARS).map(([name, v]) => [v.path.join('.'), { name, kind: v.kind }]));

  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated by `npm run config-reference` (scripts/gen-config-reference.mjs) from the',
    '     ConfigSchema and ENV_VARS of src/config.ts. Do not edit by hand: test/deploy/config-reference.test.ts',
    '     fails when this file is stale. -->',
    '',
    'The service reads an optional JSON file named by `LAKEHOUSE_CONFIG`, overrides it field by field with',
    'the environment variables below, applies the defaults and validates the result at start: every bad',
    'field is reported at once (`error [VALIDATION_FAILED]: invalid configuration: …`) and the process exits 1.',
    'Secrets (S3 keys, session token, the password in a PostgreSQL URL) are never logged.',
    '',
    '## Settings',
    '',
    '| file key | environment variable | type | default | constraints | description |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  const warnings = [];
  for (const { path, schema } of leaves(ConfigSchema)) {
    const key = path.join('.');
    const env = envByPath.get(key);
    const doc = table.get(key);
    if (!env) warnings.push(`${key}: no environment variable in ENV_VARS`);
    if (!doc) warnings.push(`${key}: not in the doc table of src/config.ts (no default documented)`);
    else if (env && !doc.env.includes(env.name)) warnings.push(`${key}: doc table says ${doc.env}, ENV_VARS says ${env.name}`);
    let envCell = env ? `\`${env.name}\`` : '';
    if (env && /\(or ([A-Z_]+)\)/.test(doc?.env ?? '')) envCell += ` (or \`${/\(or ([A-Z_]+)\)/.exec(doc.env)[1]}\`)`;
    if (env?.kind === 'bool') envCell += ' (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`)';
    lines.push(`| \`${key}\` | ${envCell} | ${cell(typeOf(schema))} | ${cell(doc?.default)} | ${cell(constraints(schema))} | ${cell(schema.description)} |`);
  }
  for (const key of table.keys()) if (!envByPath.has(key)) warnings.push(`doc table row ${key} is not a schema field with an environment variable`);

  // Variables read elsewhere (process.env.X in src/), beside the schema.
  const schemaVars = new Set(Object.keys(ENV_VARS));
  const others = new Map([['LAKEHOUSE_CONFIG', new Set(['src/config.ts'])], ['PORT', new Set(['src/config.ts'])]]);
  for (const file of walk(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/process\.env(?:\.([A-Z][A-Z0-9_]*)|\[['"]([A-Z][A-Z0-9_]*)['"]\])/g)) {
      const name = m[1] ?? m[2];
      if (schemaVars.has(name)) continue;
      if (!others.has(name)) others.set(name, new Set());
      others.get(name).add(relative(ROOT, file).split('\\').join('/'));
    }
  }
  lines.push(
    '',
    '## Other environment variables',
    '',
    'Read directly by the modules named (not part of the validated schema).',
    '',
    '| variable | read in | meaning |',
    '| --- | --- | --- |',
  );
  for (const name of [...others.keys()].sort()) {
    const files = [...others.get(name)].sort().map((f) => `\`${f}\``).join(', ');
    lines.push(`| \`${name}\` | ${files} | ${cell(OTHER_DOCS[name] ?? 'see the source')} |`);
  }
  lines.push(
    '',
    '## Example file',
    '',
    '```json',
    JSON.stringify(
      {
        host: '0.0.0.0',
        port: 8181,
        warehouse: 's3://warehouse/',
        catalogUrl: 'postgres://lakehouse:change-me@db.internal:5432/lakehouse',
        catalogName: 'lakehouse',
        logLevel: 'info',
        shutdownTimeoutMs: 30000,
        storage: { s3: { endpoint: 'http://minio:9000', region: 'us-east-1', pathStyle: true } },
      },
      null,
      2,
    ),
    '```',
    '',
    'Keep S3 keys and the catalog URL with its password in the environment (a Kubernetes Secret, an',
    '`EnvironmentFile` readable only by the service) rather than in the file. Deployment files:',
    '`deploy/` (Dockerfile, compose, Helm chart, systemd unit).',
    '',
  );
  return { text: lines.join('\n'), warnings };
}

async function main() {
  const { text, warnings } = await render();
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  if (process.argv.includes('--check')) {
    const current = existsSync(OUT) ? readFileSync(OUT, 'utf8') : '';
    if (current !== text) {
      process.stderr.write('docs/configuration.md is stale: run `npm run config-reference`\n');
      process.exitCode = 1;
    }
    return;
  }
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, text);
  process.stderr.write(`wrote ${relative(ROOT, OUT)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
