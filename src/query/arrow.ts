import {
  DuckDBArrayType, DuckDBDecimalType, DuckDBListType, DuckDBMapType, DuckDBStructType, DuckDBTypeId, type DuckDBType,
} from '@duckdb/node-api';
import {
  Binary, Bool, DataType, DateDay, Decimal, Field, FixedSizeBinary, FixedSizeList, Float32, Float64, Int16, Int32, Int64, Int8,
  List, Map_, Null, RecordBatch, Schema, Struct, Table, TimeMicrosecond, TimestampMicrosecond, TimestampMillisecond,
  TimestampNanosecond, TimestampSecond, Uint16, Uint32, Uint64, Uint8, Utf8, makeData, tableToIPC, type Data,
} from 'apache-arrow';
import type { JsonValue } from '../duck/result-json.js';

/**
 * Arrow IPC renderings of query results (`Accept: application/vnd.apache.arrow.stream|file`).
 * Results are kept as JSON values (the fixture conventions, which are lossless: big integers and
 * decimals as strings, temporal values as ISO text with full precision), so each column is
 * rebuilt from them by its DuckDB type: BIGINT → Int64, DECIMAL(p,s) → Decimal128(p,s), HUGEINT →
 * Decimal128(38,0) (as DuckDB's own Arrow export does), TIMESTAMP → Timestamp(µs) without a zone,
 * TIMESTAMPTZ → Timestamp(µs, "UTC"), DATE → Date32, TIME → Time64(µs), UUID → the canonical
 * `arrow.uuid` extension over FixedSizeBinary(16), BLOB → Binary, LIST/ARRAY/STRUCT/MAP → List /
 * FixedSizeList / Struct / Map. Types without a faithful Arrow counterpart (INTERVAL, TIME WITH
 * TIME ZONE, UNION, BIT, …) travel as Utf8 text, as in the JSON rendering.
 */
export type ArrowFormat = 'stream' | 'file';

export const ARROW_STREAM = 'application/vnd.apache.arrow.stream';
export const ARROW_FILE = 'application/vnd.apache.arrow.file';

/** Rows per record batch: bounded batches let readers start before the whole result is decoded. */
const BATCH_ROWS = 65_536;

const UUID_META = new Map([['ARROW:extension:name', 'arrow.uuid'], ['ARROW:extension:metadata', '']]);

export function arrowField(name: string, t: DuckDBType, nullable = true): Field {
  return new Field(name, arrowType(t), nullable, t.typeId === DuckDBTypeId.UUID ? UUID_META : undefined);
}

function arrowType(t: DuckDBType): DataType {
  switch (t.typeId) {
    case DuckDBTypeId.BOOLEAN: return new Bool();
    case DuckDBTypeId.TINYINT: return new Int8();
    case DuckDBTypeId.SMALLINT: return new Int16();
    case DuckDBTypeId.INTEGER: return new Int32();
    case DuckDBTypeId.BIGINT: return new Int64();
    case DuckDBTypeId.UTINYINT: return new Uint8();
    case DuckDBTypeId.USMALLINT: return new Uint16();
    case DuckDBTypeId.UINTEGER: return new Uint32();
    case DuckDBTypeId.UBIGINT: return new Uint64();
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT: return new Decimal(0, 38, 128);
    case DuckDBTypeId.FLOAT: return new Float32();
    case DuckDBTypeId.DOUBLE: return new Float64();
    case DuckDBTypeId.DECIMAL: {
      const d = t as DuckDBDecimalType;
      return new Decimal(d.scale, d.width, 128);
    }
    case DuckDBTypeId.VARCHAR: return new Utf8();
    case DuckDBTypeId.BLOB: return new Binary();
    case DuckDBTypeId.UUID: return new FixedSizeBinary(16);
    case DuckDBTypeId.DATE: return new DateDay();
    case DuckDBTypeId.TIME: return new TimeMicrosecond();
    case DuckDBTypeId.TIMESTAMP: return new TimestampMicrosecond(null);
    case DuckDBTypeId.TIMESTAMP_TZ: return new TimestampMicrosecond('UTC');
    case DuckDBTypeId.TIMESTAMP_NS: return new TimestampNanosecond(null);
    case DuckDBTypeId.TIMESTAMP_MS: return new TimestampMillisecond(null);
    case DuckDBTypeId.TIMESTAMP_S: return new TimestampSecond(null);
    case DuckDBTypeId.SQLNULL: return new Null();
    case DuckDBTypeId.LIST: return new List(arrowField('element', (t as DuckDBListType).valueType));
    case DuckDBTypeId.ARRAY: {
      const a = t as DuckDBArrayType;
      return new FixedSizeList(a.length, arrowField('element', a.valueType));
    }
    case DuckDBTypeId.STRUCT: {
      const s = t as DuckDBStructType;
      return new Struct(s.entryNames.map((n, i) => arrowField(n, s.entryTypes[i])));
    }
    case DuckDBTypeId.MAP: {
      const m = t as DuckDBMapType;
      const entries = new Struct([arrowField('key', m.keyType, false), arrowField('value', m.valueType)]);
      return new Map_(new Field('entries', entries, false));
    }
    default:
      return new Utf8();
  }
}

