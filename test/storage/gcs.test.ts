import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GcsFileIO, parseGcsLocation } from '../../src/storage/gcs.js';
import { clearFileIOCache, fileIOFor, ResolvingFileIO, storageKindOf } from '../../src/storage/registry.js';
import { startFakeGcs, type FakeGcs } from '../support/fake-gcs.js';
import { describeFileIOConformance, expectCode } from './fileio-conformance.js';

let gcs: FakeGcs | undefined;
let gcsStarting: Promise<FakeGcs> | undefined;
/** One fake-gcs-server for the whole file, started by whichever suite's beforeAll runs first. */
function sharedGcs(): Promise<FakeGcs> {
  gcsStarting ??= startFakeGcs().then((g) => (gcs = g));
  return gcsStarting;
}
afterAll(async () => {
  clearFileIOCache();
  await gcs?.stop();
});

describeFileIOConformance('gs (fake-gcs-server)', async () => {
  const g = await sharedGcs();
  await g.createBucket('conformance');
  const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-gcscache-'));
  return {
    io: new GcsFileIO({ ...g.gcsOptions, cacheDir }),
    root: 'gs://conformance/warehouse',
    cleanup: () => fs.rm(cacheDir, { recursive: true, force: true }),
  };
});

describe('GcsFileIO specifics', () => {
  let g: FakeGcs;
  let io: GcsFileIO;
  let tmp: string;
  beforeAll(async () => {
    g = await sharedGcs();
    await g.createBucket('specifics');
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-gcs-'));
    io = new GcsFileIO({ ...g.gcsOptions, cacheDir: path.join(tmp, 'cache'), listPageSize: 7 });
  }, 600_000);
  afterAll(async () => {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('parses gs locations', () => {
    expect(parseGcsLocation('gs://b/k/x.parquet')).toEqual({ bucket: 'b', key: 'k/x.parquet' });
    expect(parseGcsLocation('gs://b')).toEqual({ bucket: 'b', key: '' });
    expect(() => parseGcsLocation('s3://b/k')).toThrow();
  });

  it('list paginates (page size 7, 25 objects)', async () => {
    for (let i = 0; i < 25; i++) await io.write(`gs://specifics/many/f${String(i).padStart(2, '0')}`, new Uint8Array([i]));
    const listed = await io.list('gs://specifics/many');
    expect(listed.map((f) => f.location)).toEqual(
      Array.from({ length: 25 }, (_, i) => `gs://specifics/many/f${String(i).padStart(2, '0')}`),
    );
  });

  it('list skips folder placeholders and lists a single object named by the prefix', async () => {
    await io.storage.bucket('specifics').file('marker/dir/').save(Buffer.alloc(0), { resumable: false });
    await io.write('gs://specifics/marker/dir/real.txt', new Uint8Array([1]));
    expect((await io.list('gs://specifics/marker')).map((f) => f.location)).toEqual(['gs://specifics/marker/dir/real.txt']);
    expect((await io.list('gs://specifics/marker/dir/real.txt')).map((f) => f.location)).toEqual([
      'gs://specifics/marker/dir/real.txt',
    ]);
  });

  it('putLocalFile uses a resumable upload above the threshold', async () => {
    const big = new GcsFileIO({ ...g.gcsOptions, resumableThreshold: 1024 * 1024, chunkSize: 1024 * 1024 });
    const src = path.join(tmp, 'big.bin');
    const data = randomBytes(3 * 1024 * 1024 + 123);
    await fs.writeFile(src, data);
    await big.putLocalFile(src, 'gs://specifics/big/big.bin');
    expect(Buffer.from(await big.read('gs://specifics/big/big.bin')).equals(data)).toBe(true);
    const part = await big.readRange('gs://specifics/big/big.bin', 1024 * 1024 - 10, 20);
    expect(Buffer.from(part).equals(data.subarray(1024 * 1024 - 10, 1024 * 1024 + 10))).toBe(true);
  });

  it('writeIfAbsent relies on ifGenerationMatch: 0 being enforced (412)', async () => {
    const f = io.storage.bucket('specifics').file('cond/k');
    await f.save(Buffer.from([1]), { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    let code: unknown;
    try {
      await f.save(Buffer.from([2]), { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    } catch (e) {
      code = (e as { code?: unknown }).code;
    }
    expect(code).toBe(412);
    expect([...(await io.read('gs://specifics/cond/k'))]).toEqual([1]);
  });

  it('a missing bucket is a STORAGE_ERROR (list, write; read only on real GCS)', async () => {
    await expectCode(io.list('gs://no-such-bucket-xyz/a'), 'STORAGE_ERROR');
    await expectCode(io.write('gs://no-such-bucket-xyz/a', new Uint8Array(1)), 'STORAGE_ERROR');
    // GCS says "The specified bucket does not exist." on reads (-> STORAGE_ERROR), but
    // fake-gcs-server answers a bare "Not Found" for a missing bucket and a missing object alike,
    // so on the emulator a read in a missing bucket is indistinguishable from a missing file.
    await expectCode(io.read('gs://no-such-bucket-xyz/a'), 'FILE_NOT_FOUND');
  });

  it('registry: fileIOFor picks GCS by scheme and caches per config content', async () => {
    expect(storageKindOf('gs://b/k')).toBe('gcs');
    const cfg = () => ({ gcs: { ...g.gcsOptions } });
    const a = fileIOFor('gs://specifics/x', cfg());
    expect(a).toBeInstanceOf(GcsFileIO);
    expect(fileIOFor('gs://specifics/y', cfg())).toBe(a);
    expect(fileIOFor('gs://specifics/x', { gcs: { ...g.gcsOptions, listPageSize: 3 } })).not.toBe(a);
    const r = new ResolvingFileIO(cfg());
    await r.write('gs://specifics/resolving/z.txt', new TextEncoder().encode('z'));
    expect(await a.exists('gs://specifics/resolving/z.txt')).toBe(true);
  });
});
