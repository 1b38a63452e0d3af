import { describe, expect, it } from 'vitest';
import { parseIsoTimestamp } from '../../src/iceberg/conversions.js';
import {
  PARTITION_DATA_ID_START, UNPARTITIONED_SPEC, buildPartitionSpec, computePartition, isUnpartitioned, lastPartitionId,
  parsePartitionExpression, parsePartitionSpec, partitionPath, partitionType, type PartitionSpec,
} from '../../src/iceberg/partition.js';
import { parseSchema, type Schema } from '../../src/iceberg/schema.js';
import { UNSORTED_ORDER, parseSortOrder } from '../../src/iceberg/sort-order.js';

const schema: Schema = parseSchema({
  'schema-id': 0,
  type: 'struct',
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'name', required: false, type: 'string' },
    { id: 3, name: 'ts', required: false, type: 'timestamptz' },
    { id: 4, name: 'd', required: false, type: 'date' },
    { id: 5, name: 'flag', required: false, type: 'boolean' },
    {
      id: 6, name: 'loc', required: false,
      type: { type: 'struct', fields: [{ id: 7, name: 'city', required: false, type: 'string' }] },
    },
    { id: 8, name: 'tags', required: false, type: { type: 'list', 'element-id': 9, element: 'string', 'element-required': false } },
    { id: 10, name: 'amount', required: false, type: 'decimal(9, 2)' },
  ],
});

describe('building specs from expressions', () => {
  it('assigns ids from last-partition-id + 1 and Java default names', () => {
    const spec = buildPartitionSpec(schema, ['day(ts)', 'bucket(16, id)', 'truncate(4, name)', 'd', 'identity(flag)', 'loc.city']);
    expect(spec).toEqual({
      'spec-id': 0,
      fields: [
        { 'source-id': 3, 'field-id': 1000, name: 'ts_day', transform: 'day' },
        { 'source-id': 1, 'field-id': 1001, name: 'id_bucket_16', transform: 'bucket[16]' },
        { 'source-id': 2, 'field-id': 1002, name: 'name_trunc_4', transform: 'truncate[4]' },
        { 'source-id': 4, 'field-id': 1003, name: 'd', transform: 'identity' },
        { 'source-id': 5, 'field-id': 1004, name: 'flag', transform: 'identity' },
        { 'source-id': 7, 'field-id': 1005, name: 'loc.city', transform: 'identity' },
      ],
    });
    const names = (e: string[]) => buildPartitionSpec(schema, e).fields.map((f) => f.name);
    expect(names(['year(ts)'])).toEqual(['ts_year']);
    expect(names(['months(d)'])).toEqual(['d_month']);
    expect(names(['hour(ts)'])).toEqual(['ts_hour']);
    expect(names(['void(id)'])).toEqual(['id_null']);
    expect(names(['bucket(8, id) AS shard'])).toEqual(['shard']);
  });

  it('continues after last-partition-id and reuses ids of equivalent fields', () => {
    const v1 = buildPartitionSpec(schema, ['bucket(16, id)'], { lastPartitionId: 1004, specId: 1 });
    expect(v1.fields[0]['field-id']).toBe(1005);
    const v2 = buildPartitionSpec(schema, ['day(ts)', 'bucket(16, id)'], { existingSpecs: [v1], specId: 2 });
    expect(v2.fields.map((f) => f['field-id'])).toEqual([1006, 1005]);
    expect(lastPartitionId([v1, v2])).toBe(1006);
  });

  it('parses expression forms', () => {
    expect(parsePartitionExpression('truncate(name, 4)')).toEqual({ transform: { kind: 'truncate', width: 4 }, column: 'name', name: undefined });
    expect(parsePartitionExpression('`loc.city`')).toEqual({ transform: { kind: 'identity' }, column: 'loc.city', name: undefined });
    expect(() => parsePartitionExpression('zorder(a, b)')).toThrow(/unknown transform/);
    expect(() => parsePartitionExpression('bucket(id)')).toThrow();
  });

  it('rejects invalid partitioning', () => {
    expect(() => buildPartitionSpec(schema, ['day(nope)'])).toThrow(/no such column/);
    expect(() => buildPartitionSpec(schema, ['hour(d)'])).toThrow(/does not apply/);
    expect(() => buildPartitionSpec(schema, ['bucket(4, flag)'])).toThrow(/does not apply/);
    expect(() => buildPartitionSpec(schema, ['loc'])).toThrow(/primitive/);
    expect(() => buildPartitionSpec(schema, ['tags.element'])).toThrow(/list or map/);
    expect(() => buildPartitionSpec(schema, ['day(ts)', 'hour(ts)'])).toThrow(/redundant/);
    expect(() => buildPartitionSpec(schema, ['bucket(4, id) AS x', 'day(ts) AS x'])).toThrow(/more than once/);
    expect(() => buildPartitionSpec(schema, ['bucket(4, id) AS name'])).toThrow(/conflicts/);
  });
});

