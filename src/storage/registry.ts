/**
 * Picks the FileIO for a location by URI scheme:
 * - absolute paths, `file:` URIs -> LocalFileIO
 * - `s3://`, `s3a://`, `s3n://` -> S3FileIO
 * - `webhdfs://`, `swebhdfs://`, `hdfs://` -> WebHdfsFileIO (`hdfs://` needs a configured address)
 * - `abfss://`, `abfs://`, `wasbs://`, `wasb://` -> AzureFileIO (Blob Storage / ADLS Gen2)
 * - `gs://` -> GcsFileIO (Google Cloud Storage)
 * Instances are cached per (backend, configuration content), so callers may pass a fresh but
 * equal config object each time without creating new clients.
 * S3, Azure and GCS load their SDK on first use (backends.ts): until their module is loaded,
 * fileIOFor hands out a LazyFileIO that creates the real one on its first call.
 */
import { lakehouseError } from '../core/errors.js';
import type { AzureFileIOOptions } from './azure.js';
import { loadBackend, loadedBackend, type LazyBackendKind, type LazyBackends } from './backends.js';
import type { FileInfo, FileIO } from './fileio.js';
import type { GcsFileIOOptions } from './gcs.js';
import { LazyFileIO } from './lazy-fileio.js';
import { LocalFileIO, type LocalFileIOOptions } from './local.js';
import type { S3FileIO, S3FileIOOptions } from './s3.js';
import { WebHdfsFileIO, type WebHdfsFileIOOptions } from './webhdfs.js';

export interface StorageConfig {
  local?: LocalFileIOOptions;
  /** S3 options; `region` defaults to $AWS_REGION, $AWS_DEFAULT_REGION, then us-east-1. */
  s3?: Partial<S3FileIOOptions>;
  webhdfs?: WebHdfsFileIOOptions;
  /** Azure Blob / ADLS Gen2 options (endpoint override, shared key, SAS, connection string, ...). */
  azure?: AzureFileIOOptions;
  /** GCS options (apiEndpoint override, projectId, keyFilename, ...). */
  gcs?: GcsFileIOOptions;
}

export type StorageKind = 'local' | 's3' | 'webhdfs' | 'azure' | 'gcs';

/** The backend a location belongs to. A relative path or an unknown scheme is a malformed location: BAD_REQUEST. */
export function storageKindOf(location: string): StorageKind {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(location);
  if (!m) {
    if (location.startsWith('/')) return 'local';
    throw lakehouseError('BAD_REQUEST', `Not an absolute path or URI: ${location}`, { file: location });
  }
  switch (m[1].toLowerCase()) {
    case 'file':
      return 'local';
    case 's3':
    case 's3a':
    case 's3n':
      return 's3';
    case 'webhdfs':
    case 'swebhdfs':
    case 'hdfs':
      return 'webhdfs';
    case 'abfss':
    case 'abfs':
    case 'wasbs':
    case 'wasb':
      return 'azure';
    case 'gs':
      return 'gcs';
    default:
      throw lakehouseError('BAD_REQUEST', `Unsupported storage scheme '${m[1]}' in ${location}`, { file: location });
  }
}

const cache = new Map<string, FileIO>();
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

/** Stable key for a config: sorted plain JSON; non-plain objects (e.g. an S3Client) by identity. */
function configKey(value: unknown): string {
  if (value === undefined) return 'u';
  if (value === null || typeof value !== 'object') {
    return typeof value === 'function' ? `f#${idOf(value)}` : JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(configKey).join(',')}]`;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return `o#${idOf(value)}`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${configKey(obj[k])}`)
    .join(',')}}`;
}

function idOf(o: object): number {
  let id = objectIds.get(o);
  if (id === undefined) {
    id = nextObjectId++;
    objectIds.set(o, id);
  }
  return id;
}

/** The (cached) FileIO for `location` under `config`. */
export function fileIOFor(location: string, config: StorageConfig = {}): FileIO {
  const kind = storageKindOf(location);
  const sub = config[kind];
  const key = `${kind}:${configKey(sub)}`;
  let io = cache.get(key);
  if (!io) {
    switch (kind) {
      case 'local':
        io = new LocalFileIO(config.local);
        break;
      case 's3':
        io = backend('s3', {
          ...config.s3,
          region: config.s3?.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        });
        break;
      case 'webhdfs':
        io = new WebHdfsFileIO(config.webhdfs);
        break;
      case 'azure':
        io = backend('azure', config.azure);
        break;
      case 'gcs':
        io = backend('gcs', config.gcs);
        break;
    }
    cache.set(key, io);
  }
  return io;
}

/** The back end's instance now if its module is loaded, else one created on first use. */
function backend<K extends LazyBackendKind>(kind: K, options: ConstructorParameters<LazyBackends[K]>[0]): FileIO {
  type Ctor = new (o: typeof options) => FileIO;
  const cls = loadedBackend(kind) as Ctor | undefined;
  if (cls) return new cls(options);
  return new LazyFileIO(async () => new ((await loadBackend(kind)) as Ctor)(options));
}

function destroyS3(io: FileIO): void {
  const S3 = loadedBackend('s3');
  if (S3 && io instanceof S3) (io as S3FileIO).destroy();
}

/** Drops cached instances (closing S3 clients); for tests and shutdown. */
export function clearFileIOCache(): void {
  for (const io of cache.values()) {
    if (io instanceof LazyFileIO) io.whenLoaded(destroyS3);
    else destroyS3(io);
  }
  cache.clear();
}

/**
 * A FileIO that dispatches each call by the location's scheme (like Iceberg's ResolvingFileIO),
 * for code that handles locations on more than one storage.
 */
export class ResolvingFileIO implements FileIO {
  constructor(readonly config: StorageConfig = {}) {}

  private io(location: string): FileIO {
    return fileIOFor(location, this.config);
  }

  read(location: string): Promise<Uint8Array> {
    return this.io(location).read(location);
  }
  readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
    return this.io(location).readRange(location, offset, length);
  }
  stat(location: string): Promise<FileInfo | null> {
    return this.io(location).stat(location);
  }
  exists(location: string): Promise<boolean> {
    return this.io(location).exists(location);
  }
  write(location: string, data: Uint8Array): Promise<void> {
    return this.io(location).write(location, data);
  }
  writeIfAbsent(location: string, data: Uint8Array): Promise<void> {
    return this.io(location).writeIfAbsent(location, data);
  }
  delete(location: string): Promise<void> {
    return this.io(location).delete(location);
  }
  list(prefix: string): Promise<FileInfo[]> {
    return this.io(prefix).list(prefix);
  }
  localPath(location: string): Promise<string> {
    return this.io(location).localPath(location);
  }
  putLocalFile(localPath: string, location: string): Promise<void> {
    return this.io(location).putLocalFile(localPath, location);
  }
}