// ------------------------------------------------------------------------------------ values

interface Validity {
  nullBitmap?: Uint8Array;
  nullCount: number;
}

function validity(values: JsonValue[]): Validity {
  let nullCount = 0;
  for (const v of values) if (v === null) nullCount++;
  if (nullCount === 0) return { nullCount };
  const bits = new Uint8Array((values.length + 7) >> 3);
  values.forEach((v, i) => {
    if (v !== null) bits[i >> 3] |= 1 << (i & 7);
  });
  return { nullBitmap: bits, nullCount };
}

const asBig = (v: JsonValue): bigint => (v === null ? 0n : BigInt(v as number | string));

/** "-12.50" at scale 2 → -1250n (the text always carries exactly `scale` digits). */
function unscaled(v: JsonValue): bigint {
  if (v === null) return 0n;
  return BigInt(String(v).replace('.', ''));
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

const TEMPORAL = /^(-?\d{4,})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?)?Z?$/;
const CLOCK = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

function parseDays(v: string): number {
  const m = TEMPORAL.exec(v);
  if (!m) throw new Error(`not a date: ${v}`);
  return daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3]));
}

/** Nanoseconds since the epoch of an ISO timestamp as rendered in JSON results. */
function parseTimestampNanos(v: string): bigint {
  const m = TEMPORAL.exec(v);
  if (!m) throw new Error(`not a timestamp: ${v}`);
  const days = BigInt(daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3])));
  const secs = BigInt(Number(m[4] ?? 0) * 3600 + Number(m[5] ?? 0) * 60 + Number(m[6] ?? 0));
  return (days * 86_400n + secs) * 1_000_000_000n + BigInt((m[7] ?? '').padEnd(9, '0'));
}

