import { describe, expect, it } from 'vitest';
import { isLakehouseError } from '../../src/core/errors.js';
import { parseIsoDate, parseIsoTime, parseIsoTimestamp } from '../../src/iceberg/conversions.js';
import { murmur3Hash32 } from '../../src/iceberg/murmur3.js';
import {
  applyTransform, bucketHash, canTransform, parseTransform, transformResultType, transformToString,
  transformedValueToHumanString, type Transform,
} from '../../src/iceberg/transforms.js';

const ascii = (s: string) => new TextEncoder().encode(s);
const T = (s: string) => parseTransform(s);

describe('murmur3 x86 32', () => {
  it('matches reference vectors', () => {
    expect(murmur3Hash32(new Uint8Array(0))).toBe(0);
    expect(murmur3Hash32(ascii('hello'))).toBe(0x248bfa47);
    expect(murmur3Hash32(ascii('The quick brown fox jumps over the lazy dog'))).toBe(0x2e4ff723);
  });
  it('handles every tail length (1..3 bytes)', () => {
    expect(murmur3Hash32(Uint8Array.of(0x01))).toBe(-463810133);
    expect(murmur3Hash32(Uint8Array.of(0xff))).toBe(-43192051);
    expect(murmur3Hash32(Uint8Array.of(0x05, 0x8c))).toBe(-500754589);
    expect(murmur3Hash32(ascii('iceberg'))).toBe(1210000089);
  });
});

describe('spec Appendix B hash vectors', () => {
  const cases: Array<[string, unknown, number]> = [
    ['int', 34, 2017239379],
    ['long', 34n, 2017239379],
    ['decimal(9, 2)', 1420n, -500754589],
    ['date', parseIsoDate('2017-11-16'), -653330422],
    ['time', parseIsoTime('22:31:08'), -662762989],
    ['timestamp', parseIsoTimestamp('2017-11-16T22:31:08', 'us', false), -2047944441],
    ['timestamp', parseIsoTimestamp('2017-11-16T22:31:08.000001', 'us', false), -1207196810],
    ['timestamptz', parseIsoTimestamp('2017-11-16T14:31:08-08:00', 'us', true), -2047944441],
    ['timestamptz', parseIsoTimestamp('2017-11-16T14:31:08.000001-08:00', 'us', true), -1207196810],
    ['timestamp_ns', parseIsoTimestamp('2017-11-16T22:31:08', 'ns', false), -2047944441],
    ['timestamp_ns', parseIsoTimestamp('2017-11-16T22:31:08.000001001', 'ns', false), -1207196810],
    ['timestamptz_ns', parseIsoTimestamp('2017-11-16T14:31:08.000001001-08:00', 'ns', true), -1207196810],
    ['string', 'iceberg', 1210000089],
    ['uuid', 'f79c3e09-677c-4bbd-a479-3f349cb785e7', 1488055340],
    ['fixed[4]', Uint8Array.of(0, 1, 2, 3), -188683207],
    ['binary', Uint8Array.of(0, 1, 2, 3), -188683207],
  ];
  for (const [type, value, hash] of cases) {
    it(`${type} ${String(value)} → ${hash}`, () => {
      expect(bucketHash(type, value as never)).toBe(hash);
      const n = 1000;
      expect(applyTransform(T(`bucket[${n}]`), type, value as never)).toBe((hash & 0x7fffffff) % n);
    });
  }
  it('hashes decimals by minimum big-endian bytes, independent of scale', () => {
    expect(bucketHash('decimal(38, 10)', 1420n)).toBe(-500754589);
    expect(bucketHash('decimal(9, 0)', 128n)).toBe(murmur3Hash32(Uint8Array.of(0x00, 0x80)));
    expect(bucketHash('decimal(9, 0)', -129n)).toBe(murmur3Hash32(Uint8Array.of(0xff, 0x7f)));
    expect(bucketHash('decimal(9, 0)', 0n)).toBe(murmur3Hash32(Uint8Array.of(0)));
  });
  it('buckets negative long values as Java', () => {
    // (hash & Integer.MAX_VALUE) % N is never negative.
    for (const v of [-1n, -(1n << 63n), (1n << 63n) - 1n]) {
      const b = applyTransform(T('bucket[7]'), 'long', v) as number;
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(7);
    }
  });
});

