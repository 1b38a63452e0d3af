/**
 * Minimal Avro object-container-file support over avsc (Avro spec "Object Container Files"),
 * byte-oriented so storage stays pluggable.
 *
 * - Longs are decoded as bigint everywhere (snapshot ids exceed 2^53).
 * - The writer puts the caller's raw schema JSON into `avro.schema` verbatim, so Iceberg
 *   attributes (`field-id`, `element-id`, `adjust-to-utc`, ...) survive; avsc only sees a copy.
 * - Codecs: `null` and `deflate` (read and write), `snappy` (read).
 * - Malformed input raises `CORRUPT_FILE` naming the file.
 */
import { randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import avro from 'avsc';
import { lakehouseError, isLakehouseError } from '../core/errors.js';

export type AvroType = avro.Type;
/** An Avro schema in its JSON shape (kept loose: Iceberg adds its own attributes). */
export type AvroSchema = string | AvroSchemaObject | AvroSchema[];
export interface AvroSchemaObject {
  type: AvroSchema;
  name?: string;
  namespace?: string;
  fields?: AvroFieldSchema[];
  items?: AvroSchema;
  values?: AvroSchema;
  symbols?: string[];
  size?: number;
  logicalType?: string;
  [attr: string]: unknown;
}
export interface AvroFieldSchema {
  name: string;
  type: AvroSchema;
  doc?: string;
  default?: unknown;
  'field-id'?: number;
  [attr: string]: unknown;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Zig-zag varint bytes of a 64-bit long → bigint. */
function zigzagDecode(buf: Uint8Array): bigint {
  if (buf.length <= 7) {
    // < 2^49: exact in a double.
    let u = 0;
    let mul = 1;
    for (let i = 0; i < buf.length; i++) {
      u += (buf[i] & 0x7f) * mul;
      mul *= 128;
    }
    const n = u % 2 === 0 ? u / 2 : -(u + 1) / 2;
    return BigInt(n);
  }
  let u = 0n;
  let shift = 0n;
  for (let i = 0; i < buf.length; i++) {
    u |= BigInt(buf[i] & 0x7f) << shift;
    shift += 7n;
  }
  u = BigInt.asUintN(64, u);
  return BigInt.asIntN(64, (u >> 1n) ^ -(u & 1n));
}

function zigzagEncode(n: bigint): Buffer {
  let u = BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));
  const out: number[] = [];
  while (u >= 0x80n) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
  return Buffer.from(out);
}

/**
 * Hot path: decode/encode the zig-zag varint straight from avsc's tap instead of through a
 * per-value Buffer (avsc 5 `Tap`: `buf`, `pos`; overflowing writes only advance `pos`, which
 * makes avsc grow its buffer and retry). Overridden on our own type instance only.
 */
interface AvscTap {
  buf: Buffer;
  pos: number;
  writeLong(n: number): void;
}
function readLongTap(tap: AvscTap): bigint {
  const buf = tap.buf;
  let pos = tap.pos;
  let lo = 0;
  let mul = 1;
  let b = 0;
  let i = 0;
  for (; i < 7; i++) {
    if (pos >= buf.length) {
      tap.pos = buf.length + 1;
      return 0n;
    }
    b = buf[pos++];
    lo += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) {
      tap.pos = pos;
      return BigInt(lo % 2 === 0 ? lo / 2 : -(lo + 1) / 2);
    }
  }
  let u = BigInt(lo);
  let shift = 49n;
  for (; i < 10; i++) {
    if (pos >= buf.length) {
      tap.pos = buf.length + 1;
      return 0n;
    }
    b = buf[pos++];
    u |= BigInt(b & 0x7f) << shift;
    shift += 7n;
    if ((b & 0x80) === 0) break;
  }
  if (b & 0x80) {
    tap.pos = buf.length + 1; // varint longer than 10 bytes: invalid
    return 0n;
  }
  tap.pos = pos;
  u = BigInt.asUintN(64, u);
  return (u >> 1n) ^ -(u & 1n);
}
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
function writeLongTap(tap: AvscTap, v: unknown): void {
  if (typeof v !== 'bigint' || v < INT64_MIN || v > INT64_MAX) {
    throw new Error(`invalid long: ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v) ?? String(v)} (expected bigint)`);
  }
  if (v >= SAFE_MIN && v <= SAFE_MAX) {
    tap.writeLong(Number(v));
    return;
  }
  let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  const buf = tap.buf;
  while (u >= 0x80n) {
    if (tap.pos < buf.length) buf[tap.pos] = Number(u & 0x7fn) | 0x80;
    tap.pos++;
    u >>= 7n;
  }
  if (tap.pos < buf.length) buf[tap.pos] = Number(u);
  tap.pos++;
}

