/**
 * Azure Blob Storage / ADLS Gen2 FileIO over @azure/storage-blob (the Blob endpoint, which also
 * serves hierarchical-namespace accounts). Locations:
 *   abfss://container@account.dfs.core.windows.net/path   (abfs:// too)
 *   wasbs://container@account.blob.core.windows.net/path   (wasb:// too)
 * Both forms of the same account/container/path address the same blob. `endpoint` overrides the
 * service URL (Azurite: http://127.0.0.1:10000/devstoreaccount1).
 *
 * - `write` is a single Put Blob (a block blob appears whole or not at all).
 * - `writeIfAbsent` is Put Blob with `If-None-Match: *`: 409 BlobAlreadyExists / 412 -> ALREADY_EXISTS.
 * - `putLocalFile` does one Put Blob up to `singleShotThreshold`, above it staged blocks committed
 *   with one Put Block List (the commit is atomic).
 * - `list(prefix)` treats the prefix as a directory (pages through List Blobs), skipping
 *   directory entries (names ending in `/`, or ADLS `hdi_isfolder` placeholders).
 * - `localPath` downloads into a cache keyed by location+size+ETag (download is `If-Match` the ETag).
 */
import {
  AnonymousCredential,
  BlobServiceClient,
  StorageSharedKeyCredential,
  type BlobClient,
  type ContainerClient,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { isLakehouseError, lakehouseError, LakehouseError } from '../core/errors.js';
import { registerBackend } from './backends.js';
import type { FileInfo, FileIO } from './fileio.js';
import { cachedCopy } from './download-cache.js';
import { checkRange } from './local.js';

export interface AzureFileIOOptions {
  /**
   * Blob service URL instead of https://<account>.blob.core.windows.net; `{account}` is replaced
   * by the location's account. Azurite: `http://127.0.0.1:10000/devstoreaccount1`.
   */
  endpoint?: string;
  /** Shared key for the accounts addressed (defaults to $AZURE_STORAGE_KEY). */
  accountKey?: string;
  /** Account name for the shared key when it differs from the location's (rare). */
  accountName?: string;
  /** SAS token (with or without leading `?`), appended to the service URL. */
  sasToken?: string;
  /** A connection string (e.g. from the portal or Azurite); overrides endpoint/key. */
  connectionString?: string;
  /** An Azure AD token credential (e.g. DefaultAzureCredential from @azure/identity). */
  credential?: AzureTokenCredential;
  /** Files larger than this are uploaded by `putLocalFile` in blocks (default 64 MiB). */
  singleShotThreshold?: number;
  /** Block size for block uploads (default 8 MiB). */
  blockSize?: number;
  /** Blocks uploaded at once (default 4). */
  uploadConcurrency?: number;
  /** List Blobs page size (default 5000, the service maximum). */
  listPageSize?: number;
  /** Directory for `localPath` downloads (default <tmpdir>/lakehouse-azure-cache). */
  cacheDir?: string;
  /** SDK retry tries (default: SDK default, 4). */
  maxTries?: number;
}

export interface AzureLoc {
  scheme: string;
  container: string;
  account: string;
  /** The authority after `@` as written (e.g. account.dfs.core.windows.net). */
  host: string;
  key: string;
}

/** An Azure AD token credential (structurally @azure/core-auth's TokenCredential). */
export interface AzureTokenCredential {
  getToken(
    scopes: string | string[],
    options?: object,
  ): Promise<{ token: string; expiresOnTimestamp: number } | null>;
}

const MiB = 1024 * 1024;

export function parseAzureLocation(location: string): AzureLoc {
  const m = /^(abfss?|wasbs?):\/\/([^@/]+)@([^/]+?)(?:\/(.*))?$/i.exec(location);
  if (!m) throw lakehouseError('STORAGE_ERROR', `Not an Azure location: ${location}`, { file: location });
  const host = m[3];
  const account = host.split('.')[0];
  if (!account) throw lakehouseError('STORAGE_ERROR', `No account in Azure location: ${location}`, { file: location });
  return { scheme: m[1].toLowerCase(), container: m[2], account, host, key: m[4] ?? '' };
}

interface RestErr {
  statusCode?: number;
  code?: string;
  message?: string;
  details?: { errorCode?: string };
}

const status = (e: unknown) => (e as RestErr | undefined)?.statusCode;
const errCode = (e: unknown) => String((e as RestErr | undefined)?.code ?? (e as RestErr | undefined)?.details?.errorCode ?? '');

function isContainerMissing(e: unknown): boolean {
  return errCode(e) === 'ContainerNotFound';
}

function isNotFound(e: unknown): boolean {
  if (isContainerMissing(e)) return false;
  return status(e) === 404 || errCode(e) === 'BlobNotFound';
}

function mapError(op: string, location: string, e: unknown): LakehouseError {
  if (isLakehouseError(e)) return e;
  if (isNotFound(e)) return lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location }, e);
  const st = status(e);
  const code = errCode(e);
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return lakehouseError(
    'STORAGE_ERROR',
    `Azure ${op} failed for ${location}: ${code || 'error'}${st ? ` (HTTP ${st})` : ''}: ${msg}`,
    { file: location, azureError: code || undefined, httpStatus: st },
    e,
  );
}

