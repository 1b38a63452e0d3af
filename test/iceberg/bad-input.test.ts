import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { REFERENCE_DIR } from '../support/fixtures.js';

// Bad input gets a typed error that names the file, on stderr with a non-zero exit, and the
// reader writes nothing.
describe('bad input through `lakehouse scan`', () => {
  let dir: string;
  const copy = (name: string) => {
    const to = join(dir, `${name}-${Math.random().toString(36).slice(2)}`);
    cpSync(join(REFERENCE_DIR, name), to, { recursive: true });
    return to;
  };
  const listing = (d: string) =>
    readdirSync(d, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => `${join(e.parentPath, e.name)}:${statSync(join(e.parentPath, e.name)).size}`)
      .sort();
  const scanFails = async (table: string, metadata: string, code: string, file: string | RegExp) => {
    const before = listing(table);
    const res = await runCli(['scan', table, '--metadata', metadata, '--sql', 'SELECT count(*) FROM t']);
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain(`[${code}]`);
    if (typeof file === 'string') expect(res.stderr).toContain(file);
    else expect(res.stderr).toMatch(file);
    expect(listing(table)).toEqual(before);
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lh-bad-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('corrupt Avro manifest list', async () => {
    const t = copy('partition_integer');
    const snap = readdirSync(join(t, 'metadata')).find((f) => f.startsWith('snap-'))!;
    writeFileSync(join(t, 'metadata', snap), Buffer.from('Obj\x01garbage-not-avro'));
    await scanFails(t, 'metadata/v2.metadata.json', 'CORRUPT_FILE', snap);
  });

  it('truncated Avro manifest', async () => {
    const t = copy('partition_integer');
    const m = readdirSync(join(t, 'metadata')).find((f) => f.endsWith('-m0.avro'))!;
    truncateSync(join(t, 'metadata', m), 200);
    await scanFails(t, 'metadata/v2.metadata.json', 'CORRUPT_FILE', m);
  });

  it('truncated Parquet data file', async () => {
    const t = copy('null_stats');
    const data = readdirSync(join(t, 'data'), { recursive: true }).map(String).find((f) => f.endsWith('.parquet'))!;
    truncateSync(join(t, 'data', data), 100);
    const expected = JSON.parse(readFileSync(join(t, 'expected.json'), 'utf8'));
    await scanFails(t, expected.metadata, 'CORRUPT_FILE', data.split('/').pop()!);
  });

  it('malformed metadata JSON', async () => {
    const t = copy('partition_integer');
    writeFileSync(join(t, 'metadata', 'v2.metadata.json'), '{"format-version": 2, "table-uuid": ');
    await scanFails(t, 'metadata/v2.metadata.json', 'INVALID_METADATA', 'v2.metadata.json');
  });

  it('metadata missing required fields', async () => {
    const t = copy('partition_integer');
    const md = JSON.parse(readFileSync(join(t, 'metadata', 'v2.metadata.json'), 'utf8'));
    delete md.schemas;
    writeFileSync(join(t, 'metadata', 'v2.metadata.json'), JSON.stringify(md));
    await scanFails(t, 'metadata/v2.metadata.json', 'INVALID_METADATA', 'v2.metadata.json');
  });

  it('future format version', async () => {
    const t = copy('partition_integer');
    const text = readFileSync(join(t, 'metadata', 'v2.metadata.json'), 'utf8').replace('"format-version" : 2', '"format-version" : 9');
    writeFileSync(join(t, 'metadata', 'v2.metadata.json'), text);
    await scanFails(t, 'metadata/v2.metadata.json', 'UNSUPPORTED_FORMAT_VERSION', 'v2.metadata.json');
  });

  it('unknown column type', async () => {
    const t = copy('partition_integer');
    const text = readFileSync(join(t, 'metadata', 'v2.metadata.json'), 'utf8').replace('"type" : "long"', '"type" : "hyperlong"');
    writeFileSync(join(t, 'metadata', 'v2.metadata.json'), text);
    await scanFails(t, 'metadata/v2.metadata.json', 'UNKNOWN_TYPE', 'v2.metadata.json');
  });

  it('missing metadata file and missing table folder', async () => {
    const t = copy('partition_integer');
    await scanFails(t, 'metadata/v9.metadata.json', 'FILE_NOT_FOUND', 'v9.metadata.json');
    const res = await runCli(['scan', join(dir, 'nope'), '--sql', 'SELECT 1 FROM t']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/\[(NO_SUCH_TABLE|FILE_NOT_FOUND)\]/);
  });

  it('missing data file', async () => {
    const t = copy('null_stats');
    const data = readdirSync(join(t, 'data'), { recursive: true }).map(String).find((f) => f.endsWith('.parquet'))!;
    rmSync(join(t, 'data', data));
    const expected = JSON.parse(readFileSync(join(t, 'expected.json'), 'utf8'));
    await scanFails(t, expected.metadata, 'FILE_NOT_FOUND', data.split('/').pop()!);
  });

  it('bad SQL is a BAD_REQUEST, not a crash', async () => {
    const t = copy('partition_integer');
    const res = await runCli(['scan', t, '--sql', 'SELEKT nonsense']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('[BAD_REQUEST]');
  });
});