const LONG_METHODS = {
  fromBuffer: (buf: Buffer) => zigzagDecode(buf),
  toBuffer: (n: bigint) => zigzagEncode(n),
  fromJSON: (v: unknown) => BigInt(v as string | number | bigint),
  toJSON: (n: bigint) => (n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString()),
  isValid: (n: unknown) => typeof n === 'bigint' && n >= INT64_MIN && n <= INT64_MAX,
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
};

/**
 * avsc `long` replacement that reads and writes bigint (full signed 64-bit range). Values to be
 * written must be bigint; plain numbers are rejected so precision bugs surface early.
 *
 * Built like `LongType.__with(methods, true)` (which freezes its result), plus `_read`/`_write`
 * that work on avsc's tap directly instead of allocating a Buffer per value.
 */
export const BIGINT_LONG: AvroType = (() => {
  const proto = Object.getPrototypeOf(avro.types.LongType.__with(LONG_METHODS, true)) as { constructor: new (noUnpack: boolean) => object };
  const t = new proto.constructor(true) as Record<string, unknown>;
  t._fromBuffer = LONG_METHODS.fromBuffer;
  t._toBuffer = LONG_METHODS.toBuffer;
  t._fromJSON = LONG_METHODS.fromJSON;
  t._toJSON = LONG_METHODS.toJSON;
  t._isValid = LONG_METHODS.isValid;
  t.compare = LONG_METHODS.compare;
  t._read = readLongTap;
  t._write = writeLongTap;
  return Object.freeze(t) as unknown as AvroType;
})();

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
const COMPLEX = new Set(['record', 'error', 'enum', 'fixed', 'array', 'map']);
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Java's AvroSchemaUtil.makeCompatibleName: invalid characters become `_xHH` (digits `_D`). */
export function makeCompatibleName(name: string): string {
  if (NAME_RE.test(name)) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    const ok = /[A-Za-z_]/.test(c) || (i > 0 && /[0-9]/.test(c));
    if (ok) out += c;
    else if (/[0-9]/.test(c)) out += `_${c}`;
    else out += `_x${c.charCodeAt(0).toString(16).toUpperCase()}`;
  }
  return out || '_';
}

function sanitizeFullName(name: string): string {
  return name.split('.').map(makeCompatibleName).join('.');
}

/**
 * Copy of a schema with every field and named-type name made Avro-valid (some writers emit
 * names avsc rejects). Attributes such as `field-id` are kept, so the copy can be indexed by id.
 */
export function sanitizeSchema(schema: AvroSchema): AvroSchema {
  if (typeof schema === 'string') return PRIMITIVES.has(schema) ? schema : sanitizeFullName(schema);
  if (Array.isArray(schema)) return schema.map(sanitizeSchema);
  if (schema === null || typeof schema !== 'object') throw new TypeError(`invalid Avro schema node ${JSON.stringify(schema)}`);
  const out: AvroSchemaObject = { ...schema };
  if (typeof out.name === 'string') out.name = sanitizeFullName(out.name);
  if (typeof out.namespace === 'string') out.namespace = sanitizeFullName(out.namespace);
  if (Array.isArray(schema.fields)) {
    out.fields = schema.fields.map((f) => ({ ...f, name: makeCompatibleName(String(f.name)), type: sanitizeSchema(f.type) }));
  }
  if (schema.items !== undefined) out.items = sanitizeSchema(schema.items);
  if (schema.values !== undefined) out.values = sanitizeSchema(schema.values);
  const t = schema.type;
  if (typeof t !== 'string' || !(PRIMITIVES.has(t) || COMPLEX.has(t))) out.type = sanitizeSchema(t);
  return out;
}

