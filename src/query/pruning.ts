import { compareValues, fromBinary, parseIsoDate, parseIsoTimestamp } from '../iceberg/conversions.js';
import type { DataFile } from '../iceberg/manifest-types.js';
import type { PartitionSpec } from '../iceberg/partition.js';
import type { Schema } from '../iceberg/schema.js';
import { applyTransform, parseTransform } from '../iceberg/transforms.js';
import { isPrimitive, primitiveInfo, type NestedField } from '../iceberg/types.js';
import type { IcebergValue } from '../iceberg/values.js';
import { constantOf, type AstNode } from './sql-ast.js';

/**
 * File pruning from a WHERE clause: only top-level AND-ed predicates of the forms
 * `col <op> constant`, `col BETWEEN a AND b`, `col IN (…)`, `col IS [NOT] NULL` are used; anything
 * else (OR, functions, CASE, casts of the column) prunes nothing, so pruning can never drop a file
 * that holds a matching row. Files are kept unless their partition values (through the partition
 * transform, spec "Scan Planning") or their column bounds and null counts prove no row matches.
 */
export type Op = 'eq' | 'lt' | 'lte' | 'gt' | 'gte' | 'in' | 'isnull' | 'notnull';

export interface Predicate {
  field: NestedField;
  op: Op;
  values: IcebergValue[];
}

const OPS: Record<string, Op> = {
  COMPARE_EQUAL: 'eq',
  COMPARE_LESSTHAN: 'lt',
  COMPARE_LESSTHANOREQUALTO: 'lte',
  COMPARE_GREATERTHAN: 'gt',
  COMPARE_GREATERTHANOREQUALTO: 'gte',
};
const FLIP: Record<Op, Op> = { eq: 'eq', lt: 'gt', lte: 'gte', gt: 'lt', gte: 'lte', in: 'in', isnull: 'isnull', notnull: 'notnull' };

function conjuncts(node: AstNode | null | undefined): AstNode[] {
  if (!node) return [];
  if (node.type === 'CONJUNCTION_AND') return (node.children as AstNode[]).flatMap(conjuncts);
  return [node];
}

/** The top-level field a column reference names (`col` or `alias.col`), if any. */
function columnField(node: unknown, schema: Schema, qualifiers: Set<string>): NestedField | undefined {
  const n = node as AstNode;
  if (n?.class !== 'COLUMN_REF') return undefined;
  const names = n.column_names as string[];
  let name: string;
  if (names.length === 1) name = names[0];
  else if (names.length === 2 && qualifiers.has(names[0].toLowerCase())) name = names[1];
  else return undefined;
  // DuckDB resolves identifiers case-insensitively.
  return schema.fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
}

