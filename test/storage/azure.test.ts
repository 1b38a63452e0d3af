import { BlockBlobClient } from '@azure/storage-blob';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureFileIO, parseAzureLocation } from '../../src/storage/azure.js';
import { clearFileIOCache, fileIOFor, ResolvingFileIO, storageKindOf } from '../../src/storage/registry.js';
import { AZURITE_ACCOUNT, startAzurite, type Azurite } from '../support/azurite.js';
import { describeFileIOConformance, expectCode } from './fileio-conformance.js';

let az: Azurite | undefined;
let azStarting: Promise<Azurite> | undefined;
/** One Azurite for the whole file, started by whichever suite's beforeAll runs first. */
function sharedAzurite(): Promise<Azurite> {
  azStarting ??= startAzurite().then((a) => (az = a));
  return azStarting;
}
afterAll(async () => {
  clearFileIOCache();
  await az?.stop();
});

const HOST_DFS = `${AZURITE_ACCOUNT}.dfs.core.windows.net`;
const HOST_BLOB = `${AZURITE_ACCOUNT}.blob.core.windows.net`;

async function azureTarget(scheme: 'abfss' | 'wasbs', container: string) {
  const a = await sharedAzurite();
  await a.createContainer(container);
  const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-azcache-'));
  const io = new AzureFileIO({ ...a.azureOptions, cacheDir });
  const host = scheme === 'abfss' ? HOST_DFS : HOST_BLOB;
  return {
    io,
    root: `${scheme}://${container}@${host}/warehouse`,
    cleanup: () => fs.rm(cacheDir, { recursive: true, force: true }),
  };
}

describeFileIOConformance('abfss (Azurite)', () => azureTarget('abfss', 'conformance'));
describeFileIOConformance('wasbs (Azurite)', () => azureTarget('wasbs', 'conformance-wasbs'));

