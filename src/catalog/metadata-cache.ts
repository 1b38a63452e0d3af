import { readTableMetadata, type TableMetadata } from '../iceberg/metadata.js';
import type { FileIO } from '../storage/fileio.js';

/**
 * Parsed table metadata by file location. Metadata files are immutable once committed (every
 * commit writes a new, uniquely named file), so a location always maps to the same content;
 * caching spares each commit and load from re-reading and re-parsing a file that grows with
 * every snapshot. Callers must treat the returned object as read-only.
 */
const MAX_ENTRIES = 256;
const cache = new Map<string, TableMetadata>();

export function rememberMetadata(location: string, metadata: TableMetadata): void {
  cache.delete(location);
  cache.set(location, metadata);
  if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
}

export async function loadMetadata(io: FileIO, location: string): Promise<TableMetadata> {
  const hit = cache.get(location);
  if (hit) {
    cache.delete(location);
    cache.set(location, hit);
    return hit;
  }
  const md = readTableMetadata(await io.read(location), location);
  rememberMetadata(location, md);
  return md;
}

export function forgetMetadata(location: string): void {
  cache.delete(location);
}
