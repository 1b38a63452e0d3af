import { lakehouseError } from '../core/errors.js';
import { isList, isMap, isPrimitive, isStruct, primitiveInfo, type IcebergType } from '../iceberg/types.js';
import type { IcebergValue } from '../iceberg/values.js';
import { formatDecimal } from './result-json.js';
import { ident, str } from './db.js';

/** DuckDB type for an Iceberg type (uuid → UUID, fixed/binary → BLOB, time → TIME in µs). */
export function duckType(t: IcebergType): string {
  if (isPrimitive(t)) {
    const p = primitiveInfo(t);
    switch (p.kind) {
      case 'boolean': return 'BOOLEAN';
      case 'int': return 'INTEGER';
      case 'long': return 'BIGINT';
      case 'float': return 'FLOAT';
      case 'double': return 'DOUBLE';
      case 'decimal': return `DECIMAL(${p.precision},${p.scale})`;
      case 'date': return 'DATE';
      case 'time': return 'TIME';
      case 'timestamp': return 'TIMESTAMP';
      case 'timestamptz': return 'TIMESTAMPTZ';
      case 'timestamp_ns': return 'TIMESTAMP_NS';
      // DuckDB has no nanosecond TIMESTAMPTZ; values are UTC instants either way.
      case 'timestamptz_ns': return 'TIMESTAMP_NS';
      case 'string': return 'VARCHAR';
      case 'uuid': return 'UUID';
      case 'fixed':
      case 'binary': return 'BLOB';
      case 'unknown': return 'INTEGER';
    }
  }
  if (isStruct(t)) return `STRUCT(${t.fields.map((f) => `${ident(f.name)} ${duckType(f.type)}`).join(', ')})`;
  if (isList(t)) return `${duckType(t.element)}[]`;
  if (isMap(t)) return `MAP(${duckType(t.key)}, ${duckType(t.value)})`;
  throw lakehouseError('UNKNOWN_TYPE', `no DuckDB type for ${JSON.stringify(t)}`);
}

/** A DuckDB SQL literal of the given Iceberg primitive type (values per values.ts). */
export function sqlLiteral(t: IcebergType, v: IcebergValue): string {
  const dt = duckType(t);
  if (v === null || v === undefined) return `CAST(NULL AS ${dt})`;
  if (!isPrimitive(t)) throw lakehouseError('UNSUPPORTED_OPERATION', `no literal for nested type ${JSON.stringify(t)}`);
  const p = primitiveInfo(t);
  switch (p.kind) {
    case 'boolean': return v ? 'TRUE' : 'FALSE';
    case 'int':
    case 'long':
    case 'float':
    case 'double':
      return `CAST(${str(String(v))} AS ${dt})`;
    case 'decimal': return `CAST(${str(formatDecimal(BigInt(v as bigint), p.scale!))} AS ${dt})`;
    case 'date': return `CAST(DATE '1970-01-01' + INTERVAL (${Number(v)}) DAY AS DATE)`;
    case 'time': return `CAST(TIME '00:00:00' + INTERVAL (${BigInt(v as bigint)}) MICROSECOND AS TIME)`;
    case 'timestamp': return `make_timestamp(CAST(${BigInt(v as bigint)} AS BIGINT))`;
    case 'timestamptz': return `CAST(make_timestamp(CAST(${BigInt(v as bigint)} AS BIGINT)) AS TIMESTAMPTZ)`;
    case 'timestamp_ns':
    case 'timestamptz_ns': return `make_timestamp_ns(CAST(${BigInt(v as bigint)} AS BIGINT))`;
    case 'string': return `CAST(${str(String(v))} AS VARCHAR)`;
    case 'uuid': return `CAST(${str(String(v))} AS UUID)`;
    case 'fixed':
    case 'binary': return `from_hex(${str(Buffer.from(v as Uint8Array).toString('hex'))})`;
    default: return `CAST(NULL AS ${dt})`;
  }
}
