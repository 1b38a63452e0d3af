import { lakehouseError } from '../core/errors.js';
import type { FileIO } from '../storage/fileio.js';

/**
 * Finds a table's current metadata file in a folder, the way the Hadoop catalog and engines do:
 * `metadata/version-hint.text` holds a version number N (→ `vN.metadata.json`) or a file stem;
 * without a hint the newest metadata file wins (highest leading version number).
 *
 * A numeric hint may be stale (the Hadoop catalog writes it after the metadata file, best effort),
 * so as Java's `HadoopTableOperations` does, `vN+1`, `vN+2`, … are probed until one is missing.
 */
const METADATA_RE = /^(?:v(\d+)|(\d+)-[^/]*)(?:\.gz)?\.metadata\.json(?:\.gz)?$/;

export const VERSION_HINT_FILE = 'version-hint.text';

function join(a: string, b: string): string {
  return `${a.replace(/\/+$/, '')}/${b.replace(/^\/+/, '')}`;
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

export function metadataVersion(fileName: string): number | null {
  const m = METADATA_RE.exec(baseName(fileName));
  if (!m) return null;
  return Number(m[1] ?? m[2]);
}

/** The names a Hadoop table's version N may have (plain, Java's gzip names). */
export function hadoopVersionFileNames(version: number): string[] {
  return [`v${version}.metadata.json`, `v${version}.gz.metadata.json`, `v${version}.metadata.json.gz`];
}

/** Location of `vN.metadata.json` (any of its codec spellings) in a metadata folder, or null. */
export async function hadoopVersionFile(io: FileIO, metadataDir: string, version: number): Promise<string | null> {
  for (const name of hadoopVersionFileNames(version)) {
    const loc = join(metadataDir, name);
    if (await io.exists(loc)) return loc;
  }
  return null;
}

/**
 * The newest Hadoop-layout version at or after `version` (which must exist): probes
 * `v(N+1)`, `v(N+2)`, … until one is missing.
 */
export async function probeNewerVersions(io: FileIO, metadataDir: string, version: number, location: string): Promise<{ version: number; location: string }> {
  let v = version;
  let loc = location;
  for (;;) {
    const next = await hadoopVersionFile(io, metadataDir, v + 1);
    if (next === null) return { version: v, location: loc };
    v += 1;
    loc = next;
  }
}

/** Reads `version-hint.text` (trimmed), or null when it is missing or unreadable. */
export async function readVersionHint(io: FileIO, metadataDir: string): Promise<string | null> {
  try {
    const text = Buffer.from(await io.read(join(metadataDir, VERSION_HINT_FILE))).toString('utf8').trim();
    return text === '' ? null : text;
  } catch {
    return null;
  }
}

export async function findMetadataFile(io: FileIO, tableFolder: string, explicit?: string): Promise<string> {
  if (explicit) {
    const loc = /^[a-z][a-z0-9+.-]*:\/\//i.test(explicit) || explicit.startsWith('/') ? explicit : join(tableFolder, explicit);
    if (!(await io.exists(loc))) throw lakehouseError('FILE_NOT_FOUND', `metadata file not found`, { file: loc });
    return loc;
  }
  const metaDir = join(tableFolder, 'metadata');
  const hint = await readVersionHint(io, metaDir);
  if (hint !== null) {
    if (/^\d+$/.test(hint)) {
      const version = Number(hint);
      const loc = await hadoopVersionFile(io, metaDir, version);
      // A stale hint (a writer died between metadata and hint) is probed past, as Java does.
      if (loc !== null) return (await probeNewerVersions(io, metaDir, version, loc)).location;
    } else {
      for (const c of [`${hint}.metadata.json`, `${hint}.gz.metadata.json`, `${hint}.metadata.json.gz`, hint]) {
        const loc = join(metaDir, c);
        if (await io.exists(loc)) return loc;
      }
    }
    // A hint naming a missing file falls through to the listing.
  }
  const files = (await io.list(metaDir)).filter((f) => metadataVersion(f.location) !== null);
  if (files.length === 0) throw lakehouseError('NO_SUCH_TABLE', `no table metadata under ${metaDir}`, { file: metaDir });
  files.sort((a, b) => metadataVersion(a.location)! - metadataVersion(b.location)! || a.lastModified - b.lastModified);
  return files[files.length - 1].location;
}
