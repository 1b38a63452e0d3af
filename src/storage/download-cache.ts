import { createHash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { tempNameFor } from './local.js';

/**
 * The local copy of a remote object that `FileIO.localPath` hands to DuckDB (which reads local
 * files only here: httpfs cannot be installed offline). Copies are keyed by location, size and
 * the store's version token (ETag, generation, mtime), so a replaced object is never served from
 * a stale copy, and they keep the object's base name because engines sniff formats by extension.
 */
export interface RemoteVersion {
  location: string;
  size: number;
  /** ETag, generation or modification time: whatever changes when the object is replaced. */
  version: string;
  /** The object's key or path; its base name ends the cached file's name. */
  key: string;
}

/**
 * The cached copy of `v`, downloading it when absent. `download` writes the bytes to a fresh
 * temporary path and returns false when the object changed meanwhile (precondition failed, size
 * differs); then null is returned and the caller starts over from a new `head`. A failed
 * download leaves no partial file behind; its error is rethrown as is for the caller to map.
 */
export async function cachedCopy(cacheDir: string, v: RemoteVersion, download: (tmp: string) => Promise<boolean>): Promise<string | null> {
  const hash = createHash('sha256').update(`${v.location}\0${v.size}\0${v.version}`).digest('hex').slice(0, 32);
  const name = path.posix.basename(v.key).replace(/[^A-Za-z0-9._-]/g, '_').slice(-100) || 'object';
  const dest = path.join(cacheDir, `${hash}-${name}`);
  try {
    const st = await fsp.stat(dest);
    if (st.isFile() && st.size === v.size) return dest;
  } catch {
    // not cached yet
  }
  await fsp.mkdir(cacheDir, { recursive: true });
  const tmp = path.join(cacheDir, tempNameFor(`${hash}-${name}`));
  try {
    if (!(await download(tmp))) {
      await fsp.rm(tmp, { force: true });
      return null;
    }
    await fsp.rename(tmp, dest);
    return dest;
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}
