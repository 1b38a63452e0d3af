/**
 * Avro record values (schema-registry framed) → plain JS objects in the shape the ingestion mapping
 * reads (see mapping.ts): numbers, strings, booleans, nested objects and arrays, with
 * - long → number when it is a safe integer, else its decimal string (the mapping takes both);
 * - bytes / fixed → base64 text;
 * - date → `YYYY-MM-DD`; time-millis/micros → `HH:MM:SS.fff[fff]`;
 *   timestamp-millis/micros/nanos → ISO-8601 UTC with `Z`; local-timestamp-* → without zone;
 * - decimal → its exact decimal text at the declared scale; uuid → canonical text;
 * - unions → the value of the branch present (null for the null branch).
 *
 * Schema evolution follows Avro's resolution rules: the payload is read with the writer schema
 * (its id in the frame) resolved against a reader schema (the subject's latest, when given), so
 * added fields get their defaults, removed ones vanish and promotions (int → long, ...) apply.
 */
import avro from 'avsc';
import { BIGINT_LONG } from '../../iceberg/avro.js';
import { DecodeError } from './decode-error.js';

type Type = avro.Type;
export type AvroResolver = ReturnType<Type['createResolver']>;

const MS_PER_DAY = 86_400_000;

function pad(n: number | bigint, width: number): string {
  return String(n).padStart(width, '0');
}

/** Floor division for bigint (its `/` truncates toward zero). */
function floorDiv(a: bigint, b: bigint): [bigint, bigint] {
  let q = a / b;
  let r = a % b;
  if (r < 0n) {
    q -= 1n;
    r += b;
  }
  return [q, r];
}

/** `units` since the epoch (`perMs` units a millisecond) → ISO-8601 with `digits` fraction digits. */
export function isoTimestamp(units: bigint, perMs: bigint, digits: number, utc: boolean): string {
  const [ms, sub] = floorDiv(units, perMs);
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) throw new RangeError(`timestamp ${units} is out of range`);
  const base = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const subDigits = digits - 3;
  const frac = base.slice(20, 23) + (subDigits > 0 ? pad(sub, subDigits) : '');
  return `${base.slice(0, 19)}.${frac}${utc ? 'Z' : ''}`;
}

/** Days since the epoch → `YYYY-MM-DD`. */
export function isoDate(days: number): string {
  const d = new Date(days * MS_PER_DAY);
  if (Number.isNaN(d.getTime())) throw new RangeError(`date ${days} is out of range`);
  return d.toISOString().slice(0, 10);
}

/** `units` since midnight (`perSecond` a second) → `HH:MM:SS.f…`. */
export function isoTime(units: bigint, perSecond: bigint, digits: number): string {
  const [secs, frac] = floorDiv(units, perSecond);
  const s = Number(secs);
  return `${pad(Math.floor(s / 3600), 2)}:${pad(Math.floor(s / 60) % 60, 2)}:${pad(s % 60, 2)}.${pad(frac, digits)}`;
}

/** Big-endian two's complement bytes → bigint. */
function unscaled(buf: Buffer): bigint {
  if (buf.length === 0) return 0n;
  let v = BigInt(`0x${buf.toString('hex')}`);
  if (buf[0] & 0x80) v -= 1n << BigInt(buf.length * 8);
  return v;
}