/** Converts a SQL constant to the column's Iceberg value, only when the conversion is exact. */
export function literalFor(field: NestedField, node: unknown): IcebergValue | undefined {
  const c = constantOf(node);
  if (!c || !isPrimitive(field.type)) return undefined;
  if (c.value === null) return null;
  const kind = primitiveInfo(field.type).kind;
  const v = c.value;
  const t = (c.castTo ?? c.type).toUpperCase();
  try {
    switch (kind) {
      case 'int':
      case 'long': {
        if (!['INTEGER', 'BIGINT', 'HUGEINT', 'SMALLINT', 'TINYINT', 'UBIGINT', 'UINTEGER'].includes(t)) return undefined;
        const b = BigInt(v as number | string);
        return kind === 'int' ? (b > 2147483647n || b < -2147483648n ? undefined : Number(b)) : b;
      }
      case 'string':
        return t === 'VARCHAR' && typeof v === 'string' ? v : undefined;
      case 'boolean': {
        if (t !== 'BOOLEAN') return undefined;
        if (typeof v === 'boolean') return v;
        // DuckDB's parser spells TRUE/FALSE as 't'/'f' cast to BOOLEAN.
        const text = String(v).toLowerCase();
        return text === 't' || text === 'true' ? true : text === 'f' || text === 'false' ? false : undefined;
      }
      case 'date':
        return (t === 'DATE' || t === 'VARCHAR') && typeof v === 'string' ? parseIsoDate(v) : undefined;
      case 'timestamp':
      case 'timestamptz': {
        if (typeof v !== 'string') return undefined;
        if (t === 'DATE') return BigInt(parseIsoDate(v)) * 86_400_000_000n;
        if (!['TIMESTAMP', 'TIMESTAMP WITH TIME ZONE', 'TIMESTAMP_TZ', 'VARCHAR'].includes(t)) return undefined;
        if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return BigInt(parseIsoDate(v)) * 86_400_000_000n;
        const hasZone = /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(v.trim());
        // The session runs in UTC, so a zone-less literal is a UTC instant.
        const text = hasZone ? v.trim().replace(/([+-]\d{2})$/, '$1:00') : v;
        return parseIsoTimestamp(text, 'us', hasZone);
      }
      case 'uuid':
        return typeof v === 'string' && /^[0-9a-f-]{36}$/i.test(v) ? v.toLowerCase() : undefined;
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

/** Extracts the usable predicates of a WHERE clause for one table. */
export function extractPredicates(where: AstNode | null | undefined, schema: Schema, qualifiers: Set<string>): Predicate[] {
  const out: Predicate[] = [];
  for (const c of conjuncts(where)) {
    const op = OPS[c.type ?? ''];
    if (op && c.class === 'COMPARISON') {
      let field = columnField(c.left, schema, qualifiers);
      let lit = field ? literalFor(field, c.right) : undefined;
      let effective = op;
      if (!field) {
        field = columnField(c.right, schema, qualifiers);
        lit = field ? literalFor(field, c.left) : undefined;
        effective = FLIP[op];
      }
      if (field && lit !== undefined && lit !== null) out.push({ field, op: effective, values: [lit] });
    } else if (c.type === 'COMPARE_BETWEEN') {
      const field = columnField(c.input, schema, qualifiers);
      if (!field) continue;
      const lo = literalFor(field, c.lower);
      const hi = literalFor(field, c.upper);
      if (lo !== undefined && lo !== null) out.push({ field, op: 'gte', values: [lo] });
      if (hi !== undefined && hi !== null) out.push({ field, op: 'lte', values: [hi] });
    } else if (c.type === 'COMPARE_IN') {
      const [col, ...items] = c.children as AstNode[];
      const field = columnField(col, schema, qualifiers);
      if (!field) continue;
      const values = items.map((i) => literalFor(field, i));
      if (values.every((v) => v !== undefined && v !== null)) out.push({ field, op: 'in', values: values as IcebergValue[] });
    } else if (c.type === 'OPERATOR_IS_NULL' || c.type === 'OPERATOR_IS_NOT_NULL') {
      const field = columnField((c.children as AstNode[])[0], schema, qualifiers);
      if (field) out.push({ field, op: c.type === 'OPERATOR_IS_NULL' ? 'isnull' : 'notnull', values: [] });
    }
  }
  return out;
}

function compareOk(op: Op, cmp: number): boolean {
  switch (op) {
    case 'eq': return cmp === 0;
    case 'lt': return cmp < 0;
    case 'lte': return cmp <= 0;
    case 'gt': return cmp > 0;
    case 'gte': return cmp >= 0;
    default: return true;
  }
}

const ORDER_PRESERVING = new Set(['identity', 'truncate', 'year', 'month', 'day', 'hour']);

const INTEGER_VALUED = new Set(['int', 'long', 'date', 'time', 'timestamp', 'timestamptz', 'timestamp_ns', 'timestamptz_ns']);

/** `v + step` in the type's own unit when the type is integer-valued (days, µs, ns, …), else undefined. */
function stepInward(type: string, v: IcebergValue, step: 1 | -1): IcebergValue | undefined {
  if (!INTEGER_VALUED.has(primitiveInfo(type).kind)) return undefined;
  if (typeof v === 'bigint') return v + BigInt(step);
  if (typeof v === 'number' && Number.isInteger(v)) return v + step;
  return undefined;
}

/** False when the file's partition tuple proves that no row can satisfy the predicate. */
function partitionMayMatch(p: Predicate, file: DataFile, spec: PartitionSpec): boolean {
  const type = p.field.type as string;
  for (let i = 0; i < spec.fields.length; i++) {
    const pf = spec.fields[i];
    if (pf['source-id'] !== p.field.id) continue;
    const t = parseTransform(pf.transform);
    if (t.kind === 'void' || t.kind === 'unknown') continue;
    const part = file.partition[i] ?? null;
    // Every transform maps null to null and any other value to non-null (spec "Partition
    // Transforms"), so a null partition value means the source column is null in every row.
    if (p.op === 'notnull') {
      if (part === null) return false;
      continue;
    }
    if (p.op === 'isnull') {
      if (part !== null) return false;
      continue;
    }
    if (part === null) return false;
    const resultType = t.kind === 'identity' || t.kind === 'truncate' ? type : 'int';
    const project = (v: IcebergValue) => {
      const r = applyTransform(t, type, v);
      return typeof r === 'number' && resultType !== 'int' && typeof part === 'bigint' ? BigInt(r) : r;
    };
    const partVal = resultType === 'int' && typeof part === 'bigint' ? Number(part) : part;
    if (t.kind === 'bucket') {
      if (p.op === 'eq' || p.op === 'in') {
        if (!p.values.some((v) => project(v) === partVal)) return false;
      }
      continue;
    }
    if (!ORDER_PRESERVING.has(t.kind)) continue;
    if (p.op === 'in') {
      if (!p.values.some((v) => compareValues(resultType, partVal, project(v)) === 0)) return false;
      continue;
    }
    // Monotonic transforms: col ≤ v ⇒ T(col) ≤ T(v); col ≥ v ⇒ T(col) ≥ T(v). A strict bound on
    // an integer-valued source is the inclusive bound one unit further in (Iceberg's projection:
    // col < v ⇒ T(col) ≤ T(v - 1)), so `ts < 06:00` does not keep the hour that starts at 06:00.
    const strict = p.op === 'lt' || p.op === 'gt';
    let tv: IcebergValue;
    let op: Op = p.op;
    if (t.kind === 'identity' || !strict) tv = project(p.values[0]);
    else {
      op = p.op === 'lt' ? 'lte' : 'gte';
      const inward = stepInward(type, p.values[0], p.op === 'lt' ? -1 : 1);
      try {
        tv = project(inward ?? p.values[0]);
      } catch {
        // v ∓ 1 left the type's range: the inclusive projection of v itself still holds.
        tv = project(p.values[0]);
      }
    }
    if (!compareOk(op, compareValues(resultType, partVal, tv))) return false;
  }
  return true;
}

/** False when column bounds / null counts prove that no row can satisfy the predicate. */
function metricsMayMatch(p: Predicate, file: DataFile): boolean {
  const id = p.field.id;
  const type = p.field.type as string;
  const nulls = file.nullValueCounts?.get(id);
  const values = file.valueCounts?.get(id);
  if (p.op === 'isnull') return nulls === undefined || nulls > 0n;
  if (p.op === 'notnull') return nulls === undefined || values === undefined || values > nulls;
  // All-null column: no comparison matches.
  if (nulls !== undefined && values !== undefined && nulls === values && values > 0n) return false;
  const kind = primitiveInfo(type).kind;
  // NaN is not covered by bounds (and DuckDB orders it above every number): never prune floats.
  if (kind === 'float' || kind === 'double') return true;
  const lb = file.lowerBounds?.get(id);
  const ub = file.upperBounds?.get(id);
  let lower: IcebergValue = null;
  let upper: IcebergValue = null;
  try {
    if (lb) lower = fromBinary(type, lb);
    if (ub) upper = fromBinary(type, ub);
  } catch {
    return true;
  }
  const vals = p.values;
  const inRange = (v: IcebergValue) =>
    (lower === null || compareValues(type, v, lower) >= 0) && (upper === null || compareValues(type, v, upper) <= 0);
  switch (p.op) {
    case 'eq': return inRange(vals[0]);
    case 'in': return vals.some(inRange);
    case 'lt': return lower === null || compareValues(type, lower, vals[0]) < 0;
    case 'lte': return lower === null || compareValues(type, lower, vals[0]) <= 0;
    case 'gt': return upper === null || compareValues(type, upper, vals[0]) > 0;
    case 'gte': return upper === null || compareValues(type, upper, vals[0]) >= 0;
    default: return true;
  }
}

export function fileMayMatch(preds: Predicate[], file: DataFile, spec: PartitionSpec): boolean {
  for (const p of preds) {
    if (!partitionMayMatch(p, file, spec)) return false;
    if (!metricsMayMatch(p, file)) return false;
  }
  return true;
}
