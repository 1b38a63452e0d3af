import { lakehouseError } from '../core/errors.js';
import {
  civilFromDays, decimalToMinBytes, floorDiv, formatDecimal, formatIsoTimestamp, utf8Bytes, uuidToBytes, validateValue,
} from './conversions.js';
import { murmur3Hash32 } from './murmur3.js';
import { isPrimitive, primitiveInfo, type IcebergType, type PrimitiveInfo, type PrimitiveKind } from './types.js';
import type { IcebergValue } from './values.js';

/** Partition/sort transforms (spec "Partition Transforms"), parsed from their JSON strings. */
export type Transform =
  | { kind: 'identity' }
  | { kind: 'bucket'; numBuckets: number }
  | { kind: 'truncate'; width: number }
  | { kind: 'year' }
  | { kind: 'month' }
  | { kind: 'day' }
  | { kind: 'hour' }
  | { kind: 'void' }
  /** A transform this implementation does not know; kept so newer metadata still loads (spec: v3 readers must). */
  | { kind: 'unknown'; text: string };

const INT_MAX = 2147483647;
const INT_MIN = -2147483648;
const PARAM_RE = /^(\w+)\[(\d+)\]$/;
const SIMPLE = new Set(['identity', 'year', 'month', 'day', 'hour', 'void']);

const TIMESTAMPS: PrimitiveKind[] = ['timestamp', 'timestamptz', 'timestamp_ns', 'timestamptz_ns'];
const DATES: PrimitiveKind[] = ['date', ...TIMESTAMPS];
const BUCKET_SOURCES = new Set<PrimitiveKind>(['int', 'long', 'decimal', 'time', 'string', 'uuid', 'fixed', 'binary', ...DATES]);
const TRUNCATE_SOURCES = new Set<PrimitiveKind>(['int', 'long', 'decimal', 'string', 'binary']);

/** Parses like Java's `Transforms.fromString`: names are case-insensitive, unknown names are kept. */
export function parseTransform(s: string): Transform {
  const text = s.trim();
  const lower = text.toLowerCase();
  const m = PARAM_RE.exec(lower);
  if (m && (m[1] === 'bucket' || m[1] === 'truncate')) {
    const n = Number(m[2]);
    if (n < 1 || n > INT_MAX) throw lakehouseError('VALIDATION_FAILED', `invalid transform ${text}: parameter must be in 1..${INT_MAX}`);
    return m[1] === 'bucket' ? { kind: 'bucket', numBuckets: n } : { kind: 'truncate', width: n };
  }
  if (SIMPLE.has(lower)) return { kind: lower } as Transform;
  return { kind: 'unknown', text: s };
}

export function transformToString(t: Transform): string {
  switch (t.kind) {
    case 'bucket': return `bucket[${t.numBuckets}]`;
    case 'truncate': return `truncate[${t.width}]`;
    case 'unknown': return t.text;
    default: return t.kind;
  }
}

/**
 * The partition field type a transform produces (spec "Partition Transforms" table). `day` yields
 * `date`, as the table says and as Java writes into manifest partition schemas; readers must also
 * accept `int` (note [1]), and both are a day count in memory, so nothing else depends on it.
 * `void` keeps the source type (Java), which the spec allows ("Source type or int"). Unknown
 * transforms report `string`, as Java's UnknownTransform does, so their metadata still has a type.
 */
export function transformResultType(t: Transform, sourceType: IcebergType): IcebergType {
  switch (t.kind) {
    case 'identity': case 'truncate': case 'void': return sourceType;
    case 'bucket': case 'year': case 'month': case 'hour': return 'int';
    case 'day': return 'date';
    case 'unknown': return 'string';
  }
}

function infoOf(t: IcebergType): PrimitiveInfo | undefined {
  if (!isPrimitive(t)) return undefined;
  try {
    return primitiveInfo(t);
  } catch {
    return undefined;
  }
}

