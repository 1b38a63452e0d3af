import { lakehouseError } from '../core/errors.js';
import { findFieldByName, indexById, type IndexedField } from './schema.js';
import {
  applyTransform, canTransform, parseTransform, transformResultType, transformToString, transformedValueToHumanString, type Transform,
} from './transforms.js';
import { isList, isMap, isPrimitive, type IcebergType, type StructType } from './types.js';
import type { IcebergValue, PartitionTuple } from './values.js';

/** Partition specs in their JSON shape (spec "Partitioning", Appendix C "Partition Specs"). */
export interface PartitionField {
  'source-id': number;
  'field-id': number;
  name: string;
  transform: string;
  /** Only for multi-argument transforms (v3); preserved so such metadata round-trips. */
  'source-ids'?: number[];
}

export interface PartitionSpec {
  'spec-id': number;
  fields: PartitionField[];
}

/** v1 specs had no field ids; the reference implementation numbered them from 1000 (Appendix C). */
export const PARTITION_DATA_ID_START = 1000;

export const UNPARTITIONED_SPEC: PartitionSpec = Object.freeze({ 'spec-id': 0, fields: Object.freeze([]) as unknown as PartitionField[] });

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/**
 * Parses a spec object, or a bare field list (the deprecated v1 `partition-spec`); fields without
 * `field-id` (v1) are numbered from PARTITION_DATA_ID_START in order.
 */
export function parsePartitionSpec(json: unknown, where = 'partition-spec'): PartitionSpec {
  const invalid = (msg: string) => lakehouseError('INVALID_METADATA', `${where}: ${msg}`);
  const o = (Array.isArray(json) ? { 'spec-id': 0, fields: json } : json) as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object') throw invalid('expected an object');
  if (!Array.isArray(o.fields)) throw invalid('missing fields');
  const specId = o['spec-id'] === undefined ? 0 : o['spec-id'];
  if (!isInt(specId)) throw invalid(`spec-id must be an integer, got ${JSON.stringify(specId)}`);
  const fields = o.fields.map((raw, i): PartitionField => {
    const at = `fields[${i}]`;
    if (raw === null || typeof raw !== 'object') throw invalid(`${at}: expected an object`);
    const f = raw as Record<string, unknown>;
    const ids = f['source-ids'];
    const multi = Array.isArray(ids) && ids.length > 0 && ids.every(isInt) ? (ids as number[]) : undefined;
    const sourceId = isInt(f['source-id']) ? f['source-id'] : multi?.[0];
    if (sourceId === undefined) throw invalid(`${at}: missing source-id`);
    if (typeof f.name !== 'string') throw invalid(`${at}: missing name`);
    if (typeof f.transform !== 'string') throw invalid(`${at}: missing transform`);
    try {
      parseTransform(f.transform);
    } catch (e) {
      throw lakehouseError('INVALID_METADATA', `${where}.${at}: ${(e as Error).message}`, {}, e);
    }
    const fieldId = f['field-id'] === undefined ? PARTITION_DATA_ID_START + i : f['field-id'];
    if (!isInt(fieldId)) throw invalid(`${at}: field-id must be an integer`);
    const field: PartitionField = { 'source-id': sourceId, 'field-id': fieldId, name: f.name, transform: f.transform };
    if (multi && multi.length > 1) field['source-ids'] = multi;
    return field;
  });
  return { 'spec-id': specId, fields };
}

/** No fields, or only `void` ones (a v1 spec whose fields were all dropped). */
export function isUnpartitioned(spec: PartitionSpec): boolean {
  return spec.fields.every((f) => parseTransform(f.transform).kind === 'void');
}

/**
 * Source type of a partition field; `unknown` when the column was dropped, as Java does, so
 * transforms with a fixed result type still yield a usable partition type.
 */
function sourceTypeOf(index: Map<number, IndexedField>, f: PartitionField): IcebergType {
  return index.get(f['source-id'])?.field.type ?? 'unknown';
}

/** The partition tuple's struct type: optional fields whose ids are the partition field ids. */
export function partitionType(spec: PartitionSpec, schema: StructType): StructType {
  const index = indexById(schema);
  return {
    type: 'struct',
    fields: spec.fields.map((f) => ({
      id: f['field-id'],
      name: f.name,
      required: false,
      type: transformResultType(parseTransform(f.transform), sourceTypeOf(index, f)),
    })),
  };
}