function parseTimeMicros(v: string): bigint {
  const m = CLOCK.exec(v);
  if (!m) throw new Error(`not a time: ${v}`);
  return BigInt(Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1_000_000n + BigInt((m[4] ?? '').padEnd(6, '0').slice(0, 6));
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

function textOf(v: JsonValue): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

const encoder = new TextEncoder();

function variableWidth(type: DataType, chunks: (Uint8Array | null)[], valid: Validity): Data {
  const offsets = new Int32Array(chunks.length + 1);
  let total = 0;
  chunks.forEach((c, i) => {
    total += c?.length ?? 0;
    offsets[i + 1] = total;
  });
  const data = new Uint8Array(total);
  chunks.forEach((c, i) => c && data.set(c, offsets[i]));
  return makeData({ type, length: chunks.length, ...valid, valueOffsets: offsets, data } as never);
}

function fixed<T extends { [i: number]: unknown; length: number }>(type: DataType, values: JsonValue[], valid: Validity, data: T, set: (v: JsonValue) => T[number]): Data {
  values.forEach((v, i) => {
    if (v !== null) data[i] = set(v);
  });
  return makeData({ type, length: values.length, ...valid, data } as never);
}

/** The Arrow data of one column (or nested child) from its JSON values. */
export function columnData(t: DuckDBType, field: Field, values: JsonValue[]): Data {
  const type = field.type as DataType;
  const valid = validity(values);
  const n = values.length;
  switch (t.typeId) {
    case DuckDBTypeId.BOOLEAN: {
      const bits = new Uint8Array((n + 7) >> 3);
      values.forEach((v, i) => {
        if (v === true) bits[i >> 3] |= 1 << (i & 7);
      });
      return makeData({ type, length: n, ...valid, data: bits } as never);
    }
    case DuckDBTypeId.TINYINT: return fixed(type, values, valid, new Int8Array(n), Number);
    case DuckDBTypeId.SMALLINT: return fixed(type, values, valid, new Int16Array(n), Number);
    case DuckDBTypeId.INTEGER: return fixed(type, values, valid, new Int32Array(n), Number);
    case DuckDBTypeId.UTINYINT: return fixed(type, values, valid, new Uint8Array(n), Number);
    case DuckDBTypeId.USMALLINT: return fixed(type, values, valid, new Uint16Array(n), Number);
    case DuckDBTypeId.UINTEGER: return fixed(type, values, valid, new Uint32Array(n), Number);
    case DuckDBTypeId.BIGINT: return fixed(type, values, valid, new BigInt64Array(n), asBig);
    case DuckDBTypeId.UBIGINT: return fixed(type, values, valid, new BigUint64Array(n), asBig);
    // Non-finite floats are rendered as "NaN" / "Infinity" / "-Infinity", which Number() reads back.
    case DuckDBTypeId.FLOAT: return fixed(type, values, valid, new Float32Array(n), Number);
    case DuckDBTypeId.DOUBLE: return fixed(type, values, valid, new Float64Array(n), Number);
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.DECIMAL: {
      // Little-endian two's complement, four 32-bit words per value.
      const words = new Uint32Array(n * 4);
      values.forEach((v, i) => {
        if (v === null) return;
        let x = BigInt.asUintN(128, t.typeId === DuckDBTypeId.DECIMAL ? unscaled(v) : asBig(v));
        for (let w = 0; w < 4; w++, x >>= 32n) words[i * 4 + w] = Number(x & 0xffff_ffffn);
      });
      return makeData({ type, length: n, ...valid, data: words } as never);
    }
    case DuckDBTypeId.BLOB: return variableWidth(type, values.map((v) => (v === null ? null : Buffer.from(String(v), 'hex'))), valid);
    case DuckDBTypeId.UUID: {
      const data = new Uint8Array(n * 16);
      values.forEach((v, i) => v !== null && data.set(Buffer.from(String(v).replaceAll('-', ''), 'hex'), i * 16));
      return makeData({ type, length: n, ...valid, data } as never);
    }
    case DuckDBTypeId.DATE: return fixed(type, values, valid, new Int32Array(n), (v) => parseDays(String(v)));
    case DuckDBTypeId.TIME: return fixed(type, values, valid, new BigInt64Array(n), (v) => parseTimeMicros(String(v)));
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ: return fixed(type, values, valid, new BigInt64Array(n), (v) => floorDiv(parseTimestampNanos(String(v)), 1000n));
    case DuckDBTypeId.TIMESTAMP_NS: return fixed(type, values, valid, new BigInt64Array(n), (v) => parseTimestampNanos(String(v)));
    case DuckDBTypeId.TIMESTAMP_MS: return fixed(type, values, valid, new BigInt64Array(n), (v) => floorDiv(parseTimestampNanos(String(v)), 1_000_000n));
    case DuckDBTypeId.TIMESTAMP_S: return fixed(type, values, valid, new BigInt64Array(n), (v) => floorDiv(parseTimestampNanos(String(v)), 1_000_000_000n));
    case DuckDBTypeId.SQLNULL: return makeData({ type, length: n } as never);
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.MAP: {
      const offsets = new Int32Array(n + 1);
      const items: JsonValue[] = [];
      values.forEach((v, i) => {
        if (Array.isArray(v)) items.push(...v);
        offsets[i + 1] = items.length;
      });
      const childField = (type as List | Map_).children[0];
      const childType = t.typeId === DuckDBTypeId.LIST
        ? (t as DuckDBListType).valueType
        : null;
      const child = childType
        ? columnData(childType, childField, items)
        : mapEntries(t as DuckDBMapType, childField, items as { [k: string]: JsonValue }[]);
      return makeData({ type, length: n, ...valid, valueOffsets: offsets, child } as never);
    }
    case DuckDBTypeId.ARRAY: {
      const a = t as DuckDBArrayType;
      const items: JsonValue[] = [];
      for (const v of values) items.push(...(Array.isArray(v) ? v : new Array<JsonValue>(a.length).fill(null)));
      const child = columnData(a.valueType, (type as FixedSizeList).children[0], items);
      return makeData({ type, length: n, ...valid, child } as never);
    }
    case DuckDBTypeId.STRUCT: {
      const s = t as DuckDBStructType;
      const children = s.entryNames.map((name, i) =>
        columnData(s.entryTypes[i], (type as Struct).children[i], values.map((v) => (v === null ? null : ((v as { [k: string]: JsonValue })[name] ?? null)))),
      );
      return makeData({ type, length: n, ...valid, children } as never);
    }
    default:
      return variableWidth(type, values.map((v) => (v === null ? null : encoder.encode(textOf(v)))), valid);
  }
}

function mapEntries(m: DuckDBMapType, entriesField: Field, entries: { [k: string]: JsonValue }[]): Data {
  const struct = entriesField.type as Struct;
  const keys = columnData(m.keyType, struct.children[0], entries.map((e) => e.key));
  const vals = columnData(m.valueType, struct.children[1], entries.map((e) => e.value ?? null));
  return makeData({ type: struct, length: entries.length, nullCount: 0, children: [keys, vals] } as never);
}

/** An Arrow table of JSON result rows whose columns have the given names and DuckDB types. */
export function arrowTable(columns: { name: string }[], types: readonly DuckDBType[], rows: JsonValue[][]): Table {
  const fields = columns.map((c, i) => arrowField(c.name, types[i]));
  const schema = new Schema(fields);
  const batches: RecordBatch[] = [];
  for (let start = 0; start < rows.length; start += BATCH_ROWS) {
    const chunk = rows.slice(start, start + BATCH_ROWS);
    const children = fields.map((f, i) => columnData(types[i], f, chunk.map((r) => r[i])));
    const struct = makeData({ type: new Struct(fields), length: chunk.length, nullCount: 0, children } as never);
    batches.push(new RecordBatch(schema, struct as never));
  }
  return new Table(schema, batches);
}

/** The IPC bytes (stream or file format) of JSON result rows. */
export function toArrowIpc(columns: { name: string }[], types: readonly DuckDBType[], rows: JsonValue[][], format: ArrowFormat): Uint8Array {
  return tableToIPC(arrowTable(columns, types, rows), format);
}
