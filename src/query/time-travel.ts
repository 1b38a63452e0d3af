import { lakehouseError } from '../core/errors.js';
import { parseIsoTimestamp } from '../iceberg/conversions.js';
import { snapshotAsOf, snapshotById, type TableMetadata } from '../iceberg/metadata.js';
import type { Snapshot } from '../iceberg/snapshot.js';

/**
 * Trino's time-travel syntax, `t FOR VERSION AS OF <snapshot-id|'ref'>` and
 * `t FOR TIMESTAMP AS OF <timestamp>`, which DuckDB's parser does not know: the clause is folded
 * into the table identifier (`"t@version=…"`), which the engine resolves to a pinned snapshot.
 */
const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)`;
const TRAVEL = new RegExp(
  String.raw`(${IDENT}(?:\s*\.\s*${IDENT}){0,2})\s+FOR\s+(VERSION|TIMESTAMP|SYSTEM_VERSION|SYSTEM_TIME)\s+AS\s+OF\s+((?:TIMESTAMP\s+)?'(?:[^']|'')*'|-?\d+)`,
  'gi',
);

function unquote(part: string): string {
  const p = part.trim();
  return p.startsWith('"') ? p.slice(1, -1).replaceAll('""', '"') : p;
}

export function rewriteTimeTravel(sql: string): string {
  return sql.replace(TRAVEL, (_m, name: string, kind: string, value: string) => {
    const parts = name.split(/\s*\.\s*(?=(?:[^"]*"[^"]*")*[^"]*$)/).map(unquote);
    const table = parts.pop()!;
    const unit = /VERSION/i.test(kind) ? 'version' : 'timestamp';
    const v = value.replace(/^TIMESTAMP\s+/i, '').replace(/^'|'$/g, '').replaceAll("''", "'");
    const quoted = [...parts, `${table}@${unit}=${v}`].map((p) => `"${p.replaceAll('"', '""')}"`);
    return quoted.join('.');
  });
}

export interface TravelSpec {
  table: string;
  unit: 'version' | 'timestamp' | null;
  value: string | null;
}

export function parseTravel(tableName: string): TravelSpec {
  const m = /^(.*)@(version|timestamp)=(.*)$/s.exec(tableName);
  return m ? { table: m[1], unit: m[2] as 'version' | 'timestamp', value: m[3] } : { table: tableName, unit: null, value: null };
}

/** The snapshot a time-travel clause selects: by snapshot id, by branch/tag name, or by time. */
export function resolveTravel(md: TableMetadata, spec: TravelSpec): Snapshot | null {
  if (spec.unit === 'version') {
    const v = spec.value!;
    if (/^-?\d+$/.test(v)) {
      const s = snapshotById(md, BigInt(v));
      if (!s) throw lakehouseError('NO_SUCH_SNAPSHOT', `snapshot ${v} does not exist`);
      return s;
    }
    const ref = md.refs[v];
    if (!ref) throw lakehouseError('NO_SUCH_REF', `no branch or tag named ${JSON.stringify(v)}`);
    return snapshotById(md, ref['snapshot-id']) ?? null;
  }
  if (spec.unit === 'timestamp') {
    const v = spec.value!.trim();
    let ms: number;
    try {
      const hasZone = /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(v);
      const text = /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v} 00:00:00` : v.replace(/([+-]\d{2})$/, '$1:00');
      ms = Number(parseIsoTimestamp(text, 'us', hasZone) / 1000n);
    } catch {
      throw lakehouseError('BAD_REQUEST', `invalid timestamp in FOR TIMESTAMP AS OF: ${v}`);
    }
    const s = snapshotAsOf(md, ms);
    if (!s) throw lakehouseError('NO_SUCH_SNAPSHOT', `no snapshot at or before ${v}`);
    return s;
  }
  return null;
}
