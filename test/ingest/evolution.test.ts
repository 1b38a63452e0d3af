import { describe, expect, it } from 'vitest';
import { Duck } from '../../src/duck/db.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { bindDerived, DerivedExpressionError, parseDerived, validateDerived } from '../../src/ingest/derived.js';
import { inferFields, inferType, newFields, widenFor, widenings } from '../../src/ingest/evolution.js';
import { RecordMapper, withEnrichmentColumns } from '../../src/ingest/mapping.js';

const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'n', required: false, type: 'int' },
    { id: 3, name: 'price', required: false, type: 'decimal(6, 2)' },
    { id: 4, name: 'f', required: false, type: 'float' },
    { id: 5, name: 'label', required: false, type: 'string' },
  ],
};

describe('schema evolution from records', () => {
  it('infers column types from JSON values', () => {
    expect([1, 1.5, true, 'x', { a: 1 }, [1], null].map(inferType)).toEqual(['long', 'double', 'boolean', 'string', 'string', 'string', null]);
    expect(inferFields({ a: 1, b: null, c: 'x', d: 2 }, new Map([['cc', 'c']]), new Set(['d']))).toEqual([
      { name: 'a', type: 'long' },
      { name: 'cc', type: 'string' },
    ]);
  });

  it('widens only along Iceberg promotions', () => {
    expect(widenFor('int', 3_000_000_000)).toBe('long');
    expect(widenFor('int', '-3000000000')).toBe('long');
    expect(widenFor('int', 5)).toBeNull();
    expect(widenFor('int', 1.5)).toBeNull();
    expect(widenFor('int', 'abc')).toBeNull();
    expect(widenFor('float', 0.1)).toBe('double');
    expect(widenFor('float', 0.5)).toBeNull();
    expect(widenFor('decimal(6, 2)', '12345.67')).toBe('decimal(7, 2)');
    expect(widenFor('decimal(6, 2)', 123456789)).toBe('decimal(11, 2)');
    expect(widenFor('decimal(6, 2)', '1.234')).toBeNull();
    expect(widenFor('decimal(6, 2)', '1'.repeat(37))).toBeNull(); // beyond decimal(38, 2)
    expect(widenFor('long', 1.5)).toBeNull();
    expect(widenFor('string', 5)).toBeNull();
  });

  it('finds new fields and the widenings a record needs', () => {
    const m = new RecordMapper(schema, { columns: { label: 'name' }, drop: ['skip'] });
    expect(newFields({ id: 1, name: 'x', skip: 1, label: 'y', city: 'Oslo', z: null, obj: {} }, m, new Set(schema.fields.map((f) => f.name)))).toEqual([
      { kind: 'add', column: 'city', type: 'string' },
      { kind: 'add', column: 'obj', type: 'string' },
    ]);
    expect(widenings({ id: 1, n: 2 ** 40, price: '99999.5' }, m, schema)).toEqual([
      { kind: 'widen', column: 'n', to: 'long' },
      { kind: 'widen', column: 'price', to: 'decimal(7, 2)' },
    ]);
  });

  it('string columns take nested values as JSON text when asked', () => {
    expect(() => new RecordMapper(schema).map({ id: 1, label: { a: 1 } })).toThrow(/not a string/);
    expect(new RecordMapper(schema, {}, new Set(), true).map({ id: 1, label: { a: [1] } })[4]).toBe('{"a":[1]}');
  });

  it('adds a headers map column with fresh nested ids', () => {
    const s = withEnrichmentColumns(schema, ['headers', 'offset'], [{ name: 'src', type: 'string' }]);
    expect(s.fields.slice(5)).toEqual([
      { id: 6, name: '_kafka_headers', required: false, type: { type: 'map', 'key-id': 7, key: 'string', 'value-id': 8, value: 'string', 'value-required': false } },
      { id: 9, name: '_kafka_offset', required: false, type: 'long' },
      { id: 10, name: 'src', required: false, type: 'string' },
    ]);
  });
});

describe('derived column expressions', () => {
  it('parses one scalar expression and lists its columns; rejects anything else', async () => {
    const duck = await Duck.open();
    try {
      expect([...(await parseDerived(duck, 'upper(name) || CAST(ts AS DATE)')).columns].sort()).toEqual(['name', 'ts']);
      for (const bad of ['upper(name', '(SELECT 1)', '1) FROM t, (SELECT 1', 'x) AS a, (y', '*', '']) {
        await expect(parseDerived(duck, bad), bad).rejects.toBeInstanceOf(DerivedExpressionError);
      }
      const types = await bindDerived(duck, { u: 'upper(label)', d: 'CAST(id AS DOUBLE) / 2', day: "CAST('2024-01-01' AS DATE)" }, new Map(schema.fields.map((f) => [f.name, f.type])));
      expect(Object.fromEntries(types)).toEqual({ u: 'string', d: 'double', day: 'date' });
      await expect(bindDerived(duck, { u: 'upper(nope)' }, new Map([['id', 'long']]))).rejects.toThrow(/unknown column nope/);
      await expect(bindDerived(duck, { u: 'id + label' }, new Map(schema.fields.map((f) => [f.name, f.type])))).rejects.toThrow(/derived column u: /);
    } finally {
      duck.close();
    }
  });

  it('validates a job definition without a table: syntax and functions', async () => {
    await validateDerived({ up: 'upper(name)', day: 'ts::date' }, null);
    await expect(validateDerived({ up: 'no_such_function(name)' }, null)).rejects.toThrow(/derived column up: .*no_such_function/);
  });
});
