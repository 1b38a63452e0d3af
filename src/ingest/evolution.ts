/**
 * Schema evolution driven by ingested records (when a job allows it), and the schema of a target
 * table inferred from the first record when the table does not exist.
 *
 * - A top-level field no column takes becomes a new optional column, typed from its first
 *   non-null value: integer → long (JSON does not say int, and long holds every JSON integer we
 *   accept), other numbers → double, boolean, string; objects and arrays → string holding the JSON
 *   text (a guessed struct would break on the next record with other keys).
 * - A value that does not fit its column widens the column when Iceberg allows that promotion:
 *   int → long (out of int range), float → double (not exactly representable as a float: storing
 *   it would silently round), decimal(P,S) → decimal(P',S) (more integer digits; never more scale).
 * - Anything else (a string in a long column, a fraction in an int column, a scale beyond S) is
 *   not widenable: the record goes to the dead-letter table as without evolution.
 */
import type { Schema } from '../iceberg/schema.js';
import { isPrimitive, primitiveInfo, type IcebergType, type NestedField, type PrimitiveType } from '../iceberg/types.js';
import type { RecordMapper } from './mapping.js';

export type SchemaChange = { kind: 'add'; column: string; type: IcebergType } | { kind: 'widen'; column: string; to: PrimitiveType };

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
const DEC_RE = /^[+-]?(\d*)(?:\.(\d*))?$/;

/** The column type for a new field's value (null: a null value says nothing yet). */
export function inferType(v: unknown): PrimitiveType | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isInteger(v) ? 'long' : 'double';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'bigint') return 'long';
  return 'string';
}

/** A promotion of `type` that holds `v`, or null when there is none. */
export function widenFor(type: IcebergType, v: unknown): PrimitiveType | null {
  if (!isPrimitive(type) || v === null || v === undefined) return null;
  const info = primitiveInfo(type);
  switch (info.kind) {
    case 'int':
      if (typeof v === 'number' && Number.isSafeInteger(v) && (v < INT_MIN || v > INT_MAX)) return 'long';
      if (typeof v === 'string' && /^[+-]?\d+$/.test(v)) {
        const b = BigInt(v);
        if ((b < BigInt(INT_MIN) || b > BigInt(INT_MAX)) && b >= -(2n ** 63n) && b < 2n ** 63n) return 'long';
      }
      return null;
    case 'float':
      return typeof v === 'number' && Number.isFinite(v) && Math.fround(v) !== v ? 'double' : null;
    case 'decimal': {
      const text = typeof v === 'number' && Number.isFinite(v) ? String(v) : typeof v === 'string' ? v.trim() : null;
      const m = text === null ? null : DEC_RE.exec(text);
      if (!m || (m[1] === '' && (m[2] ?? '') === '')) return null;
      const s = info.scale!;
      if ((m[2] ?? '').replace(/0+$/, '').length > s) return null;
      const p = m[1].replace(/^0+/, '').length + s;
      return p > info.precision! && p <= 38 ? `decimal(${p}, ${s})` : null;
    }
    default:
      return null;
  }
}

/** New top-level fields of `record` no column takes (skipping nulls and `ignore`d names). */
export function newFields(record: Record<string, unknown>, mapper: RecordMapper, ignore: Set<string>): SchemaChange[] {
  let out: SchemaChange[] | null = null;
  for (const k in record) {
    if (mapper.sourceRoots.has(k) || ignore.has(k)) continue;
    const t = inferType(record[k]);
    if (t) (out ??= []).push({ kind: 'add', column: k, type: t });
  }
  return out ?? [];
}

/** Widenings that would let `record`'s values fit their columns. */
export function widenings(record: Record<string, unknown>, mapper: RecordMapper, schema: Schema): SchemaChange[] {
  const out: SchemaChange[] = [];
  for (const name of mapper.columns) {
    const f = schema.fields.find((x) => x.name === name);
    if (!f) continue;
    const to = widenFor(f.type, mapper.sourceValue(record, name));
    if (to) out.push({ kind: 'widen', column: name, to });
  }
  return out;
}

/** Columns whose values may need a widening on every record (not only on a mapping error). */
export function floatColumns(schema: Schema, columns: string[]): string[] {
  return columns.filter((c) => schema.fields.find((f) => f.name === c)?.type === 'float');
}

/** Fields of a table inferred from its first record (renamed as the mapping says). */
export function inferFields(record: Record<string, unknown>, renames: Map<string, string>, drop: Set<string>): { name: string; type: PrimitiveType }[] {
  const bySource = new Map([...renames].map(([col, src]) => [src, col]));
  const out: { name: string; type: PrimitiveType }[] = [];
  for (const [k, v] of Object.entries(record)) {
    if (drop.has(k)) continue;
    const t = inferType(v);
    if (t) out.push({ name: bySource.get(k) ?? k, type: t });
  }
  return out;
}

/** `fields` as a fresh schema (ids 1..n; nested ids follow). */
export function schemaOf(fields: { name: string; type: IcebergType }[]): Schema {
  let id = fields.length;
  const out: NestedField[] = fields.map((f, i) => {
    let type = f.type;
    if (typeof type === 'object' && type.type === 'map') type = { ...type, 'key-id': ++id, 'value-id': ++id };
    return { id: i + 1, name: f.name, required: false, type };
  });
  return { type: 'struct', 'schema-id': 0, fields: out };
}
