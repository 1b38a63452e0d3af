/**
 * HDFS FileIO over the WebHDFS REST API (plain `fetch`, no Hadoop client).
 *
 * Locations: `webhdfs://host:port/path` (NameNode HTTP address, http), `swebhdfs://host:port/path`
 * (https), and `hdfs://authority/path`, which is mapped to a configured WebHDFS address
 * (`httpAddresses[authority]`, else `httpAddress`).
 *
 * Atomicity (both rely on the NameNode's atomic rename2, WebHDFS `RENAME&renameoptions=...`):
 * - `write`: CREATE a temp file `.<name>.<rand>.lhtmp` in the destination directory (two-step
 *   CREATE: NameNode 307 -> DataNode PUT), then RENAME it over the destination with
 *   `renameoptions=OVERWRITE`. Readers see the old file or the new one, never a partial one.
 * - `writeIfAbsent`: the same temp file, then RENAME with `renameoptions=NONE`, which fails with
 *   FileAlreadyExistsException when the destination exists (-> ALREADY_EXISTS). A plain
 *   `CREATE&overwrite=false` would also be exclusive, but the file would be visible (and readable,
 *   partially) while being written.
 * Note the legacy RENAME without renameoptions moves the source *into* an existing directory and
 * returns `{"boolean":false}` on failure; it is never used here.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import { isLakehouseError, lakehouseError, LakehouseError } from '../core/errors.js';
import type { FileInfo, FileIO } from './fileio.js';
import { cachedCopy } from './download-cache.js';
import { checkRange, isTempFileName, tempNameFor } from './local.js';

export interface WebHdfsFileIOOptions {
  /** WebHDFS (NameNode HTTP) base address used for `hdfs://` locations, e.g. http://nn:9870. */
  httpAddress?: string;
  /** Per-authority WebHDFS addresses for `hdfs://authority/...` locations (wins over httpAddress). */
  httpAddresses?: Record<string, string>;
  /** `user.name` for simple (pseudo) authentication; default $HADOOP_USER_NAME or the OS user. */
  user?: string;
  /** Per-request timeout in ms (default 120 s). */
  timeoutMs?: number;
  /** Directory listings fetched at once by recursive `list` (default 8). */
  listConcurrency?: number;
  /** Directory for `localPath` downloads (default <tmpdir>/lakehouse-webhdfs-cache). */
  cacheDir?: string;
}

interface HdfsLoc {
  /** Original scheme://authority, used to build listed locations. */
  prefix: string;
  /** http(s)://host:port of the NameNode. */
  base: string;
  /** Absolute HDFS path, no trailing slash except for the root. */
  path: string;
}

interface FileStatus {
  pathSuffix: string;
  type: 'FILE' | 'DIRECTORY' | 'SYMLINK';
  length: number;
  modificationTime: number;
}

interface RemoteException {
  exception?: string;
  javaClassName?: string;
  message?: string;
}

class WebHdfsHttpError extends Error {
  constructor(
    readonly status: number,
    readonly remote: RemoteException | undefined,
    body: string,
  ) {
    super(remote?.message ? `${remote.exception ?? 'RemoteException'}: ${remote.message.split('\n')[0]}` : `HTTP ${status}: ${body.slice(0, 300)}`);
  }
  get exception(): string {
    return this.remote?.exception ?? '';
  }
}

export class WebHdfsFileIO implements FileIO {
  private readonly opts: WebHdfsFileIOOptions;
  private readonly user: string;
  private readonly cacheDir: string;

  constructor(options: WebHdfsFileIOOptions = {}) {
    this.opts = options;
    this.user = options.user ?? process.env.HADOOP_USER_NAME ?? safeUserName();
    this.cacheDir = options.cacheDir ?? path.join(os.tmpdir(), 'lakehouse-webhdfs-cache');
  }

