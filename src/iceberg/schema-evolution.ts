import { lakehouseError, type LakehouseError } from '../core/errors.js';
import type { TableMetadata } from './metadata.js';
import type { PartitionSpec } from './partition.js';
import type { Schema } from './schema.js';
import type { SortOrder } from './sort-order.js';
import {
  canPromote, childFields, isList, isMap, isPrimitive, isStruct, parseType, primitiveInfo, typeToString,
  type IcebergType, type ListType, type MapType, type NestedField, type PrimitiveType, type StructType,
} from './types.js';

/**
 * Schema evolution (spec "Schema Evolution"), modelled on Java's `SchemaUpdate`: every change is
 * resolved to a field id when it is requested and applied by id, so renames, moves and type
 * promotions never lose a column's identity. Names given to the methods refer to the schema the
 * update started from (as in Java), then to columns as they are now (added or renamed ones).
 */

/** A dotted column name (`a.b`, `tags.element`, `m.value.x`), or its name segments. */
export type FieldPath = string | string[];

export interface AddColumnOptions {
  doc?: string;
  /** A required column needs an initial default (the value rows written before it existed read as). */
  required?: boolean;
  /** JSON single-value form; also becomes the write default, as Java does. */
  initialDefault?: unknown;
}

export interface SchemaUpdateOptions {
  /** Id for the produced schema (the metadata builder assigns the final one anyway). */
  schemaId?: number;
  /** Specs whose source columns must not be deleted (the table's default spec). */
  partitionSpecs?: PartitionSpec[];
  /** Sort orders whose source columns must not be deleted (the table's default order). */
  sortOrders?: SortOrder[];
}

export interface SchemaUpdateResult {
  schema: Schema;
  lastColumnId: number;
}

function fail(message: string): LakehouseError {
  return lakehouseError('VALIDATION_FAILED', message);
}

// ---------------------------------------------------------------------------------------------
// Fresh ids

/**
 * Gives every field of a type a fresh id from `nextId`, as Java's `TypeUtil.assignFreshIds`: a
 * struct numbers all of its own fields first, then descends into each field in order; a list
 * numbers its element, a map its key then value, before descending. `idMap` collects old → new.
 */
export function assignFreshIds<T extends IcebergType>(type: T, nextId: () => number, idMap?: Map<number, number>): T {
  if (isPrimitive(type)) return type;
  const t: IcebergType = type;
  if (isStruct(t)) {
    const ids = t.fields.map((f) => {
      const id = nextId();
      idMap?.set(f.id, id);
      return id;
    });
    return { ...t, fields: t.fields.map((f, i) => ({ ...f, id: ids[i], type: assignFreshIds(f.type, nextId, idMap) })) } as T;
  }
  if (isList(t)) {
    const elementId = nextId();
    idMap?.set(t['element-id'], elementId);
    return { ...t, 'element-id': elementId, element: assignFreshIds(t.element, nextId, idMap) } as T;
  }
  const m = type as MapType;
  const keyId = nextId();
  const valueId = nextId();
  idMap?.set(m['key-id'], keyId);
  idMap?.set(m['value-id'], valueId);
  return { ...m, 'key-id': keyId, 'value-id': valueId, key: assignFreshIds(m.key, nextId, idMap), value: assignFreshIds(m.value, nextId, idMap) } as T;
}

/**
 * A schema with ids 1..n (Java's `TypeUtil.assignFreshIds(schemaId, schema, ...)`); identifier
 * field ids follow their fields. Returns the old → new id map for remapping specs and orders.
 */
