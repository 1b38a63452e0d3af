import { isList, isMap, isPrimitive, isStruct, primitiveInfo, type IcebergType, type NestedField } from '../iceberg/types.js';
import { mappedId, type MappedField } from '../iceberg/name-mapping.js';
import type { ParquetNode } from './parquet-schema.js';
import { duckType } from './types.js';
import { ident, str } from './db.js';

/**
 * Column projection by field id (spec "Column Projection"): builds, for one Parquet file, the SQL
 * expression of every requested Iceberg field. Columns are matched by field id — never by name —
 * so renamed, reordered and dropped columns read correctly; files written without ids are matched
 * through the table's name mapping. A field the file lacks takes, in order: the identity-partition
 * value from the manifest, the field's `initial-default`, or NULL.
 */
export interface ProjectionOptions {
  /** SQL literal per top-level field id, used only when the file lacks that column. */
  constants?: Map<number, string>;
  /** SQL literal of each field's initial-default, by field id (any nesting level). */
  defaults?: Map<number, string>;
  /** Name mapping used when the file carries no field ids. */
  nameMapping?: MappedField[];
}

export interface ProjectedColumn {
  field: NestedField;
  sql: string;
}

export function projectFile(fields: NestedField[], root: ParquetNode, srcAlias: string, opts: ProjectionOptions = {}): ProjectedColumn[] {
  const byName = !hasFieldIds(root);
  const ctx: Ctx = { byName, opts, depth: 0 };
  return fields.map((field) => {
    const child = findChild(root, field, byName ? opts.nameMapping : undefined, byName);
    if (!child) {
      const constant = opts.constants?.get(field.id);
      return { field, sql: constant ?? defaultFor(field, opts) };
    }
    return { field, sql: project(`${srcAlias}.${ident(child.node.name)}`, child.node, field.type, child.mapping?.fields, ctx) };
  });
}

interface Ctx {
  byName: boolean;
  opts: ProjectionOptions;
  depth: number;
}

function hasFieldIds(root: ParquetNode): boolean {
  return root.children.some((c) => c.fieldId !== null);
}

function findChild(
  group: ParquetNode,
  field: NestedField,
  mapping: MappedField[] | undefined,
  byName: boolean,
): { node: ParquetNode; mapping?: MappedField } | undefined {
  if (!byName) {
    const node = group.children.find((c) => c.fieldId === field.id);
    return node ? { node } : undefined;
  }
  for (const node of group.children) {
    const m = mappedId(mapping, node.name);
    if (m && m['field-id'] === field.id) return { node, mapping: m };
  }
  return undefined;
}

function defaultFor(field: NestedField, opts: ProjectionOptions): string {
  return opts.defaults?.get(field.id) ?? `CAST(NULL AS ${duckType(field.type)})`;
}

function project(expr: string, node: ParquetNode, type: IcebergType, mapping: MappedField[] | undefined, ctx: Ctx): string {
  if (isPrimitive(type)) return castLeaf(expr, node, type);
  const inner: Ctx = { ...ctx, depth: ctx.depth + 1 };
  if (isStruct(type)) {
    const parts = type.fields.map((f) => {
      const child = findChild(node, f, mapping, ctx.byName);
      const value = child
        ? project(`struct_extract(${expr}, ${str(child.node.name)})`, child.node, f.type, child.mapping?.fields, inner)
        : defaultFor(f, ctx.opts);
      return `${ident(f.name)} := ${value}`;
    });
    return `CASE WHEN ${expr} IS NULL THEN NULL ELSE struct_pack(${parts.join(', ')}) END`;
  }
  const v = `x${ctx.depth}`;
  if (isList(type)) {
    const element = listElement(node);
    const elemMapping = mapping?.find((m) => m['field-id'] === type['element-id']) ?? mapping?.[0];
    const body = project(v, element, type.element, elemMapping?.fields, inner);
    return `list_transform(${expr}, lambda ${v}: ${body})`;
  }
  if (isMap(type)) {
    const kv = node.children[0];
    const [keyNode, valueNode] = kv.children;
    const keyMap = mapping?.find((m) => m['field-id'] === type['key-id']);
    const valueMap = mapping?.find((m) => m['field-id'] === type['value-id']);
    const k = project(`${v}.key`, keyNode, type.key, keyMap?.fields, inner);
    const val = valueNode ? project(`${v}.value`, valueNode, type.value, valueMap?.fields, inner) : `CAST(NULL AS ${duckType(type.value)})`;
    return `map_from_entries(list_transform(map_entries(${expr}), lambda ${v}: {'key': ${k}, 'value': ${val}}))`;
  }
  return expr;
}

/** The element node of a Parquet LIST (3-level standard layout, or legacy 2-level). */
function listElement(node: ParquetNode): ParquetNode {
  const rep = node.children[0];
  if (rep && rep.children.length === 1 && rep.name !== 'array' && rep.name !== `${node.name}_tuple`) return rep.children[0];
  return rep;
}

function isStringLike(node: ParquetNode): boolean {
  const l = node.logicalType ?? '';
  return l.includes('String') || l.includes('Enum') || l.includes('Json') || node.convertedType === 'UTF8' || node.convertedType === 'ENUM' || node.convertedType === 'JSON';
}

function castLeaf(expr: string, node: ParquetNode, type: string): string {
  const kind = primitiveInfo(type).kind;
  const phys = node.physicalType;
  // DuckDB reads BYTE_ARRAY without a String annotation as BLOB; Iceberg strings are UTF-8.
  if (kind === 'string' && phys === 'BYTE_ARRAY' && !isStringLike(node)) return `decode(${expr})`;
  if ((kind === 'binary' || kind === 'fixed') && isStringLike(node)) return `encode(${expr})`;
  if (kind === 'uuid' && phys === 'FIXED_LEN_BYTE_ARRAY' && !(node.logicalType ?? '').includes('UUID')) {
    return `CAST(regexp_replace(lower(hex(${expr})), '^(.{8})(.{4})(.{4})(.{4})(.{12})$', '\\1-\\2-\\3-\\4-\\5') AS UUID)`;
  }
  return `CAST(${expr} AS ${duckType(type)})`;
}