describe('partition specs', () => {
  const spec = buildPartitionSpec(schema, ['day(ts)', 'bucket(16, id)', 'truncate(4, name)', 'identity(amount)', 'month(d)']);

  it('derives the partition struct type', () => {
    expect(partitionType(spec, schema)).toEqual({
      type: 'struct',
      fields: [
        { id: 1000, name: 'ts_day', required: false, type: 'date' },
        { id: 1001, name: 'id_bucket_16', required: false, type: 'int' },
        { id: 1002, name: 'name_trunc_4', required: false, type: 'string' },
        { id: 1003, name: 'amount', required: false, type: 'decimal(9, 2)' },
        { id: 1004, name: 'd_month', required: false, type: 'int' },
      ],
    });
  });

  it('computes partition tuples and Hive-style paths', () => {
    const ts = parseIsoTimestamp('2024-01-05T13:14:15.123456+00:00', 'us', true);
    const row = new Map<number, unknown>([[1, 34n], [2, 'iceberg'], [3, ts], [4, -1], [10, -1065n]]);
    const tuple = computePartition(spec, schema, row as never);
    expect(tuple).toEqual([19727, 2017239379 % 16, 'iceb', -1065n, -1]);
    expect(partitionPath(spec, schema, tuple)).toBe('ts_day=2024-01-05/id_bucket_16=3/name_trunc_4=iceb/amount=-10.65/d_month=1969-12');
    expect(computePartition(spec, schema, () => null)).toEqual([null, null, null, null, null]);
    expect(partitionPath(spec, schema, [null, null, null, null, null])).toBe(
      'ts_day=null/id_bucket_16=null/name_trunc_4=null/amount=null/d_month=null',
    );
  });

  it('URL-encodes names and values as Java URLEncoder', () => {
    const s = buildPartitionSpec(schema, ['name', 'hour(ts) AS "h r"']);
    const ts = parseIsoTimestamp('1969-12-31T23:59:59.999999Z', 'us', true);
    const tuple = computePartition(s, schema, new Map<number, string | bigint>([[2, 'a b/c&d=é!'], [3, ts]]));
    expect(partitionPath(s, schema, tuple)).toBe('name=a+b%2Fc%26d%3D%C3%A9%21/h+r=1969-12-31-23');
  });

  it('matches directory names Spark wrote for the reference tables', () => {
    const mk = (type: string) => {
      const sc = parseSchema({ type: 'struct', fields: [{ id: 1, name: 'partition_col', required: false, type }] });
      return { sc, spec: buildPartitionSpec(sc, ['partition_col']) };
    };
    const path = (type: string, v: unknown) => {
      const { sc, spec: sp } = mk(type);
      return partitionPath(sp, sc, computePartition(sp, sc, new Map([[1, v as never]])));
    };
    expect(path('float', Math.fround(3.1415927))).toBe('partition_col=3.1415927');
    expect(path('float', Math.fround(2.7182817))).toBe('partition_col=2.7182817');
    expect(path('long', -(1n << 63n))).toBe('partition_col=-9223372036854775808');
    expect(path('boolean', false)).toBe('partition_col=false');
    expect(path('int', 1337)).toBe('partition_col=1337');
  });

  it('detects unpartitioned specs', () => {
    expect(isUnpartitioned(UNPARTITIONED_SPEC)).toBe(true);
    expect(isUnpartitioned(buildPartitionSpec(schema, ['void(id)']))).toBe(true);
    expect(isUnpartitioned(spec)).toBe(false);
  });

  it('refuses to write with unknown transforms but still types them', () => {
    const s: PartitionSpec = { 'spec-id': 3, fields: [{ 'source-id': 1, 'field-id': 1000, name: 'z', transform: 'zorder' }] };
    expect(partitionType(s, schema).fields[0].type).toBe('string');
    expect(() => computePartition(s, schema, () => 1n)).toThrow(/unknown transform/);
  });

  it('types fields whose source column was dropped', () => {
    const s: PartitionSpec = {
      'spec-id': 1,
      fields: [
        { 'source-id': 99, 'field-id': 1000, name: 'gone_bucket', transform: 'bucket[4]' },
        { 'source-id': 99, 'field-id': 1001, name: 'gone', transform: 'void' },
      ],
    };
    expect(partitionType(s, schema).fields.map((f) => f.type)).toEqual(['int', 'unknown']);
  });
});

