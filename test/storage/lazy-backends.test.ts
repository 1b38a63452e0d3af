import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadedBackend } from '../../src/storage/backends.js';
import { LazyFileIO } from '../../src/storage/lazy-fileio.js';
import { LocalFileIO } from '../../src/storage/local.js';
import { clearFileIOCache, fileIOFor } from '../../src/storage/registry.js';
import { runCli } from '../support/cli.js';
import { referenceTables } from '../support/fixtures.js';
import { startMoto, type Moto } from '../support/moto.js';
import { describeFileIOConformance, expectCode } from './fileio-conformance.js';

/**
 * The cloud back ends (S3, Azure, GCS) load their SDK on first use (src/storage/backends.ts), so a
 * `lakehouse scan` of a local folder does not pay about a second of module loading. Before a
 * back end's module is loaded the registry hands out a LazyFileIO; the FileIO conformance suite
 * runs through one against moto, so the deferral is invisible to callers.
 * This file must not import src/storage/s3.js (or azure/gcs) statically: that would load them.
 */
const SDKS = /node_modules\/(@aws-sdk\/client-s3|@azure\/storage-blob|@google-cloud\/storage)\//;

let moto: Moto | undefined;
let motoStarting: Promise<Moto> | undefined;
const tmp: string[] = [];
afterAll(async () => {
  clearFileIOCache();
  await moto?.stop();
  for (const d of tmp) await fs.rm(d, { recursive: true, force: true });
});

describe('before first use', () => {
  it('fileIOFor hands out LazyFileIO for s3, azure and gcs and loads none of them', () => {
    expect([loadedBackend('s3'), loadedBackend('azure'), loadedBackend('gcs')]).toEqual([undefined, undefined, undefined]);
    const s3 = fileIOFor('s3://lazy/x', { s3: { region: 'eu-west-1' } });
    expect(s3).toBeInstanceOf(LazyFileIO);
    expect(fileIOFor('s3a://lazy/y', { s3: { region: 'eu-west-1' } })).toBe(s3);
    expect(fileIOFor('gs://lazy/x')).toBeInstanceOf(LazyFileIO);
    expect(fileIOFor('abfss://c@acct.dfs.core.windows.net/x')).toBeInstanceOf(LazyFileIO);
    expect(fileIOFor('/tmp/x')).toBeInstanceOf(LocalFileIO);
    // Malformed locations fail as before, synchronously.
    expect(() => fileIOFor('relative/path')).toThrow(/Not an absolute path or URI/);
    expect([loadedBackend('s3'), loadedBackend('azure'), loadedBackend('gcs')]).toEqual([undefined, undefined, undefined]);
  });

  it('`lakehouse scan` of a local table loads no cloud SDK (but does load DuckDB)', async () => {
    const [table] = referenceTables();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lh-lazy-'));
    tmp.push(dir);
    // A module-load hook in the CLI process records every module URL it loads.
    const log = path.join(dir, 'loaded.txt');
    await fs.writeFile(
      path.join(dir, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }\n`,
    );
    await fs.writeFile(path.join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(path.join(dir, 'hooks.mjs')).href)});\n`);
    const res = await runCli(['scan', table.dir, '--sql', 'SELECT count(*) FROM t'], {
      env: { NODE_OPTIONS: `--import ${pathToFileURL(path.join(dir, 'register.mjs')).href}` },
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const loaded = (await fs.readFile(log, 'utf8')).split('\n');
    expect(loaded.some((u) => u.includes('/node_modules/@duckdb/node-api/'))).toBe(true);
    expect(loaded.filter((u) => SDKS.test(u))).toEqual([]);
  });
});

describeFileIOConformance('S3 through a LazyFileIO (moto)', async () => {
  motoStarting ??= startMoto().then((m) => (moto = m));
  const m = await motoStarting;
  await m.createBucket('lazy-conformance');
  const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-s3cache-'));
  tmp.push(cacheDir);
  const io = fileIOFor('s3://lazy-conformance/', { s3: { ...m.s3Options, cacheDir } });
  expect(io).toBeInstanceOf(LazyFileIO);
  return { io, root: 's3://lazy-conformance/warehouse', cleanup: async () => {} };
});

describe('after first use', () => {
  it('the module is loaded; later instances are the back end itself, errors are its errors', async () => {
    const m = await motoStarting!;
    const { S3FileIO } = await import('../../src/storage/s3.js');
    expect(loadedBackend('s3')).toBe(S3FileIO);
    const lazy = fileIOFor('s3://lazy-conformance/', { s3: { ...m.s3Options, cacheDir: tmp[tmp.length - 1] } }) as LazyFileIO;
    expect(lazy.loaded).toBeInstanceOf(S3FileIO);
    const direct = fileIOFor('s3://lazy-conformance/', { s3: { ...m.s3Options, listPageSize: 3 } });
    expect(direct).toBeInstanceOf(S3FileIO);
    await expectCode(lazy.read('s3://lazy-conformance/missing'), 'FILE_NOT_FOUND');
    await expectCode(direct.read('s3://lazy-conformance/missing'), 'FILE_NOT_FOUND');
    // Azure and GCS were never used here: still not loaded.
    expect([loadedBackend('azure'), loadedBackend('gcs')]).toEqual([undefined, undefined]);
  });
});