  parse(location: string): HdfsLoc {
    const m = /^(webhdfs|swebhdfs|hdfs):\/\/([^/]*)(\/.*)?$/i.exec(location);
    if (!m) throw lakehouseError('STORAGE_ERROR', `Not an HDFS/WebHDFS location: ${location}`, { file: location });
    const scheme = m[1].toLowerCase();
    const authority = m[2];
    let base: string;
    if (scheme === 'hdfs') {
      const addr = this.opts.httpAddresses?.[authority] ?? this.opts.httpAddress;
      if (!addr) {
        throw lakehouseError('STORAGE_ERROR', `No WebHDFS address configured for hdfs://${authority}`, { file: location });
      }
      base = addr.replace(/\/+$/, '');
      if (!/^https?:\/\//i.test(base)) base = `http://${base}`;
    } else {
      if (!authority) throw lakehouseError('STORAGE_ERROR', `Missing host in ${location}`, { file: location });
      base = `${scheme === 'swebhdfs' ? 'https' : 'http'}://${authority}`;
    }
    let p = (m[3] ?? '/').replace(/\/{2,}/g, '/');
    if (p.length > 1) p = p.replace(/\/+$/, '');
    return { prefix: `${m[1]}://${authority}`, base, path: p };
  }

  async read(location: string): Promise<Uint8Array> {
    const loc = this.parse(location);
    try {
      return await this.body(() => this.request(loc, 'GET', 'OPEN', {}));
    } catch (e) {
      throw this.mapError('read', location, e);
    }
  }

  async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
    checkRange(location, offset, length);
    const loc = this.parse(location);
    if (length === 0) {
      if ((await this.stat(location)) === null) {
        throw lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location });
      }
      return new Uint8Array(0);
    }
    try {
      return await this.body(() => this.request(loc, 'GET', 'OPEN', { offset: String(offset), length: String(length) }));
    } catch (e) {
      // "Offset=N out of the range [0, size)": reading at/after EOF of an existing file.
      if (e instanceof WebHdfsHttpError && e.exception === 'IOException' && /out of the range/.test(e.message)) {
        return new Uint8Array(0);
      }
      throw this.mapError('readRange', location, e);
    }
  }

  /**
   * A response body, read again when it is cut off: an overwrite renames the new file over the
   * one a reader is streaming, and the datanode then drops the old blocks mid-response (undici
   * reports `terminated`). A fresh OPEN reads the whole new version. Seen once in CI.
   */
  private async body(open: () => Promise<Response>): Promise<Uint8Array> {
    for (let attempt = 1; ; attempt++) {
      const res = await open();
      try {
        return new Uint8Array(await res.arrayBuffer());
      } catch (e) {
        if (attempt >= 3 || !(e instanceof TypeError && e.message === 'terminated')) throw e;
      }
    }
  }

  async stat(location: string): Promise<FileInfo | null> {
    const st = await this.fileStatus(location);
    if (!st || st.type !== 'FILE') return null;
    return { location, size: st.length, lastModified: st.modificationTime };
  }

  async exists(location: string): Promise<boolean> {
    return (await this.stat(location)) !== null;
  }

  async write(location: string, data: Uint8Array): Promise<void> {
    const loc = this.parse(location);
    const tmp = await this.createTemp(loc, location, data, data.length);
    try {
      await this.rename(loc, tmp, 'OVERWRITE');
    } catch (e) {
      await this.deletePath(loc, tmp).catch(() => {});
      throw this.mapError('write', location, e);
    }
  }

  async writeIfAbsent(location: string, data: Uint8Array): Promise<void> {
    const loc = this.parse(location);
    const tmp = await this.createTemp(loc, location, data, data.length);
    try {
      await this.rename(loc, tmp, 'NONE');
    } catch (e) {
      await this.deletePath(loc, tmp).catch(() => {});
      if (e instanceof WebHdfsHttpError && e.exception === 'FileAlreadyExistsException') {
        throw lakehouseError('ALREADY_EXISTS', `File already exists: ${location}`, { file: location }, e);
      }
      throw this.mapError('writeIfAbsent', location, e);
    }
  }

  async delete(location: string): Promise<void> {
    const loc = this.parse(location);
    const st = await this.fileStatus(location);
    if (!st) return;
    if (st.type === 'DIRECTORY') {
      throw lakehouseError('STORAGE_ERROR', `Not a file (directory): ${location}`, { file: location });
    }
    try {
      await this.deletePath(loc, loc.path);
    } catch (e) {
      throw this.mapError('delete', location, e);
    }
  }

  /**
   * Lists files under a directory, recursively (LISTSTATUS_BATCH, paged). A prefix naming a file
   * lists that file; a missing prefix lists nothing. Temp files of in-flight writes are skipped.
   */
  async list(prefix: string): Promise<FileInfo[]> {
    const loc = this.parse(prefix);
    const base = prefix.replace(/\/+$/, '');
    const out: FileInfo[] = [];
    const rootStatus = await this.fileStatus(prefix);
    if (!rootStatus) return [];
    if (rootStatus.type === 'FILE') {
      return [{ location: base, size: rootStatus.length, lastModified: rootStatus.modificationTime }];
    }
    const pending: string[] = ['']; // relative directory paths
    let active = 0;
    let failure: unknown;
    await new Promise<void>((resolve) => {
      const pump = () => {
        if (failure !== undefined || (pending.length === 0 && active === 0)) {
          if (active === 0) resolve();
          return;
        }
        while (pending.length > 0 && active < (this.opts.listConcurrency ?? 8)) {
          const rel = pending.shift()!;
          active++;
          this.listDir(loc, rel === '' ? loc.path : joinPath(loc.path, rel))
            .then((entries) => {
              for (const st of entries) {
                const childRel = rel === '' ? st.pathSuffix : `${rel}/${st.pathSuffix}`;
                if (st.type === 'DIRECTORY') pending.push(childRel);
                else if (st.type === 'FILE' && !isTempFileName(st.pathSuffix)) {
                  out.push({ location: `${base}/${childRel}`, size: st.length, lastModified: st.modificationTime });
                }
              }
            })
            .catch((e: unknown) => {
              failure ??= e;
            })
            .finally(() => {
              active--;
              pump();
            });
        }
      };
      pump();
    });
    if (failure !== undefined) throw this.mapError('list', prefix, failure);
    out.sort((a, b) => (a.location < b.location ? -1 : a.location > b.location ? 1 : 0));
    return out;
  }

  async localPath(location: string): Promise<string> {
    const loc = this.parse(location);
    const st = await this.stat(location);
    if (!st) throw lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location });
    let copy: string | null;
    try {
      copy = await cachedCopy(this.cacheDir, { location, size: st.size, version: String(st.lastModified), key: loc.path }, async (tmp) => {
        const res = await this.request(loc, 'GET', 'OPEN', {});
        if (!res.body) throw lakehouseError('STORAGE_ERROR', 'OPEN returned no body', { file: location });
        await pipeline(Readable.fromWeb(res.body as NodeWebReadableStream<Uint8Array>), createWriteStream(tmp, { flags: 'wx' }));
        return (await fsp.stat(tmp)).size === st.size;
      });
    } catch (e) {
      throw this.mapError('localPath', location, e);
    }
    // Replaced while downloading: start over.
    return copy ?? this.localPath(location);
  }

  async putLocalFile(localPath: string, location: string): Promise<void> {
    const loc = this.parse(location);
    let size: number;
    try {
      size = (await fsp.stat(localPath)).size;
    } catch (e) {
      throw lakehouseError('FILE_NOT_FOUND', `Local file not found: ${localPath}`, { file: localPath }, e);
    }
    const tmp = await this.createTemp(loc, location, () => createReadStream(localPath), size);
    try {
      await this.rename(loc, tmp, 'OVERWRITE');
    } catch (e) {
      await this.deletePath(loc, tmp).catch(() => {});
      throw this.mapError('putLocalFile', location, e);
    }
  }

  // ---------------------------------------------------------------------------------------------

  private async fileStatus(location: string): Promise<FileStatus | null> {
    const loc = this.parse(location);
    try {
      const res = await this.request(loc, 'GET', 'GETFILESTATUS', {});
      const body = (await res.json()) as { FileStatus: FileStatus };
      return body.FileStatus;
    } catch (e) {
      if (e instanceof WebHdfsHttpError && (e.status === 404 || e.exception === 'FileNotFoundException')) return null;
      throw this.mapError('stat', location, e);
    }
  }

  private async listDir(loc: HdfsLoc, dir: string): Promise<FileStatus[]> {
    const all: FileStatus[] = [];
    let startAfter: string | undefined;
    for (;;) {
      let res: Response;
      try {
        res = await this.request(loc, 'GET', 'LISTSTATUS_BATCH', startAfter === undefined ? {} : { startAfter }, dir);
      } catch (e) {
        if (e instanceof WebHdfsHttpError && (e.status === 404 || e.exception === 'FileNotFoundException')) return all;
        throw e;
      }
      const body = (await res.json()) as {
        DirectoryListing: { partialListing: { FileStatuses: { FileStatus: FileStatus[] } }; remainingEntries: number };
      };
      const page = body.DirectoryListing.partialListing.FileStatuses.FileStatus ?? [];
      all.push(...page);
      if (!body.DirectoryListing.remainingEntries || page.length === 0) return all;
      startAfter = page[page.length - 1].pathSuffix;
    }
  }

  /**
   * Two-step CREATE of a fresh temp file next to the destination; returns its HDFS path. `body` is
   * the bytes or a factory of a stream (a stream can be sent once only).
   */
  private async createTemp(
    loc: HdfsLoc,
    location: string,
    body: Uint8Array | (() => Readable),
    size: number,
  ): Promise<string> {
    const dir = path.posix.dirname(loc.path);
    const tmp = joinPath(dir, tempNameFor(path.posix.basename(loc.path)));
    try {
      const step1 = await this.request(loc, 'PUT', 'CREATE', { overwrite: 'false' }, tmp, { redirect: 'manual' });
      let target = step1.headers.get('location');
      if (!target && step1.status === 200) {
        // noredirect-style answer: {"Location": "..."}
        target = ((await step1.json().catch(() => ({}))) as { Location?: string }).Location ?? null;
      } else {
        await step1.body?.cancel().catch(() => {});
      }
      if (!target) throw lakehouseError('STORAGE_ERROR', `WebHDFS CREATE gave no redirect (HTTP ${step1.status})`, { file: location });
      await this.putToDataNode(target, body instanceof Uint8Array ? body : body(), size);
      return tmp;
    } catch (e) {
      await this.deletePath(loc, tmp).catch(() => {});
      throw this.mapError('write', location, e);
    }
  }

  /**
   * Step 2 of CREATE: PUT the bytes to the DataNode URL. Uses node:http rather than fetch: the
   * DataNode always answers `100 Continue` first, which undici's fetch rejects as a bad response.
   */
  private putToDataNode(target: string, body: Uint8Array | Readable, size: number): Promise<void> {
    const url = new URL(target);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<void>((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method: 'PUT',
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
          timeout: this.opts.timeoutMs ?? 120_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve();
            const text = Buffer.concat(chunks).toString('utf8');
            reject(new WebHdfsHttpError(status, parseRemote(text), text));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`DataNode PUT timed out: ${url.host}`)));
      req.on('error', reject);
      if (body instanceof Uint8Array) {
        req.end(body);
      } else {
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      }
    });
  }

  private async rename(loc: HdfsLoc, from: string, mode: 'NONE' | 'OVERWRITE'): Promise<void> {
    const res = await this.request(loc, 'PUT', 'RENAME', { destination: loc.path, renameoptions: mode }, from);
    await res.body?.cancel().catch(() => {});
  }

  private async deletePath(loc: HdfsLoc, p: string): Promise<void> {
    const res = await this.request(loc, 'DELETE', 'DELETE', { recursive: 'false' }, p);
    await res.body?.cancel().catch(() => {});
  }

  private async request(
    loc: HdfsLoc,
    method: string,
    op: string,
    params: Record<string, string>,
    hdfsPath: string = loc.path,
    extra: RequestInit = {},
  ): Promise<Response> {
    const q = new URLSearchParams({ op, 'user.name': this.user, ...params });
    const url = `${loc.base}/webhdfs/v1${encodePath(hdfsPath)}?${q.toString()}`;
    let res: Response;
    try {
      res = await fetch(url, { method, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000), ...extra });
    } catch (e) {
      throw lakehouseError('STORAGE_ERROR', `WebHDFS ${op} ${hdfsPath}: ${e instanceof Error ? e.message : String(e)}`, { file: hdfsPath }, e);
    }
    if (res.ok || (extra.redirect === 'manual' && res.status >= 300 && res.status < 400)) return res;
    throw await httpError(res);
  }

  private mapError(op: string, location: string, e: unknown): LakehouseError {
    if (isLakehouseError(e)) return e;
    if (e instanceof WebHdfsHttpError) {
      if (e.exception === 'FileNotFoundException' || (e.status === 404 && !e.remote)) {
        return lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location }, e);
      }
      if (e.exception === 'FileAlreadyExistsException') {
        return lakehouseError('ALREADY_EXISTS', `File already exists: ${location}`, { file: location }, e);
      }
      return lakehouseError('STORAGE_ERROR', `WebHDFS ${op} failed for ${location}: ${e.message}`, { file: location, httpStatus: e.status }, e);
    }
    return lakehouseError('STORAGE_ERROR', `WebHDFS ${op} failed for ${location}: ${e instanceof Error ? e.message : String(e)}`, { file: location }, e);
  }
}

async function httpError(res: Response): Promise<WebHdfsHttpError> {
  const text = await res.text().catch(() => '');
  return new WebHdfsHttpError(res.status, parseRemote(text), text);
}

function parseRemote(text: string): RemoteException | undefined {
  try {
    return (JSON.parse(text) as { RemoteException?: RemoteException }).RemoteException;
  } catch {
    return undefined;
  }
}

function encodePath(p: string): string {
  return p
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}

function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

function safeUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'lakehouse';
  }
}
