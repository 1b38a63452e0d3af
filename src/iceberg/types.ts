import { lakehouseError } from '../core/errors.js';

/**
 * Iceberg types in their JSON shape (spec "Schemas and Data Types" + Appendix C), used as the
 * in-memory model too, so metadata and REST payloads round-trip without conversion.
 */
export type PrimitiveType = string;

export interface NestedField {
  id: number;
  name: string;
  required: boolean;
  type: IcebergType;
  doc?: string;
  'initial-default'?: unknown;
  'write-default'?: unknown;
}

export interface StructType {
  type: 'struct';
  fields: NestedField[];
}

export interface ListType {
  type: 'list';
  'element-id': number;
  element: IcebergType;
  'element-required': boolean;
}

export interface MapType {
  type: 'map';
  'key-id': number;
  key: IcebergType;
  'value-id': number;
  value: IcebergType;
  'value-required': boolean;
}

export type IcebergType = PrimitiveType | StructType | ListType | MapType;

export type PrimitiveKind =
  | 'boolean' | 'int' | 'long' | 'float' | 'double' | 'decimal' | 'date' | 'time'
  | 'timestamp' | 'timestamptz' | 'timestamp_ns' | 'timestamptz_ns' | 'string' | 'uuid'
  | 'fixed' | 'binary' | 'unknown';

export interface PrimitiveInfo {
  kind: PrimitiveKind;
  precision?: number;
  scale?: number;
  length?: number;
}

const SIMPLE = new Set<PrimitiveKind>([
  'boolean', 'int', 'long', 'float', 'double', 'date', 'time', 'timestamp', 'timestamptz',
  'timestamp_ns', 'timestamptz_ns', 'string', 'uuid', 'binary', 'unknown',
]);

const DECIMAL_RE = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/;
const FIXED_RE = /^fixed\[\s*(\d+)\s*\]$/;

export function isPrimitive(t: IcebergType): t is PrimitiveType {
  return typeof t === 'string';
}
export function isStruct(t: IcebergType): t is StructType {
  return typeof t === 'object' && t.type === 'struct';
}
export function isList(t: IcebergType): t is ListType {
  return typeof t === 'object' && t.type === 'list';
}
export function isMap(t: IcebergType): t is MapType {
  return typeof t === 'object' && t.type === 'map';
}

/** Parses a primitive type string; throws UNKNOWN_TYPE for anything the spec does not define. */
export function primitiveInfo(t: PrimitiveType): PrimitiveInfo {
  if (SIMPLE.has(t as PrimitiveKind)) return { kind: t as PrimitiveKind };
  const d = DECIMAL_RE.exec(t);
  if (d) {
    const precision = Number(d[1]);
    const scale = Number(d[2]);
    if (precision < 1 || precision > 38 || scale > precision) {
      throw lakehouseError('UNKNOWN_TYPE', `invalid decimal type ${t}: precision must be 1..38 and scale ≤ precision`);
    }
    return { kind: 'decimal', precision, scale };
  }
  const f = FIXED_RE.exec(t);
  if (f) return { kind: 'fixed', length: Number(f[1]) };
  throw lakehouseError('UNKNOWN_TYPE', `unknown Iceberg type: ${JSON.stringify(t)}`);
}

export function decimalType(precision: number, scale: number): PrimitiveType {
  return `decimal(${precision}, ${scale})`;
}

export function fixedType(length: number): PrimitiveType {
  return `fixed[${length}]`;
}

/** Validates a type from untrusted JSON (metadata files, REST bodies) and returns it typed. */
export function parseType(json: unknown, where = 'type'): IcebergType {
  if (typeof json === 'string') {
    primitiveInfo(json);
    return json;
  }
  if (json === null || typeof json !== 'object') {
    throw lakehouseError('UNKNOWN_TYPE', `${where}: expected a type, got ${JSON.stringify(json)}`);
  }
  const o = json as Record<string, unknown>;
  switch (o.type) {
    case 'struct': {
      if (!Array.isArray(o.fields)) throw lakehouseError('INVALID_METADATA', `${where}: struct without fields`);
      return { type: 'struct', fields: o.fields.map((f, i) => parseField(f, `${where}.fields[${i}]`)) };
    }
    case 'list':
      return {
        type: 'list',
        'element-id': requireInt(o['element-id'], `${where}.element-id`),
        element: parseType(o.element, `${where}.element`),
        'element-required': Boolean(o['element-required']),
      };
    case 'map':
      return {
        type: 'map',
        'key-id': requireInt(o['key-id'], `${where}.key-id`),
        key: parseType(o.key, `${where}.key`),
        'value-id': requireInt(o['value-id'], `${where}.value-id`),
        value: parseType(o.value, `${where}.value`),
        'value-required': Boolean(o['value-required']),
      };
    default:
      throw lakehouseError('UNKNOWN_TYPE', `${where}: unknown Iceberg type ${JSON.stringify(o.type)}`);
  }
}

export function parseField(json: unknown, where = 'field'): NestedField {
  if (json === null || typeof json !== 'object') throw lakehouseError('INVALID_METADATA', `${where}: expected a field object`);
  const o = json as Record<string, unknown>;
  if (typeof o.name !== 'string') throw lakehouseError('INVALID_METADATA', `${where}: field without a name`);
  const field: NestedField = {
    id: requireInt(o.id, `${where}.id`),
    name: o.name,
    required: Boolean(o.required),
    type: parseType(o.type, `${where} (${o.name})`),
  };
  if (typeof o.doc === 'string') field.doc = o.doc;
  if ('initial-default' in o) field['initial-default'] = o['initial-default'];
  if ('write-default' in o) field['write-default'] = o['write-default'];
  return field;
}

function requireInt(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw lakehouseError('INVALID_METADATA', `${where}: expected an integer, got ${JSON.stringify(v)}`);
}

/** Children of a nested type as (id, name, type, required) — the unit of field-id indexing. */
export function childFields(t: IcebergType): NestedField[] {
  if (isStruct(t)) return t.fields;
  if (isList(t)) return [{ id: t['element-id'], name: 'element', required: t['element-required'], type: t.element }];
  if (isMap(t)) {
    return [
      { id: t['key-id'], name: 'key', required: true, type: t.key },
      { id: t['value-id'], name: 'value', required: t['value-required'], type: t.value },
    ];
  }
  return [];
}

/**
 * Type promotion allowed by schema evolution (spec "Schema Evolution"): int→long, float→double,
 * decimal(P,S)→decimal(P',S) with P' ≥ P.
 */
export function canPromote(from: IcebergType, to: IcebergType): boolean {
  if (!isPrimitive(from) || !isPrimitive(to)) return false;
  if (from === to) return true;
  if (from === 'int' && to === 'long') return true;
  if (from === 'float' && to === 'double') return true;
  if (from === 'date' && (to === 'timestamp' || to === 'timestamp_ns')) return true;
  const a = primitiveInfo(from);
  const b = primitiveInfo(to);
  return a.kind === 'decimal' && b.kind === 'decimal' && a.scale === b.scale && b.precision! >= a.precision!;
}

export function typeToString(t: IcebergType): string {
  if (isPrimitive(t)) return t;
  if (isStruct(t)) return `struct<${t.fields.map((f) => `${f.name}: ${typeToString(f.type)}`).join(', ')}>`;
  if (isList(t)) return `list<${typeToString(t.element)}>`;
  return `map<${typeToString(t.key)}, ${typeToString(t.value)}>`;
}
