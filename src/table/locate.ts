import { lakehouseError } from '../core/errors.js';
import type { FileIO } from '../storage/fileio.js';

/**
 * Finds a table's current metadata file in a folder, the way the Hadoop catalog and engines do:
 * `metadata/version-hint.text` holds a version number N (→ `vN.metadata.json`) or a file stem;
 * without a hint the newest metadata file wins (highest leading version number).
 */
const METADATA_RE = /^(?:v(\d+)|(\d+)-[^/]*)(?:\.gz)?\.metadata\.json(?:\.gz)?$/;

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

export async function findMetadataFile(io: FileIO, tableFolder: string, explicit?: string): Promise<string> {
  if (explicit) {
    const loc = /^[a-z][a-z0-9+.-]*:\/\//i.test(explicit) || explicit.startsWith('/') ? explicit : join(tableFolder, explicit);
    if (!(await io.exists(loc))) throw lakehouseError('FILE_NOT_FOUND', `metadata file not found`, { file: loc });
    return loc;
  }
  const metaDir = join(tableFolder, 'metadata');
  const hintFile = join(metaDir, 'version-hint.text');
  if (await io.exists(hintFile)) {
    const hint = Buffer.from(await io.read(hintFile)).toString('utf8').trim();
    const candidates = /^\d+$/.test(hint)
      ? [`v${hint}.metadata.json`, `v${hint}.gz.metadata.json`, `v${hint}.metadata.json.gz`]
      : [`${hint}.metadata.json`, `${hint}.gz.metadata.json`, `${hint}.metadata.json.gz`, hint];
    for (const c of candidates) {
      const loc = join(metaDir, c);
      if (await io.exists(loc)) return loc;
    }
    // A stale hint (a writer died between metadata and hint) falls through to the listing.
  }
  const files = (await io.list(metaDir)).filter((f) => metadataVersion(f.location) !== null);
  if (files.length === 0) throw lakehouseError('NO_SUCH_TABLE', `no table metadata under ${metaDir}`, { file: metaDir });
  files.sort((a, b) => metadataVersion(a.location)! - metadataVersion(b.location)! || a.lastModified - b.lastModified);
  return files[files.length - 1].location;
}