function isFolderMarker(name: string, metadata?: Record<string, string>): boolean {
  return name.endsWith('/') || metadata?.hdi_isfolder === 'true' || metadata?.Hdi_isfolder === 'true';
}

async function bodyBytes(res: { readableStreamBody?: NodeJS.ReadableStream }): Promise<Uint8Array> {
  const body = res.readableStreamBody;
  if (!body) return new Uint8Array(0);
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer | string>) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export class AzureFileIO implements FileIO {
  private readonly opts: AzureFileIOOptions;
  private readonly cacheDir: string;
  private readonly services = new Map<string, BlobServiceClient>();

  constructor(options: AzureFileIOOptions = {}) {
    this.opts = options;
    this.cacheDir = options.cacheDir ?? path.join(os.tmpdir(), 'lakehouse-azure-cache');
  }

  /** The BlobServiceClient for an account (one per account). */
  serviceFor(account: string): BlobServiceClient {
    let svc = this.services.get(account);
    if (svc) return svc;
    const pipeline: StoragePipelineOptions = this.opts.maxTries ? { retryOptions: { maxTries: this.opts.maxTries } } : {};
    if (this.opts.connectionString) {
      svc = BlobServiceClient.fromConnectionString(this.opts.connectionString, pipeline);
    } else {
      let url = (this.opts.endpoint ?? 'https://{account}.blob.core.windows.net').replace(/\{account\}/g, account);
      url = url.replace(/\/+$/, '');
      if (this.opts.sasToken) url += `?${this.opts.sasToken.replace(/^\?/, '')}`;
      const key = this.opts.accountKey ?? process.env.AZURE_STORAGE_KEY;
      const cred = this.opts.credential
        ? this.opts.credential
        : key && !this.opts.sasToken
          ? new StorageSharedKeyCredential(this.opts.accountName ?? account, key)
          : new AnonymousCredential();
      svc = new BlobServiceClient(url, cred, pipeline);
    }
    this.services.set(account, svc);
    return svc;
  }

  private container(loc: AzureLoc): ContainerClient {
    return this.serviceFor(loc.account).getContainerClient(loc.container);
  }

  private blob(loc: AzureLoc): BlobClient {
    return this.container(loc).getBlobClient(loc.key);
  }

  async read(location: string): Promise<Uint8Array> {
    const loc = parseAzureLocation(location);
    try {
      // One GET of the whole blob (downloadToBuffer would stat first and then issue ranged GETs,
      // which can mix two versions when the blob is replaced in between).
      return await bodyBytes(await this.blob(loc).download());
    } catch (e) {
      throw mapError('read', location, e);
    }
  }

  async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
    checkRange(location, offset, length);
    const loc = parseAzureLocation(location);
    if (length === 0) {
      if ((await this.head(location)) === null) {
        throw lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location });
      }
      return new Uint8Array(0);
    }
    try {
      return await bodyBytes(await this.blob(loc).download(offset, length));
    } catch (e) {
      // 416: the range starts at/after the end of an existing blob -> nothing to read.
      if (status(e) === 416 || errCode(e) === 'InvalidRange') return new Uint8Array(0);
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
    const loc = parseAzureLocation(location);
    try {
      await this.container(loc).getBlockBlobClient(loc.key).upload(data, data.length);
    } catch (e) {
      throw mapError('write', location, e);
    }
  }

  async writeIfAbsent(location: string, data: Uint8Array): Promise<void> {
    const loc = parseAzureLocation(location);
    try {
      await this.container(loc)
        .getBlockBlobClient(loc.key)
        .upload(data, data.length, { conditions: { ifNoneMatch: '*' } });
    } catch (e) {
      const st = status(e);
      if (st === 412 || (st === 409 && /BlobAlreadyExists|ConditionNotMet/.test(errCode(e)))) {
        throw lakehouseError('ALREADY_EXISTS', `File already exists: ${location}`, { file: location }, e);
      }
      throw mapError('writeIfAbsent', location, e);
    }
  }

  async delete(location: string): Promise<void> {
    const loc = parseAzureLocation(location);
    if (loc.key === '') return;
    try {
      await this.blob(loc).deleteIfExists();
    } catch (e) {
      if (isNotFound(e)) return;
      throw mapError('delete', location, e);
    }
  }

  async list(prefix: string): Promise<FileInfo[]> {
    const loc = parseAzureLocation(prefix);
    const dirKey = loc.key === '' || loc.key.endsWith('/') ? loc.key : `${loc.key}/`;
    const base = `${loc.scheme}://${loc.container}@${loc.host}/`;
    const out: FileInfo[] = [];
    try {
      const pages = this.container(loc)
        .listBlobsFlat({ prefix: dirKey === '' ? undefined : dirKey, includeMetadata: true })
        .byPage({ maxPageSize: this.opts.listPageSize ?? 5000 });
      for await (const page of pages) {
        for (const b of page.segment.blobItems) {
          if (isFolderMarker(b.name, b.metadata)) continue;
          out.push({
            location: base + b.name,
            size: b.properties.contentLength ?? 0,
            lastModified: b.properties.lastModified?.getTime() ?? 0,
          });
        }
      }
    } catch (e) {
      throw mapError('list', prefix, e);
    }
    if (out.length === 0 && loc.key !== '' && !loc.key.endsWith('/')) {
      const info = await this.stat(prefix);
      if (info) out.push(info);
    }
    return out;
  }

  async localPath(location: string): Promise<string> {
    const loc = parseAzureLocation(location);
    const info = await this.head(location);
    if (!info) throw lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location });
    let copy: string | null;
    try {
      copy = await cachedCopy(this.cacheDir, { location, size: info.size, version: info.etag ?? '', key: loc.key }, async (tmp) => {
        if (info.size === 0) {
          await fsp.writeFile(tmp, new Uint8Array(0), { flag: 'wx' });
          return true;
        }
        try {
          await this.blob(loc).downloadToFile(tmp, 0, undefined, { conditions: info.etag ? { ifMatch: info.etag } : undefined });
          return true;
        } catch (e) {
          if (status(e) === 412) return false;
          throw e;
        }
      });
    } catch (e) {
      throw mapError('localPath', location, e);
    }
    // Replaced between HEAD and GET: start over with the new version.
    return copy ?? this.localPath(location);
  }

  async putLocalFile(localPath: string, location: string): Promise<void> {
    const loc = parseAzureLocation(location);
    try {
      await fsp.stat(localPath);
    } catch (e) {
      throw lakehouseError('FILE_NOT_FOUND', `Local file not found: ${localPath}`, { file: localPath }, e);
    }
    try {
      await this.container(loc)
        .getBlockBlobClient(loc.key)
        .uploadFile(localPath, {
          maxSingleShotSize: this.opts.singleShotThreshold ?? 64 * MiB,
          blockSize: this.opts.blockSize ?? 8 * MiB,
          concurrency: this.opts.uploadConcurrency ?? 4,
        });
    } catch (e) {
      throw mapError('putLocalFile', location, e);
    }
  }

  private async head(location: string): Promise<{ size: number; lastModified: number; etag: string } | null> {
    const loc = parseAzureLocation(location);
    if (loc.key === '' || loc.key.endsWith('/')) return null;
    try {
      const p = await this.blob(loc).getProperties();
      if (isFolderMarker(loc.key, p.metadata)) return null;
      return { size: p.contentLength ?? 0, lastModified: p.lastModified?.getTime() ?? 0, etag: p.etag ?? '' };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw mapError('stat', location, e);
    }
  }
}

// The registry builds instances directly once this module is loaded (see backends.ts).
registerBackend('azure', AzureFileIO);
