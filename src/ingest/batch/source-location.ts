/**
 * Where a batch ingest may read from, and through which FileIO: under the warehouse (the target
 * table's own FileIO) or under a registered storage source (`/api/v1/sources/storage`, with that
 * source's endpoint and credentials). Anything else is refused, so a user-defined job cannot read
 * arbitrary files of the service host — the same rule as the from-storage endpoint.
 */
import type { Catalog, LoadedTable } from '../../catalog/catalog.js';
import { lakehouseError } from '../../core/errors.js';
import type { FileIO } from '../../storage/fileio.js';
import { fileIOFor } from '../../storage/registry.js';
import { S3FileIO } from '../../storage/s3.js';
import { WebHdfsFileIO } from '../../storage/webhdfs.js';

/** A registered storage source as stored (settings and secrets apart). */
export interface StorageSourceLike {
  name: string;
  config: Record<string, unknown>;
  secrets: Record<string, string>;
}

export interface SourceAccess {
  io: FileIO;
  /** Where the access comes from: 'warehouse' or `source:<name>`. */
  via: string;
  /** Releases clients made for a storage source. */
  close(): void;
}

export const normaliseLocation = (loc: string) => loc.replace(/^file:\/\//, '').replace(/^s3a:/, 's3:').replace(/\/+$/, '');

function warehouseRoot(catalog: Catalog): string {
  const probe = catalog.defaultTableLocation({ namespace: ['__lh_probe'], name: '__lh_probe' });
  return normaliseLocation(probe.slice(0, probe.indexOf('/__lh_probe')));
}

function ioOfSource(src: StorageSourceLike, location: string): { io: FileIO; close(): void } {
  const c = src.config as { s3?: Record<string, unknown>; hdfs?: Record<string, unknown> };
  if (/^s3a?:/.test(location)) {
    const s3 = c.s3 ?? {};
    const io = new S3FileIO({
      region: (s3.region as string | undefined) ?? process.env.AWS_REGION ?? 'us-east-1',
      endpoint: s3.endpoint as string | undefined,
      accessKeyId: s3.accessKeyId as string | undefined,
      secretAccessKey: src.secrets['s3.secretAccessKey'],
      sessionToken: src.secrets['s3.sessionToken'],
      forcePathStyle: s3.pathStyle as boolean | undefined,
    });
    return { io, close: () => io.destroy() };
  }
  if (/^(hdfs|webhdfs|swebhdfs):/.test(location)) {
    return { io: new WebHdfsFileIO({ httpAddress: c.hdfs?.address as string | undefined, user: c.hdfs?.user as string | undefined }), close() {} };
  }
  return { io: fileIOFor(location), close() {} };
}

/**
 * The FileIO to read `location` (a file, folder or glob base) for a batch ingest into `table`;
 * VALIDATION_FAILED when it is neither under the warehouse nor under a registered storage source.
 */
export function sourceAccess(catalog: Catalog, table: LoadedTable, sources: StorageSourceLike[], location: string): SourceAccess {
  const loc = normaliseLocation(location);
  if (loc.split('/').includes('..')) throw lakehouseError('VALIDATION_FAILED', 'location must not contain .. segments');
  const under = (root: string) => root !== '' && (loc === root || loc.startsWith(`${root}/`));
  if (under(warehouseRoot(catalog))) return { io: table.io, via: 'warehouse', close() {} };
  // The most specific source wins (its credentials are the ones meant for that prefix).
  const match = sources
    .filter((s) => under(normaliseLocation(String(s.config.uri ?? ''))))
    .sort((a, b) => String(b.config.uri).length - String(a.config.uri).length)[0];
  if (!match) throw lakehouseError('VALIDATION_FAILED', `location ${location} is not under the warehouse or a registered storage source (/api/v1/sources/storage)`);
  return { ...ioOfSource(match, location), via: `source:${match.name}` };
}