/** avsc type for a schema, with bigint longs and unwrapped `["null", T]` unions (value or null). */
const typeCache = new Map<string, AvroType>();

/**
 * Compiling an avsc type generates code and dominates small manifest writes; manifests of one
 * table share a handful of schemas, so compiled types are reused by schema text.
 */
export function avroType(schema: AvroSchema): AvroType {
  const key = JSON.stringify(schema);
  let type = typeCache.get(key);
  if (!type) {
    type = compileAvroType(schema);
    if (typeCache.size >= 512) typeCache.delete(typeCache.keys().next().value as string);
    typeCache.set(key, type);
  }
  return type;
}

function compileAvroType(schema: AvroSchema): AvroType {
  return avro.Type.forSchema(schema as avro.Schema, {
    registry: { long: BIGINT_LONG },
    wrapUnions: false,
    // `{"type": "long", "logicalType": ...}` bypasses the registry: map every long to bigint.
    typeHook: (s: unknown) =>
      s === 'long' || (s !== null && typeof s === 'object' && !Array.isArray(s) && (s as AvroSchemaObject).type === 'long') ? BIGINT_LONG : undefined,
  });
}

export interface AvroFile {
  /** Header metadata, decoded as UTF-8 (Iceberg keys are all strings). */
  meta: Map<string, string>;
  /** The `avro.schema` text exactly as stored. */
  schemaText: string;
  /** The writer schema after `sanitizeSchema`; decoded records use these field names. */
  schema: AvroSchema;
  codec: string;
  records: unknown[];
}

const MAGIC = [0x4f, 0x62, 0x6a, 0x01]; // "Obj" 1
const SYNC_SIZE = 16;

