import { parseDecimal, parseIsoDate, parseIsoTime, parseIsoTimestamp, toBinary } from '../iceberg/conversions.js';
import { indexById, type Schema } from '../iceberg/schema.js';
import { isList, isMap, isPrimitive, primitiveInfo } from '../iceberg/types.js';
import type { IcebergValue } from '../iceberg/values.js';

/**
 * Column metrics for a written Parquet file (spec "Manifests": column_sizes, value_counts,
 * null_value_counts, lower/upper bounds), from DuckDB's `COPY … RETURN_STATS`. Bounds follow
 * Java's default metrics mode `truncate(16)`: strings and binary are cut to 16 characters/bytes,
 * the upper bound rounded up so it still bounds every value.
 */
export interface FileMetrics {
  columnSizes: Map<number, bigint>;
  valueCounts: Map<number, bigint>;
  nullValueCounts: Map<number, bigint>;
  lowerBounds: Map<number, Uint8Array>;
  upperBounds: Map<number, Uint8Array>;
}

export const TRUNCATE_LENGTH = 16;

/** `"a"."b"` → `a.b` */
function unquotePath(key: string): string {
  const parts: string[] = [];
  const re = /"((?:[^"]|"")*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(key))) parts.push(m[1].replaceAll('""', '"'));
  return parts.length ? parts.join('.') : key;
}

export function metricsFromStats(schema: Schema, stats: { key: string; value: { key: string; value: string }[] }[]): FileMetrics {
  const byPath = new Map<string, { id: number; type: string; repeated: boolean }>();
  const idx = indexById(schema);
  for (const [id, f] of idx) {
    if (!isPrimitive(f.field.type)) continue;
    // Bounds inside lists and maps describe many values per row; Java does not keep them.
    let repeated = false;
    let parent = f.parentId;
    while (parent !== null) {
      const p = idx.get(parent)!;
      if (isList(p.field.type) || isMap(p.field.type)) repeated = true;
      parent = p.parentId;
    }
    byPath.set(f.path, { id, type: f.field.type, repeated });
  }
  const m: FileMetrics = { columnSizes: new Map(), valueCounts: new Map(), nullValueCounts: new Map(), lowerBounds: new Map(), upperBounds: new Map() };
  for (const col of stats) {
    const leaf = byPath.get(unquotePath(col.key));
    if (!leaf) continue;
    const s = Object.fromEntries(col.value.map((kv) => [kv.key, kv.value]));
    if (s.column_size_bytes !== undefined) m.columnSizes.set(leaf.id, BigInt(s.column_size_bytes));
    if (s.num_values !== undefined) m.valueCounts.set(leaf.id, BigInt(s.num_values));
    if (s.null_count !== undefined) m.nullValueCounts.set(leaf.id, BigInt(s.null_count));
    if (leaf.repeated || s.min === undefined || s.max === undefined || s.has_nan === 'true') continue;
    try {
      const lower = boundValue(leaf.type, s.min, false);
      const upper = boundValue(leaf.type, s.max, true);
      if (lower !== undefined) m.lowerBounds.set(leaf.id, toBinary(leaf.type, lower));
      if (upper !== undefined) m.upperBounds.set(leaf.id, toBinary(leaf.type, upper));
    } catch {
      // A statistic we cannot parse is simply not recorded: bounds are optional.
    }
  }
  return m;
}

function boundValue(type: string, text: string, upper: boolean): IcebergValue | undefined {
  const info = primitiveInfo(type);
  switch (info.kind) {
    case 'boolean': return text === 'true';
    case 'int': return Number(text);
    case 'long': return BigInt(text);
    case 'float':
    case 'double': {
      const v = Number(text);
      return Number.isNaN(v) ? undefined : v;
    }
    case 'decimal': return parseDecimal(text, info.scale!);
    case 'date': return parseIsoDate(text);
    case 'time': return parseIsoTime(text);
    case 'timestamp': return parseIsoTimestamp(text, 'us', false);
    case 'timestamptz': return parseIsoTimestamp(text.replace(/([+-]\d{2})$/, '$1:00'), 'us', true);
    case 'string': return truncateString(text, upper);
    case 'uuid': return text.toLowerCase();
    default: return undefined;
  }
}

/** truncate(16) of a string bound; the upper bound's last kept code point is incremented. */
export function truncateString(s: string, upper: boolean): string | undefined {
  const cps = Array.from(s);
  if (cps.length <= TRUNCATE_LENGTH) return s;
  const kept = cps.slice(0, TRUNCATE_LENGTH);
  if (!upper) return kept.join('');
  for (let i = kept.length - 1; i >= 0; i--) {
    let cp = kept[i].codePointAt(0)! + 1;
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xe000;
    if (cp <= 0x10ffff) return kept.slice(0, i).join('') + String.fromCodePoint(cp);
  }
  return undefined;
}

