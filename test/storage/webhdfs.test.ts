import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileIOFor } from '../../src/storage/registry.js';
import { WebHdfsFileIO } from '../../src/storage/webhdfs.js';
import { startHdfs, type Hdfs } from '../support/hdfs.js';
import { describeFileIOConformance, expectCode } from './fileio-conformance.js';

let hdfs: Hdfs | undefined;
let hdfsStarting: Promise<Hdfs> | undefined;
/** One MiniDFSCluster for the whole file. */
function sharedHdfs(): Promise<Hdfs> {
  hdfsStarting ??= startHdfs().then((h) => (hdfs = h));
  return hdfsStarting;
}
afterAll(async () => {
  await hdfs?.stop();
});

async function target(form: 'webhdfs' | 'hdfs', root: string) {
  const h = await sharedHdfs();
  const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lakehouse-hdfscache-'));
  const io = new WebHdfsFileIO({ httpAddress: h.httpAddress, user: 'lakehouse', cacheDir });
  const base = form === 'webhdfs' ? h.webhdfsUri : h.hdfsUri;
  return { io, root: `${base}${root}`, cleanup: () => fs.rm(cacheDir, { recursive: true, force: true }) };
}

describeFileIOConformance('webhdfs (MiniDFSCluster)', () => target('webhdfs', '/warehouse'));
describeFileIOConformance('hdfs:// via WebHDFS (MiniDFSCluster)', () => target('hdfs', '/hdfs-warehouse'));

describe('WebHdfsFileIO specifics', () => {
  let h: Hdfs;
  let io: WebHdfsFileIO;
  beforeAll(async () => {
    h = await sharedHdfs();
    io = new WebHdfsFileIO({ httpAddress: h.httpAddress, user: 'lakehouse' });
  });

  it('parses webhdfs/swebhdfs/hdfs locations', () => {
    expect(io.parse('webhdfs://nn:9870/a/b/')).toMatchObject({ base: 'http://nn:9870', path: '/a/b' });
    expect(io.parse('swebhdfs://nn:9871/a')).toMatchObject({ base: 'https://nn:9871', path: '/a' });
    expect(io.parse('hdfs://cluster/x//y')).toMatchObject({ base: h.httpAddress, path: '/x/y' });
    const multi = new WebHdfsFileIO({ httpAddresses: { 'nn1:8020': 'http://nn1:9870' } });
    expect(multi.parse('hdfs://nn1:8020/t')).toMatchObject({ base: 'http://nn1:9870', path: '/t' });
    expect(() => multi.parse('hdfs://other/t')).toThrow(/No WebHDFS address/);
  });

  it('hdfs:// and webhdfs:// locations address the same files', async () => {
    await io.write(`${h.hdfsUri}/same/f.txt`, new TextEncoder().encode('same'));
    expect(new TextDecoder().decode(await io.read(`${h.webhdfsUri}/same/f.txt`))).toBe('same');
    expect((await io.list(`${h.hdfsUri}/same`)).map((f) => f.location)).toEqual([`${h.hdfsUri}/same/f.txt`]);
  });

  it('handles names that need URL encoding', async () => {
    const loc = `${h.webhdfsUri}/enc/part=a b&c/f%1.parquet`;
    await io.write(loc, new Uint8Array([1, 2, 3]));
    expect([...(await io.read(loc))]).toEqual([1, 2, 3]);
    expect((await io.list(`${h.webhdfsUri}/enc`)).map((f) => f.location)).toEqual([loc]);
  });

  it('lists directories with more entries than one LISTSTATUS_BATCH page', async () => {
    // dfs.ls.limit defaults to 1000; keep it modest but spread over subdirectories.
    const n = 40;
    await Promise.all(Array.from({ length: n }, (_, i) => io.write(`${h.webhdfsUri}/many/d${i % 4}/f${i}`, new Uint8Array([i]))));
    expect((await io.list(`${h.webhdfsUri}/many`)).length).toBe(n);
  });

  it('delete refuses directories; missing files are fine', async () => {
    await io.write(`${h.webhdfsUri}/deldir/x`, new Uint8Array([1]));
    await expectCode(io.delete(`${h.webhdfsUri}/deldir`), 'STORAGE_ERROR');
    await io.delete(`${h.webhdfsUri}/deldir/missing`);
  });

  it('an unreachable server is a STORAGE_ERROR', async () => {
    const dead = new WebHdfsFileIO({ timeoutMs: 3000 });
    await expectCode(dead.read('webhdfs://127.0.0.1:1/x'), 'STORAGE_ERROR');
  });

  it('registry: fileIOFor maps hdfs:// to WebHDFS with the configured address', () => {
    const a = fileIOFor(`${h.hdfsUri}/x`, { webhdfs: { httpAddress: h.httpAddress } });
    expect(a).toBeInstanceOf(WebHdfsFileIO);
    expect(fileIOFor(`${h.webhdfsUri}/y`, { webhdfs: { httpAddress: h.httpAddress } })).toBe(a);
  });
});