class ByteReader {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly file: string,
  ) {}

  corrupt(msg: string, cause?: unknown): Error {
    return corruptError(this.file, `${msg} at byte ${this.pos}`, cause);
  }

  /** A zig-zag varint that must fit a safe integer (block counts, sizes, map counts). */
  long(): number {
    let u = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.buf.length) throw this.corrupt('unexpected end of file');
      if (i >= 8) throw this.corrupt('varint too long');
      const b = this.buf[this.pos++];
      u += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) break;
    }
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  bytes(n: number): Uint8Array {
    if (n < 0 || this.pos + n > this.buf.length) throw this.corrupt('unexpected end of file');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function corruptError(file: string, msg: string, cause?: unknown): Error {
  return lakehouseError('CORRUPT_FILE', `corrupt Avro file ${file}: ${msg}`, { file }, cause);
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Reads an Avro object container file. Throws CORRUPT_FILE on malformed or truncated input. */
export function readAvroFile(bytes: Uint8Array, file: string): AvroFile {
  const r = new ByteReader(bytes, file);
  const meta = readHeaderMeta(r);
  const sync = r.bytes(SYNC_SIZE);
  const schemaText = meta.get('avro.schema');
  if (schemaText === undefined) throw corruptError(file, 'header has no avro.schema');
  const codec = meta.get('avro.codec') ?? 'null';
  let schema: AvroSchema;
  let type: AvroType;
  try {
    schema = sanitizeSchema(JSON.parse(schemaText) as AvroSchema);
    type = avroType(schema);
  } catch (e) {
    throw corruptError(file, `invalid avro.schema: ${(e as Error).message}`, e);
  }
  const records: unknown[] = [];
  while (r.pos < bytes.length) {
    const count = r.long();
    const size = r.long();
    if (count < 0 || size < 0) throw r.corrupt('negative block count or size');
    const raw = r.bytes(size);
    const blockSync = r.bytes(SYNC_SIZE);
    for (let i = 0; i < SYNC_SIZE; i++) {
      if (blockSync[i] !== sync[i]) throw r.corrupt('sync marker mismatch');
    }
    const data = decompress(codec, raw, file);
    if (data.length > 0 ? count > data.length : count > 1_000_000) throw corruptError(file, `block claims ${count} records in ${data.length} bytes`);
    let pos = 0;
    for (let i = 0; i < count; i++) {
      let res: { value: unknown; offset: number };
      try {
        res = type.decode(data, pos);
      } catch (e) {
        throw corruptError(file, `undecodable record: ${(e as Error).message}`, e);
      }
      if (res.offset < 0) throw corruptError(file, 'record runs past the end of its block');
      pos = res.offset;
      records.push(res.value);
    }
    if (pos !== data.length) throw corruptError(file, `block has ${data.length - pos} trailing bytes`);
  }
  return { meta, schemaText, schema, codec, records };
}

function decompress(codec: string, raw: Uint8Array, file: string): Buffer {
  try {
    switch (codec) {
      case 'null':
        return toBuffer(raw);
      case 'deflate':
        return zlib.inflateRawSync(raw);
      case 'snappy':
        return snappyBlock(raw, file);
      default:
        break;
    }
  } catch (e) {
    if (isLakehouseError(e)) throw e;
    throw corruptError(file, `cannot decompress ${codec} block: ${(e as Error).message}`, e);
  }
  throw lakehouseError('UNSUPPORTED_OPERATION', `Avro codec ${codec} is not supported (file: ${file})`, { file });
}

/** Avro snappy block: raw snappy data followed by the big-endian CRC32 of the uncompressed bytes. */
function snappyBlock(raw: Uint8Array, file: string): Buffer {
  if (raw.length < 4) throw corruptError(file, 'snappy block too short');
  const out = snappyDecompress(raw.subarray(0, raw.length - 4), file);
  const crc = ((raw[raw.length - 4] << 24) | (raw[raw.length - 3] << 16) | (raw[raw.length - 2] << 8) | raw[raw.length - 1]) >>> 0;
  const z = zlib as unknown as { crc32?: (d: Uint8Array) => number };
  if (typeof z.crc32 === 'function' && z.crc32(out) >>> 0 !== crc) throw corruptError(file, 'snappy block CRC mismatch');
  return out;
}

function snappyDecompress(src: Uint8Array, file: string): Buffer {
  let pos = 0;
  let len = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= src.length || shift > 28) throw corruptError(file, 'bad snappy length');
    const b = src[pos++];
    len += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) break;
  }
  const out = Buffer.alloc(len);
  let o = 0;
  while (pos < src.length) {
    const tag = src[pos++];
    const kind = tag & 3;
    if (kind === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const extra = n - 59;
        if (pos + extra > src.length) throw corruptError(file, 'truncated snappy literal');
        n = 0;
        for (let i = 0; i < extra; i++) n += src[pos++] * 2 ** (8 * i);
      }
      n += 1;
      if (pos + n > src.length || o + n > len) throw corruptError(file, 'snappy literal out of range');
      out.set(src.subarray(pos, pos + n), o);
      pos += n;
      o += n;
      continue;
    }
    let n: number;
    let off: number;
    if (kind === 1) {
      if (pos >= src.length) throw corruptError(file, 'truncated snappy copy');
      n = 4 + ((tag >>> 2) & 7);
      off = ((tag >>> 5) << 8) | src[pos++];
    } else if (kind === 2) {
      if (pos + 2 > src.length) throw corruptError(file, 'truncated snappy copy');
      n = (tag >>> 2) + 1;
      off = src[pos] | (src[pos + 1] << 8);
      pos += 2;
    } else {
      if (pos + 4 > src.length) throw corruptError(file, 'truncated snappy copy');
      n = (tag >>> 2) + 1;
      off = (src[pos] | (src[pos + 1] << 8) | (src[pos + 2] << 16) | (src[pos + 3] << 24)) >>> 0;
      pos += 4;
    }
    if (off === 0 || off > o || o + n > len) throw corruptError(file, 'snappy copy out of range');
    for (let i = 0; i < n; i++, o++) out[o] = out[o - off];
  }
  if (o !== len) throw corruptError(file, 'snappy output length mismatch');
  return out;
}

