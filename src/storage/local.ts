/**
 * Local filesystem FileIO. Locations are plain absolute paths, `file:///a/b` or `file:/a/b`
 * (also `file://localhost/a/b`). The path part of a `file:` URI is taken literally (no
 * percent-decoding, as pyiceberg does), so whatever location is written reads back the same.
 *
 * Atomicity: `write` writes a temp file in the destination directory, fsyncs it and renames it over
 * the destination; `writeIfAbsent` writes+fsyncs a temp file and hard-links it to the destination
 * (`link` fails with EEXIST when the destination exists, atomically), so a reader never sees a
 * partial file and at most one concurrent writer wins. Temp files are named `.<name>.<rand>.lhtmp`
 * and are never listed.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { isLakehouseError, lakehouseError, LakehouseError } from '../core/errors.js';
import type { FileInfo, FileIO } from './fileio.js';

export interface LocalFileIOOptions {
  /** fsync temp files before publishing them (default true). Turn off only for throwaway data. */
  fsync?: boolean;
}

/** Suffix of in-flight temp files; such files are skipped by `list`. */
export const TEMP_SUFFIX = '.lhtmp';

export function isTempFileName(name: string): boolean {
  return name.startsWith('.') && name.endsWith(TEMP_SUFFIX);
}

/** Unique temp file name next to `name`, in the same directory. */
export function tempNameFor(name: string): string {
  return `.${name}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
}

/** Converts a local location (path or file: URI) to a filesystem path. */
export function localPathOf(location: string): string {
  let p = location;
  if (/^file:/i.test(p)) {
    p = p.slice(5);
    if (p.startsWith('//')) {
      // file://host/path: only an empty host or localhost is local.
      const rest = p.slice(2);
      const slash = rest.indexOf('/');
      const host = slash < 0 ? rest : rest.slice(0, slash);
      if (host !== '' && host.toLowerCase() !== 'localhost') {
        throw lakehouseError('STORAGE_ERROR', `Unsupported file URI host '${host}'`, { file: location });
      }
      p = slash < 0 ? '/' : rest.slice(slash);
    }
  } else if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(p)) {
    throw lakehouseError('STORAGE_ERROR', `Not a local location: ${location}`, { file: location });
  }
  if (p === '') throw lakehouseError('STORAGE_ERROR', 'Empty location', { file: location });
  return path.resolve(p);
}

function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

function storageError(op: string, location: string, e: unknown): LakehouseError {
  if (isLakehouseError(e)) return e;
  const code = errno(e);
  if (code === 'ENOENT') return lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location }, e);
  const msg = e instanceof Error ? e.message : String(e);
  return lakehouseError('STORAGE_ERROR', `Local ${op} failed for ${location}: ${msg}`, { file: location }, e);
}

export class LocalFileIO implements FileIO {
  private readonly fsync: boolean;

  constructor(options: LocalFileIOOptions = {}) {
    this.fsync = options.fsync ?? true;
  }

  async read(location: string): Promise<Uint8Array> {
    const p = localPathOf(location);
    try {
      const buf = await fsp.readFile(p);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      if (errno(e) === 'EISDIR') throw lakehouseError('FILE_NOT_FOUND', `Not a file: ${location}`, { file: location }, e);
      throw storageError('read', location, e);
    }
  }

  async readRange(location: string, offset: number, length: number): Promise<Uint8Array> {
    checkRange(location, offset, length);
    const p = localPathOf(location);
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(p, 'r');
      const st = await fh.stat();
      if (!st.isFile()) throw lakehouseError('FILE_NOT_FOUND', `Not a file: ${location}`, { file: location });
      const n = Math.max(0, Math.min(length, st.size - offset));
      const out = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const { bytesRead } = await fh.read(out, done, n - done, offset + done);
        if (bytesRead === 0) break; // file shrank underneath us
        done += bytesRead;
      }
      return done === n ? out : out.subarray(0, done);
    } catch (e) {
      throw storageError('readRange', location, e);
    } finally {
      await fh?.close();
    }
  }

  async stat(location: string): Promise<FileInfo | null> {
    const p = localPathOf(location);
    try {
      const st = await fsp.stat(p);
      if (!st.isFile()) return null;
      return { location, size: st.size, lastModified: Math.floor(st.mtimeMs) };
    } catch (e) {
      const code = errno(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw storageError('stat', location, e);
    }
  }

  async exists(location: string): Promise<boolean> {
    return (await this.stat(location)) !== null;
  }

  async write(location: string, data: Uint8Array): Promise<void> {
    const p = localPathOf(location);
    const tmp = await this.writeTemp(p, location, data);
    try {
      await fsp.rename(tmp, p);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw storageError('write', location, e);
    }
  }

  async writeIfAbsent(location: string, data: Uint8Array): Promise<void> {
    const p = localPathOf(location);
    const tmp = await this.writeTemp(p, location, data);
    try {
      await fsp.link(tmp, p);
    } catch (e) {
      if (errno(e) === 'EEXIST') {
        throw lakehouseError('ALREADY_EXISTS', `File already exists: ${location}`, { file: location }, e);
      }
      throw storageError('writeIfAbsent', location, e);
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  async delete(location: string): Promise<void> {
    const p = localPathOf(location);
    try {
      await fsp.unlink(p);
    } catch (e) {
      const code = errno(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw storageError('delete', location, e);
    }
  }

  /**
   * Lists files under a directory, recursively. The prefix names a directory (a trailing slash is
   * optional); a prefix naming a file lists that file; a missing prefix lists nothing. Returned
   * locations keep the prefix's form (plain path, file:/ or file:///).
   */
  async list(prefix: string): Promise<FileInfo[]> {
    const root = localPathOf(prefix);
    const base = prefix.replace(/\/+$/, '');
    const out: FileInfo[] = [];
    let st;
    try {
      st = await fsp.stat(root);
    } catch (e) {
      const code = errno(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') return [];
      throw storageError('list', prefix, e);
    }
    if (st.isFile()) return [{ location: base, size: st.size, lastModified: Math.floor(st.mtimeMs) }];
    if (!st.isDirectory()) return [];

    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (e) {
        const code = errno(e);
        if (code === 'ENOENT' || code === 'ENOTDIR') return; // removed while listing
        throw storageError('list', prefix, e);
      }
      for (const ent of entries) {
        const childRel = rel === '' ? ent.name : `${rel}/${ent.name}`;
        const childPath = path.join(dir, ent.name);
        if (ent.isDirectory()) {
          await walk(childPath, childRel);
        } else if (!isTempFileName(ent.name)) {
          try {
            const cst = await fsp.stat(childPath);
            if (cst.isFile()) {
              out.push({ location: `${base}/${childRel}`, size: cst.size, lastModified: Math.floor(cst.mtimeMs) });
            } else if (cst.isDirectory()) {
              await walk(childPath, childRel); // symlink to a directory
            }
          } catch (e) {
            if (errno(e) !== 'ENOENT') throw storageError('list', prefix, e);
          }
        }
      }
    };
    await walk(root, '');
    out.sort((a, b) => (a.location < b.location ? -1 : a.location > b.location ? 1 : 0));
    return out;
  }

  async localPath(location: string): Promise<string> {
    const p = localPathOf(location);
    if ((await this.stat(location)) === null) {
      throw lakehouseError('FILE_NOT_FOUND', `File not found: ${location}`, { file: location });
    }
    return p;
  }

  async putLocalFile(localPath: string, location: string): Promise<void> {
    const p = localPathOf(location);
    const src = path.resolve(localPath);
    if (src === p) return;
    await this.mkdirs(path.dirname(p), location);
    const tmp = path.join(path.dirname(p), tempNameFor(path.basename(p)));
    try {
      await fsp.copyFile(src, tmp, fsc.COPYFILE_EXCL);
      if (this.fsync) await fsyncPath(tmp);
      await fsp.rename(tmp, p);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      if (errno(e) === 'ENOENT' && !(await fileExists(src))) {
        throw lakehouseError('FILE_NOT_FOUND', `Local file not found: ${localPath}`, { file: localPath }, e);
      }
      throw storageError('putLocalFile', location, e);
    }
  }

  private async mkdirs(dir: string, location: string): Promise<void> {
    try {
      await fsp.mkdir(dir, { recursive: true });
    } catch (e) {
      throw storageError('mkdir', location, e);
    }
  }

  /** Writes `data` fully (and fsyncs) to a fresh temp file next to `p`; returns its path. */
  private async writeTemp(p: string, location: string, data: Uint8Array): Promise<string> {
    const dir = path.dirname(p);
    await this.mkdirs(dir, location);
    const tmp = path.join(dir, tempNameFor(path.basename(p)));
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(tmp, 'wx');
      await fh.writeFile(data);
      if (this.fsync) await fh.sync();
      await fh.close();
      fh = undefined;
      return tmp;
    } catch (e) {
      await fh?.close().catch(() => {});
      await fsp.rm(tmp, { force: true });
      throw storageError('write', location, e);
    }
  }
}

export function checkRange(location: string, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw lakehouseError('STORAGE_ERROR', `Invalid range offset=${offset} length=${length}`, { file: location });
  }
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await fsp.open(p, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function fileExists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}
