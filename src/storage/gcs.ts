/**
 * Google Cloud Storage FileIO (`gs://bucket/path`) over @google-cloud/storage (JSON API).
 * `apiEndpoint` points it at an emulator (fake-gcs-server); with a custom endpoint requests are
 * unauthenticated unless `useAuthWithCustomEndpoint` is set.
 *
 * - `write` is a single-request (non-resumable) upload: the object appears whole or not at all.
 * - `writeIfAbsent` is an upload with `ifGenerationMatch: 0` (only if no live object): 412 ->
 *   ALREADY_EXISTS. Atomic on GCS.
 * - `putLocalFile` uses a single upload up to `resumableThreshold`, a resumable (chunked) upload
 *   above; the object only appears when the upload is finalised.
 * - `list(prefix)` treats the prefix as a directory (paginated objects.list); names ending in `/`
 *   (folder placeholders) are skipped.
 * - `localPath` downloads the exact generation it stat'ed into a cache keyed by
 *   location+size+generation.
 */
import { Storage, type Bucket, type File, type StorageOptions } from '@google-cloud/storage';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { isLakehouseError, lakehouseError, LakehouseError } from '../core/errors.js';
import { registerBackend } from './backends.js';
import type { FileInfo, FileIO } from './fileio.js';
import { cachedCopy } from './download-cache.js';
import { checkRange } from './local.js';

export interface GcsFileIOOptions {
  /** API endpoint instead of https://storage.googleapis.com, e.g. http://127.0.0.1:4443 (emulator). */
  apiEndpoint?: string;
  /** Send credentials to a custom `apiEndpoint` too (default false: anonymous). */
  useAuthWithCustomEndpoint?: boolean;
  projectId?: string;
  /** Service-account key file (default: Application Default Credentials). */
  keyFilename?: string;
  /** Files larger than this are uploaded by `putLocalFile` resumably (default 16 MiB). */
  resumableThreshold?: number;
  /** Resumable upload chunk size (multiple of 256 KiB; default: one request for the whole file). */
  chunkSize?: number;
  /** objects.list page size (default 1000). */
  listPageSize?: number;
  /** Directory for `localPath` downloads (default <tmpdir>/lakehouse-gcs-cache). */
  cacheDir?: string;
  /** Client retries (default: library default, 3). */
  maxRetries?: number;
  /** Use this client instead of building one from the options above. */
  storage?: Storage;
}

interface GcsLoc {
  bucket: string;
  key: string;
}

const MiB = 1024 * 1024;

export function parseGcsLocation(location: string): GcsLoc {
  const m = /^gs:\/\/([^/]+)(?:\/(.*))?$/i.exec(location);
  if (!m) throw lakehouseError('STORAGE_ERROR', `Not a GCS location: ${location}`, { file: location });
  return { bucket: m[1], key: m[2] ?? '' };
}

interface ApiErr {
  code?: number | string;
  message?: string;
  errors?: { reason?: string; message?: string }[];
}

function status(e: unknown): number | undefined {
  const c = (e as ApiErr | undefined)?.code;
  return typeof c === 'number' ? c : undefined;
}

function isBucketMissing(e: unknown): boolean {
  const err = e as ApiErr | undefined;
  const msgs = [err?.message ?? '', ...(err?.errors ?? []).map((x) => x.message ?? '')].join(' ');
  // GCS: "The specified bucket does not exist." (objects: "No such object: b/k").
  return status(e) === 404 && /bucket/i.test(msgs) && !/no such object/i.test(msgs);
}

function isNotFound(e: unknown): boolean {
  return status(e) === 404 && !isBucketMissing(e);
}

/**
 * `objectOp`: a 404 may mean a missing object (reads). For uploads and listings a 404 can only
 * mean the bucket is missing, which is a STORAGE_ERROR (fake-gcs-server says just "Not Found").
 */
function mapError(op: string, location: string, e: unknown, objectOp = true): LakehouseError {
  if (isLakehouseError(e)) return e;
  if (objectOp && isNotFound(e)) return lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location }, e);
  const st = status(e);
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return lakehouseError(
    'STORAGE_ERROR',
    `GCS ${op} failed for ${location}${st ? ` (HTTP ${st})` : ''}: ${msg}`,
    { file: location, httpStatus: st },
    e,
  );
}

export class GcsFileIO implements FileIO {
  readonly storage: Storage;
  private readonly opts: GcsFileIOOptions;
  private readonly cacheDir: string;

  constructor(options: GcsFileIOOptions = {}) {
    this.opts = options;
    this.cacheDir = options.cacheDir ?? path.join(os.tmpdir(), 'lakehouse-gcs-cache');
    if (options.storage) {
      this.storage = options.storage;
    } else {
      const cfg: StorageOptions = {
        apiEndpoint: options.apiEndpoint,
        useAuthWithCustomEndpoint: options.useAuthWithCustomEndpoint,
        projectId: options.projectId ?? (options.apiEndpoint ? 'lakehouse-test' : undefined),
        keyFilename: options.keyFilename,
      };
      if (options.maxRetries !== undefined) cfg.retryOptions = { maxRetries: options.maxRetries };
      this.storage = new Storage(cfg);
    }
  }

  private bucket(loc: GcsLoc): Bucket {
    return this.storage.bucket(loc.bucket);
  }

  private file(loc: GcsLoc, generation?: string | number): File {
    return this.bucket(loc).file(loc.key, generation !== undefined ? { generation } : undefined);
  }

