import { lakehouseError } from '../core/errors.js';
import { isList, isMap, isPrimitive, isStruct, primitiveInfo, type IcebergType, type PrimitiveInfo, type PrimitiveType } from './types.js';
import type { IcebergValue } from './values.js';

/**
 * Single-value conversions (spec Appendix D): the binary form used for column bounds and
 * partition summaries, the JSON form used for defaults and REST payloads, and the type-aware
 * ordering bounds are compared with. Values follow the convention in values.ts.
 */

/** A value of any Iceberg type: primitives per values.ts plus nested values for defaults. */
export type IcebergDatum = IcebergValue | IcebergDatum[] | StructValue | MapValue;
/** Struct value keyed by field id; an absent field is null. */
export type StructValue = Map<number, IcebergDatum>;
/** Map value as parallel arrays, like its JSON form, so keys need no JS identity semantics. */
export interface MapValue {
  keys: IcebergDatum[];
  values: IcebergDatum[];
}

const MICROS_PER_DAY = 86_400_000_000n;
const NANOS_PER_DAY = 86_400_000_000_000n;
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
const LONG_MIN = -(1n << 63n);
const LONG_MAX = (1n << 63n) - 1n;
const UTF8_ENCODER = new TextEncoder();
const UTF8_DECODER = new TextDecoder('utf-8', { fatal: true });
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------------------------
// Value shape checks

function bad(type: string, value: unknown): Error {
  const shown = typeof value === 'bigint' ? `${value}n` : value instanceof Uint8Array ? `bytes[${value.length}]` : JSON.stringify(value);
  return lakehouseError('VALIDATION_FAILED', `invalid ${type} value: ${shown}`);
}

/** Throws VALIDATION_FAILED unless `value` has the JS shape values.ts prescribes for `type`. */
export function validateValue(type: PrimitiveType, value: IcebergValue, info: PrimitiveInfo = primitiveInfo(type)): void {
  if (value === null) return;
  let ok: boolean;
  switch (info.kind) {
    case 'boolean': ok = typeof value === 'boolean'; break;
    case 'int': case 'date': ok = typeof value === 'number' && Number.isInteger(value) && value >= INT_MIN && value <= INT_MAX; break;
    case 'long': case 'time': case 'timestamp': case 'timestamptz': case 'timestamp_ns': case 'timestamptz_ns':
      ok = typeof value === 'bigint' && value >= LONG_MIN && value <= LONG_MAX; break;
    case 'float': case 'double': ok = typeof value === 'number'; break;
    case 'decimal': ok = typeof value === 'bigint' && abs(value) < 10n ** BigInt(info.precision!); break;
    case 'string': ok = typeof value === 'string'; break;
    case 'uuid': ok = typeof value === 'string' && UUID_RE.test(value); break;
    case 'fixed': ok = value instanceof Uint8Array && value.length === info.length; break;
    case 'binary': ok = value instanceof Uint8Array; break;
    case 'unknown': ok = false; break;
  }
  if (!ok) throw bad(type, value);
}

// ---------------------------------------------------------------------------------------------
// Integer, decimal, uuid and hex helpers

const abs = (v: bigint): bigint => (v < 0n ? -v : v);

/** Floor division: the spec counts days/hours from the epoch, so negatives round down. */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n) && ((a < 0n) !== (b < 0n)) ? q - 1n : q;
}