/** Whether the transform accepts the source type (spec "Partition Transforms" source-type column). */
export function canTransform(t: Transform, sourceType: IcebergType): boolean {
  if (t.kind === 'void') return true;
  const info = infoOf(sourceType);
  if (!info) return false;
  switch (t.kind) {
    case 'identity': return true;
    case 'bucket': return BUCKET_SOURCES.has(info.kind);
    case 'truncate': return TRUNCATE_SOURCES.has(info.kind);
    case 'year': case 'month': case 'day': return DATES.includes(info.kind);
    case 'hour': return TIMESTAMPS.includes(info.kind);
    case 'unknown': return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Bucket (spec "Bucket Transform Details", Appendix B)

function hashLong(v: bigint): number {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, v, true);
  return murmur3Hash32(b);
}

/** The Appendix B 32-bit hash of a non-null value of a bucketable type. */
export function bucketHash(sourceType: IcebergType, value: Exclude<IcebergValue, null>): number {
  const info = infoOf(sourceType);
  switch (info?.kind) {
    // int and date hash as long so int→long promotion keeps bucket values (Appendix B note 1).
    case 'int': case 'date': return hashLong(BigInt(value as number));
    case 'long': case 'time': case 'timestamp': case 'timestamptz': return hashLong(value as bigint);
    // Nanoseconds are floored to micros so both precisions bucket alike (Appendix B note 3).
    case 'timestamp_ns': case 'timestamptz_ns': return hashLong(floorDiv(value as bigint, 1000n));
    case 'decimal': return murmur3Hash32(decimalToMinBytes(value as bigint));
    case 'string': return murmur3Hash32(utf8Bytes(value as string));
    case 'uuid': return murmur3Hash32(uuidToBytes(value as string));
    case 'fixed': case 'binary': return murmur3Hash32(value as Uint8Array);
    default: throw lakehouseError('VALIDATION_FAILED', `cannot hash values of type ${JSON.stringify(sourceType)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Truncate (spec "Truncate Transform Details")

function truncate(kind: PrimitiveKind, width: number, value: Exclude<IcebergValue, null>): IcebergValue {
  switch (kind) {
    case 'int': {
      // Each step wraps like Java int arithmetic so results near the int limits match Java.
      const v = value as number;
      const r = (((v % width) + width) | 0) % width;
      return (v - r) | 0;
    }
    case 'long': {
      const v = value as bigint;
      const w = BigInt(width);
      const r = BigInt.asIntN(64, (v % w) + w) % w;
      return BigInt.asIntN(64, v - r);
    }
    case 'decimal': {
      // W applies in units of the column's scale (note 2), i.e. directly to the unscaled value.
      const v = value as bigint;
      const w = BigInt(width);
      return v - (((v % w) + w) % w);
    }
    case 'string': {
      const s = value as string;
      if (s.length <= width) return s;
      // Count code points, not UTF-16 units, so a surrogate pair is never split (note 3).
      let points = 0;
      let i = 0;
      while (i < s.length && points < width) {
        const c = s.charCodeAt(i);
        const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
        i += pair ? 2 : 1;
        points++;
      }
      return s.slice(0, i);
    }
    default:
      return (value as Uint8Array).slice(0, width);
  }
}

// ---------------------------------------------------------------------------------------------
// Temporal transforms: units since 1970-01-01 00:00, rounded down for pre-epoch values.

const PER_DAY = { us: 86_400_000_000n, ns: 86_400_000_000_000n };
const PER_HOUR = { us: 3_600_000_000n, ns: 3_600_000_000_000n };

function toInt32(v: number | bigint, what: string): number {
  const n = Number(v);
  if (n < INT_MIN || n > INT_MAX) throw lakehouseError('VALIDATION_FAILED', `${what} ${n} is out of int range`);
  return n;
}

function temporal(kind: 'year' | 'month' | 'day' | 'hour', source: PrimitiveKind, value: Exclude<IcebergValue, null>): number {
  const unit = source.endsWith('_ns') ? 'ns' : 'us';
  if (kind === 'hour') return toInt32(floorDiv(value as bigint, PER_HOUR[unit]), 'hour ordinal');
  const days = source === 'date' ? (value as number) : toInt32(floorDiv(value as bigint, PER_DAY[unit]), 'day ordinal');
  if (kind === 'day') return days;
  const { year, month } = civilFromDays(days);
  return kind === 'year' ? year - 1970 : (year - 1970) * 12 + month - 1;
}

/** Applies a transform to one value of `sourceType`; null in → null out (spec "Partition Transforms"). */
export function applyTransform(t: Transform, sourceType: IcebergType, value: IcebergValue): IcebergValue {
  if (t.kind === 'unknown') throw lakehouseError('UNSUPPORTED_OPERATION', `cannot apply unknown transform ${JSON.stringify(t.text)}`);
  if (!canTransform(t, sourceType)) {
    throw lakehouseError('VALIDATION_FAILED', `transform ${transformToString(t)} cannot be applied to type ${JSON.stringify(sourceType)}`);
  }
  if (t.kind === 'void' || value === null) return null;
  const info = infoOf(sourceType)!;
  validateValue(sourceType as string, value, info);
  switch (t.kind) {
    case 'identity': return value;
    case 'bucket': return (bucketHash(sourceType, value) & INT_MAX) % t.numBuckets;
    case 'truncate': return truncate(info.kind, t.width, value);
    default: return temporal(t.kind, info.kind, value);
  }
}

// ---------------------------------------------------------------------------------------------
// Human-readable partition values, as Java's Transform.toHumanString (used in partition paths)

/** Java's `String.format("%04d", n)`: the sign counts toward the width. */
const javaPad4 = (n: number): string => (n < 0 ? '-' + String(-n).padStart(3, '0') : String(n).padStart(4, '0'));
const pad2 = (n: number): string => String(n).padStart(2, '0');

function humanDay(days: number): string {
  const { year, month, day } = civilFromDays(days);
  return `${javaPad4(year)}-${pad2(month)}-${pad2(day)}`;
}

/** java.time `LocalTime.toString`: seconds only when non-zero, fraction in groups of 3 digits. */
function humanTime(micros: bigint): string {
  const secs = Number(micros / 1_000_000n);
  const frac = Number(micros % 1_000_000n);
  let s = `${pad2(Math.floor(secs / 3600))}:${pad2(Math.floor(secs / 60) % 60)}`;
  if (secs % 60 === 0 && frac === 0) return s;
  s += `:${pad2(secs % 60)}`;
  if (frac === 0) return s;
  return frac % 1000 === 0 ? `${s}.${String(frac / 1000).padStart(3, '0')}` : `${s}.${String(frac).padStart(6, '0')}`;
}

/** Java `Double.toString`/`Float.toString`: plain in [1e-3, 1e7), else `d.dddE±n`; always a '.'. */
function javaFloatString(v: number, single: boolean): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  let shortest = v;
  if (single) {
    // Fewest digits that still round-trip through float32, as Float.toString prints.
    for (let p = 1; p <= 9; p++) {
      const c = Number(v.toPrecision(p));
      if (Math.fround(c) === v) {
        shortest = c;
        break;
      }
    }
  }
  const [mant, expText] = Math.abs(shortest).toExponential().split('e');
  const exp = Number(expText);
  const digits = mant.replace('.', '');
  const sign = v < 0 ? '-' : '';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e7) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    return `${sign}${int}.${digits.slice(exp + 1) || '0'}`;
  }
  return `${sign}${digits[0]}.${digits.slice(1) || '0'}E${exp}`;
}

/** Java `BigDecimal.toString`: plain unless the adjusted exponent is below -6. */
function javaDecimalString(unscaled: bigint, scale: number): string {
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString();
  const adjusted = -scale + (digits.length - 1);
  if (scale >= 0 && adjusted >= -6) return formatDecimal(unscaled, scale);
  const sign = unscaled < 0n ? '-' : '';
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${mant}E${adjusted >= 0 ? '+' : ''}${adjusted}`;
}

function valueToHumanString(type: IcebergType, value: Exclude<IcebergValue, null>): string {
  const info = infoOf(type);
  switch (info?.kind) {
    case 'date': return humanDay(value as number);
    case 'time': return humanTime(value as bigint);
    case 'timestamp': return formatIsoTimestamp(value as bigint, 'us', false, true);
    case 'timestamptz': return formatIsoTimestamp(value as bigint, 'us', true, true);
    case 'timestamp_ns': return formatIsoTimestamp(value as bigint, 'ns', false, true);
    case 'timestamptz_ns': return formatIsoTimestamp(value as bigint, 'ns', true, true);
    case 'float': return javaFloatString(value as number, true);
    case 'double': return javaFloatString(value as number, false);
    case 'decimal': return javaDecimalString(value as bigint, info.scale!);
    case 'fixed': case 'binary': return Buffer.from(value as Uint8Array).toString('base64');
    default: return String(value);
  }
}

/**
 * The human-readable form of a transformed (partition) value, e.g. `2024-01-05` for day,
 * `2024-01` for month, `2024-01-05-13` for hour, `null` for null — matching Java's
 * `toHumanString`, so partition directories look the same as those Java writes. The result is not
 * URL-encoded; partition.ts escapes it when building paths.
 */
export function transformedValueToHumanString(t: Transform, sourceType: IcebergType, value: IcebergValue): string {
  if (value === null) return 'null';
  switch (t.kind) {
    case 'year': return javaPad4(1970 + (value as number));
    case 'month': {
      const m = value as number;
      return `${javaPad4(1970 + Math.floor(m / 12))}-${pad2((((m % 12) + 12) % 12) + 1)}`;
    }
    case 'day': return humanDay(value as number);
    case 'hour': {
      const h = value as number;
      return `${humanDay(Math.floor(h / 24))}-${pad2(((h % 24) + 24) % 24)}`;
    }
    case 'bucket': case 'unknown': return String(value);
    default: return valueToHumanString(transformResultType(t, sourceType), value);
  }
}