/** Computes the partition tuple of one row, given its values by source field id. */
export function computePartition(
  spec: PartitionSpec,
  schema: StructType,
  row: Map<number, IcebergValue> | ((fieldId: number) => IcebergValue),
): PartitionTuple {
  const index = indexById(schema);
  const get = typeof row === 'function' ? row : (id: number) => row.get(id) ?? null;
  return spec.fields.map((f) => {
    const t = parseTransform(f.transform);
    const source = index.get(f['source-id']);
    if (!source) {
      if (t.kind === 'void') return null;
      throw lakehouseError('VALIDATION_FAILED', `partition field ${f.name}: source field ${f['source-id']} is not in the schema`);
    }
    return applyTransform(t, source.field.type, get(f['source-id']) ?? null);
  });
}

/** `URLEncoder.encode(s, UTF_8)`, as Java escapes partition path segments. */
function escapePathSegment(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
    .replace(/%20/g, '+');
}

/** Hive-style `name=value/name=value` (no trailing slash), as Java's `PartitionSpec.partitionToPath`. */
export function partitionPath(spec: PartitionSpec, schema: StructType, tuple: PartitionTuple): string {
  const index = indexById(schema);
  return spec.fields
    .map((f, i) => {
      const human = transformedValueToHumanString(parseTransform(f.transform), sourceTypeOf(index, f), tuple[i] ?? null);
      return `${escapePathSegment(f.name)}=${escapePathSegment(human)}`;
    })
    .join('/');
}

// ---------------------------------------------------------------------------------------------
// Building specs from user expressions

export interface PartitionExpression {
  transform: Transform;
  column: string;
  /** Set by `expr AS name`. */
  name?: string;
}

const FN_ALIASES: Record<string, Transform['kind']> = {
  identity: 'identity', bucket: 'bucket', truncate: 'truncate', void: 'void',
  year: 'year', years: 'year', month: 'month', months: 'month', day: 'day', days: 'day', hour: 'hour', hours: 'hour',
};

