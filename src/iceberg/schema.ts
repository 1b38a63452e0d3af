import { lakehouseError } from '../core/errors.js';
import { childFields, isPrimitive, parseField, type IcebergType, type NestedField, type StructType } from './types.js';

/** A table schema in its JSON shape (spec "Schemas"). */
export interface Schema extends StructType {
  'schema-id': number;
  'identifier-field-ids'?: number[];
}

export function parseSchema(json: unknown, where = 'schema'): Schema {
  if (json === null || typeof json !== 'object') throw lakehouseError('INVALID_METADATA', `${where}: expected an object`);
  const o = json as Record<string, unknown>;
  if (!Array.isArray(o.fields)) throw lakehouseError('INVALID_METADATA', `${where}: missing fields`);
  const schema: Schema = {
    type: 'struct',
    'schema-id': typeof o['schema-id'] === 'number' ? o['schema-id'] : 0,
    fields: o.fields.map((f, i) => parseField(f, `${where}.fields[${i}]`)),
  };
  if (Array.isArray(o['identifier-field-ids'])) schema['identifier-field-ids'] = o['identifier-field-ids'] as number[];
  return schema;
}

export interface IndexedField {
  field: NestedField;
  /** Dotted full name, e.g. `location.lat` or `tags.element`. */
  path: string;
  parentId: number | null;
}

/** Every field of a schema by id, including list elements and map keys/values. */
export function indexById(schema: StructType): Map<number, IndexedField> {
  const out = new Map<number, IndexedField>();
  const visit = (t: IcebergType, prefix: string, parentId: number | null) => {
    for (const f of childFields(t)) {
      const path = prefix ? `${prefix}.${f.name}` : f.name;
      if (out.has(f.id)) throw lakehouseError('INVALID_METADATA', `duplicate field id ${f.id} (${path})`);
      out.set(f.id, { field: f, path, parentId });
      if (!isPrimitive(f.type)) visit(f.type, path, f.id);
    }
  };
  visit(schema, '', null);
  return out;
}

/** Field id by dotted name; case-sensitive unless asked otherwise. */
export function findFieldByName(schema: StructType, name: string, caseSensitive = true): NestedField | undefined {
  const want = caseSensitive ? name : name.toLowerCase();
  for (const { field, path } of indexById(schema).values()) {
    if ((caseSensitive ? path : path.toLowerCase()) === want) return field;
  }
  return undefined;
}

export function findFieldById(schema: StructType, id: number): NestedField | undefined {
  return indexById(schema).get(id)?.field;
}

export function highestFieldId(schema: StructType): number {
  let max = 0;
  for (const id of indexById(schema).keys()) max = Math.max(max, id);
  return max;
}
