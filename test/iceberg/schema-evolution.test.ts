import { describe, expect, it } from 'vitest';
import { isLakehouseError } from '../../src/core/errors.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { assignFreshIds, assignFreshSchemaIds, SchemaUpdate } from '../../src/iceberg/schema-evolution.js';
import type { StructType } from '../../src/iceberg/types.js';

/** id 1 id (req), 2 data, 3 location struct{4 lat, 5 lon}, 6 tags list<7 string>, 8 props map<9 string, 10 struct{11 v}>, 12 points list<13 struct{14 x, 15 y}> */
function sample(): Schema {
  return {
    type: 'struct',
    'schema-id': 0,
    'identifier-field-ids': [1],
    fields: [
      { id: 1, name: 'id', required: true, type: 'int' },
      { id: 2, name: 'data', required: false, type: 'string' },
      {
        id: 3, name: 'location', required: false,
        type: { type: 'struct', fields: [
          { id: 4, name: 'lat', required: false, type: 'float' },
          { id: 5, name: 'lon', required: false, type: 'float' },
        ] },
      },
      { id: 6, name: 'tags', required: false, type: { type: 'list', 'element-id': 7, element: 'string', 'element-required': true } },
      {
        id: 8, name: 'props', required: false,
        type: {
          type: 'map', 'key-id': 9, key: 'string', 'value-id': 10, 'value-required': true,
          value: { type: 'struct', fields: [{ id: 11, name: 'v', required: false, type: 'decimal(9, 2)' }] },
        },
      },
      {
        id: 12, name: 'points', required: false,
        type: { type: 'list', 'element-id': 13, 'element-required': true, element: { type: 'struct', fields: [
          { id: 14, name: 'x', required: true, type: 'long' },
          { id: 15, name: 'y', required: true, type: 'long' },
        ] } },
      },
    ],
  };
}

