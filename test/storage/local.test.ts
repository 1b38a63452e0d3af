import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFileIO, localPathOf } from '../../src/storage/local.js';
import { describeFileIOConformance, expectCode } from './fileio-conformance.js';

async function localTarget(form: (dir: string) => string) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-local-'));
  return { io: new LocalFileIO(), root: form(dir), cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

describeFileIOConformance('local (plain path)', () => localTarget((d) => d));
describeFileIOConformance('local (file:///)', () => localTarget((d) => `file://${d}`));
describeFileIOConformance('local (file:/)', () => localTarget((d) => `file:${d}`));

describe('LocalFileIO specifics', () => {
  let dir: string;
  const io = new LocalFileIO();
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-local-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('maps file URIs and paths to filesystem paths', () => {
    expect(localPathOf('/a/b')).toBe('/a/b');
    expect(localPathOf('file:///a/b')).toBe('/a/b');
    expect(localPathOf('file:/a/b')).toBe('/a/b');
    expect(localPathOf('file://localhost/a/b')).toBe('/a/b');
    expect(localPathOf('file:///a/b%20c')).toBe('/a/b%20c'); // taken literally, like pyiceberg
    expect(() => localPathOf('file://otherhost/a')).toThrow(/host/);
    expect(() => localPathOf('s3://bucket/a')).toThrow(/Not a local location/);
  });

  it('all location forms address the same file; localPath is the path itself', async () => {
    await io.write(`file://${dir}/same.txt`, new TextEncoder().encode('x'));
    expect(await io.exists(`${dir}/same.txt`)).toBe(true);
    expect(await io.exists(`file:${dir}/same.txt`)).toBe(true);
    expect(await io.localPath(`file:${dir}/same.txt`)).toBe(`${dir}/same.txt`);
  });

  it('write leaves no temp files behind, even when it fails', async () => {
    await fs.writeFile(path.join(dir, 'blocker'), 'file, not a dir');
    await expectCode(io.write(`${dir}/blocker/child.txt`, new Uint8Array(3)), 'STORAGE_ERROR');
    await io.write(`${dir}/t/ok.txt`, new Uint8Array(3));
    expect(await fs.readdir(path.join(dir, 't'))).toEqual(['ok.txt']);
  });

  it('writeIfAbsent publishes a complete file (link of an fsynced temp file)', async () => {
    const loc = `${dir}/wia/meta.json`;
    const big = new Uint8Array(4 * 1024 * 1024).fill(9);
    // Poll for the file while the write is in flight: it is either absent or whole.
    let done = false;
    const w = io.writeIfAbsent(loc, big).finally(() => {
      done = true;
    });
    while (!done) {
      const st = await io.stat(loc);
      if (st) expect(st.size).toBe(big.length);
      await new Promise((r) => setImmediate(r));
    }
    await w;
    expect((await io.read(loc)).length).toBe(big.length);
    expect(await fs.readdir(path.join(dir, 'wia'))).toEqual(['meta.json']);
  });

  it('writeIfAbsent on a path occupied by a directory fails', async () => {
    await fs.mkdir(path.join(dir, 'occupied'), { recursive: true });
    await expectCode(io.writeIfAbsent(`${dir}/occupied`, new Uint8Array(1)), 'ALREADY_EXISTS');
  });
});