export interface WriteAvroOptions {
  /** Raw schema: written verbatim into `avro.schema` (a string is used as is). */
  schema: AvroSchema | string;
  /** Extra header metadata (`avro.schema` / `avro.codec` are set from the other options). */
  meta?: Iterable<[string, string]> | Record<string, string>;
  records: Iterable<unknown>;
  /** Default `deflate`, as Java Iceberg writes. */
  codec?: 'deflate' | 'null';
  /** Fixed sync marker (16 bytes) for reproducible output; random by default. */
  syncMarker?: Uint8Array;
  /** Uncompressed bytes per block before a new block starts (default 1 MiB). */
  blockSize?: number;
}

function writeLong(out: number[], n: number): void {
  let u = n >= 0 ? n * 2 : -n * 2 - 1;
  while (u >= 0x80) {
    out.push((u % 0x80) | 0x80);
    u = Math.floor(u / 0x80);
  }
  out.push(u);
}

/** Writes an Avro object container file. Invalid records raise VALIDATION_FAILED with the field path. */
export function writeAvroFile(opts: WriteAvroOptions): Uint8Array {
  const schemaText = typeof opts.schema === 'string' ? opts.schema : JSON.stringify(opts.schema);
  const type = avroType(sanitizeSchema(JSON.parse(schemaText) as AvroSchema));
  const codec = opts.codec ?? 'deflate';
  const sync = opts.syncMarker ?? randomBytes(SYNC_SIZE);
  if (sync.length !== SYNC_SIZE) throw lakehouseError('VALIDATION_FAILED', 'Avro sync marker must be 16 bytes');
  const blockSize = opts.blockSize ?? 1 << 20;
  const enc = new TextEncoder();

  const meta: [string, string][] = [['avro.schema', schemaText], ['avro.codec', codec]];
  const extra = opts.meta === undefined ? [] : Symbol.iterator in Object(opts.meta)
    ? [...(opts.meta as Iterable<[string, string]>)]
    : Object.entries(opts.meta as Record<string, string>);
  for (const [k, v] of extra) if (k !== 'avro.schema' && k !== 'avro.codec') meta.push([k, v]);

  const chunks: Uint8Array[] = [];
  const head: number[] = [...MAGIC];
  writeLong(head, meta.length);
  const headChunks: Uint8Array[] = [Uint8Array.from(head)];
  for (const [k, v] of meta) {
    for (const s of [k, v]) {
      const b = enc.encode(s);
      const l: number[] = [];
      writeLong(l, b.length);
      headChunks.push(Uint8Array.from(l), b);
    }
  }
  headChunks.push(Uint8Array.of(0), sync);
  chunks.push(...headChunks);

  let block: Buffer[] = [];
  let blockBytes = 0;
  const flush = () => {
    if (block.length === 0) return;
    const data = Buffer.concat(block);
    const payload = codec === 'deflate' ? zlib.deflateRawSync(data) : data;
    const l: number[] = [];
    writeLong(l, block.length);
    writeLong(l, payload.length);
    chunks.push(Uint8Array.from(l), payload, sync);
    block = [];
    blockBytes = 0;
  };
  for (const rec of opts.records) {
    let buf: Buffer;
    try {
      buf = type.toBuffer(rec);
    } catch (e) {
      const paths: string[] = [];
      type.isValid(rec, { errorHook: (path: string[]) => paths.push(path.join('.')) });
      throw lakehouseError('VALIDATION_FAILED', `cannot encode Avro record: invalid value at ${paths[0] ?? '?'}: ${(e as Error).message}`, {}, e);
    }
    block.push(buf);
    blockBytes += buf.length;
    if (blockBytes >= blockSize) flush();
  }
  flush();
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Returns only the container header metadata (cheap: no record decoding). */
export function readAvroMeta(bytes: Uint8Array, file: string): Map<string, string> {
  return readHeaderMeta(new ByteReader(bytes, file));
}

function readHeaderMeta(r: ByteReader): Map<string, string> {
  const bytes = r.buf;
  if (bytes.length < MAGIC.length || MAGIC.some((m, i) => bytes[i] !== m)) {
    throw corruptError(r.file, 'not an Avro object container file (bad magic)');
  }
  r.pos = MAGIC.length;
  const meta = new Map<string, string>();
  const utf8 = new TextDecoder('utf-8');
  for (;;) {
    let count = r.long();
    if (count === 0) break;
    if (count < 0) {
      count = -count;
      r.long();
    }
    for (let i = 0; i < count; i++) {
      const key = utf8.decode(r.bytes(r.long()));
      meta.set(key, utf8.decode(r.bytes(r.long())));
    }
  }
  return meta;
}

/**
 * Navigates a (sanitized) writer schema: resolves named-type references, strips `["null", T]`
 * unions, and indexes record fields by Iceberg `field-id` so readers never depend on names.
 */
export class AvroSchemaIndex {
  private readonly named = new Map<string, AvroSchemaObject>();

  constructor(root: AvroSchema) {
    this.collect(root, '');
  }

  private collect(s: AvroSchema, ns: string): void {
    if (typeof s === 'string') return;
    if (Array.isArray(s)) {
      for (const b of s) this.collect(b, ns);
      return;
    }
    if (s === null || typeof s !== 'object') return;
    let inner = ns;
    if (typeof s.type === 'string' && COMPLEX.has(s.type) && typeof s.name === 'string' && s.type !== 'array' && s.type !== 'map') {
      const full = s.name.includes('.') ? s.name : typeof s.namespace === 'string' && s.namespace ? `${s.namespace}.${s.name}` : ns ? `${ns}.${s.name}` : s.name;
      this.named.set(full, s);
      const short = full.slice(full.lastIndexOf('.') + 1);
      if (!this.named.has(short)) this.named.set(short, s);
      inner = full.includes('.') ? full.slice(0, full.lastIndexOf('.')) : '';
    }
    if (Array.isArray(s.fields)) for (const f of s.fields) this.collect(f.type, inner);
    if (s.items !== undefined) this.collect(s.items, inner);
    if (s.values !== undefined) this.collect(s.values, inner);
    if (typeof s.type !== 'string') this.collect(s.type, inner);
  }

  /** Resolves a named reference or a `{"type": X}` wrapper; primitives come back as their name. */
  resolve(s: AvroSchema): AvroSchema {
    for (let i = 0; i < 32; i++) {
      if (typeof s === 'string') {
        const def = PRIMITIVES.has(s) ? undefined : this.named.get(s);
        if (!def) return s;
        s = def;
        continue;
      }
      if (!Array.isArray(s) && typeof s.type !== 'string') {
        s = s.type;
        continue;
      }
      return s;
    }
    return s;
  }

  /** The non-null branch of an optional (`["null", T]`) schema, resolved. */
  nonNull(s: AvroSchema): AvroSchema {
    const r = this.resolve(s);
    if (Array.isArray(r)) {
      const branches = r.filter((b) => b !== 'null');
      return branches.length === 1 ? this.resolve(branches[0]) : r;
    }
    return r;
  }

  /** Record fields by `field-id` (fields without one are skipped). */
  fieldsById(record: AvroSchema): Map<number, AvroFieldSchema> {
    const r = this.nonNull(record);
    const out = new Map<number, AvroFieldSchema>();
    if (typeof r === 'object' && !Array.isArray(r) && Array.isArray(r.fields)) {
      for (const f of r.fields) {
        const id = f['field-id'];
        if (typeof id === 'number') out.set(id, f);
        else if (typeof id === 'string' && /^\d+$/.test(id)) out.set(Number(id), f);
      }
    }
    return out;
  }

  /** The ordered fields of a record schema (empty for non-records). */
  fields(record: AvroSchema): AvroFieldSchema[] {
    const r = this.nonNull(record);
    return typeof r === 'object' && !Array.isArray(r) && Array.isArray(r.fields) ? r.fields : [];
  }
}