/** An unscaled integer at `scale` → exact decimal text. */
export function decimalText(u: bigint, scale: number): string {
  const neg = u < 0n;
  const digits = (neg ? -u : u).toString();
  if (scale === 0) return (neg ? '-' : '') + digits;
  const padded = digits.padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${padded.slice(0, -scale)}.${padded.slice(-scale)}`;
}

const asBig = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(v as number));

/** avsc's name for the base type (our bigint long reports itself as `abstract:long`). */
export function baseName(t: Type): string {
  return t.typeName === 'abstract:long' ? 'long' : t.typeName;
}

const TS_TEXT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z?$/;
const TIME_TEXT = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/** Inverse of isoTimestamp (for defaults and validity checks): text → `units` since the epoch. */
function timestampUnits(text: string, perMs: bigint): bigint {
  const m = TS_TEXT.exec(text);
  const secMs = m ? Date.parse(`${m[1]}Z`) : NaN;
  if (!m || Number.isNaN(secMs)) throw new Error(`not a timestamp: ${text}`);
  return BigInt(secMs) * perMs + BigInt((m[2] ?? '').padEnd(9, '0')) / (1_000_000n / perMs);
}

/** Inverse of isoTime: text → `units` since midnight (`perSecond` a second). */
function timeUnits(text: string, perSecond: bigint): bigint {
  const m = TIME_TEXT.exec(text);
  if (!m) throw new Error(`not a time: ${text}`);
  const secs = BigInt(Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]));
  return secs * perSecond + BigInt((m[4] ?? '').padEnd(9, '0')) / (1_000_000_000n / perSecond);
}

/** Inverse of decimalText: exact text → unscaled two's complement bytes (`size` for fixed). */
function decimalBytes(text: string, scale: number, size: number | undefined): Buffer {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!m || (m[3] ?? '').length > scale) throw new Error(`not a decimal at scale ${scale}: ${text}`);
  let u = BigInt(`${m[2] || '0'}${(m[3] ?? '').padEnd(scale, '0')}`);
  if (m[1]) u = -u;
  let len = size ?? 1;
  if (size === undefined) while (u < -(1n << BigInt(len * 8 - 1)) || u >= 1n << BigInt(len * 8 - 1)) len++;
  const b = Buffer.alloc(len);
  let v = BigInt.asUintN(len * 8, u);
  for (let i = len - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return b;
}

/**
 * One class for every supported logical type: avsc reads the underlying value, `_fromValue` turns
 * it into the mapping's text form. Reading only: `_toValue` exists so avsc's checks work.
 */
export class LakehouseLogical extends avro.types.LogicalType {
  private readonly convert: (v: unknown) => unknown;
  /** Text form → underlying value: avsc checks defaults and values with it. */
  private readonly invert: (text: string) => unknown;
  readonly logical: string;
  readonly scale: number;
  readonly precision: number;

  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    const s = schema as unknown as Record<string, unknown>;
    const base = baseName(this.underlyingType);
    this.logical = String(s.logicalType);
    this.scale = typeof s.scale === 'number' ? s.scale : 0;
    this.precision = typeof s.precision === 'number' ? s.precision : 0;
    const need = (...types: string[]) => {
      // avsc falls back to the underlying type when a logical type's constructor throws (the Avro spec's rule for invalid logical types).
      if (!types.includes(base)) throw new Error(`${this.logical} on ${base}`);
    };
    switch (this.logical) {
      case 'date':
        need('int');
        this.convert = (v) => isoDate(v as number);
        this.invert = (t) => Date.parse(`${t}T00:00:00Z`) / MS_PER_DAY;
        break;
      case 'time-millis':
        need('int');
        this.convert = (v) => isoTime(BigInt(v as number), 1000n, 3);
        this.invert = (t) => Number(timeUnits(t, 1000n));
        break;
      case 'time-micros':
        need('long');
        this.convert = (v) => isoTime(asBig(v), 1_000_000n, 6);
        this.invert = (t) => timeUnits(t, 1_000_000n);
        break;
      case 'timestamp-millis':
      case 'local-timestamp-millis':
        need('long');
        this.convert = (v) => isoTimestamp(asBig(v), 1n, 3, this.logical === 'timestamp-millis');
        this.invert = (t) => timestampUnits(t, 1n);
        break;
      case 'timestamp-micros':
      case 'local-timestamp-micros':
        need('long');
        this.convert = (v) => isoTimestamp(asBig(v), 1000n, 6, this.logical === 'timestamp-micros');
        this.invert = (t) => timestampUnits(t, 1000n);
        break;
      case 'timestamp-nanos':
      case 'local-timestamp-nanos':
        need('long');
        this.convert = (v) => isoTimestamp(asBig(v), 1_000_000n, 9, this.logical === 'timestamp-nanos');
        this.invert = (t) => timestampUnits(t, 1_000_000n);
        break;
      case 'decimal': {
        need('bytes', 'fixed');
        if (this.precision < 1 || this.scale < 0 || this.scale > this.precision) throw new Error('bad decimal precision/scale');
        this.convert = (v) => decimalText(unscaled(v as Buffer), this.scale);
        const size = base === 'fixed' ? (this.underlyingType as avro.types.FixedType).size : undefined;
        this.invert = (t) => decimalBytes(t, this.scale, size);
        break;
      }
      case 'uuid':
        need('string', 'fixed');
        this.invert = base === 'string' ? (t) => t : (t) => Buffer.from(t.replace(/-/g, ''), 'hex');
        this.convert =
          base === 'string'
            ? (v) => v
            : (v) => {
                const h = (v as Buffer).toString('hex');
                return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
              };
        break;
      default:
        throw new Error(`unsupported logical type ${this.logical}`);
    }
  }

  protected override _fromValue(v: unknown): unknown {
    return this.convert(v);
  }

  protected override _toValue(v: unknown): unknown {
    return typeof v === 'string' ? this.invert(v) : v;
  }

  /** Resolution: the same logical type (same scale) as writer reads as is; its underlying type converts. */
  protected override _resolve(writer: Type): ((v: unknown) => unknown) | undefined {
    if (writer instanceof LakehouseLogical) {
      return writer.logical === this.logical && writer.scale === this.scale ? (v) => v : undefined;
    }
    if (baseName(writer) === baseName(this.underlyingType)) return (v) => this.convert(v);
    return undefined;
  }
}

const LOGICAL_TYPES = Object.fromEntries(
  ['date', 'time-millis', 'time-micros', 'timestamp-millis', 'timestamp-micros', 'timestamp-nanos', 'local-timestamp-millis', 'local-timestamp-micros', 'local-timestamp-nanos', 'decimal', 'uuid'].map(
    (n) => [n, LakehouseLogical],
  ),
) as Record<string, new (schema: avro.Schema, opts?: unknown) => avro.types.LogicalType>;

/**
 * Compiles a registered Avro schema. `named` holds the types of the schema's references (Confluent
 * schema references), by full name. Throws DecodeError `unsupported-schema` for an invalid schema.
 */
export function compileAvro(schemaText: string, named: Record<string, Type> = {}): Type {
  let json: unknown;
  try {
    json = JSON.parse(schemaText);
  } catch {
    // A bare primitive name is valid Avro schema text too (`string`).
    json = schemaText.trim();
  }
  try {
    return avro.Type.forSchema(json as avro.Schema, {
      registry: { ...named, long: BIGINT_LONG },
      logicalTypes: LOGICAL_TYPES,
      wrapUnions: 'always',
    });
  } catch (e) {
    throw new DecodeError('unsupported-schema', `invalid Avro schema: ${(e as Error).message}`);
  }
}

/** The named types a compiled schema defines (for schemas that reference it). */
export function namedTypes(type: Type): Record<string, Type> {
  const out: Record<string, Type> = {};
  const seen = new Set<Type>();
  const visit = (t: Type) => {
    if (seen.has(t)) return;
    seen.add(t);
    if (t.name) out[t.name] = t;
    const o = t as unknown as { fields?: { type: Type }[]; types?: Type[]; itemsType?: Type; valuesType?: Type; underlyingType?: Type };
    if (t instanceof avro.types.LogicalType) visit(o.underlyingType!);
    for (const f of o.fields ?? []) visit(f.type);
    for (const u of o.types ?? []) visit(u);
    if (o.itemsType) visit(o.itemsType);
    if (o.valuesType) visit(o.valuesType);
  };
  visit(type);
  return out;
}

/** A resolver to read `writer` data as `reader`; throws DecodeError `incompatible-schema`. */
export function resolver(reader: Type, writer: Type, what: string): AvroResolver {
  try {
    return reader.createResolver(writer);
  } catch (e) {
    throw new DecodeError('incompatible-schema', `${what}: ${(e as Error).message}`);
  }
}

/** Decodes one Avro binary payload (already unframed) and converts it to plain values. */
export function decodeAvro(reader: Type, payload: Buffer, res: AvroResolver | undefined, what: string): unknown {
  let v: unknown;
  try {
    v = reader.fromBuffer(payload, res);
  } catch (e) {
    throw new DecodeError('avro-invalid', `${what}: ${(e as Error).message}`);
  }
  return plain(reader, v);
}

/** An avsc value of `type` → the mapping's plain shape (see the file comment). */
export function plain(type: Type, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (type instanceof avro.types.LogicalType) return v; // converted by LakehouseLogical
  switch (baseName(type)) {
    case 'record':
    case 'error': {
      const out: Record<string, unknown> = {};
      const rec = v as Record<string, unknown>;
      for (const f of (type as avro.types.RecordType).fields) out[f.name] = plain(f.type, rec[f.name]);
      return out;
    }
    case 'array': {
      const items = (type as avro.types.ArrayType).itemsType as Type;
      return (v as unknown[]).map((x) => plain(items, x));
    }
    case 'map': {
      const values = (type as avro.types.MapType).valuesType as Type;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = plain(values, x);
      return out;
    }
    case 'union:wrapped': {
      const [branch] = Object.keys(v as object);
      const t = (type as avro.types.WrappedUnionType).types.find((b) => b.branchName === branch);
      return t ? plain(t, (v as Record<string, unknown>)[branch]) : null;
    }
    case 'long': {
      const b = asBig(v);
      return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b.toString();
    }
    case 'bytes':
    case 'fixed':
      return (v as Buffer).toString('base64');
    default:
      return v; // null, boolean, int, float, double, string, enum
  }
}