describe('truncate (spec examples)', () => {
  it('int and long round toward negative infinity', () => {
    expect(applyTransform(T('truncate[10]'), 'int', 1)).toBe(0);
    expect(applyTransform(T('truncate[10]'), 'int', -1)).toBe(-10);
    expect(applyTransform(T('truncate[10]'), 'int', 10)).toBe(10);
    expect(applyTransform(T('truncate[10]'), 'long', 1n)).toBe(0n);
    expect(applyTransform(T('truncate[10]'), 'long', -1n)).toBe(-10n);
    expect(applyTransform(T('truncate[10]'), 'long', -10n)).toBe(-10n);
  });
  it('wraps like Java at the int/long limits', () => {
    expect(applyTransform(T('truncate[10]'), 'int', -2147483648)).toBe(2147483646);
    expect(applyTransform(T('truncate[10]'), 'long', -(1n << 63n))).toBe((1n << 63n) - 2n);
  });
  it('decimal truncates the unscaled value', () => {
    expect(applyTransform(T('truncate[50]'), 'decimal(9, 2)', 1065n)).toBe(1050n);
    expect(applyTransform(T('truncate[50]'), 'decimal(9, 2)', -1065n)).toBe(-1100n);
  });
  it('string truncates by code points', () => {
    expect(applyTransform(T('truncate[3]'), 'string', 'iceberg')).toBe('ice');
    expect(applyTransform(T('truncate[3]'), 'string', 'ic')).toBe('ic');
    expect(applyTransform(T('truncate[2]'), 'string', 'a😀b')).toBe('a😀');
    expect(applyTransform(T('truncate[1]'), 'string', '😀😀')).toBe('😀');
  });
  it('binary truncates bytes', () => {
    expect(applyTransform(T('truncate[3]'), 'binary', Uint8Array.of(1, 2, 3, 4, 5))).toEqual(Uint8Array.of(1, 2, 3));
  });
});

describe('temporal transforms', () => {
  const ts = (s: string) => parseIsoTimestamp(s, 'us', false);
  const apply = (t: string, type: string, v: unknown) => applyTransform(T(t), type, v as never);

  it('count units from 1970', () => {
    const v = ts('2017-11-16T22:31:08');
    expect(apply('year', 'timestamp', v)).toBe(47);
    expect(apply('month', 'timestamp', v)).toBe(47 * 12 + 10);
    expect(apply('day', 'timestamp', v)).toBe(17486);
    expect(apply('hour', 'timestamp', v)).toBe(17486 * 24 + 22);
    expect(apply('year', 'date', 17486)).toBe(47);
    expect(apply('month', 'date', 17486)).toBe(574);
    expect(apply('day', 'date', 17486)).toBe(17486);
  });
  it('floor negative (pre-epoch) values', () => {
    const v = ts('1969-12-31T23:59:59.999999');
    expect(v).toBe(-1n);
    for (const t of ['year', 'month', 'day', 'hour']) expect(apply(t, 'timestamptz', v)).toBe(-1);
    for (const t of ['year', 'month', 'day', 'hour']) expect(apply(t, 'timestamp_ns', -1n)).toBe(-1);
    for (const t of ['year', 'month', 'day']) expect(apply(t, 'date', -1)).toBe(-1);
    expect(apply('year', 'date', parseIsoDate('1969-01-01'))).toBe(-1);
    expect(apply('month', 'date', parseIsoDate('1969-01-01'))).toBe(-12);
    expect(apply('year', 'date', parseIsoDate('1968-12-31'))).toBe(-2);
    expect(apply('hour', 'timestamp', ts('1969-12-31T23:00:00'))).toBe(-1);
    expect(apply('hour', 'timestamp', ts('1969-12-31T23:00:00.999999'))).toBe(-1);
    expect(apply('hour', 'timestamp', ts('1969-12-31T22:59:59.999999'))).toBe(-2);
    expect(apply('day', 'timestamp', ts('1969-12-30T00:00:00'))).toBe(-2);
  });
  it('handles nanosecond timestamps', () => {
    const v = parseIsoTimestamp('2017-11-16T22:31:08.123456789', 'ns', false);
    expect(apply('day', 'timestamp_ns', v)).toBe(17486);
    expect(apply('hour', 'timestamptz_ns', v)).toBe(17486 * 24 + 22);
  });
});

