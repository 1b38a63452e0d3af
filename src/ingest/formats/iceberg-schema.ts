/**
 * A registered record schema → the Iceberg schema of a table created for it. Decoded records (see
 * avro.ts, json-schema.ts) then map onto it column by column, by name.
 *
 * Avro (as the Iceberg spec's Avro type mapping, read direction): record → struct, array → list,
 * map → map<string, …>, enum → string, bytes and fixed(n) → binary (this lakehouse cannot write
 * fixed[n]), and the logical types
 * date, time-*, timestamp-* (UTC-adjusted → timestamptz), local-timestamp-* → timestamp (both in
 * microseconds: nanosecond types need format v3), decimal,
 * uuid. A union of null and one type is that type, optional; anything not nullable is required.
 * Other unions have no Iceberg type and are refused.
 *
 * JSON Schema: object with properties → struct (required = in `required` and not nullable), object
 * with only `additionalProperties: {schema}` → map, array → list, integer → long, number → double,
 * string (format date / date-time / time / uuid → date / timestamptz / time / uuid), boolean;
 * `type: [X, "null"]` and `anyOf`/`oneOf` of X and null are optional X; local `$ref`s are followed.
 *
 * Field ids are fresh: a struct's fields take consecutive ids, then their children (like Iceberg's
 * assignFreshIds), starting at 1.
 */
import avro from 'avsc';
import { lakehouseError } from '../../core/errors.js';
import type { Schema } from '../../iceberg/schema.js';
import { decimalType, type IcebergType, type NestedField } from '../../iceberg/types.js';
import { baseName, LakehouseLogical } from './avro.js';

type Type = avro.Type;

/** A type with its nullability, before field ids are assigned. */
interface Draft {
  type: string | { struct: DraftField[] } | { list: Draft } | { map: Draft };
  optional: boolean;
}
interface DraftField {
  name: string;
  draft: Draft;
  doc?: string;
}

function unsupported(path: string, why: string): never {
  throw lakehouseError('VALIDATION_FAILED', `${path || 'schema'}: ${why}; declare the table schema instead`, { reason: 'unsupported-schema' });
}

const LOGICAL_ICEBERG: Record<string, string> = {
  date: 'date',
  'time-millis': 'time',
  'time-micros': 'time',
  'timestamp-millis': 'timestamptz',
  'timestamp-micros': 'timestamptz',
  // Nanosecond types need table format v3; tables are created as v2, so microseconds it is.
  'timestamp-nanos': 'timestamptz',
  'local-timestamp-millis': 'timestamp',
  'local-timestamp-micros': 'timestamp',
  'local-timestamp-nanos': 'timestamp',
  uuid: 'uuid',
};

function avroDraft(t: Type, path: string, stack: Set<Type>): Draft {
  if (t instanceof LakehouseLogical) {
    if (t.logical === 'decimal' && t.precision > 38) unsupported(path, `decimal precision ${t.precision} exceeds Iceberg's 38`);
    if (t.logical === 'decimal') return { type: decimalType(t.precision, t.scale), optional: false };
    return { type: LOGICAL_ICEBERG[t.logical], optional: false };
  }
  switch (baseName(t)) {
    case 'boolean':
    case 'int':
    case 'long':
    case 'float':
    case 'double':
    case 'string':
      return { type: baseName(t), optional: false };
    case 'bytes':
      return { type: 'binary', optional: false };
    case 'fixed':
      // Not fixed[n]: DuckDB cannot write FIXED_LEN_BYTE_ARRAY, so such a table could not be written.
      return { type: 'binary', optional: false };
    case 'enum':
      return { type: 'string', optional: false };
    case 'record':
    case 'error': {
      if (stack.has(t)) unsupported(path, `recursive record ${t.name}`);
      stack.add(t);
      const fields = (t as avro.types.RecordType).fields.map((f) => ({ name: f.name, draft: avroDraft(f.type, path ? `${path}.${f.name}` : f.name, stack) }));
      stack.delete(t);
      return { type: { struct: fields }, optional: false };
    }
    case 'array':
      return { type: { list: avroDraft((t as avro.types.ArrayType).itemsType, `${path}[]`, stack) }, optional: false };
    case 'map':
      return { type: { map: avroDraft((t as avro.types.MapType).valuesType as Type, `${path}{}`, stack) }, optional: false };
    case 'union:wrapped':
    case 'union:unwrapped': {
      const branches = (t as avro.types.WrappedUnionType).types;
      const some = branches.filter((b) => b.typeName !== 'null');
      if (some.length !== 1) {
        unsupported(path, `union ${JSON.stringify(branches.map((b) => b.branchName))} has no Iceberg type (only a union of null and one type does)`);
      }
      return { ...avroDraft(some[0], path, stack), optional: some.length < branches.length };
    }
    default:
      return unsupported(path, `Avro type ${t.typeName} has no Iceberg type`);
  }
}

/** The Iceberg schema for a compiled Avro record schema (see compileAvro). */
export function avroToIceberg(type: Type): Schema {
  if (type.typeName !== 'record') unsupported('', `the value schema is an Avro ${type.typeName}, not a record`);
  return toSchema(avroDraft(type, '', new Set()));
}

type Json = Record<string, unknown>;