describe('parsing spec JSON', () => {
  it('parses the object form', () => {
    const json = { 'spec-id': 2, fields: [{ 'source-id': 3, 'field-id': 1001, name: 'ts_day', transform: 'day' }] };
    expect(parsePartitionSpec(json)).toEqual(json);
  });
  it('parses a v1 field list without field ids', () => {
    const spec = parsePartitionSpec([
      { 'source-id': 1, name: 'id_bucket', transform: 'bucket[4]' },
      { 'source-id': 3, name: 'ts_hour', transform: 'hour' },
    ]);
    expect(spec['spec-id']).toBe(0);
    expect(spec.fields.map((f) => f['field-id'])).toEqual([PARTITION_DATA_ID_START, PARTITION_DATA_ID_START + 1]);
  });
  it('keeps unknown transforms and multi-source fields', () => {
    const spec = parsePartitionSpec({ 'spec-id': 1, fields: [{ 'source-ids': [1, 2], 'field-id': 1000, name: 'z', transform: 'zorder' }] });
    expect(spec.fields[0]).toEqual({ 'source-id': 1, 'source-ids': [1, 2], 'field-id': 1000, name: 'z', transform: 'zorder' });
  });
  it('rejects malformed specs', () => {
    expect(() => parsePartitionSpec({ 'spec-id': 0 })).toThrow(/fields/);
    expect(() => parsePartitionSpec({ 'spec-id': 0, fields: [{ name: 'x', transform: 'identity' }] })).toThrow(/source-id/);
    expect(() => parsePartitionSpec({ 'spec-id': 0, fields: [{ 'source-id': 1, name: 'x', transform: 'bucket[0]' }] })).toThrow();
  });
});

describe('sort orders', () => {
  it('parses the JSON shape', () => {
    const json = {
      'order-id': 1,
      fields: [
        { transform: 'identity', 'source-id': 2, direction: 'asc', 'null-order': 'nulls-first' },
        { transform: 'bucket[4]', 'source-id': 3, direction: 'desc', 'null-order': 'nulls-last' },
      ],
    };
    expect(parseSortOrder(json)).toEqual(json);
    expect(parseSortOrder({ 'order-id': 0, fields: [] })).toEqual(UNSORTED_ORDER);
  });
  it('rejects invalid sort orders', () => {
    expect(() => parseSortOrder({ 'order-id': 1, fields: [{ transform: 'identity', 'source-id': 2, direction: 'up', 'null-order': 'nulls-first' }] })).toThrow(/direction/);
    expect(() => parseSortOrder({ 'order-id': 1, fields: [{ transform: 'identity', 'source-id': 2, direction: 'asc' }] })).toThrow(/null-order/);
    expect(() => parseSortOrder({ 'order-id': 0, fields: [{ transform: 'identity', 'source-id': 2, direction: 'asc', 'null-order': 'nulls-last' }] })).toThrow(/reserved/);
  });
});
