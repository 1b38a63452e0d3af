import { isPrimitive, childFields, type StructType } from './types.js';

/**
 * Name mapping (spec "Column Projection" / "Name Mapping Serialization"): maps column names in
 * files written without field ids to field ids. Stored as JSON in `schema.name-mapping.default`.
 */
export interface MappedField {
  'field-id'?: number;
  names: string[];
  fields?: MappedField[];
}

export type NameMapping = MappedField[];

export function parseNameMapping(json: string): NameMapping {
  const parsed = JSON.parse(json) as unknown;
  if (!Array.isArray(parsed)) throw new Error('name mapping must be a JSON array');
  return parsed as NameMapping;
}

/** A name mapping equivalent to the schema's own names, used when a table has none. */
export function nameMappingFromSchema(schema: StructType): NameMapping {
  const visit = (t: StructType | import('./types.js').IcebergType): MappedField[] =>
    childFields(t).map((f) => {
      const m: MappedField = { 'field-id': f.id, names: [f.name] };
      if (!isPrimitive(f.type)) m.fields = visit(f.type);
      return m;
    });
  return visit(schema);
}

/** Field id for a column name among the mapping's fields at one nesting level. */
export function mappedId(fields: MappedField[] | undefined, name: string): MappedField | undefined {
  return fields?.find((f) => f.names.includes(name));
}