/** Follows a local `$ref` (`#/...` JSON pointer) within `root`. */
function deref(root: Json, s: Json, path: string): Json {
  let cur = s;
  for (let hops = 0; typeof cur.$ref === 'string'; hops++) {
    const ref = cur.$ref;
    if (hops > 32) unsupported(path, `$ref chain too long at ${ref}`);
    if (!ref.startsWith('#')) unsupported(path, `$ref ${ref} is not local to the schema`);
    let target: unknown = root;
    for (const part of ref.slice(1).split('/').filter(Boolean)) {
      const key = decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~');
      target = target !== null && typeof target === 'object' ? (target as Json)[key] : undefined;
    }
    if (target === null || typeof target !== 'object') unsupported(path, `$ref ${ref} points nowhere`);
    cur = target as Json;
  }
  return cur;
}

const STRING_FORMATS: Record<string, string> = { date: 'date', 'date-time': 'timestamptz', time: 'time', uuid: 'uuid' };

function jsonDraft(root: Json, raw: unknown, path: string, depth: number): Draft {
  if (depth > 64) unsupported(path, 'schema nests too deep (recursive $ref?)');
  if (raw === null || typeof raw !== 'object') unsupported(path, 'a boolean or empty schema has no Iceberg type');
  const s = deref(root, raw as Json, path);
  for (const key of ['anyOf', 'oneOf'] as const) {
    const alts = s[key];
    if (Array.isArray(alts)) {
      const isNull = (a: unknown) => a !== null && typeof a === 'object' && (deref(root, a as Json, path) as Json).type === 'null';
      const some = alts.filter((a) => !isNull(a));
      if (some.length !== 1) unsupported(path, `${key} of ${alts.length} schemas has no Iceberg type (only X or null does)`);
      return { ...jsonDraft(root, some[0], path, depth + 1), optional: some.length < alts.length };
    }
  }
  let types = Array.isArray(s.type) ? (s.type as unknown[]).map(String) : typeof s.type === 'string' ? [s.type] : [];
  if (types.length === 0) {
    if (Array.isArray(s.enum) && s.enum.every((e) => typeof e === 'string')) types = ['string'];
    else if (typeof s.const === 'string') types = ['string'];
    else if (s.properties) types = ['object'];
    else if (s.items) types = ['array'];
  }
  const some = types.filter((t) => t !== 'null');
  const optional = some.length < types.length;
  if (some.length !== 1) unsupported(path, `type ${JSON.stringify(s.type ?? null)} has no Iceberg type (one type, optionally with null, does)`);
  const draft = (type: Draft['type']): Draft => ({ type, optional });
  switch (some[0]) {
    case 'boolean':
      return draft('boolean');
    case 'integer':
      return draft('long');
    case 'number':
      return draft('double');
    case 'string': {
      if (s.contentEncoding === 'base64') return draft('binary');
      const f = typeof s.format === 'string' ? STRING_FORMATS[s.format] : undefined;
      return draft(f ?? 'string');
    }
    case 'array': {
      if (s.items === undefined || Array.isArray(s.items)) unsupported(path, 'an array needs one `items` schema');
      return draft({ list: jsonDraft(root, s.items, `${path}[]`, depth + 1) });
    }
    case 'object': {
      const props = (s.properties ?? {}) as Json;
      if (Object.keys(props).length === 0) {
        const ap = s.additionalProperties;
        if (ap !== null && typeof ap === 'object') return draft({ map: jsonDraft(root, ap, `${path}{}`, depth + 1) });
        unsupported(path, 'an object without properties (free-form) has no Iceberg type');
      }
      const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
      const fields = Object.entries(props).map(([name, p]) => {
        const d = jsonDraft(root, p, path ? `${path}.${name}` : name, depth + 1);
        const doc = p !== null && typeof p === 'object' && typeof (p as Json).description === 'string' ? ((p as Json).description as string) : undefined;
        return { name, draft: { ...d, optional: d.optional || !required.has(name) }, doc };
      });
      return draft({ struct: fields });
    }
    default:
      return unsupported(path, `JSON type ${some[0]} has no Iceberg type`);
  }
}

/** The Iceberg schema for a JSON Schema describing an object. */
export function jsonSchemaToIceberg(schema: unknown): Schema {
  if (schema === null || typeof schema !== 'object') unsupported('', 'the value schema is not an object schema');
  const d = jsonDraft(schema as Json, schema, '', 0);
  if (typeof d.type !== 'object' || !('struct' in d.type)) unsupported('', 'the value schema does not describe an object with properties');
  return toSchema(d);
}

/** Assigns ids: a struct's fields first, then each field's children. */
function toSchema(root: Draft): Schema {
  let id = 0;
  const next = () => ++id;
  const build = (d: Draft): IcebergType => {
    const t = d.type;
    if (typeof t === 'string') return t;
    if ('struct' in t) {
      const ids = t.struct.map(() => next());
      return {
        type: 'struct',
        fields: t.struct.map((f, i): NestedField => {
          const out: NestedField = { id: ids[i], name: f.name, required: !f.draft.optional, type: build(f.draft) };
          if (f.doc) out.doc = f.doc;
          return out;
        }),
      };
    }
    if ('list' in t) {
      const eid = next();
      return { type: 'list', 'element-id': eid, element: build(t.list), 'element-required': !t.list.optional };
    }
    const kid = next();
    const vid = next();
    return { type: 'map', 'key-id': kid, key: 'string', 'value-id': vid, value: build(t.map), 'value-required': !t.map.optional };
  };
  const struct = build(root);
  if (typeof struct !== 'object' || struct.type !== 'struct') throw new Error('unreachable: root is a struct');
  return { type: 'struct', 'schema-id': 0, fields: struct.fields };
}