/** Minimum-length two's-complement big-endian bytes (Java `BigInteger.toByteArray`); 0 → [0]. */
export function decimalToMinBytes(unscaled: bigint): Uint8Array {
  let n = 1;
  while (unscaled >= 1n << BigInt(8 * n - 1) || unscaled < -(1n << BigInt(8 * n - 1))) n++;
  const out = new Uint8Array(n);
  let x = BigInt.asUintN(8 * n, unscaled);
  for (let i = n - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** Reads a big-endian two's-complement integer of any length. */
export function bytesToDecimal(bytes: Uint8Array): bigint {
  if (bytes.length === 0) throw lakehouseError('CORRUPT_FILE', 'empty decimal value');
  let x = 0n;
  for (const b of bytes) x = (x << 8n) | BigInt(b);
  return BigInt.asIntN(8 * bytes.length, x);
}

/** 16 big-endian bytes (spec Appendix B note 4). */
export function uuidToBytes(uuid: string): Uint8Array {
  if (!UUID_RE.test(uuid)) throw bad('uuid', uuid);
  return hexToBytes(uuid.replace(/-/g, ''));
}

export function bytesToUuid(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw lakehouseError('CORRUPT_FILE', `uuid value must be 16 bytes, got ${bytes.length}`);
  const h = bytesToHex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw bad('hex', hex);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function utf8Bytes(s: string): Uint8Array {
  return UTF8_ENCODER.encode(s);
}

/** Plain decimal string with exactly `scale` fraction digits (spec Appendix D JSON, "14.20"). */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const digits = abs(unscaled).toString();
  const sign = unscaled < 0n ? '-' : '';
  if (scale <= 0) return sign + digits + '0'.repeat(-scale);
  const padded = digits.padStart(scale + 1, '0');
  return `${sign}${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
}

/** Parses `[-]digits[.digits][E[+-]n]` to the unscaled value at `scale`; rejects lossy rescaling. */
export function parseDecimal(text: string, scale: number): bigint {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw bad(`decimal(_, ${scale})`, text);
  const frac = m[3] ?? '';
  let unscaled = BigInt((m[2] || '0') + frac);
  const shift = scale - frac.length + Number(m[4] ?? 0);
  if (shift >= 0) unscaled *= 10n ** BigInt(shift);
  else {
    const div = 10n ** BigInt(-shift);
    if (unscaled % div !== 0n) throw lakehouseError('VALIDATION_FAILED', `decimal ${text} does not fit scale ${scale}`);
    unscaled /= div;
  }
  return m[1] === '-' ? -unscaled : unscaled;
}

// ---------------------------------------------------------------------------------------------
// Calendar helpers (proleptic Gregorian, as java.time), after Howard Hinnant's civil algorithms

export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const pad = (n: number | bigint, w: number): string => n.toString().padStart(w, '0');

/** ISO-8601 year as java.time prints it: at least 4 digits, '+' beyond 9999. */
function isoYear(y: number): string {
  if (y < 0) return '-' + pad(-y, 4);
  return y > 9999 ? '+' + y : pad(y, 4);
}

export function formatIsoDate(days: number): string {
  const { year, month, day } = civilFromDays(days);
  return `${isoYear(year)}-${pad(month, 2)}-${pad(day, 2)}`;
}

/** `HH:MM:SS` plus `fractionDigits` digits of `subSecond` (given in units of 10^-fractionDigits s). */
function clock(secondsOfDay: number, subSecond: bigint, fractionDigits: number, trim: boolean): string {
  const base = `${pad(Math.floor(secondsOfDay / 3600), 2)}:${pad(Math.floor(secondsOfDay / 60) % 60, 2)}:${pad(secondsOfDay % 60, 2)}`;
  let frac = pad(subSecond, fractionDigits);
  if (trim) frac = frac.replace(/0+$/, '');
  return frac ? `${base}.${frac}` : base;
}

/** Time of day from micros. `trim` drops trailing fraction zeros, as java.time's ISO formatters do. */
export function formatIsoTime(micros: bigint, trim = false): string {
  return clock(Number(micros / 1_000_000n), micros % 1_000_000n, 6, trim);
}

export type TimestampUnit = 'us' | 'ns';

/** `2017-11-16T22:31:08.123456`, with `+00:00` when `withZone` (spec Appendix D JSON). */
export function formatIsoTimestamp(value: bigint, unit: TimestampUnit, withZone: boolean, trim = false): string {
  const perDay = unit === 'us' ? MICROS_PER_DAY : NANOS_PER_DAY;
  const perSecond = unit === 'us' ? 1_000_000n : 1_000_000_000n;
  const days = floorDiv(value, perDay);
  const ofDay = value - days * perDay;
  const time = clock(Number(ofDay / perSecond), ofDay % perSecond, unit === 'us' ? 6 : 9, trim);
  return `${formatIsoDate(Number(days))}T${time}${withZone ? '+00:00' : ''}`;
}

const DATE_RE = /^([+-]?\d{4,})-(\d{2})-(\d{2})$/;
const TIME_RE = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;
const OFFSET_RE = /(Z|[+-]\d{2}:\d{2}(?::\d{2})?)$/i;

export function parseIsoDate(text: string): number {
  const m = DATE_RE.exec(text);
  if (!m) throw bad('date', text);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const days = daysFromCivil(y, mo, d);
  const back = civilFromDays(days);
  if (mo < 1 || mo > 12 || back.month !== mo || back.day !== d) throw bad('date', text);
  return days;
}

/** Time of day in units of 10^-digits seconds; rejects more precision than the unit holds. */
function parseClock(text: string, digits: number, type: string): bigint {
  const m = TIME_RE.exec(text);
  if (!m) throw bad(type, text);
  const [h, mi, s] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  if (h > 23 || mi > 59 || s > 59) throw bad(type, text);
  const frac = (m[4] ?? '').padEnd(digits, '0');
  if (frac.length > digits && /[^0]/.test(frac.slice(digits))) throw lakehouseError('VALIDATION_FAILED', `${type} ${text} has more precision than the type holds`);
  return BigInt(h * 3600 + mi * 60 + s) * 10n ** BigInt(digits) + BigInt(frac.slice(0, digits));
}

export function parseIsoTime(text: string): bigint {
  return parseClock(text, 6, 'time');
}

/**
 * Parses an ISO timestamp. A zone offset is required when `withZone` (any offset is accepted and
 * normalised to UTC; writers emit `+00:00`) and rejected otherwise (spec Appendix D JSON).
 */
export function parseIsoTimestamp(text: string, unit: TimestampUnit, withZone: boolean): bigint {
  const type = `timestamp${withZone ? 'tz' : ''}${unit === 'ns' ? '_ns' : ''}`;
  const t = text.indexOf('T') >= 0 ? text.indexOf('T') : text.indexOf(' ');
  if (t < 0) throw bad(type, text);
  let rest = text.slice(t + 1);
  const off = OFFSET_RE.exec(rest);
  if (Boolean(off) !== withZone) throw lakehouseError('VALIDATION_FAILED', `${type} ${text}: zone offset ${withZone ? 'required' : 'not allowed'}`);
  let offsetSeconds = 0;
  if (off) {
    rest = rest.slice(0, rest.length - off[1].length);
    if (off[1].toUpperCase() !== 'Z') {
      const [hh, mm, ss] = off[1].slice(1).split(':').map(Number);
      offsetSeconds = (off[1][0] === '-' ? -1 : 1) * (hh * 3600 + mm * 60 + (ss ?? 0));
    }
  }
  const digits = unit === 'us' ? 6 : 9;
  const perSecond = 10n ** BigInt(digits);
  const days = BigInt(parseIsoDate(text.slice(0, t)));
  return days * 86400n * perSecond + parseClock(rest, digits, type) - BigInt(offsetSeconds) * perSecond;
}

// ---------------------------------------------------------------------------------------------
// Binary single-value serialization (Appendix D)

function view(n: number): [Uint8Array, DataView] {
  const b = new Uint8Array(n);
  return [b, new DataView(b.buffer)];
}

export function toBinary(type: PrimitiveType, value: IcebergValue): Uint8Array {
  const info = primitiveInfo(type);
  if (info.kind === 'unknown') throw lakehouseError('UNSUPPORTED_OPERATION', 'the unknown type has no binary serialization');
  if (value === null) throw lakehouseError('VALIDATION_FAILED', `cannot serialize a null ${type} value`);
  validateValue(type, value, info);
  switch (info.kind) {
    case 'boolean':
      return Uint8Array.of(value ? 1 : 0);
    case 'int': case 'date': {
      const [b, dv] = view(4);
      dv.setInt32(0, value as number, true);
      return b;
    }
    case 'long': case 'time': case 'timestamp': case 'timestamptz': case 'timestamp_ns': case 'timestamptz_ns': {
      const [b, dv] = view(8);
      dv.setBigInt64(0, value as bigint, true);
      return b;
    }
    case 'float': {
      const [b, dv] = view(4);
      dv.setFloat32(0, value as number, true);
      return b;
    }
    case 'double': {
      const [b, dv] = view(8);
      dv.setFloat64(0, value as number, true);
      return b;
    }
    case 'decimal': return decimalToMinBytes(value as bigint);
    case 'string': return utf8Bytes(value as string);
    case 'uuid': return uuidToBytes(value as string);
    default: return (value as Uint8Array).slice();
  }
}

/**
 * Decodes a bound. Bounds are not rewritten on type promotion, so 4-byte values under a promoted
 * type are read as the original type (spec "Schema Evolution" table): long←int, double←float,
 * timestamp[_ns]←date.
 */
export function fromBinary(type: PrimitiveType, bytes: Uint8Array): IcebergValue {
  const info = primitiveInfo(type);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (...lengths: number[]) => {
    if (!lengths.includes(bytes.length)) {
      throw lakehouseError('CORRUPT_FILE', `${type} value must be ${lengths.join(' or ')} bytes, got ${bytes.length}`);
    }
  };
  switch (info.kind) {
    case 'unknown': return null;
    case 'boolean': need(1); return bytes[0] !== 0;
    case 'int': case 'date': need(4); return dv.getInt32(0, true);
    case 'long': need(4, 8); return bytes.length === 4 ? BigInt(dv.getInt32(0, true)) : dv.getBigInt64(0, true);
    case 'time': case 'timestamptz': case 'timestamptz_ns': need(8); return dv.getBigInt64(0, true);
    case 'timestamp': case 'timestamp_ns': {
      need(4, 8);
      if (bytes.length === 8) return dv.getBigInt64(0, true);
      return BigInt(dv.getInt32(0, true)) * (info.kind === 'timestamp' ? MICROS_PER_DAY : NANOS_PER_DAY);
    }
    case 'float': need(4); return dv.getFloat32(0, true);
    case 'double': need(4, 8); return bytes.length === 4 ? dv.getFloat32(0, true) : dv.getFloat64(0, true);
    case 'decimal': return bytesToDecimal(bytes);
    case 'string':
      try {
        return UTF8_DECODER.decode(bytes);
      } catch (e) {
        throw lakehouseError('CORRUPT_FILE', 'string value is not valid UTF-8', {}, e);
      }
    case 'uuid': return bytesToUuid(bytes);
    case 'fixed': case 'binary': return bytes.slice();
  }
}

// ---------------------------------------------------------------------------------------------
// JSON single-value serialization (Appendix D)

/**
 * Returns a JSON-ready value. Longs outside the safe-integer range stay bigint (write them with
 * core/json.ts `stringifyJson`). Non-finite floats become the strings "NaN"/"Infinity"/"-Infinity",
 * since JSON has no literal for them.
 */
export function toJsonValue(type: IcebergType, value: IcebergDatum): unknown {
  if (value === null || value === undefined) return null;
  if (isStruct(type)) {
    if (!(value instanceof Map)) throw bad('struct', value);
    const out: Record<string, unknown> = {};
    for (const f of type.fields) {
      const v = value.get(f.id);
      if (v !== null && v !== undefined) out[String(f.id)] = toJsonValue(f.type, v);
    }
    return out;
  }
  if (isList(type)) {
    if (!Array.isArray(value)) throw bad('list', value);
    return value.map((v) => toJsonValue(type.element, v));
  }
  if (isMap(type)) {
    const m = value as MapValue;
    if (!m || !Array.isArray(m.keys) || !Array.isArray(m.values) || m.keys.length !== m.values.length) throw bad('map', value);
    return { keys: m.keys.map((k) => toJsonValue(type.key, k)), values: m.values.map((v) => toJsonValue(type.value, v)) };
  }
  const v = value as IcebergValue;
  const info = primitiveInfo(type);
  validateValue(type, v, info);
  switch (info.kind) {
    case 'long': {
      const n = v as bigint;
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    }
    case 'float': case 'double': return Number.isFinite(v) ? v : String(v);
    case 'decimal': return formatDecimal(v as bigint, info.scale!);
    case 'date': return formatIsoDate(v as number);
    case 'time': return formatIsoTime(v as bigint);
    case 'timestamp': return formatIsoTimestamp(v as bigint, 'us', false);
    case 'timestamptz': return formatIsoTimestamp(v as bigint, 'us', true);
    case 'timestamp_ns': return formatIsoTimestamp(v as bigint, 'ns', false);
    case 'timestamptz_ns': return formatIsoTimestamp(v as bigint, 'ns', true);
    case 'uuid': return (v as string).toLowerCase();
    case 'fixed': case 'binary': return bytesToHex(v as Uint8Array);
    default: return v;
  }
}

export function fromJsonValue(type: IcebergType, json: unknown): IcebergDatum {
  if (json === null || json === undefined) return null;
  if (isStruct(type)) {
    if (typeof json !== 'object' || Array.isArray(json)) throw bad('struct', json);
    const o = json as Record<string, unknown>;
    const out: StructValue = new Map();
    for (const f of type.fields) out.set(f.id, fromJsonValue(f.type, o[String(f.id)]));
    return out;
  }
  if (isList(type)) {
    if (!Array.isArray(json)) throw bad('list', json);
    return json.map((v) => fromJsonValue(type.element, v));
  }
  if (isMap(type)) {
    const o = json as { keys?: unknown; values?: unknown };
    if (typeof o !== 'object' || !Array.isArray(o.keys) || !Array.isArray(o.values) || o.keys.length !== o.values.length) throw bad('map', json);
    return { keys: o.keys.map((k) => fromJsonValue(type.key, k)), values: o.values.map((v) => fromJsonValue(type.value, v)) };
  }
  if (!isPrimitive(type)) throw bad('type', type);
  const info = primitiveInfo(type);
  const str = (): string => {
    if (typeof json !== 'string') throw bad(type, json);
    return json;
  };
  let out: IcebergValue;
  switch (info.kind) {
    case 'unknown': return null;
    case 'boolean': out = json as boolean; break;
    case 'int': out = json as number; break;
    case 'long':
      if (typeof json === 'number' && Number.isSafeInteger(json)) out = BigInt(json);
      else if (typeof json === 'bigint') out = json;
      else if (typeof json === 'string' && /^-?\d+$/.test(json)) out = BigInt(json);
      else throw bad(type, json);
      break;
    case 'float': case 'double': {
      if (typeof json === 'number') out = info.kind === 'float' ? Math.fround(json) : json;
      else if (json === 'NaN' || json === 'Infinity' || json === '-Infinity') out = Number(json);
      else throw bad(type, json);
      break;
    }
    case 'decimal': out = parseDecimal(typeof json === 'number' ? String(json) : str(), info.scale!); break;
    case 'date': out = parseIsoDate(str()); break;
    case 'time': out = parseIsoTime(str()); break;
    case 'timestamp': out = parseIsoTimestamp(str(), 'us', false); break;
    case 'timestamptz': out = parseIsoTimestamp(str(), 'us', true); break;
    case 'timestamp_ns': out = parseIsoTimestamp(str(), 'ns', false); break;
    case 'timestamptz_ns': out = parseIsoTimestamp(str(), 'ns', true); break;
    case 'string': out = str(); break;
    case 'uuid': out = str().toLowerCase(); break;
    case 'fixed': case 'binary': out = hexToBytes(str()); break;
  }
  validateValue(type, out, info);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Ordering

const NAN_BITS = new Float64Array(1);
const NAN_BYTES = new Uint8Array(NAN_BITS.buffer);

/** -NaN < -Infinity < -x < -0 < 0 < x < Infinity < NaN (spec "Sorting"). */
function compareFloats(a: number, b: number): number {
  const rank = (x: number): number => {
    if (!Number.isNaN(x)) return 0;
    NAN_BITS[0] = x;
    return NAN_BYTES[7] & 0x80 ? -1 : 1;
  };
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== 0 || rb !== 0) return Math.sign(ra - rb);
  if (a < b) return -1;
  if (a > b) return 1;
  return a === 0 ? Number(!Object.is(a, -0)) - Number(!Object.is(b, -0)) : 0;
}

/**
 * Compares strings by Unicode code point (the order of their UTF-8 bytes) rather than by UTF-16
 * unit, which differs when surrogates meet U+E000..U+FFFF.
 */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates encode code points above U+FFFF, so they must sort after U+E000..U+FFFF.
      x = x < 0xe000 ? x + 0x2000 : x - 0x800;
      y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    }
    return x < y ? -1 : 1;
  }
  return Math.sign(a.length - b.length);
}

/** Unsigned lexicographic byte order. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return Math.sign(a.length - b.length);
}

/**
 * Type-aware ordering of two primitive values; nulls sort first. UUIDs compare as their 16 unsigned
 * big-endian bytes, which for canonical lowercase strings equals string order.
 */
export function compareValues(type: IcebergType, a: IcebergValue, b: IcebergValue): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (!isPrimitive(type)) throw lakehouseError('UNSUPPORTED_OPERATION', `cannot order values of nested type ${type.type}`);
  switch (primitiveInfo(type).kind) {
    case 'boolean': return Number(a) - Number(b);
    case 'float': case 'double': return compareFloats(a as number, b as number);
    case 'string': return compareStrings(a as string, b as string);
    case 'uuid': return compareStrings((a as string).toLowerCase(), (b as string).toLowerCase());
    case 'fixed': case 'binary': return compareBytes(a as Uint8Array, b as Uint8Array);
    case 'unknown': return 0;
    default: {
      const x = a as number | bigint;
      const y = b as number | bigint;
      return x < y ? -1 : x > y ? 1 : 0;
    }
  }
}