function unquote(s: string): string {
  const t = s.trim();
  return /^(`[^`]*`|"[^"]*")$/.test(t) ? t.slice(1, -1) : t;
}

/** Parses `day(ts)`, `bucket(16, id)`, `truncate(4, name)`, `identity(x)`, bare `x`, each optionally `AS alias`. */
export function parsePartitionExpression(expr: string): PartitionExpression {
  const fail = (why: string) => lakehouseError('VALIDATION_FAILED', `invalid partition expression ${JSON.stringify(expr)}: ${why}`);
  let text = expr.trim();
  let name: string | undefined;
  const alias = /^(.*\S)\s+as\s+(`[^`]+`|"[^"]+"|[^\s`"]+)$/is.exec(text);
  if (alias) {
    text = alias[1];
    name = unquote(alias[2]);
  }
  const call = /^(\w+)\s*\(([\s\S]*)\)$/.exec(text);
  if (!call) {
    if (!text || /[()]/.test(text)) throw fail('expected a column or transform(column)');
    return { transform: { kind: 'identity' }, column: unquote(text), name };
  }
  const kind = FN_ALIASES[call[1].toLowerCase()];
  if (!kind) throw fail(`unknown transform ${call[1]}`);
  const args = call[2].match(/`[^`]*`|"[^"]*"|[^,]+/g)?.map((a) => a.trim()).filter((a) => a !== '') ?? [];
  if (kind === 'bucket' || kind === 'truncate') {
    // Spark writes bucket(16, id) and truncate(id, 4) alike; take whichever argument is a number.
    const n = args.findIndex((a) => /^\d+$/.test(a));
    if (args.length !== 2 || n < 0) throw fail(`${kind} takes a number and a column`);
    const param = Number(args[n]);
    const transform = parseTransform(`${kind}[${param}]`);
    return { transform, column: unquote(args[1 - n]), name };
  }
  if (args.length !== 1) throw fail(`${kind} takes exactly one column`);
  return { transform: { kind } as Transform, column: unquote(args[0]), name };
}

/**
 * Default partition field names, as Java's `UpdatePartitionSpec` and pyiceberg name them
 * (`id_bucket_16`, `name_trunc_4`, `ts_day`, `x_null`, identity → the column). Java's
 * `PartitionSpec.Builder` omits the parameter (`id_bucket`); keeping it avoids collisions when a
 * spec evolves from, say, bucket[16] to bucket[32] on the same column.
 */
export function defaultPartitionFieldName(t: Transform, sourceName: string): string {
  switch (t.kind) {
    case 'identity': return sourceName;
    case 'bucket': return `${sourceName}_bucket_${t.numBuckets}`;
    case 'truncate': return `${sourceName}_trunc_${t.width}`;
    case 'void': return `${sourceName}_null`;
    case 'unknown': throw lakehouseError('VALIDATION_FAILED', `cannot partition by unknown transform ${t.text}`);
    default: return `${sourceName}_${t.kind}`;
  }
}

export interface BuildPartitionSpecOptions {
  specId?: number;
  /** The table's `last-partition-id`; new field ids start after it. */
  lastPartitionId?: number;
  /** Earlier specs: a field with the same source and transform keeps its field id (spec "Partitioning"). */
  existingSpecs?: PartitionSpec[];
  caseSensitive?: boolean;
}

/** Builds a spec from expressions against a schema, validating them as Java's builder does. */
export function buildPartitionSpec(
  schema: StructType,
  exprs: Array<string | PartitionExpression>,
  opts: BuildPartitionSpecOptions = {},
): PartitionSpec {
  const index = indexById(schema);
  let lastId = Math.max(opts.lastPartitionId ?? PARTITION_DATA_ID_START - 1, lastPartitionId(opts.existingSpecs ?? []));
  const fields: PartitionField[] = [];
  const names = new Set<string>();
  const dedup = new Set<string>();

  for (const e of exprs) {
    const { transform: t, column, name: alias } = typeof e === 'string' ? parsePartitionExpression(e) : e;
    const fail = (why: string) => lakehouseError('VALIDATION_FAILED', `cannot partition by ${transformToString(t)}(${column}): ${why}`);
    const source = findFieldByName(schema, column, opts.caseSensitive ?? true);
    if (!source) throw fail('no such column');
    const indexed = index.get(source.id)!;
    // Source columns must be primitive and may be nested in structs only (spec "Partitioning").
    if (!isPrimitive(source.type)) throw fail('source column must be a primitive type');
    for (let p = indexed.parentId; p !== null; p = index.get(p)!.parentId) {
      const pt = index.get(p)!.field.type;
      if (isList(pt) || isMap(pt)) throw fail('source column cannot be inside a list or map');
    }
    if (!canTransform(t, source.type)) throw fail(`transform does not apply to type ${source.type}`);

    const name = alias ?? defaultPartitionFieldName(t, indexed.path);
    if (!name) throw fail('empty partition name');
    if (names.has(name)) throw fail(`partition name ${name} is used more than once`);
    // A partition name may shadow a column only when it is that column's identity (or void) field.
    const clash = findFieldByName(schema, name, opts.caseSensitive ?? true);
    if (clash && ((t.kind !== 'identity' && t.kind !== 'void') || clash.id !== source.id)) {
      throw fail(`partition name ${name} conflicts with a schema column`);
    }
    if (t.kind !== 'void') {
      // Temporal transforms of one column are redundant with each other (Java's dedup name "time").
      const isTime = t.kind === 'year' || t.kind === 'month' || t.kind === 'day' || t.kind === 'hour';
      const key = `${source.id}:${isTime ? 'time' : transformToString(t)}`;
      if (dedup.has(key)) throw fail('redundant with another partition field on the same column');
      dedup.add(key);
    }
    names.add(name);

    const transform = transformToString(t);
    const reused = opts.existingSpecs
      ?.flatMap((s) => s.fields)
      .find((f) => f['source-id'] === source.id && f.transform === transform && !fields.some((x) => x['field-id'] === f['field-id']));
    const fieldId = reused ? reused['field-id'] : ++lastId;
    fields.push({ 'source-id': source.id, 'field-id': fieldId, name, transform });
  }
  return { 'spec-id': opts.specId ?? 0, fields };
}

/** Highest partition field id in use, for `last-partition-id`. */
export function lastPartitionId(specs: PartitionSpec[]): number {
  return Math.max(PARTITION_DATA_ID_START - 1, ...specs.flatMap((s) => s.fields.map((f) => f['field-id'])));
}