export function assignFreshSchemaIds(
  schema: Schema,
  schemaId = 0,
  startAfter = 0,
): { schema: Schema; lastColumnId: number; idMap: Map<number, number> } {
  let last = startAfter;
  const idMap = new Map<number, number>();
  const struct = assignFreshIds<StructType>({ type: 'struct', fields: schema.fields }, () => ++last, idMap);
  const out: Schema = { type: 'struct', 'schema-id': schemaId, fields: struct.fields };
  const ident = schema['identifier-field-ids'];
  if (ident && ident.length > 0) {
    out['identifier-field-ids'] = ident.map((id) => {
      const mapped = idMap.get(id);
      if (mapped === undefined) throw fail(`identifier field id ${id} is not a field of the schema`);
      return mapped;
    });
  }
  return { schema: out, lastColumnId: last, idMap };
}

// ---------------------------------------------------------------------------------------------
// Indexes

/** Where a field id lives inside a (mutable) struct tree. */
type Slot =
  | { kind: 'field'; id: number; parentId: number | null; struct: StructType; field: NestedField; path: string }
  | { kind: 'element'; id: number; parentId: number; list: ListType; path: string }
  | { kind: 'key' | 'value'; id: number; parentId: number; map: MapType; path: string };

function indexSlots(root: StructType): Map<number, Slot> {
  const out = new Map<number, Slot>();
  const visit = (t: IcebergType, prefix: string, parentId: number | null) => {
    const at = (name: string) => (prefix ? `${prefix}.${name}` : name);
    if (isStruct(t)) {
      for (const f of t.fields) {
        const path = at(f.name);
        out.set(f.id, { kind: 'field', id: f.id, parentId, struct: t, field: f, path });
        visit(f.type, path, f.id);
      }
    } else if (isList(t)) {
      const path = at('element');
      out.set(t['element-id'], { kind: 'element', id: t['element-id'], parentId: parentId!, list: t, path });
      visit(t.element, path, t['element-id']);
    } else if (isMap(t)) {
      const kp = at('key');
      const vp = at('value');
      out.set(t['key-id'], { kind: 'key', id: t['key-id'], parentId: parentId!, map: t, path: kp });
      out.set(t['value-id'], { kind: 'value', id: t['value-id'], parentId: parentId!, map: t, path: vp });
      visit(t.key, kp, t['key-id']);
      visit(t.value, vp, t['value-id']);
    }
  };
  visit(root, '', null);
  return out;
}

/**
 * Name → id, with Java's short names: a struct inside a list or map value is also reachable
 * without the `element` / `value` segment (`points.x` for `points.element.x`) when unambiguous.
 */
function indexNames(root: StructType): Map<string, number> {
  const canonical = new Map<string, number>();
  const short = new Map<string, number>();
  const visit = (t: IcebergType, full: string, brief: string) => {
    for (const f of childFields(t)) {
      const isWrapper = !isStruct(t); // element / key / value of a list or map
      const fullName = full ? `${full}.${f.name}` : f.name;
      const briefName = isWrapper && f.name !== 'key' ? brief : brief ? `${brief}.${f.name}` : f.name;
      canonical.set(fullName, f.id);
      if (briefName && briefName !== fullName) short.set(briefName, f.id);
      visit(f.type, fullName, briefName);
    }
  };
  visit(root, '', '');
  for (const [name, id] of short) if (!canonical.has(name)) canonical.set(name, id);
  return canonical;
}

function pathKey(path: FieldPath): string {
  return Array.isArray(path) ? path.join('.') : path;
}

function typeText(t: IcebergType): string {
  return typeToString(t);
}

function validateType(type: IcebergType, where: string): IcebergType {
  try {
    return parseType(type, where);
  } catch (e) {
    throw fail(`${where}: ${(e as Error).message}`);
  }
}

/** Duplicate names inside one struct make a schema ambiguous (Java: "multiple fields for name"). */
export function checkUniqueNames(struct: StructType, prefix = ''): void {
  const visit = (t: IcebergType, path: string) => {
    if (isStruct(t)) {
      const seen = new Set<string>();
      for (const f of t.fields) {
        const full = path ? `${path}.${f.name}` : f.name;
        if (seen.has(f.name)) throw fail(`Invalid schema: multiple fields for name ${full}`);
        seen.add(f.name);
      }
    }
    for (const f of childFields(t)) visit(f.type, path ? `${path}.${f.name}` : f.name);
  };
  visit(struct, prefix);
}

