/**
 * Reusable FileIO conformance suite: every backend must pass it.
 *
 *   describeFileIOConformance('local', async () => ({ io, root, cleanup }));
 *
 * `root` is a location (directory) under which the suite may create anything; each test works in
 * its own subdirectory. `makeIO` runs in beforeAll, `cleanup` in afterAll.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLakehouseError, type ErrorCode } from '../../src/core/errors.js';
import type { FileIO } from '../../src/storage/fileio.js';

export interface ConformanceTarget {
  io: FileIO;
  root: string;
  cleanup: () => Promise<void>;
}

export async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `expected LakehouseError ${code}`).toBeDefined();
  if (!isLakehouseError(err, code)) {
    throw new Error(`expected LakehouseError ${code}, got ${String(err)}`, { cause: err });
  }
}

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Every byte value, then random bytes: catches any text/encoding mangling. */
function binaryPayload(randomLen: number): Uint8Array {
  const out = new Uint8Array(256 + randomLen);
  for (let i = 0; i < 256; i++) out[i] = i;
  out.set(randomBytes(randomLen), 256);
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

export function describeFileIOConformance(name: string, makeIO: () => Promise<ConformanceTarget>): void {
  describe(`FileIO conformance: ${name}`, () => {
    let t: ConformanceTarget;
    let io: FileIO;
    let n = 0;
    /** A fresh directory location for one test. */
    const dir = (label: string) => `${t.root.replace(/\/+$/, '')}/${label}-${++n}-${randomBytes(3).toString('hex')}`;

    beforeAll(async () => {
      t = await makeIO();
      io = t.io;
    });
    afterAll(async () => {
      await t?.cleanup();
    });

    it('round-trips binary data exactly (all byte values, random bytes)', async () => {
      const d = dir('binary');
      const data = binaryPayload(300_000);
      await io.write(`${d}/blob.bin`, data);
      const back = await io.read(`${d}/blob.bin`);
      expect(back).toBeInstanceOf(Uint8Array);
      expect(back.length).toBe(data.length);
      expect(equalBytes(back, data)).toBe(true);
    });

    it('writes empty files', async () => {
      const d = dir('empty');
      await io.write(`${d}/empty`, new Uint8Array(0));
      expect((await io.read(`${d}/empty`)).length).toBe(0);
      expect((await io.stat(`${d}/empty`))?.size).toBe(0);
      expect(await io.exists(`${d}/empty`)).toBe(true);
    });

    it('write replaces an existing file (larger, then smaller) and creates parent directories', async () => {
      const d = dir('replace');
      const loc = `${d}/a/b/c/file.txt`;
      await io.write(loc, bytes('first version'));
      await io.write(loc, bytes('a much longer second version of the file'));
      expect(text(await io.read(loc))).toBe('a much longer second version of the file');
      await io.write(loc, bytes('3rd'));
      expect(text(await io.read(loc))).toBe('3rd');
      expect((await io.stat(loc))?.size).toBe(3);
    });

    it('missing files: read/readRange/localPath throw FILE_NOT_FOUND; stat null; exists false', async () => {
      const d = dir('missing');
      const loc = `${d}/nope.bin`;
      await expectCode(io.read(loc), 'FILE_NOT_FOUND');
      await expectCode(io.readRange(loc, 0, 10), 'FILE_NOT_FOUND');
      await expectCode(io.readRange(loc, 0, 0), 'FILE_NOT_FOUND');
      await expectCode(io.localPath(loc), 'FILE_NOT_FOUND');
      expect(await io.stat(loc)).toBeNull();
      expect(await io.exists(loc)).toBe(false);
      // A directory is not a file.
      await io.write(`${d}/sub/x`, bytes('x'));
      expect(await io.stat(`${d}/sub`)).toBeNull();
      expect(await io.exists(`${d}/sub`)).toBe(false);
    });

    it('readRange returns the requested bytes, truncated at EOF', async () => {
      const d = dir('range');
      const loc = `${d}/r.bin`;
      const data = binaryPayload(10_000);
      await io.write(loc, data);
      expect(equalBytes(await io.readRange(loc, 0, 10), data.subarray(0, 10))).toBe(true);
      expect(equalBytes(await io.readRange(loc, 1000, 4321), data.subarray(1000, 5321))).toBe(true);
      expect(equalBytes(await io.readRange(loc, data.length - 8, 8), data.subarray(data.length - 8))).toBe(true);
      // Past the end: truncated / empty.
      expect(equalBytes(await io.readRange(loc, data.length - 5, 100), data.subarray(data.length - 5))).toBe(true);
      expect((await io.readRange(loc, data.length, 10)).length).toBe(0);
      expect((await io.readRange(loc, data.length + 100, 10)).length).toBe(0);
      expect((await io.readRange(loc, 5, 0)).length).toBe(0);
      await expectCode(io.readRange(loc, -1, 5), 'STORAGE_ERROR');
    });

    it('stat reports size and a plausible mtime', async () => {
      const d = dir('stat');
      const loc = `${d}/s.txt`;
      const before = Date.now();
      await io.write(loc, bytes('12345'));
      const st = await io.stat(loc);
      expect(st).not.toBeNull();
      expect(st!.location).toBe(loc);
      expect(st!.size).toBe(5);
      // Peers run on this machine; allow for coarse server clocks.
      expect(Math.abs(st!.lastModified - before)).toBeLessThan(5 * 60_000);
    });

    it('list is recursive, stays inside the directory, and keeps the location form', async () => {
      const d = dir('list');
      const files = ['a.txt', 'b/c.txt', 'b/d/e.bin', 'b/d/f/g.parquet'];
      for (const [i, f] of files.entries()) await io.write(`${d}/dir/${f}`, new Uint8Array(i + 1).fill(7));
      // Siblings sharing the name prefix must not show up.
      await io.write(`${d}/dir2/x.txt`, bytes('x'));
      await io.write(`${d}/dirx`, bytes('x'));

      const listed = await io.list(`${d}/dir`);
      const locs = listed.map((f) => f.location).sort();
      expect(locs).toEqual(files.map((f) => `${d}/dir/${f}`).sort());
      for (const f of listed) {
        const i = files.findIndex((x) => `${d}/dir/${x}` === f.location);
        expect(f.size).toBe(i + 1);
        expect(f.lastModified).toBeGreaterThan(0);
      }
      // Trailing slash: same files.
      expect((await io.list(`${d}/dir/`)).map((f) => f.location).sort()).toEqual(files.map((f) => `${d}/dir/${f}`).sort());
      // Subdirectory.
      expect((await io.list(`${d}/dir/b/d`)).map((f) => f.location).sort()).toEqual([`${d}/dir/b/d/e.bin`, `${d}/dir/b/d/f/g.parquet`]);
      // Missing directory: nothing.
      expect(await io.list(`${d}/no-such-dir`)).toEqual([]);
      // Whole test dir.
      expect((await io.list(d)).length).toBe(files.length + 2);
    });

    it('delete removes files; deleting a missing file is not an error', async () => {
      const d = dir('delete');
      const loc = `${d}/del.txt`;
      await io.write(loc, bytes('bye'));
      await io.write(`${d}/keep.txt`, bytes('stay'));
      await io.delete(loc);
      expect(await io.exists(loc)).toBe(false);
      await expectCode(io.read(loc), 'FILE_NOT_FOUND');
      await io.delete(loc);
      await io.delete(`${d}/never/existed.txt`);
      expect((await io.list(d)).map((f) => f.location)).toEqual([`${d}/keep.txt`]);
    });

    it('writeIfAbsent writes once, then throws ALREADY_EXISTS and leaves the file unchanged', async () => {
      const d = dir('wia');
      const loc = `${d}/v1.metadata.json`;
      await io.writeIfAbsent(loc, bytes('winner'));
      await expectCode(io.writeIfAbsent(loc, bytes('loser')), 'ALREADY_EXISTS');
      expect(text(await io.read(loc))).toBe('winner');
      // After a delete the location is free again.
      await io.delete(loc);
      await io.writeIfAbsent(loc, bytes('again'));
      expect(text(await io.read(loc))).toBe('again');
      // No temp files or other debris left behind.
      expect((await io.list(d)).map((f) => f.location)).toEqual([loc]);
    });

    it('concurrent writeIfAbsent: exactly one of 8 callers wins', async () => {
      for (let round = 0; round < 3; round++) {
        const d = dir(`race${round}`);
        const loc = `${d}/v2.metadata.json`;
        const payloads = Array.from({ length: 8 }, (_, i) => binaryPayload(20_000 + i));
        const results = await Promise.allSettled(payloads.map((p) => io.writeIfAbsent(loc, p)));
        const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        expect(winners.length, `round ${round}: winners ${winners.join(',')}`).toBe(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(isLakehouseError(r.reason, 'ALREADY_EXISTS'), String(r.reason)).toBe(true);
        }
        expect(equalBytes(await io.read(loc), payloads[winners[0]])).toBe(true);
        expect((await io.list(d)).map((f) => f.location)).toEqual([loc]);
      }
    });

    it('readers never see a partially written file', async () => {
      const d = dir('atomic');
      const loc = `${d}/hot.bin`;
      const versions = Array.from({ length: 4 }, (_, i) => new Uint8Array(200_000 + i * 50_000).fill(i + 1));
      await io.write(loc, versions[0]);
      let writing = true;
      const writer = (async () => {
        try {
          for (let i = 0; i < 12; i++) await io.write(loc, versions[i % versions.length]);
        } finally {
          writing = false;
        }
      })();
      let reads = 0;
      while (writing || reads < 3) {
        const got = await io.read(loc);
        reads++;
        const v = versions.find((x) => x.length === got.length);
        expect(v, `read ${got.length} bytes: not a whole version`).toBeDefined();
        expect(equalBytes(got, v!)).toBe(true);
      }
      await writer;
    });

    it('localPath gives a local file with the bytes, refreshed after an overwrite', async () => {
      const d = dir('localpath');
      const loc = `${d}/data.parquet`;
      await io.write(loc, bytes('version one'));
      const p1 = await io.localPath(loc);
      expect(path.isAbsolute(p1)).toBe(true);
      expect(await fs.readFile(p1, 'utf8')).toBe('version one');
      await io.write(loc, bytes('version two, longer'));
      const p2 = await io.localPath(loc);
      expect(await fs.readFile(p2, 'utf8')).toBe('version two, longer');
      // Cached copies are reused.
      expect(await io.localPath(loc)).toBe(p2);
    });

    it('putLocalFile uploads a local file', async () => {
      const d = dir('put');
      const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-put-'));
      try {
        const src = path.join(tmp, 'src.bin');
        const data = binaryPayload(500_000);
        await fs.writeFile(src, data);
        await io.putLocalFile(src, `${d}/nested/up.bin`);
        expect(equalBytes(await io.read(`${d}/nested/up.bin`), data)).toBe(true);
        // Replaces an existing file.
        await fs.writeFile(src, bytes('small'));
        await io.putLocalFile(src, `${d}/nested/up.bin`);
        expect(text(await io.read(`${d}/nested/up.bin`))).toBe('small');
        expect(await fs.readFile(src, 'utf8')).toBe('small'); // source left alone
        await expectCode(io.putLocalFile(path.join(tmp, 'missing'), `${d}/x`), 'FILE_NOT_FOUND');
      } finally {
        await fs.rm(tmp, { recursive: true, force: true });
      }
    });
  });
}