describe('AzureFileIO specifics', () => {
  let a: Azurite;
  let io: AzureFileIO;
  let tmp: string;
  const root = `abfss://specifics@${HOST_DFS}`;
  beforeAll(async () => {
    a = await sharedAzurite();
    await a.createContainer('specifics');
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-az-'));
    io = new AzureFileIO({ ...a.azureOptions, cacheDir: path.join(tmp, 'cache'), listPageSize: 7 });
  });
  afterAll(async () => {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('parses abfss/abfs/wasbs/wasb locations', () => {
    expect(parseAzureLocation('abfss://c@acct.dfs.core.windows.net/k/x.parquet')).toEqual({
      scheme: 'abfss',
      container: 'c',
      account: 'acct',
      host: 'acct.dfs.core.windows.net',
      key: 'k/x.parquet',
    });
    expect(parseAzureLocation('wasb://c@acct.blob.core.windows.net').key).toBe('');
    expect(parseAzureLocation('abfs://c@acct.dfs.core.windows.net/a').scheme).toBe('abfs');
    expect(() => parseAzureLocation('abfss://acct.dfs.core.windows.net/k')).toThrow();
    expect(() => parseAzureLocation('s3://b/k')).toThrow();
  });

  it('abfss:// and wasbs:// address the same blob', async () => {
    await io.write(`${root}/same/x.txt`, new TextEncoder().encode('same'));
    expect(new TextDecoder().decode(await io.read(`wasbs://specifics@${HOST_BLOB}/same/x.txt`))).toBe('same');
    expect((await io.list(`wasbs://specifics@${HOST_BLOB}/same`))[0].location).toBe(`wasbs://specifics@${HOST_BLOB}/same/x.txt`);
  });

  it('list paginates (page size 7, 25 blobs)', async () => {
    for (let i = 0; i < 25; i++) await io.write(`${root}/many/f${String(i).padStart(2, '0')}`, new Uint8Array([i]));
    const listed = await io.list(`${root}/many`);
    expect(listed.map((f) => f.location)).toEqual(
      Array.from({ length: 25 }, (_, i) => `${root}/many/f${String(i).padStart(2, '0')}`),
    );
  });

  it('list skips directory markers (trailing / and hdi_isfolder) and lists a single blob named by the prefix', async () => {
    const c = io.serviceFor(AZURITE_ACCOUNT).getContainerClient('specifics');
    await c.getBlockBlobClient('marker/dir/').upload(new Uint8Array(0), 0);
    await c.getBlockBlobClient('marker/adls').upload(new Uint8Array(0), 0, { metadata: { hdi_isfolder: 'true' } });
    await io.write(`${root}/marker/dir/real.txt`, new Uint8Array([1]));
    expect((await io.list(`${root}/marker`)).map((f) => f.location)).toEqual([`${root}/marker/dir/real.txt`]);
    expect(await io.stat(`${root}/marker/adls`)).toBeNull();
    expect((await io.list(`${root}/marker/dir/real.txt`)).map((f) => f.location)).toEqual([`${root}/marker/dir/real.txt`]);
  });

  it('putLocalFile uses staged blocks + one commit above the threshold', async () => {
    const big = new AzureFileIO({ ...a.azureOptions, singleShotThreshold: 4 * 1024 * 1024, blockSize: 2 * 1024 * 1024 });
    const src = path.join(tmp, 'big.bin');
    const data = randomBytes(5 * 1024 * 1024 + 123);
    await fs.writeFile(src, data);
    await big.putLocalFile(src, `${root}/big/big.bin`);
    const bb: BlockBlobClient = big.serviceFor(AZURITE_ACCOUNT).getContainerClient('specifics').getBlockBlobClient('big/big.bin');
    const blocks = await bb.getBlockList('committed');
    expect(blocks.committedBlocks?.length).toBe(3);
    expect(Buffer.from(await big.read(`${root}/big/big.bin`)).equals(data)).toBe(true);
    const part = await big.readRange(`${root}/big/big.bin`, 2 * 1024 * 1024 - 10, 20);
    expect(Buffer.from(part).equals(data.subarray(2 * 1024 * 1024 - 10, 2 * 1024 * 1024 + 10))).toBe(true);
  });

  it('Azurite enforces If-None-Match: * on Put Blob — writeIfAbsent relies on it', async () => {
    const bb = io.serviceFor(AZURITE_ACCOUNT).getContainerClient('specifics').getBlockBlobClient('cond/k');
    await bb.upload(new Uint8Array([1]), 1, { conditions: { ifNoneMatch: '*' } });
    let st: number | undefined;
    try {
      await bb.upload(new Uint8Array([2]), 1, { conditions: { ifNoneMatch: '*' } });
    } catch (e) {
      st = (e as { statusCode?: number }).statusCode;
    }
    expect([409, 412]).toContain(st);
    expect([...(await io.read(`${root}/cond/k`))]).toEqual([1]);
  });

  it('a missing container is a STORAGE_ERROR (list, write, read)', async () => {
    const missing = `abfss://no-such-container@${HOST_DFS}/a`;
    await expectCode(io.list(missing), 'STORAGE_ERROR');
    await expectCode(io.write(missing, new Uint8Array(1)), 'STORAGE_ERROR');
    await expectCode(io.read(missing), 'STORAGE_ERROR');
  });

  it('registry: fileIOFor picks Azure by scheme and caches per config content', async () => {
    for (const s of ['abfss', 'abfs', 'wasbs', 'wasb']) expect(storageKindOf(`${s}://c@a.x/y`)).toBe('azure');
    const cfg = () => ({ azure: { ...a.azureOptions } });
    const x = fileIOFor(`${root}/x`, cfg());
    expect(x).toBeInstanceOf(AzureFileIO);
    expect(fileIOFor(`wasbs://specifics@${HOST_BLOB}/y`, cfg())).toBe(x);
    expect(fileIOFor(`${root}/x`, { azure: { ...a.azureOptions, listPageSize: 3 } })).not.toBe(x);
    const r = new ResolvingFileIO(cfg());
    await r.write(`${root}/resolving/z.txt`, new TextEncoder().encode('z'));
    expect(await x.exists(`${root}/resolving/z.txt`)).toBe(true);
  });
});
