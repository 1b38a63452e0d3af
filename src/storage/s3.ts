/**
 * S3 FileIO (`s3://bucket/key`, `s3a://`, `s3n://`) over @aws-sdk/client-s3; works with AWS S3 and
 * S3-compatible servers (moto, MinIO, ...) through `endpoint` + `forcePathStyle`.
 *
 * - `write` is a single PUT (S3 PUTs are atomic: the object appears whole or not at all).
 * - `writeIfAbsent` is a conditional PUT (`If-None-Match: *`, S3 conditional writes): 412 means
 *   the object exists -> ALREADY_EXISTS; 409 (a concurrent conditional write in flight) is retried.
 *   For servers that ignore the header, `conditionalWrites: 'head-then-put'` does a HEAD then a
 *   PUT — NOT atomic (two concurrent writers can both succeed); use it only where the server is
 *   known not to support conditional writes. moto 5.2.5 does honour `If-None-Match: *` (412),
 *   but its check-then-store is not synchronised across its server threads, so on moto it is a
 *   strong but not guaranteed guarantee under true concurrency; AWS S3 itself is atomic.
 * - `list(prefix)` treats the prefix as a directory (a `/` is appended), like the other backends,
 *   so `.../t` never lists `.../t2/...`. Paginates ListObjectsV2. Keys ending in `/` (directory
 *   markers) are skipped.
 * - `putLocalFile` uses a single streamed PUT up to `multipartThreshold`, multipart upload above.
 * - `localPath` downloads into a local cache keyed by location+size+ETag.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isLakehouseError, lakehouseError, LakehouseError } from '../core/errors.js';
import { registerBackend } from './backends.js';
import type { FileInfo, FileIO } from './fileio.js';
import { cachedCopy } from './download-cache.js';
import { checkRange } from './local.js';

export interface S3FileIOOptions {
  /** Custom endpoint (moto, MinIO, ...), e.g. http://127.0.0.1:5000. */
  endpoint?: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Path-style addressing (http://host/bucket/key); needed by most S3-compatible servers. */
  forcePathStyle?: boolean;
  /**
   * How `writeIfAbsent` is made exclusive. 'if-none-match' (default): conditional PUT, atomic on
   * S3. 'head-then-put': HEAD then PUT, NOT atomic — only for servers known to ignore If-None-Match.
   */
  conditionalWrites?: 'if-none-match' | 'head-then-put';
  /** Objects larger than this are uploaded by `putLocalFile` in parts (default 64 MiB). */
  multipartThreshold?: number;
  /** Multipart part size (default 16 MiB, at least 5 MiB; grown so there are ≤ 10,000 parts). */
  partSize?: number;
  /** Parts uploaded at once (default 4). */
  uploadConcurrency?: number;
  /** ListObjectsV2 page size (default 1000, the S3 maximum). */
  listPageSize?: number;
  /** Directory for `localPath` downloads (default <tmpdir>/lakehouse-s3-cache). */
  cacheDir?: string;
  /** Use this client instead of building one from the options above. */
  client?: S3Client;
}

const MiB = 1024 * 1024;
const MIN_PART = 5 * MiB;
const MAX_PARTS = 10_000;

interface S3Loc {
  scheme: string;
  bucket: string;
  key: string;
}

export function parseS3Location(location: string): S3Loc {
  const m = /^(s3|s3a|s3n):\/\/([^/]+)(?:\/(.*))?$/i.exec(location);
  if (!m) throw lakehouseError('STORAGE_ERROR', `Not an S3 location: ${location}`, { file: location });
  return { scheme: m[1].toLowerCase(), bucket: m[2], key: m[3] ?? '' };
}

interface AwsError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  message?: string;
}

function awsStatus(e: unknown): number | undefined {
  return (e as AwsError | undefined)?.$metadata?.httpStatusCode;
}

function awsName(e: unknown): string {
  const err = e as AwsError | undefined;
  return String(err?.name ?? err?.Code ?? '');
}

function isNotFound(e: unknown): boolean {
  const name = awsName(e);
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || awsStatus(e) === 404;
}

