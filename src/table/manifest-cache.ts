import { readManifest, type ManifestReadResult } from '../iceberg/manifest.js';
import { readManifestList } from '../iceberg/manifest-list.js';
import type { ManifestFile } from '../iceberg/manifest-types.js';
import type { StructType } from '../iceberg/types.js';
import type { FileIO } from '../storage/fileio.js';

/**
 * Parsed manifest lists and manifests by location. Both are immutable once written (every
 * snapshot writes new, uniquely named files), so repeated scans of a table — every query of a
 * running service — plan from memory instead of re-reading Avro. Bounded by the number of
 * entries held; results are shared and must be treated as read-only.
 */
const MAX_ENTRIES = 500_000;
let held = 0;
const manifests = new Map<string, { result: ManifestReadResult; size: number }>();
const lists = new Map<string, ManifestFile[]>();

function evict(): void {
  while (held > MAX_ENTRIES && manifests.size > 0) {
    const [key, v] = manifests.entries().next().value as [string, { size: number }];
    manifests.delete(key);
    held -= v.size;
  }
  while (lists.size > 10_000) lists.delete(lists.keys().next().value as string);
}

export async function cachedManifestList(io: FileIO, file: string): Promise<ManifestFile[]> {
  const hit = lists.get(file);
  if (hit) return hit;
  const list = readManifestList(await io.read(file), { file });
  lists.set(file, list);
  evict();
  return list;
}

export async function cachedManifest(io: FileIO, file: string, partitionType: StructType | undefined): Promise<ManifestReadResult> {
  const key = `${file}\u0000${partitionType ? JSON.stringify(partitionType) : ''}`;
  const hit = manifests.get(key);
  if (hit) {
    manifests.delete(key);
    manifests.set(key, hit);
    return hit.result;
  }
  const result = readManifest(await io.read(file), { file, partitionType });
  const size = result.entries.length + 1;
  manifests.set(key, { result, size });
  held += size;
  evict();
  return result;
}