/**
 * Java's `Schema.validateIdentifierField`: identifier fields are required primitives (not float or
 * double) nested only in required structs.
 */
export function validateIdentifierFields(struct: StructType, ids: number[]): void {
  const slots = indexSlots(struct);
  for (const id of ids) {
    const slot = slots.get(id);
    if (!slot) throw fail(`Cannot add fieldId ${id} as an identifier field: field does not exist`);
    const name = slot.path;
    if (slot.kind !== 'field') throw fail(`Cannot add field ${name} as an identifier field: must not be nested in a list or map`);
    const f = slot.field;
    if (!isPrimitive(f.type)) throw fail(`Cannot add field ${name} as an identifier field: not a primitive type field`);
    if (!f.required) throw fail(`Cannot add field ${name} as an identifier field: not a required field`);
    if (f.type === 'float' || f.type === 'double') throw fail(`Cannot add field ${name} as an identifier field: must not be float or double field`);
    for (let p = slot.parentId; p !== null; ) {
      const parent = slots.get(p)!;
      if (parent.kind !== 'field' || !isStruct(parent.field.type)) {
        throw fail(`Cannot add field ${name} as an identifier field: must not be nested in ${parent.path}`);
      }
      if (!parent.field.required) {
        throw fail(`Cannot add field ${name} as an identifier field: must not be nested in an optional field ${parent.path}`);
      }
      p = parent.parentId;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SchemaUpdate

export class SchemaUpdate {
  private readonly base: Schema;
  private readonly baseNames: Map<string, number>;
  private readonly baseSlots: Map<number, Slot>;
  private readonly working: StructType;
  private readonly deletes = new Set<number>();
  private identifierIds: number[];
  private lastColumnId: number;
  private readonly opts: SchemaUpdateOptions;

  constructor(schema: Schema, lastColumnId: number, opts: SchemaUpdateOptions = {}) {
    this.base = schema;
    this.baseNames = indexNames(schema);
    this.baseSlots = indexSlots(schema);
    this.working = structuredClone({ type: 'struct', fields: schema.fields }) as StructType;
    this.identifierIds = [...(schema['identifier-field-ids'] ?? [])];
    this.lastColumnId = Math.max(lastColumnId, ...this.baseSlots.keys());
    this.opts = opts;
  }

  /** An update of the table's current schema, guarding the default spec's and sort order's sources. */
  static forTable(md: TableMetadata): SchemaUpdate {
    const current = md.schemas.find((s) => s['schema-id'] === md['current-schema-id']);
    if (!current) throw lakehouseError('INVALID_METADATA', `schema ${md['current-schema-id']} not found in table metadata`);
    return new SchemaUpdate(current, md['last-column-id'], {
      schemaId: Math.max(...md.schemas.map((s) => s['schema-id'])) + 1,
      partitionSpecs: md['partition-specs'].filter((s) => s['spec-id'] === md['default-spec-id']),
      sortOrders: md['sort-orders'].filter((o) => o['order-id'] === md['default-sort-order-id']),
    });
  }

  // --- resolution ---------------------------------------------------------------------------

  private slots(): Map<number, Slot> {
    return indexSlots(this.working);
  }

  /** Base names first (as Java), then current names (added / renamed columns), then deleted base names. */
  private resolve(path: FieldPath): number | undefined {
    const key = pathKey(path);
    const fromBase = this.baseNames.get(key);
    if (fromBase !== undefined && !this.deletes.has(fromBase)) return fromBase;
    const fromWorking = indexNames(this.working).get(key);
    if (fromWorking !== undefined) return fromWorking;
    return fromBase;
  }

  private pathOf(id: number): string {
    return this.slots().get(id)?.path ?? this.baseSlots.get(id)?.path ?? String(id);
  }

  private isDeleted(id: number): boolean {
    if (this.deletes.has(id)) return true;
    const slots = this.slots();
    for (let p = slots.get(id)?.parentId ?? null; p !== null; p = slots.get(p)?.parentId ?? null) {
      if (this.deletes.has(p)) return true;
    }
    return false;
  }

  /** Resolves a column an operation changes; `verb` words the error as Java does. */
  private target(path: FieldPath, verb: string): Slot {
    const id = this.resolve(path);
    const slot = id === undefined ? undefined : this.slots().get(id);
    if (id === undefined || !slot) throw fail(`Cannot ${verb} missing column: ${pathKey(path)}`);
    if (this.isDeleted(id)) throw fail(`Cannot ${verb} a column that will be deleted: ${slot.path}`);
    return slot;
  }

  // --- operations ---------------------------------------------------------------------------

  addColumn(parent: FieldPath | null, name: string, type: IcebergType, opts: AddColumnOptions = {}): this {
    if (typeof name !== 'string' || name === '') throw fail('Cannot add a column with an empty name');
    let struct: StructType;
    let fullName: string;
    if (parent === null || (Array.isArray(parent) && parent.length === 0)) {
      struct = this.working;
      fullName = name;
    } else {
      const parentId = this.resolve(parent);
      let slot = parentId === undefined ? undefined : this.slots().get(parentId);
      if (parentId === undefined || !slot) throw fail(`Cannot find parent struct: ${pathKey(parent)}`);
      if (this.isDeleted(parentId)) throw fail(`Cannot add to a column that will be deleted: ${pathKey(parent)}`);
      let t = slotType(slot);
      let containerPath = slot.path;
      // Columns go into a list's element struct or a map's value struct, as in Java.
      if (isList(t)) {
        slot = this.slots().get(t['element-id'])!;
        containerPath = slot.path;
        t = t.element;
      } else if (isMap(t)) {
        slot = this.slots().get(t['value-id'])!;
        containerPath = slot.path;
        t = t.value;
      }
      if (!isStruct(t)) throw fail(`Cannot add to non-struct column: ${pathKey(parent)}: ${typeText(t)}`);
      struct = t;
      fullName = `${containerPath}.${name}`;
    }
    const existing = struct.fields.find((f) => f.name === name && !this.deletes.has(f.id));
    if (existing) throw fail(`Cannot add column, name already exists: ${fullName}`);
    if (opts.required && opts.initialDefault === undefined) {
      throw fail(`Incompatible change: cannot add required column without a default value: ${fullName}`);
    }
    const checked = validateType(structuredClone(type), `type of new column ${fullName}`);
    const id = ++this.lastColumnId;
    const field: NestedField = {
      id,
      name,
      required: opts.required === true,
      type: assignFreshIds(checked, () => ++this.lastColumnId),
    };
    if (opts.doc !== undefined) field.doc = opts.doc;
    if (opts.initialDefault !== undefined) {
      field['initial-default'] = opts.initialDefault;
      field['write-default'] = opts.initialDefault;
    }
    struct.fields.push(field);
    return this;
  }

  renameColumn(path: FieldPath, newName: string): this {
    const slot = this.target(path, 'rename');
    if (typeof newName !== 'string' || newName === '') throw fail(`Cannot rename ${slot.path} to an empty name`);
    if (slot.kind !== 'field') throw fail(`Cannot rename ${slot.path}: list elements and map keys/values have fixed names`);
    slot.field.name = newName;
    return this;
  }

  deleteColumn(path: FieldPath): this {
    const id = this.resolve(path);
    const slot = id === undefined ? undefined : this.slots().get(id);
    if (id === undefined || !slot) throw fail(`Cannot delete missing column: ${pathKey(path)}`);
    if (slot.kind === 'element') throw fail(`Cannot delete element type from list: ${slot.path}`);
    if (slot.kind === 'key') throw fail(`Cannot delete map keys: ${slot.path}`);
    if (slot.kind === 'value') throw fail(`Cannot delete value type from map: ${slot.path}`);
    this.deletes.add(id);
    return this;
  }

  /** Type promotion only: int→long, float→double, decimal(P,S)→decimal(P',S) with P' ≥ P. */
  updateColumnType(path: FieldPath, newType: PrimitiveType): this {
    const slot = this.target(path, 'update');
    if (slot.kind === 'key') throw fail(`Cannot update map keys: ${slot.path}`);
    const current = slotType(slot);
    if (typeof newType !== 'string') throw fail(`Cannot change column type: ${slot.path}: only primitive types can be promoted`);
    try {
      primitiveInfo(newType);
    } catch (e) {
      throw fail(`Cannot change column type: ${slot.path}: ${(e as Error).message}`);
    }
    if (isPrimitive(current) && normalizePrimitive(current) === normalizePrimitive(newType)) return this;
    // date → timestamp is a v3 promotion; this implementation writes v1/v2 tables.
    if (!isPrimitive(current) || current === 'date' || !canPromote(current, newType)) {
      throw fail(`Cannot change column type: ${slot.path}: ${typeText(current)} -> ${newType}`);
    }
    setSlotType(slot, newType);
    return this;
  }

  updateDoc(path: FieldPath, doc: string | undefined): this {
    const slot = this.target(path, 'update');
    if (slot.kind !== 'field') throw fail(`Cannot update doc of ${slot.path}: list elements and map keys/values have no doc`);
    if (doc === undefined) delete slot.field.doc;
    else slot.field.doc = doc;
    return this;
  }

  makeOptional(path: FieldPath): this {
    const slot = this.target(path, 'update');
    switch (slot.kind) {
      case 'field': slot.field.required = false; break;
      case 'element': slot.list['element-required'] = false; break;
      case 'value': slot.map['value-required'] = false; break;
      case 'key': throw fail(`Cannot make map keys optional: ${slot.path}`);
    }
    return this;
  }

  moveFirst(path: FieldPath): this {
    const slot = this.moveTarget(path);
    slot.struct.fields.splice(slot.struct.fields.indexOf(slot.field), 1);
    slot.struct.fields.unshift(slot.field);
    return this;
  }

  moveBefore(path: FieldPath, before: FieldPath): this {
    return this.moveRelative(path, before, 'before');
  }

  moveAfter(path: FieldPath, after: FieldPath): this {
    return this.moveRelative(path, after, 'after');
  }

  private moveTarget(path: FieldPath): Extract<Slot, { kind: 'field' }> {
    const slot = this.target(path, 'move');
    if (slot.kind !== 'field') throw fail(`Cannot move fields in non-struct type: ${slot.path}`);
    return slot;
  }

  private moveRelative(path: FieldPath, ref: FieldPath, where: 'before' | 'after'): this {
    const slot = this.moveTarget(path);
    const refId = this.resolve(ref);
    const refSlot = refId === undefined ? undefined : this.slots().get(refId);
    if (refId === undefined || !refSlot) throw fail(`Cannot move ${slot.path} ${where} missing column: ${pathKey(ref)}`);
    if (refId === slot.id) throw fail(`Cannot move ${slot.path} ${where} itself`);
    if (this.isDeleted(refId)) throw fail(`Cannot move ${slot.path} ${where} a column that will be deleted: ${refSlot.path}`);
    if (refSlot.kind !== 'field' || refSlot.struct !== slot.struct) throw fail(`Cannot move field ${slot.path} to a different struct`);
    const fields = slot.struct.fields;
    fields.splice(fields.indexOf(slot.field), 1);
    const at = fields.indexOf(refSlot.field);
    fields.splice(where === 'before' ? at : at + 1, 0, slot.field);
    return this;
  }

  setIdentifierFields(paths: FieldPath[]): this {
    const ids: number[] = [];
    for (const p of paths) {
      const id = this.resolve(p);
      if (id === undefined || !this.slots().has(id)) {
        throw fail(`Cannot add field ${pathKey(p)} as an identifier field: not found in current schema or added columns`);
      }
      if (!ids.includes(id)) ids.push(id);
    }
    this.identifierIds = ids;
    return this;
  }

  // --- result -------------------------------------------------------------------------------

  apply(): SchemaUpdateResult {
    const slots = this.slots();
    const deletedIds = new Set<number>();
    for (const id of this.deletes) {
      deletedIds.add(id);
      const slot = slots.get(id);
      if (slot) for (const inner of indexSlots({ type: 'struct', fields: [fieldOf(slot)] }).keys()) deletedIds.add(inner);
    }

    for (const id of this.identifierIds) {
      if (!deletedIds.has(id)) continue;
      const path = this.pathOf(id);
      if (this.deletes.has(id)) {
        throw fail(`Cannot delete identifier field ${path}. To force deletion, also call setIdentifierFields to update identifier fields.`);
      }
      const parent = [...this.deletes].find((d) => deletedIds.has(id) && isAncestor(slots, d, id));
      throw fail(`Cannot delete field ${parent === undefined ? '?' : this.pathOf(parent)} as it will delete nested identifier field ${path}`);
    }
    for (const spec of this.opts.partitionSpecs ?? []) {
      for (const f of spec.fields) {
        if (deletedIds.has(f['source-id'])) {
          throw fail(`Cannot delete column ${this.pathOf(f['source-id'])}: it is the source of partition field ${f.name} (spec ${spec['spec-id']})`);
        }
      }
    }
    for (const order of this.opts.sortOrders ?? []) {
      for (const f of order.fields) {
        if (deletedIds.has(f['source-id'])) {
          throw fail(`Cannot delete column ${this.pathOf(f['source-id'])}: it is a source of sort order ${order['order-id']}`);
        }
      }
    }

    const result = structuredClone(this.working);
    const prune = (t: IcebergType) => {
      if (isStruct(t)) t.fields = t.fields.filter((f) => !this.deletes.has(f.id));
      for (const f of childFields(t)) prune(f.type);
    };
    prune(result);
    checkUniqueNames(result);
    validateIdentifierFields(result, this.identifierIds);

    const schema: Schema = { type: 'struct', 'schema-id': this.opts.schemaId ?? this.base['schema-id'], fields: result.fields };
    if (this.identifierIds.length > 0 || this.base['identifier-field-ids'] !== undefined) {
      schema['identifier-field-ids'] = [...this.identifierIds];
    }
    return { schema, lastColumnId: this.lastColumnId };
  }
}

function isAncestor(slots: Map<number, Slot>, ancestor: number, id: number): boolean {
  for (let p = slots.get(id)?.parentId ?? null; p !== null; p = slots.get(p)?.parentId ?? null) {
    if (p === ancestor) return true;
  }
  return false;
}

function slotType(slot: Slot): IcebergType {
  switch (slot.kind) {
    case 'field': return slot.field.type;
    case 'element': return slot.list.element;
    case 'key': return slot.map.key;
    case 'value': return slot.map.value;
  }
}

function setSlotType(slot: Slot, type: IcebergType): void {
  switch (slot.kind) {
    case 'field': slot.field.type = type; break;
    case 'element': slot.list.element = type; break;
    case 'key': slot.map.key = type; break;
    case 'value': slot.map.value = type; break;
  }
}

function fieldOf(slot: Slot): NestedField {
  return slot.kind === 'field' ? slot.field : { id: slot.id, name: slot.kind, required: true, type: slotType(slot) };
}

/** `decimal(10,2)` and `decimal(10, 2)` are the same type. */
function normalizePrimitive(t: PrimitiveType): string {
  const info = primitiveInfo(t);
  if (info.kind === 'decimal') return `decimal(${info.precision},${info.scale})`;
  if (info.kind === 'fixed') return `fixed[${info.length}]`;
  return t;
}
