import { randomUUID } from 'node:crypto';

/**
 * Names of metadata files. Catalog-managed tables use Java's `NNNNN-<uuid>.metadata.json`: the
 * uuid makes every attempt's file unique, so concurrent committers never overwrite each other.
 */
export function metadataVersionOf(location: string): number {
  const name = location.slice(location.lastIndexOf('/') + 1);
  const m = /^(?:v)?(\d+)[-.]/.exec(name);
  return m ? Number(m[1]) : 0;
}

export function nextMetadataLocation(tableLocation: string, previous: string | null, gzip = false): string {
  const version = previous === null ? 0 : metadataVersionOf(previous) + 1;
  const ext = gzip ? '.gz.metadata.json' : '.metadata.json';
  return `${tableLocation.replace(/\/+$/, '')}/metadata/${String(version).padStart(5, '0')}-${randomUUID()}${ext}`;
}

export function useGzip(properties: Record<string, string>): boolean {
  return (properties['write.metadata.compression-codec'] ?? 'none').toLowerCase() === 'gzip';
}