  async read(location: string): Promise<Uint8Array> {
    const loc = parseGcsLocation(location);
    try {
      const [buf] = await this.file(loc).download();
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      throw mapError('read', location, e);
    }
  }

  async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
    checkRange(location, offset, length);
    const loc = parseGcsLocation(location);
    if (length === 0) {
      if ((await this.head(location)) === null) {
        throw lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location });
      }
      return new Uint8Array(0);
    }
    try {
      const [buf] = await this.file(loc).download({ start: offset, end: offset + length - 1, validation: false });
      // A server that ignores Range answers with the whole object.
      if (buf.length > length) return new Uint8Array(buf.subarray(Math.min(offset, buf.length), Math.min(offset + length, buf.length)));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      // 416: the range starts at/after the end of an existing object -> nothing to read.
      if (status(e) === 416) return new Uint8Array(0);
      throw mapError('readRange', location, e);
    }
  }

  async stat(location: string): Promise<FileInfo | null> {
    const info = await this.head(location);
    return info && { location, size: info.size, lastModified: info.lastModified };
  }

  async exists(location: string): Promise<boolean> {
    return (await this.head(location)) !== null;
  }

  async write(location: string, data: Uint8Array): Promise<void> {
    const loc = parseGcsLocation(location);
    try {
      await this.file(loc).save(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { resumable: false });
    } catch (e) {
      throw mapError('write', location, e, false);
    }
  }

  async writeIfAbsent(location: string, data: Uint8Array): Promise<void> {
    const loc = parseGcsLocation(location);
    try {
      await this.file(loc).save(Buffer.from(data.buffer, data.byteOffset, data.byteLength), {
        resumable: false,
        preconditionOpts: { ifGenerationMatch: 0 },
      });
    } catch (e) {
      if (status(e) === 412) {
        throw lakehouseError('ALREADY_EXISTS', `File already exists: ${location}`, { file: location }, e);
      }
      throw mapError('writeIfAbsent', location, e, false);
    }
  }

  async delete(location: string): Promise<void> {
    const loc = parseGcsLocation(location);
    if (loc.key === '') return;
    try {
      await this.file(loc).delete({ ignoreNotFound: true });
    } catch (e) {
      if (isNotFound(e)) return;
      throw mapError('delete', location, e);
    }
  }

  async list(prefix: string): Promise<FileInfo[]> {
    const loc = parseGcsLocation(prefix);
    const dirKey = loc.key === '' || loc.key.endsWith('/') ? loc.key : `${loc.key}/`;
    const base = `gs://${loc.bucket}/`;
    const out: FileInfo[] = [];
    let pageToken: string | undefined;
    try {
      do {
        const [files, next] = await this.bucket(loc).getFiles({
          prefix: dirKey === '' ? undefined : dirKey,
          autoPaginate: false,
          maxResults: this.opts.listPageSize ?? 1000,
          pageToken,
        });
        for (const f of files) {
          if (f.name.endsWith('/')) continue;
          out.push({
            location: base + f.name,
            size: Number(f.metadata.size ?? 0),
            lastModified: f.metadata.updated ? Date.parse(f.metadata.updated) : 0,
          });
        }
        pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
      } while (pageToken);
    } catch (e) {
      throw mapError('list', prefix, e, false);
    }
    if (out.length === 0 && loc.key !== '' && !loc.key.endsWith('/')) {
      const info = await this.stat(prefix);
      if (info) out.push(info);
    }
    return out;
  }

  async localPath(location: string): Promise<string> {
    const loc = parseGcsLocation(location);
    const info = await this.head(location);
    if (!info) throw lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location });
    let copy: string | null;
    try {
      copy = await cachedCopy(this.cacheDir, { location, size: info.size, version: String(info.generation ?? ''), key: loc.key }, async (tmp) => {
        try {
          await this.file(loc, info.generation || undefined).download({ destination: tmp });
          return true;
        } catch (e) {
          if (isNotFound(e)) return false;
          throw e;
        }
      });
    } catch (e) {
      throw mapError('localPath', location, e);
    }
    // That generation was replaced between stat and download: start over with the new one.
    return copy ?? this.localPath(location);
  }

  async putLocalFile(localPath: string, location: string): Promise<void> {
    const loc = parseGcsLocation(location);
    let size: number;
    try {
      size = (await fsp.stat(localPath)).size;
    } catch (e) {
      throw lakehouseError('FILE_NOT_FOUND', `Local file not found: ${localPath}`, { file: localPath }, e);
    }
    const resumable = size > (this.opts.resumableThreshold ?? 16 * MiB);
    try {
      await this.bucket(loc).upload(localPath, {
        destination: loc.key,
        resumable,
        ...(resumable && this.opts.chunkSize ? { chunkSize: this.opts.chunkSize } : {}),
      });
    } catch (e) {
      throw mapError('putLocalFile', location, e, false);
    }
  }

  private async head(location: string): Promise<{ size: number; lastModified: number; generation: string } | null> {
    const loc = parseGcsLocation(location);
    if (loc.key === '' || loc.key.endsWith('/')) return null;
    try {
      const [md] = await this.file(loc).getMetadata();
      return {
        size: Number(md.size ?? 0),
        lastModified: md.updated ? Date.parse(md.updated) : 0,
        generation: md.generation !== undefined ? String(md.generation) : '',
      };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw mapError('stat', location, e);
    }
  }
}

// The registry builds instances directly once this module is loaded (see backends.ts).
registerBackend('gcs', GcsFileIO);
