import { describe, expect, it } from 'vitest';
import {
  compareValues, decimalToMinBytes, formatIsoDate, fromBinary, fromJsonValue, parseIsoDate, toBinary, toJsonValue,
} from '../../src/iceberg/conversions.js';
import type { IcebergType } from '../../src/iceberg/types.js';

const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);
const DEC38 = 10n ** 38n - 1n;
const bytes = (...b: number[]) => Uint8Array.from(b);

describe('binary single-value serialization (Appendix D)', () => {
  const roundTrips: Array<[string, unknown[]]> = [
    ['boolean', [true, false]],
    ['int', [0, 34, -1, 2147483647, -2147483648]],
    ['long', [0n, 34n, -1n, LONG_MAX, LONG_MIN, LONG_MAX - 1n, LONG_MIN + 1n]],
    ['float', [0, 1.5, -2.25, Infinity, -Infinity, Math.fround(3.4e38)]],
    ['double', [0, 1.1, -1e300, Number.MIN_VALUE, Infinity]],
    ['date', [0, 17486, -1, -719162]],
    ['time', [0n, 81068000000n, 86399999999n]],
    ['timestamp', [0n, 1510871468000000n, -1n, LONG_MAX, LONG_MIN]],
    ['timestamptz', [1510871468123456n, -62135596800000000n]],
    ['timestamp_ns', [1510871468123456789n, LONG_MIN, LONG_MAX]],
    ['timestamptz_ns', [-1n]],
    ['string', ['', 'iceberg', 'ünïcødé 😀']],
    ['uuid', ['f79c3e09-677c-4bbd-a479-3f349cb785e7', '00000000-0000-0000-0000-000000000000']],
    ['fixed[4]', [bytes(0, 1, 2, 3)]],
    ['binary', [bytes(), bytes(0, 255, 128)]],
    ['decimal(9, 2)', [0n, 1420n, -1420n, 999999999n, -999999999n]],
    ['decimal(38, 10)', [DEC38, -DEC38, -(1n << 100n), 1n << 100n, -1n, 127n, 128n, -128n, -129n]],
  ];
  for (const [type, values] of roundTrips) {
    it(`round-trips ${type}`, () => {
      for (const v of values) expect(fromBinary(type, toBinary(type, v as never))).toEqual(v);
    });
  }

  it('uses the spec byte layouts', () => {
    expect(toBinary('int', 34)).toEqual(bytes(34, 0, 0, 0));
    expect(toBinary('long', -2n)).toEqual(bytes(0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
    expect(toBinary('double', 1)).toEqual(bytes(0, 0, 0, 0, 0, 0, 0xf0, 0x3f));
    expect(toBinary('float', 1)).toEqual(bytes(0, 0, 0x80, 0x3f));
    expect(toBinary('boolean', true)).toEqual(bytes(1));
    expect(toBinary('string', 'ice')).toEqual(bytes(0x69, 0x63, 0x65));
    expect(toBinary('uuid', 'f79c3e09-677c-4bbd-a479-3f349cb785e7')).toEqual(
      bytes(0xf7, 0x9c, 0x3e, 0x09, 0x67, 0x7c, 0x4b, 0xbd, 0xa4, 0x79, 0x3f, 0x34, 0x9c, 0xb7, 0x85, 0xe7),
    );
  });

  it('stores decimals in the minimum two’s-complement bytes', () => {
    expect(decimalToMinBytes(0n)).toEqual(bytes(0));
    expect(decimalToMinBytes(127n)).toEqual(bytes(0x7f));
    expect(decimalToMinBytes(128n)).toEqual(bytes(0, 0x80));
    expect(decimalToMinBytes(-1n)).toEqual(bytes(0xff));
    expect(decimalToMinBytes(-128n)).toEqual(bytes(0x80));
    expect(decimalToMinBytes(-129n)).toEqual(bytes(0xff, 0x7f));
    expect(toBinary('decimal(9, 2)', 1420n)).toEqual(bytes(0x05, 0x8c));
    expect(toBinary('decimal(38, 0)', -DEC38)).toHaveLength(16);
    // Any sign-extended width decodes, as Java's BigInteger(byte[]) does.
    expect(fromBinary('decimal(9, 2)', bytes(0xff, 0xff, 0xff, 0xfe))).toBe(-2n);
  });

  it('reads bounds written before a type promotion', () => {
    expect(fromBinary('long', toBinary('int', -5))).toBe(-5n);
    expect(fromBinary('double', toBinary('float', 1.5))).toBe(1.5);
    expect(fromBinary('timestamp', toBinary('date', 1))).toBe(86_400_000_000n);
    expect(fromBinary('timestamp_ns', toBinary('date', -1))).toBe(-86_400_000_000_000n);
  });

  it('rejects wrong shapes and lengths', () => {
    expect(() => toBinary('long', 1 as never)).toThrow(/invalid long/);
    expect(() => toBinary('int', 2 ** 31)).toThrow();
    expect(() => toBinary('fixed[4]', bytes(1))).toThrow();
    expect(() => toBinary('decimal(2, 0)', 100n)).toThrow();
    expect(() => toBinary('unknown', null)).toThrow();
    expect(() => fromBinary('int', bytes(1, 2))).toThrow(/4 bytes/);
    expect(() => fromBinary('string', bytes(0xff))).toThrow(/UTF-8/);
  });
});

describe('JSON single-value serialization (Appendix D)', () => {
  const examples: Array<[IcebergType, unknown, unknown]> = [
    ['boolean', true, true],
    ['int', 34, 34],
    ['long', 34n, 34],
    ['long', LONG_MAX, LONG_MAX],
    ['double', 1, 1],
    ['decimal(4, 2)', 1420n, '14.20'],
    ['decimal(4, 2)', -5n, '-0.05'],
    ['decimal(10, 0)', 7n, '7'],
    ['date', 17486, '2017-11-16'],
    ['date', -1, '1969-12-31'],
    ['time', 81068123456n, '22:31:08.123456'],
    ['timestamp', 1510871468123456n, '2017-11-16T22:31:08.123456'],
    ['timestamptz', 1510871468123456n, '2017-11-16T22:31:08.123456+00:00'],
    ['timestamp_ns', 1510871468123456789n, '2017-11-16T22:31:08.123456789'],
    ['timestamptz_ns', 1510871468123456789n, '2017-11-16T22:31:08.123456789+00:00'],
    ['timestamp', -1n, '1969-12-31T23:59:59.999999'],
    ['string', 'iceberg', 'iceberg'],
    ['uuid', 'f79c3e09-677c-4bbd-a479-3f349cb785e7', 'f79c3e09-677c-4bbd-a479-3f349cb785e7'],
    ['fixed[4]', bytes(0, 1, 2, 255), '000102ff'],
    ['binary', bytes(0, 1, 2, 255), '000102ff'],
  ];
  for (const [type, value, json] of examples) {
    it(`${String(type)}: ${JSON.stringify(json, (_k, v) => (typeof v === 'bigint' ? `${v}` : v))}`, () => {
      expect(toJsonValue(type, value as never)).toEqual(json);
      expect(fromJsonValue(type, json)).toEqual(value);
    });
  }

  it('serializes nested values', () => {
    const struct: IcebergType = {
      type: 'struct',
      fields: [
        { id: 1, name: 'a', required: true, type: 'int' },
        { id: 2, name: 'b', required: false, type: 'string' },
        { id: 3, name: 'c', required: false, type: 'date' },
      ],
    };
    const v = new Map<number, unknown>([[1, 1], [2, 'bar'], [3, null]]);
    expect(toJsonValue(struct, v as never)).toEqual({ 1: 1, 2: 'bar' });
    expect(fromJsonValue(struct, { 1: 1, 2: 'bar' })).toEqual(v);

    const list: IcebergType = { type: 'list', 'element-id': 4, element: 'long', 'element-required': true };
    expect(toJsonValue(list, [1n, 2n, 3n])).toEqual([1, 2, 3]);
    expect(fromJsonValue(list, [1, 2, 3])).toEqual([1n, 2n, 3n]);

    const map: IcebergType = { type: 'map', 'key-id': 5, key: 'string', 'value-id': 6, value: 'int', 'value-required': false };
    const mv = { keys: ['a', 'b'], values: [1, 2] };
    expect(toJsonValue(map, mv)).toEqual(mv);
    expect(fromJsonValue(map, mv)).toEqual(mv);
  });

  it('reads lenient but lossless forms', () => {
    expect(fromJsonValue('timestamptz', '2017-11-16T14:31:08-08:00')).toBe(1510871468000000n);
    expect(fromJsonValue('timestamptz', '2017-11-16T22:31:08Z')).toBe(1510871468000000n);
    expect(fromJsonValue('timestamp', '2017-11-16T22:31:08')).toBe(1510871468000000n);
    expect(fromJsonValue('decimal(10, 2)', '14.2')).toBe(1420n);
    expect(fromJsonValue('decimal(22, 0)', '2E+20')).toBe(2n * 10n ** 20n);
    expect(fromJsonValue('long', '9223372036854775807')).toBe(LONG_MAX);
    expect(fromJsonValue('uuid', 'F79C3E09-677C-4BBD-A479-3F349CB785E7')).toBe('f79c3e09-677c-4bbd-a479-3f349cb785e7');
    expect(Number.isNaN(fromJsonValue('double', 'NaN'))).toBe(true);
    expect(toJsonValue('float', -Infinity)).toBe('-Infinity');
  });

  it('rejects invalid input', () => {
    expect(() => fromJsonValue('timestamp', '2017-11-16T22:31:08+00:00')).toThrow(/offset/);
    expect(() => fromJsonValue('timestamptz', '2017-11-16T22:31:08')).toThrow(/offset/);
    expect(() => fromJsonValue('decimal(9, 2)', '1.234')).toThrow(/scale/);
    expect(() => fromJsonValue('date', '2017-02-30')).toThrow();
    expect(() => fromJsonValue('timestamp', '2017-11-16T22:31:08.1234567')).toThrow(/precision/);
    expect(() => fromJsonValue('int', 'x')).toThrow();
    expect(() => fromJsonValue('fixed[2]', '00')).toThrow();
  });

  it('formats dates across eras like java.time', () => {
    expect(formatIsoDate(parseIsoDate('0001-01-01'))).toBe('0001-01-01');
    expect(formatIsoDate(parseIsoDate('9999-12-31'))).toBe('9999-12-31');
    expect(formatIsoDate(parseIsoDate('2000-02-29'))).toBe('2000-02-29');
    expect(parseIsoDate('1970-01-01')).toBe(0);
  });
});

describe('compareValues', () => {
  const negNaN = new Float64Array(new BigUint64Array([0xfff8000000000000n]).buffer)[0];
  it('orders floats as the spec sorts them', () => {
    const sorted = [negNaN, -Infinity, -1, -0, 0, 1, Infinity, NaN];
    for (let i = 0; i < sorted.length; i++) {
      for (let j = 0; j < sorted.length; j++) {
        expect(Math.sign(compareValues('double', sorted[i], sorted[j]))).toBe(Math.sign(i - j));
      }
    }
  });
  it('orders strings by code point, not UTF-16 unit', () => {
    expect(compareValues('string', '\uFFFD', '😀')).toBeLessThan(0);
    expect(compareValues('string', 'a', 'ab')).toBeLessThan(0);
    expect(compareValues('string', 'b', 'ab')).toBeGreaterThan(0);
    expect(compareValues('string', 'x', 'x')).toBe(0);
  });
  it('orders binary unsigned, decimals and longs numerically, nulls first', () => {
    expect(compareValues('binary', bytes(0x80), bytes(0x7f))).toBeGreaterThan(0);
    expect(compareValues('binary', bytes(1), bytes(1, 0))).toBeLessThan(0);
    expect(compareValues('decimal(38, 2)', -DEC38, 5n)).toBeLessThan(0);
    expect(compareValues('long', LONG_MIN, LONG_MAX)).toBeLessThan(0);
    expect(compareValues('uuid', 'f79c3e09-677c-4bbd-a479-3f349cb785e7', '079c3e09-677c-4bbd-a479-3f349cb785e7')).toBeGreaterThan(0);
    expect(compareValues('boolean', false, true)).toBeLessThan(0);
    expect(compareValues('int', null, -5)).toBeLessThan(0);
    expect(compareValues('int', null, null)).toBe(0);
  });
});
