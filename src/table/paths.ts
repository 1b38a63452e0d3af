/**
 * Path resolution for tables whose files moved: metadata records absolute (or, in copied test
 * tables, relative) paths under the table's original `location`. When the table now lives
 * elsewhere, a recorded path under that location is re-rooted onto the actual folder; paths are
 * otherwise used verbatim (never URL-decoded).
 */
export type PathResolver = (recorded: string) => string;

function canonical(p: string): string {
  let s = p;
  if (s.startsWith('file:///')) s = s.slice('file://'.length);
  else if (s.startsWith('file:/')) s = s.slice('file:'.length);
  else if (s.startsWith('s3a://') || s.startsWith('s3n://')) s = `s3://${s.slice(6)}`;
  while (s.startsWith('./')) s = s.slice(2);
  while (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

function join(root: string, rest: string): string {
  return `${root.replace(/\/+$/, '')}/${rest.replace(/^\/+/, '')}`;
}

export function makePathResolver(recordedLocation: string, actualRoot: string): PathResolver {
  const from = canonical(recordedLocation);
  const to = actualRoot.replace(/\/+$/, '');
  if (from === canonical(to)) return (p) => p;
  return (recorded: string) => {
    const c = canonical(recorded);
    if (c === from) return to;
    if (c.startsWith(`${from}/`)) return join(to, c.slice(from.length + 1));
    return recorded;
  };
}

/**
 * Resolver for a catalog table: its root is where its current metadata file actually lives
 * (`<root>/metadata/<file>`), so a table registered from copied or moved files still reads.
 */
export function tableResolver(table: { metadataLocation: string; metadata: { location: string } }): PathResolver {
  const m = /^(.*)\/metadata\/[^/]+$/.exec(table.metadataLocation);
  return makePathResolver(table.metadata.location, m ? m[1] : table.metadata.location);
}