describe('parse, types, applicability', () => {
  it('parses and prints transforms', () => {
    for (const s of ['identity', 'bucket[16]', 'truncate[4]', 'year', 'month', 'day', 'hour', 'void']) {
      expect(transformToString(T(s))).toBe(s);
    }
    expect(T('Bucket[16]')).toEqual({ kind: 'bucket', numBuckets: 16 });
    expect(T('zorder')).toEqual({ kind: 'unknown', text: 'zorder' });
    expect(transformToString(T('geohash[3]'))).toBe('geohash[3]');
    expect(() => T('bucket[0]')).toThrow();
  });
  it('reports result types', () => {
    const rt = (t: string, s: string) => transformResultType(T(t), s);
    expect(rt('identity', 'string')).toBe('string');
    expect(rt('bucket[4]', 'string')).toBe('int');
    expect(rt('truncate[4]', 'decimal(9, 2)')).toBe('decimal(9, 2)');
    expect(rt('year', 'timestamp')).toBe('int');
    expect(rt('month', 'date')).toBe('int');
    expect(rt('day', 'timestamp')).toBe('date');
    expect(rt('hour', 'timestamptz')).toBe('int');
    expect(rt('void', 'long')).toBe('long');
    expect(rt('zorder', 'long')).toBe('string');
  });
  it('checks source types per the spec table', () => {
    expect(canTransform(T('bucket[2]'), 'boolean')).toBe(false);
    expect(canTransform(T('bucket[2]'), 'float')).toBe(false);
    expect(canTransform(T('bucket[2]'), 'uuid')).toBe(true);
    expect(canTransform(T('truncate[2]'), 'fixed[4]')).toBe(false);
    expect(canTransform(T('truncate[2]'), 'binary')).toBe(true);
    expect(canTransform(T('hour'), 'date')).toBe(false);
    expect(canTransform(T('day'), 'timestamptz_ns')).toBe(true);
    expect(canTransform(T('identity'), 'boolean')).toBe(true);
    expect(canTransform(T('identity'), { type: 'list', 'element-id': 2, element: 'int', 'element-required': true })).toBe(false);
    expect(canTransform(T('void'), 'boolean')).toBe(true);
  });
  it('returns null for null and void', () => {
    const all: Transform[] = [T('identity'), T('bucket[3]'), T('year'), T('day'), T('hour')];
    for (const t of all) expect(applyTransform(t, 'timestamp', null)).toBe(null);
    expect(applyTransform(T('truncate[3]'), 'string', null)).toBe(null);
    expect(applyTransform(T('void'), 'string', 'x')).toBe(null);
  });
  it('refuses unknown transforms, bad types and badly shaped values', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isLakehouseError(e) ? e.code : 'other';
      }
      return 'none';
    };
    expect(code(() => applyTransform(T('zorder'), 'long', 1n))).toBe('UNSUPPORTED_OPERATION');
    expect(code(() => applyTransform(T('hour'), 'date', 1))).toBe('VALIDATION_FAILED');
    expect(code(() => applyTransform(T('bucket[4]'), 'long', 1 as never))).toBe('VALIDATION_FAILED');
  });
});

describe('human strings (partition path values)', () => {
  const h = (t: string, type: string, v: unknown) => transformedValueToHumanString(T(t), type, v as never);
  it('formats temporal ordinals', () => {
    const day = parseIsoDate('2024-01-05');
    expect(h('day', 'timestamp', day)).toBe('2024-01-05');
    expect(h('month', 'timestamp', (2024 - 1970) * 12)).toBe('2024-01');
    expect(h('year', 'timestamp', 54)).toBe('2024');
    expect(h('hour', 'timestamp', day * 24 + 13)).toBe('2024-01-05-13');
    expect(h('month', 'date', -1)).toBe('1969-12');
    expect(h('hour', 'timestamp', -1)).toBe('1969-12-31-23');
    expect(h('day', 'date', -1)).toBe('1969-12-31');
  });
  it('formats identity values as Java does', () => {
    expect(h('identity', 'date', 17486)).toBe('2017-11-16');
    expect(h('identity', 'timestamp', parseIsoTimestamp('2017-11-16T22:31:08', 'us', false))).toBe('2017-11-16T22:31:08');
    expect(h('identity', 'timestamptz', parseIsoTimestamp('2017-11-16T22:31:08.1Z', 'us', true))).toBe('2017-11-16T22:31:08.1+00:00');
    expect(h('identity', 'time', parseIsoTime('22:31:00'))).toBe('22:31');
    expect(h('identity', 'time', parseIsoTime('22:31:08.5'))).toBe('22:31:08.500');
    expect(h('identity', 'double', 1)).toBe('1.0');
    expect(h('identity', 'double', 1e7)).toBe('1.0E7');
    expect(h('identity', 'double', 0.0001)).toBe('1.0E-4');
    expect(h('identity', 'float', Math.fround(1.1))).toBe('1.1');
    expect(h('identity', 'decimal(9, 2)', -5n)).toBe('-0.05');
    expect(h('identity', 'binary', Uint8Array.of(0, 1, 2, 3))).toBe('AAECAw==');
    expect(h('identity', 'string', 'a b/c')).toBe('a b/c');
    expect(h('bucket[16]', 'string', 3)).toBe('3');
    expect(h('identity', 'string', null)).toBe('null');
  });
});