function mapError(op: string, location: string, e: unknown): LakehouseError {
  if (isLakehouseError(e)) return e;
  if (isNotFound(e)) return lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location }, e);
  const status = awsStatus(e);
  const msg = e instanceof Error ? e.message : String(e);
  return lakehouseError(
    'STORAGE_ERROR',
    `S3 ${op} failed for ${location}: ${awsName(e) || 'error'}${status ? ` (HTTP ${status})` : ''}: ${msg}`,
    { file: location, s3Error: awsName(e) || undefined, httpStatus: status },
    e,
  );
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class S3FileIO implements FileIO {
  readonly client: S3Client;
  private readonly opts: S3FileIOOptions;
  private readonly cacheDir: string;

  constructor(options: S3FileIOOptions) {
    this.opts = options;
    this.cacheDir = options.cacheDir ?? path.join(os.tmpdir(), 'lakehouse-s3-cache');
    if (options.client) {
      this.client = options.client;
    } else {
      const cfg: S3ClientConfig = {
        region: options.region,
        endpoint: options.endpoint,
        forcePathStyle: options.forcePathStyle,
      };
      if (options.accessKeyId && options.secretAccessKey) {
        cfg.credentials = {
          accessKeyId: options.accessKeyId,
          secretAccessKey: options.secretAccessKey,
          sessionToken: options.sessionToken,
        };
      }
      if (options.endpoint) {
        // S3-compatible servers often reject the SDK's default flexible checksums.
        cfg.requestChecksumCalculation = 'WHEN_REQUIRED';
        cfg.responseChecksumValidation = 'WHEN_REQUIRED';
      }
      this.client = new S3Client(cfg);
    }
  }

  async read(location: string): Promise<Uint8Array> {
    const { bucket, key } = parseS3Location(location);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!res.Body) return new Uint8Array(0);
      return await res.Body.transformToByteArray();
    } catch (e) {
      throw mapError('read', location, e);
    }
  }

  async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
    checkRange(location, offset, length);
    const { bucket, key } = parseS3Location(location);
    if (length === 0) {
      if ((await this.stat(location)) === null) {
        throw lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location });
      }
      return new Uint8Array(0);
    }
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${offset}-${offset + length - 1}` }),
      );
      if (!res.Body) return new Uint8Array(0);
      const bytes = await res.Body.transformToByteArray();
      // A server that ignores Range answers 200 with the whole object.
      if (res.ContentRange === undefined && bytes.length > length) {
        return bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length));
      }
      return bytes;
    } catch (e) {
      // 416: the range starts at/after the end of an existing object -> nothing to read.
      if (awsStatus(e) === 416 || awsName(e) === 'InvalidRange') return new Uint8Array(0);
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
    const { bucket, key } = parseS3Location(location);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ContentLength: data.length }));
    } catch (e) {
      throw mapError('write', location, e);
    }
  }

  async writeIfAbsent(location: string, data: Uint8Array): Promise<void> {
    const { bucket, key } = parseS3Location(location);
    const exists = () => lakehouseError('ALREADY_EXISTS', `File already exists: ${location}`, { file: location });
    if (this.opts.conditionalWrites === 'head-then-put') {
      // NOT atomic: see the module comment.
      if (await this.exists(location)) throw exists();
      await this.write(location, data);
      return;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: data, ContentLength: data.length, IfNoneMatch: '*' }),
        );
        return;
      } catch (e) {
        const status = awsStatus(e);
        if (status === 412 || awsName(e) === 'PreconditionFailed') throw exists();
        // 409 ConditionalRequestConflict: another conditional write to the key is in flight; retry.
        if ((status === 409 || awsName(e) === 'ConditionalRequestConflict') && attempt < 6) {
          await sleep(50 * 2 ** attempt + Math.random() * 50);
          continue;
        }
        throw mapError('writeIfAbsent', location, e);
      }
    }
  }

  async delete(location: string): Promise<void> {
    const { bucket, key } = parseS3Location(location);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (e) {
      if (isNotFound(e)) return;
      throw mapError('delete', location, e);
    }
  }

  async list(prefix: string): Promise<FileInfo[]> {
    const { scheme, bucket, key } = parseS3Location(prefix);
    const dirKey = key === '' || key.endsWith('/') ? key : `${key}/`;
    const base = `${scheme}://${bucket}/`;
    const out: FileInfo[] = [];
    let token: string | undefined;
    try {
      do {
        const res = await this.client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: dirKey === '' ? undefined : dirKey,
            ContinuationToken: token,
            MaxKeys: this.opts.listPageSize,
          }),
        );
        for (const obj of res.Contents ?? []) {
          if (!obj.Key || obj.Key.endsWith('/')) continue;
          out.push({ location: base + obj.Key, size: obj.Size ?? 0, lastModified: obj.LastModified?.getTime() ?? 0 });
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (e) {
      throw mapError('list', prefix, e);
    }
    // A prefix naming an object (not a directory) lists that object, as on the other backends.
    if (out.length === 0 && key !== '' && !key.endsWith('/')) {
      const info = await this.stat(prefix);
      if (info) out.push(info);
    }
    return out;
  }

  async localPath(location: string): Promise<string> {
    const { bucket, key } = parseS3Location(location);
    const info = await this.head(location);
    if (!info) throw lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location });
    let copy: string | null;
    try {
      copy = await cachedCopy(this.cacheDir, { location, size: info.size, version: info.etag ?? '', key }, async (tmp) => {
        try {
          const res = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, IfMatch: info.etag || undefined }));
          if (!res.Body) await fsp.writeFile(tmp, new Uint8Array(0), { flag: 'wx' });
          else await pipeline(res.Body as Readable, createWriteStream(tmp, { flags: 'wx' }));
          return true;
        } catch (e) {
          if (awsStatus(e) === 412) return false;
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
    const { bucket, key } = parseS3Location(location);
    let size: number;
    try {
      size = (await fsp.stat(localPath)).size;
    } catch (e) {
      throw lakehouseError('FILE_NOT_FOUND', `Local file not found: ${localPath}`, { file: localPath }, e);
    }
    const threshold = this.opts.multipartThreshold ?? 64 * MiB;
    if (size <= threshold) {
      try {
        await this.client.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: createReadStream(localPath), ContentLength: size }),
        );
      } catch (e) {
        throw mapError('putLocalFile', location, e);
      }
      return;
    }
    await this.multipartUpload(localPath, size, bucket, key, location);
  }

  private async multipartUpload(localPath: string, size: number, bucket: string, key: string, location: string) {
    const partSize = Math.max(this.opts.partSize ?? 16 * MiB, MIN_PART, Math.ceil(size / MAX_PARTS));
    const partCount = Math.ceil(size / partSize);
    let uploadId: string | undefined;
    const fh = await fsp.open(localPath, 'r');
    try {
      const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      uploadId = created.UploadId;
      if (!uploadId) throw lakehouseError('STORAGE_ERROR', 'CreateMultipartUpload returned no UploadId', { file: location });
      const parts: CompletedPart[] = new Array(partCount);
      let next = 0;
      let failed = false;
      const worker = async () => {
        while (next < partCount && !failed) {
          const i = next++;
          const start = i * partSize;
          const len = Math.min(partSize, size - start);
          const buf = new Uint8Array(len);
          let done = 0;
          while (done < len) {
            const { bytesRead } = await fh.read(buf, done, len - done, start + done);
            if (bytesRead === 0) throw lakehouseError('STORAGE_ERROR', `Local file shrank while uploading: ${localPath}`, { file: localPath });
            done += bytesRead;
          }
          const res = await this.client.send(
            new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: buf, ContentLength: len }),
          );
          parts[i] = { PartNumber: i + 1, ETag: res.ETag };
        }
      };
      const concurrency = Math.max(1, Math.min(this.opts.uploadConcurrency ?? 4, partCount));
      await Promise.all(
        Array.from({ length: concurrency }, () =>
          worker().catch((e: unknown) => {
            failed = true;
            throw e;
          }),
        ),
      );
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      );
    } catch (e) {
      if (uploadId) {
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
          .catch(() => {});
      }
      throw mapError('putLocalFile', location, e);
    } finally {
      await fh.close();
    }
  }

  private async head(location: string): Promise<{ size: number; lastModified: number; etag: string } | null> {
    const { bucket, key } = parseS3Location(location);
    if (key === '' || key.endsWith('/')) return null;
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { size: res.ContentLength ?? 0, lastModified: res.LastModified?.getTime() ?? 0, etag: res.ETag ?? '' };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw mapError('stat', location, e);
    }
  }

  /** Closes the client's sockets. */
  destroy(): void {
    if (!this.opts.client) this.client.destroy();
  }
}

// The registry builds instances directly once this module is loaded (see backends.ts).
registerBackend('s3', S3FileIO);