function expectValidation(fn: () => unknown, message: RegExp | string): void {
  try {
    fn();
  } catch (e) {
    expect(isLakehouseError(e, 'VALIDATION_FAILED'), String(e)).toBe(true);
    expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected VALIDATION_FAILED');
}

const names = (s: StructType) => s.fields.map((f) => f.name);

describe('assignFreshIds', () => {
  it("numbers each struct's fields before descending (Java TypeUtil.assignFreshIds)", () => {
    const input: StructType = {
      type: 'struct',
      fields: [
        { id: 50, name: 'a', required: false, type: { type: 'struct', fields: [
          { id: 51, name: 'x', required: false, type: 'int' },
          { id: 52, name: 'y', required: false, type: { type: 'list', 'element-id': 53, element: 'int', 'element-required': false } },
        ] } },
        { id: 60, name: 'm', required: false, type: { type: 'map', 'key-id': 61, key: 'string', 'value-id': 62, value: { type: 'struct', fields: [{ id: 63, name: 'z', required: false, type: 'int' }] }, 'value-required': false } },
        { id: 70, name: 'c', required: true, type: 'long' },
      ],
    };
    let n = 0;
    const out = assignFreshIds(input, () => ++n);
    // level 1: a=1, m=2, c=3; a's struct: x=4, y=5; y's element=6; m: key=7, value=8; z=9
    expect(out.fields.map((f) => f.id)).toEqual([1, 2, 3]);
    const a = out.fields[0].type as StructType;
    expect(a.fields.map((f) => f.id)).toEqual([4, 5]);
    expect((a.fields[1].type as { 'element-id': number })['element-id']).toBe(6);
    const m = out.fields[1].type as { 'key-id': number; 'value-id': number; value: StructType };
    expect([m['key-id'], m['value-id'], m.value.fields[0].id]).toEqual([7, 8, 9]);
    expect(input.fields[0].id).toBe(50); // input untouched
  });

  it('assignFreshSchemaIds remaps identifier fields and reports the id map', () => {
    const s: Schema = { type: 'struct', 'schema-id': 7, 'identifier-field-ids': [20], fields: [
      { id: 10, name: 'a', required: false, type: 'int' },
      { id: 20, name: 'b', required: true, type: 'string' },
    ] };
    const { schema, lastColumnId, idMap } = assignFreshSchemaIds(s);
    expect(schema['schema-id']).toBe(0);
    expect(schema.fields.map((f) => f.id)).toEqual([1, 2]);
    expect(schema['identifier-field-ids']).toEqual([2]);
    expect(lastColumnId).toBe(2);
    expect(idMap.get(20)).toBe(2);
  });
});

describe('SchemaUpdate', () => {
  it('adds top-level and nested columns with ids after last-column-id, nested types included', () => {
    const { schema, lastColumnId } = new SchemaUpdate(sample(), 15)
      .addColumn(null, 'extra', { type: 'struct', fields: [
        { id: 0, name: 'p', required: false, type: 'int' },
        { id: 0, name: 'q', required: false, type: { type: 'list', 'element-id': 0, element: 'string', 'element-required': false } },
      ] }, { doc: 'more' })
      .addColumn('location', 'alt', 'double')
      .addColumn('points', 'z', 'long') // into the list's element struct
      .addColumn('props', 'w', 'string') // into the map's value struct
      .apply();
    expect(lastColumnId).toBe(22);
    const extra = schema.fields.find((f) => f.name === 'extra')!;
    expect(extra).toMatchObject({ id: 16, doc: 'more', required: false });
    const extraType = extra.type as StructType;
    expect(extraType.fields.map((f) => f.id)).toEqual([17, 18]);
    expect((extraType.fields[1].type as { 'element-id': number })['element-id']).toBe(19);
    const loc = schema.fields.find((f) => f.name === 'location')!.type as StructType;
    expect(loc.fields.map((f) => [f.id, f.name])).toEqual([[4, 'lat'], [5, 'lon'], [20, 'alt']]);
    const pts = (schema.fields.find((f) => f.name === 'points')!.type as { element: StructType }).element;
    expect(pts.fields.at(-1)).toMatchObject({ id: 21, name: 'z' });
    const props = (schema.fields.find((f) => f.name === 'props')!.type as { value: StructType }).value;
    expect(props.fields.at(-1)).toMatchObject({ id: 22, name: 'w' });
  });

  it('takes the higher of last-column-id and the schema ids', () => {
    const { schema, lastColumnId } = new SchemaUpdate(sample(), 30).addColumn(null, 'n', 'int').apply();
    expect(schema.fields.at(-1)!.id).toBe(31);
    expect(lastColumnId).toBe(31);
  });

  it('rejects duplicate names, non-struct parents and required columns without default', () => {
    expectValidation(() => new SchemaUpdate(sample(), 15).addColumn(null, 'data', 'int'), 'name already exists: data');
    expectValidation(() => new SchemaUpdate(sample(), 15).addColumn('location', 'lat', 'int'), 'name already exists: location.lat');
    expectValidation(() => new SchemaUpdate(sample(), 15).addColumn('data', 'x', 'int'), 'Cannot add to non-struct column: data');
    expectValidation(() => new SchemaUpdate(sample(), 15).addColumn('nope', 'x', 'int'), 'Cannot find parent struct: nope');
    expectValidation(() => new SchemaUpdate(sample(), 15).addColumn(null, 'r', 'int', { required: true }), 'cannot add required column without a default');
    expectValidation(() => new SchemaUpdate(sample(), 15).addColumn(null, 'bad', 'varchar'), 'unknown Iceberg type');
  });

  it('adds a required column with an initial default (also the write default)', () => {
    const { schema } = new SchemaUpdate(sample(), 15).addColumn(null, 'r', 'int', { required: true, initialDefault: 5 }).apply();
    expect(schema.fields.at(-1)).toEqual({ id: 16, name: 'r', required: true, type: 'int', 'initial-default': 5, 'write-default': 5 });
  });

  it('renames by id, keeping ids and identifier fields', () => {
    const { schema } = new SchemaUpdate(sample(), 15).renameColumn('id', 'key').renameColumn('location.lat', 'latitude').apply();
    expect(schema.fields[0]).toMatchObject({ id: 1, name: 'key' });
    expect(schema['identifier-field-ids']).toEqual([1]);
    expect(((schema.fields[2].type as StructType).fields[0])).toMatchObject({ id: 4, name: 'latitude' });
  });

  it('resolves names against the original schema, as Java does (rename then update by old name)', () => {
    const { schema } = new SchemaUpdate(sample(), 15).renameColumn('data', 'payload').updateDoc('data', 'the payload').apply();
    expect(schema.fields[1]).toMatchObject({ id: 2, name: 'payload', doc: 'the payload' });
  });

  it('supports swapping two names', () => {
    const { schema } = new SchemaUpdate(sample(), 15).renameColumn('data', 'tmp').renameColumn('tags', 'data').renameColumn('tmp', 'tags').apply();
    expect(schema.fields.map((f) => [f.id, f.name]).slice(1, 4)).toEqual([[2, 'tags'], [3, 'location'], [6, 'data']]);
  });

  it('rejects a rename that produces duplicate names', () => {
    expectValidation(() => new SchemaUpdate(sample(), 15).renameColumn('data', 'tags').apply(), 'multiple fields for name tags');
  });

  it('deletes columns (and their children), and allows re-adding the name with a new id', () => {
    const { schema, lastColumnId } = new SchemaUpdate(sample(), 15).deleteColumn('location').deleteColumn('data').addColumn(null, 'data', 'long').apply();
    expect(names(schema)).toEqual(['id', 'tags', 'props', 'points', 'data']);
    expect(schema.fields.at(-1)).toMatchObject({ id: 16, type: 'long' });
    expect(lastColumnId).toBe(16);
  });

  it('rejects changes to deleted columns and deleting list elements / map keys', () => {
    expectValidation(() => new SchemaUpdate(sample(), 15).deleteColumn('data').renameColumn('data', 'x'), 'will be deleted');
    expectValidation(() => new SchemaUpdate(sample(), 15).deleteColumn('location').updateColumnType('location.lat', 'double'), 'will be deleted');
    expectValidation(() => new SchemaUpdate(sample(), 15).deleteColumn('location').addColumn('location', 'x', 'int'), 'will be deleted');
    expectValidation(() => new SchemaUpdate(sample(), 15).deleteColumn('tags.element'), 'Cannot delete element type from list');
    expectValidation(() => new SchemaUpdate(sample(), 15).deleteColumn('props.key'), 'Cannot delete map keys');
    expectValidation(() => new SchemaUpdate(sample(), 15).deleteColumn('missing'), 'Cannot delete missing column: missing');
  });

  it('refuses to delete identifier fields unless the identifier set changes', () => {
    expectValidation(() => new SchemaUpdate(sample(), 15).deleteColumn('id').apply(), 'Cannot delete identifier field id');
    const { schema } = new SchemaUpdate(sample(), 15).deleteColumn('id').setIdentifierFields([]).apply();
    expect(schema['identifier-field-ids']).toEqual([]);
    expect(names(schema)).not.toContain('id');
  });

  it('refuses to delete the source of a partition or sort field when told about them', () => {
    const spec = { 'spec-id': 0, fields: [{ 'source-id': 2, 'field-id': 1000, name: 'data', transform: 'identity' }] };
    expectValidation(() => new SchemaUpdate(sample(), 15, { partitionSpecs: [spec] }).deleteColumn('data').apply(), 'source of partition field data');
    const order = { 'order-id': 1, fields: [{ 'source-id': 4, transform: 'identity', direction: 'asc' as const, 'null-order': 'nulls-first' as const }] };
    expectValidation(() => new SchemaUpdate(sample(), 15, { sortOrders: [order] }).deleteColumn('location').apply(), 'source of sort order 1');
  });

  it('promotes int→long, float→double and widens decimals, nothing else', () => {
    const { schema } = new SchemaUpdate(sample(), 15)
      .updateColumnType('id', 'long')
      .updateColumnType('location.lat', 'double')
      .updateColumnType('props.value.v', 'decimal(12, 2)')
      .updateColumnType('data', 'string') // no-op
      .apply();
    expect(schema.fields[0].type).toBe('long');
    expect((schema.fields[2].type as StructType).fields[0].type).toBe('double');
    expect(JSON.stringify(schema.fields[4].type)).toContain('decimal(12, 2)');
    expectValidation(() => new SchemaUpdate(sample(), 15).updateColumnType('data', 'int'), 'Cannot change column type: data: string -> int');
    expectValidation(() => new SchemaUpdate(sample(), 15).updateColumnType('id', 'string'), 'int -> string');
    expectValidation(() => new SchemaUpdate(sample(), 15).updateColumnType('props.value.v', 'decimal(12, 3)'), 'decimal');
    expectValidation(() => new SchemaUpdate(sample(), 15).updateColumnType('props.value.v', 'decimal(8, 2)'), 'decimal');
    expectValidation(() => new SchemaUpdate(sample(), 15).updateColumnType('location', 'long'), 'Cannot change column type: location');
    expectValidation(() => new SchemaUpdate(sample(), 15).updateColumnType('props.key', 'string'), 'Cannot update map keys');
    expectValidation(() => new SchemaUpdate(sample(), 15).updateColumnType('missing', 'long'), 'Cannot update missing column: missing');
  });

  it('promotes list element types', () => {
    const s = sample();
    s.fields.push({ id: 16, name: 'nums', required: false, type: { type: 'list', 'element-id': 17, element: 'int', 'element-required': false } });
    const { schema } = new SchemaUpdate(s, 17).updateColumnType('nums.element', 'long').apply();
    expect(schema.fields.at(-1)!.type).toEqual({ type: 'list', 'element-id': 17, element: 'long', 'element-required': false });
  });

  it('updates and clears docs', () => {
    const { schema } = new SchemaUpdate(sample(), 15).updateDoc('data', 'some data').updateDoc('location.lon', 'longitude').apply();
    expect(schema.fields[1].doc).toBe('some data');
    expect((schema.fields[2].type as StructType).fields[1].doc).toBe('longitude');
    const cleared = new SchemaUpdate(schema, 15).updateDoc('data', undefined).apply().schema;
    expect(cleared.fields[1].doc).toBeUndefined();
  });

  it('makes fields, list elements and map values optional, but not identifier fields', () => {
    const s = sample();
    s['identifier-field-ids'] = [];
    const { schema } = new SchemaUpdate(s, 15).makeOptional('id').makeOptional('tags.element').makeOptional('props.value').apply();
    expect(schema.fields[0].required).toBe(false);
    expect((schema.fields[3].type as { 'element-required': boolean })['element-required']).toBe(false);
    expect((schema.fields[4].type as { 'value-required': boolean })['value-required']).toBe(false);
    expectValidation(() => new SchemaUpdate(sample(), 15).makeOptional('id').apply(), 'not a required field');
    expectValidation(() => new SchemaUpdate(sample(), 15).makeOptional('props.key'), 'Cannot make map keys optional');
  });

  it('reorders with moveFirst / moveBefore / moveAfter, including added and nested columns', () => {
    const { schema } = new SchemaUpdate(sample(), 15)
      .addColumn(null, 'ts', 'timestamp')
      .moveFirst('ts')
      .moveAfter('id', 'points')
      .moveBefore('data', 'tags')
      .moveBefore('location.lon', 'location.lat')
      .moveAfter('points.x', 'points.y') // short name for points.element.x
      .apply();
    expect(names(schema)).toEqual(['ts', 'location', 'data', 'tags', 'props', 'points', 'id']);
    expect(names(schema.fields[1].type as StructType)).toEqual(['lon', 'lat']);
    expect(names((schema.fields[5].type as { element: StructType }).element)).toEqual(['y', 'x']);
    expect(schema.fields.map((f) => f.id)).toEqual([16, 3, 2, 6, 8, 12, 1]);
  });

  it('rejects invalid moves', () => {
    expectValidation(() => new SchemaUpdate(sample(), 15).moveFirst('nope'), 'Cannot move missing column: nope');
    expectValidation(() => new SchemaUpdate(sample(), 15).moveBefore('data', 'data'), 'Cannot move data before itself');
    expectValidation(() => new SchemaUpdate(sample(), 15).moveAfter('data', 'location.lat'), 'to a different struct');
    expectValidation(() => new SchemaUpdate(sample(), 15).moveAfter('data', 'nope'), 'after missing column: nope');
    expectValidation(() => new SchemaUpdate(sample(), 15).moveFirst('tags.element'), 'non-struct');
  });

  it('sets identifier fields by path, validating them', () => {
    const s = sample();
    const { schema } = new SchemaUpdate(s, 15).addColumn(null, 'k', 'string', { required: true, initialDefault: 'x' }).setIdentifierFields(['id', 'k']).apply();
    expect(schema['identifier-field-ids']).toEqual([1, 16]);
    expectValidation(() => new SchemaUpdate(sample(), 15).setIdentifierFields(['data']).apply(), 'not a required field');
    expectValidation(() => new SchemaUpdate(sample(), 15).setIdentifierFields(['points.x']).apply(), 'identifier field');
    expectValidation(() => new SchemaUpdate(sample(), 15).setIdentifierFields(['nope']), 'not found');
    const withFloat = sample();
    withFloat.fields.push({ id: 16, name: 'f', required: true, type: 'double' });
    expectValidation(() => new SchemaUpdate(withFloat, 16).setIdentifierFields(['f']).apply(), 'must not be float or double');
  });

  it('accepts segment arrays for names with dots', () => {
    const s: Schema = { type: 'struct', 'schema-id': 0, fields: [{ id: 1, name: 'a.b', required: false, type: 'int' }] };
    const { schema } = new SchemaUpdate(s, 1).renameColumn(['a.b'], 'ab').apply();
    expect(schema.fields[0].name).toBe('ab');
  });

  it('does not modify its input schema and can apply repeatedly', () => {
    const s = sample();
    const before = JSON.stringify(s);
    const u = new SchemaUpdate(s, 15).addColumn('location', 'alt', 'double').renameColumn('data', 'd').deleteColumn('tags');
    const a = u.apply();
    const b = u.apply();
    expect(a).toEqual(b);
    expect(JSON.stringify(s)).toBe(before);
  });
});
