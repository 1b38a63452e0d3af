import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clearFileIOCache, fileIOFor, ResolvingFileIO } from '../../src/storage/registry.js';
import { parseS3Location, S3FileIO } from '../../src/storage/s3.js';
import { startMoto, type Moto } from '../support/moto.js';
import { describeFileIOConformance, expectCode } from './fileio-conformance.js';

let moto: Moto | undefined;
let motoStarting: Promise<Moto> | undefined;
/** One moto for the whole file, started by whichever suite's beforeAll runs first. */
function sharedMoto(): Promise<Moto> {
  motoStarting ??= startMoto().then((m) => (moto = m));
  return motoStarting;
}
afterAll(async () => {
  clearFileIOCache();
  await moto?.stop();
});

const cacheDirs: string[] = [];
async function s3Target(scheme: 's3' | 's3a', bucket: string) {
  const m = await sharedMoto();
  await m.createBucket(bucket);
  const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-s3cache-'));
  cacheDirs.push(cacheDir);
  const io = new S3FileIO({ ...m.s3Options, cacheDir });
  return {
    io,
    root: `${scheme}://${bucket}/warehouse`,
    cleanup: async () => {
      io.destroy();
      await fs.rm(cacheDir, { recursive: true, force: true });
    },
  };
}

describeFileIOConformance('s3 (moto)', () => s3Target('s3', 'conformance'));
describeFileIOConformance('s3a (moto)', () => s3Target('s3a', 'conformance-s3a'));

describe('S3FileIO specifics', () => {
  let m: Moto;
  let io: S3FileIO;
  let tmp: string;
  beforeAll(async () => {
    m = await sharedMoto();
    await m.createBucket('specifics');
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-s3-'));
    io = new S3FileIO({ ...m.s3Options, cacheDir: path.join(tmp, 'cache'), listPageSize: 7 });
  });
  afterAll(async () => {
    io?.destroy();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('parses s3/s3a/s3n locations', () => {
    expect(parseS3Location('s3://b/k/x.parquet')).toEqual({ scheme: 's3', bucket: 'b', key: 'k/x.parquet' });
    expect(parseS3Location('s3a://b/k')).toEqual({ scheme: 's3a', bucket: 'b', key: 'k' });
    expect(parseS3Location('s3n://b')).toEqual({ scheme: 's3n', bucket: 'b', key: '' });
    expect(() => parseS3Location('gs://b/k')).toThrow();
  });

  it('s3:// and s3a:// address the same object', async () => {
    await io.write('s3://specifics/same/x.txt', new TextEncoder().encode('same'));
    expect(new TextDecoder().decode(await io.read('s3a://specifics/same/x.txt'))).toBe('same');
    expect((await io.list('s3a://specifics/same'))[0].location).toBe('s3a://specifics/same/x.txt');
  });

  it('list paginates (page size 7, 25 objects)', async () => {
    for (let i = 0; i < 25; i++) await io.write(`s3://specifics/many/f${String(i).padStart(2, '0')}`, new Uint8Array([i]));
    const listed = await io.list('s3://specifics/many');
    expect(listed.map((f) => f.location)).toEqual(
      Array.from({ length: 25 }, (_, i) => `s3://specifics/many/f${String(i).padStart(2, '0')}`),
    );
  });

  it('list skips directory markers and lists a single object named by the prefix', async () => {
    await io.client.send(new PutObjectCommand({ Bucket: 'specifics', Key: 'marker/dir/', Body: new Uint8Array(0) }));
    await io.write('s3://specifics/marker/dir/real.txt', new Uint8Array([1]));
    expect((await io.list('s3://specifics/marker')).map((f) => f.location)).toEqual(['s3://specifics/marker/dir/real.txt']);
    expect((await io.list('s3://specifics/marker/dir/real.txt')).map((f) => f.location)).toEqual([
      's3://specifics/marker/dir/real.txt',
    ]);
  });

  it('putLocalFile uses multipart upload above the threshold', async () => {
    const mp = new S3FileIO({ ...m.s3Options, multipartThreshold: 6 * 1024 * 1024, partSize: 5 * 1024 * 1024 });
    try {
      const src = path.join(tmp, 'big.bin');
      const data = randomBytes(11 * 1024 * 1024 + 123);
      await fs.writeFile(src, data);
      await mp.putLocalFile(src, 's3://specifics/big/big.bin');
      const head = await mp.client.send(new HeadObjectCommand({ Bucket: 'specifics', Key: 'big/big.bin' }));
      expect(head.ETag).toMatch(/-3"?$/); // 3 parts
      expect(Buffer.from(await mp.read('s3://specifics/big/big.bin')).equals(data)).toBe(true);
      const part = await mp.readRange('s3://specifics/big/big.bin', 5 * 1024 * 1024 - 10, 20);
      expect(Buffer.from(part).equals(data.subarray(5 * 1024 * 1024 - 10, 5 * 1024 * 1024 + 10))).toBe(true);
    } finally {
      mp.destroy();
    }
  });

  it("moto enforces If-None-Match: * (conditional put) — the default writeIfAbsent mode relies on it", async () => {
    await io.client.send(new PutObjectCommand({ Bucket: 'specifics', Key: 'cond/k', Body: new Uint8Array([1]), IfNoneMatch: '*' }));
    let status: number | undefined;
    try {
      await io.client.send(new PutObjectCommand({ Bucket: 'specifics', Key: 'cond/k', Body: new Uint8Array([2]), IfNoneMatch: '*' }));
    } catch (e) {
      status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    }
    expect(status).toBe(412);
    expect([...(await io.read('s3://specifics/cond/k'))]).toEqual([1]);
  });

  it("conditionalWrites: 'head-then-put' (non-atomic fallback) still refuses existing files", async () => {
    const fallback = new S3FileIO({ ...m.s3Options, conditionalWrites: 'head-then-put' });
    try {
      await fallback.writeIfAbsent('s3://specifics/fallback/v1.json', new Uint8Array([1]));
      await expectCode(fallback.writeIfAbsent('s3://specifics/fallback/v1.json', new Uint8Array([2])), 'ALREADY_EXISTS');
      expect([...(await fallback.read('s3://specifics/fallback/v1.json'))]).toEqual([1]);
    } finally {
      fallback.destroy();
    }
  });

  it('a missing bucket is a STORAGE_ERROR (list, write, read)', async () => {
    await expectCode(io.list('s3://no-such-bucket-xyz/a'), 'STORAGE_ERROR');
    await expectCode(io.write('s3://no-such-bucket-xyz/a', new Uint8Array(1)), 'STORAGE_ERROR');
    await expectCode(io.read('s3://no-such-bucket-xyz/a'), 'STORAGE_ERROR');
  });

  it('registry: fileIOFor picks S3 by scheme and caches per config content', async () => {
    const cfg = () => ({ s3: { ...m.s3Options } });
    const a = fileIOFor('s3://specifics/x', cfg());
    expect(a).toBeInstanceOf(S3FileIO);
    expect(fileIOFor('s3a://specifics/y', cfg())).toBe(a);
    expect(fileIOFor('s3://specifics/x', { s3: { ...m.s3Options, listPageSize: 3 } })).not.toBe(a);
    const r = new ResolvingFileIO(cfg());
    await r.write('s3://specifics/resolving/z.txt', new TextEncoder().encode('z'));
    expect(await a.exists('s3://specifics/resolving/z.txt')).toBe(true);
  });
});
