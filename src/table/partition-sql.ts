import { DuckDBScalarFunction, BIGINT, INTEGER, VARCHAR, BLOB, type DuckDBConnection } from '@duckdb/node-api';
import { lakehouseError } from '../core/errors.js';
import { hexToBytes } from '../iceberg/conversions.js';
import type { PartitionSpec } from '../iceberg/partition.js';
import { indexById, type Schema } from '../iceberg/schema.js';
import { applyTransform, parseTransform, transformResultType, type Transform } from '../iceberg/transforms.js';
import { isPrimitive, primitiveInfo, type IcebergType } from '../iceberg/types.js';
import type { IcebergValue, PartitionTuple } from '../iceberg/values.js';
import { ident } from '../duck/db.js';

/**
 * Partition transforms evaluated inside DuckDB while writing (spec "Partition Transforms").
 * Each partition value is encoded to text — integers for day counts, microseconds and unscaled
 * decimals; hex for binary — and the tuple joined into one key (`N` for null, `V<hex>` else) that
 * is safe as a directory name and decodes back to exact typed values.
 */
const registered = new WeakSet<DuckDBConnection>();

/** Registers the bucket UDFs (Murmur3 has no DuckDB built-in). */
export function registerPartitionFunctions(conn: DuckDBConnection): void {
  if (registered.has(conn)) return;
  registered.add(conn);
  const make = (name: string, type: typeof BIGINT | typeof VARCHAR | typeof BLOB, source: IcebergType, toValue: (v: unknown) => IcebergValue) =>
    conn.registerScalarFunction(
      DuckDBScalarFunction.create({
        name,
        returnType: INTEGER,
        parameterTypes: [type, INTEGER],
        mainFunction: (_info, input, output) => {
          const values = input.getColumnVector(0);
          const ns = input.getColumnVector(1);
          for (let i = 0; i < input.rowCount; i++) {
            const v = values.getItem(i);
            const n = ns.getItem(i) as number;
            output.setItem(i, v === null ? null : (applyTransform({ kind: 'bucket', numBuckets: n }, source, toValue(v)) as number));
          }
          output.flush();
        },
      }),
    );
  make('iceberg_bucket_long', BIGINT, 'long', (v) => BigInt(v as bigint));
  make('iceberg_bucket_string', VARCHAR, 'string', (v) => String(v));
  make('iceberg_bucket_bytes', BLOB, 'binary', (v) => (v as { bytes: Uint8Array }).bytes);
  make('iceberg_bucket_unscaled', VARCHAR, 'decimal(38, 0)', (v) => BigInt(String(v)));
}

const US_PER_DAY = 86_400_000_000n;
const US_PER_HOUR = 3_600_000_000n;

function floorDiv(expr: string, d: bigint): string {
  return `CASE WHEN ${expr} >= 0 THEN (${expr}) // ${d} ELSE -((-(${expr}) + ${d - 1n}) // ${d}) END`;
}

function epochUs(c: string, kind: string): string {
  if (kind === 'date') return `(CAST(date_diff('day', DATE '1970-01-01', ${c}) AS BIGINT) * ${US_PER_DAY})`;
  if (kind === 'timestamp_ns' || kind === 'timestamptz_ns') return `(epoch_ns(${c}) // 1000)`;
  return `epoch_us(${c})`;
}

/** SQL producing the transformed value in its canonical text encoding. */
function transformSql(t: Transform, c: string, source: string): string {
  const kind = primitiveInfo(source).kind;
  switch (t.kind) {
    case 'identity':
      return encodeSql(c, source);
    case 'void':
      return 'CAST(NULL AS VARCHAR)';
    case 'year':
      return kind === 'date' || kind.startsWith('timestamp') ? `CAST(year(${c}) - 1970 AS VARCHAR)` : unsupported(t, source);
    case 'month':
      return `CAST((year(${c}) - 1970) * 12 + month(${c}) - 1 AS VARCHAR)`;
    case 'day':
      return kind === 'date' ? `CAST(date_diff('day', DATE '1970-01-01', ${c}) AS VARCHAR)` : `CAST(${floorDiv(epochUs(c, kind), US_PER_DAY)} AS VARCHAR)`;
    case 'hour':
      return `CAST(${floorDiv(epochUs(c, kind), US_PER_HOUR)} AS VARCHAR)`;
    case 'bucket': {
      const n = t.numBuckets;
      if (kind === 'int' || kind === 'long') return `CAST(iceberg_bucket_long(CAST(${c} AS BIGINT), ${n}) AS VARCHAR)`;
      if (kind === 'date') return `CAST(iceberg_bucket_long(CAST(date_diff('day', DATE '1970-01-01', ${c}) AS BIGINT), ${n}) AS VARCHAR)`;
      if (kind === 'timestamp' || kind === 'timestamptz' || kind === 'timestamp_ns' || kind === 'timestamptz_ns') {
        return `CAST(iceberg_bucket_long(${epochUs(c, kind)}, ${n}) AS VARCHAR)`;
      }
      if (kind === 'string') return `CAST(iceberg_bucket_string(${c}, ${n}) AS VARCHAR)`;
      if (kind === 'uuid') return `CAST(iceberg_bucket_bytes(from_hex(replace(CAST(${c} AS VARCHAR), '-', '')), ${n}) AS VARCHAR)`;
      if (kind === 'binary' || kind === 'fixed') return `CAST(iceberg_bucket_bytes(${c}, ${n}) AS VARCHAR)`;
      // Decimals hash their unscaled value's minimal two's-complement bytes (Appendix B).
      if (kind === 'decimal') return `CAST(iceberg_bucket_unscaled(CAST(${unscaled(c)} AS VARCHAR), ${n}) AS VARCHAR)`;
      return unsupported(t, source);
    }
    case 'truncate': {
      const w = t.width;
      if (kind === 'int' || kind === 'long') return `CAST(${c} - (((${c} % ${w}) + ${w}) % ${w}) AS VARCHAR)`;
      if (kind === 'string') return `substring(${c}, 1, ${w})`;
      if (kind === 'binary') return `hex(${c}[1:${w}])`;
      if (kind === 'decimal') {
        const u = unscaled(c);
        return `CAST(${u} - (((${u} % ${w}) + ${w}) % ${w}) AS VARCHAR)`;
      }
      return unsupported(t, source);
    }
    default:
      return unsupported(t, source);
  }
}

/** The unscaled value of a DECIMAL as HUGEINT: its text always carries exactly `scale` digits. */
function unscaled(c: string): string {
  return `CAST(replace(CAST(${c} AS VARCHAR), '.', '') AS HUGEINT)`;
}

function unsupported(t: Transform, source: string): never {
  throw lakehouseError('UNSUPPORTED_OPERATION', `writing with partition transform ${JSON.stringify(t)} on ${source} is not supported`);
}

/** Canonical text encoding of a value of an Iceberg primitive type (see decodeValue). */
function encodeSql(c: string, type: string): string {
  switch (primitiveInfo(type).kind) {
    case 'date': return `CAST(date_diff('day', DATE '1970-01-01', ${c}) AS VARCHAR)`;
    case 'time': return `CAST(epoch_us(${c}) AS VARCHAR)`;
    case 'timestamp': case 'timestamptz': return `CAST(epoch_us(${c}) AS VARCHAR)`;
    case 'timestamp_ns': case 'timestamptz_ns': return `CAST(epoch_ns(${c}) AS VARCHAR)`;
    case 'binary': case 'fixed': return `hex(${c})`;
    case 'decimal': return `CAST(${unscaled(c)} AS VARCHAR)`;
    default: return `CAST(${c} AS VARCHAR)`;
  }
}

function decodeValue(type: IcebergType, text: string): IcebergValue {
  if (!isPrimitive(type)) throw lakehouseError('UNSUPPORTED_OPERATION', 'nested partition values');
  const info = primitiveInfo(type);
  switch (info.kind) {
    case 'boolean': return text === 'true';
    case 'int': case 'date': return Number(text);
    case 'long': case 'time': case 'timestamp': case 'timestamptz': case 'timestamp_ns': case 'timestamptz_ns': return BigInt(text);
    case 'float': return Math.fround(Number(text));
    case 'double': return Number(text);
    case 'decimal': return BigInt(text);
    case 'binary': case 'fixed': return hexToBytes(text);
    case 'uuid': return text.toLowerCase();
    default: return text;
  }
}

export interface PartitionKeySql {
  /** SQL of the partition key column (null when unpartitioned). */
  keySql: string | null;
  decode(key: string): PartitionTuple;
}

export function partitionKeySql(spec: PartitionSpec, schema: Schema): PartitionKeySql {
  if (spec.fields.length === 0) return { keySql: null, decode: () => [] };
  const idx = indexById(schema);
  const parts: string[] = [];
  const resultTypes: IcebergType[] = [];
  for (const pf of spec.fields) {
    const src = idx.get(pf['source-id']);
    if (!src || !isPrimitive(src.field.type)) throw lakehouseError('VALIDATION_FAILED', `partition field ${pf.name}: source column ${pf['source-id']} is not a primitive column of the schema`);
    const column = src.path.split('.').map(ident).join('.');
    const t = parseTransform(pf.transform);
    const enc = transformSql(t, column, src.field.type);
    parts.push(`CASE WHEN (${enc}) IS NULL THEN 'N' ELSE 'V' || hex(${enc}) END`);
    resultTypes.push(t.kind === 'day' ? 'int' : transformResultType(t, src.field.type));
  }
  return {
    keySql: parts.length === 1 ? parts[0] : `concat_ws('_', ${parts.join(', ')})`,
    decode: (key) =>
      key.split('_').map((p, i) => (p === 'N' ? null : decodeValue(resultTypes[i], Buffer.from(hexToBytes(p.slice(1))).toString('utf8')))),
  };
}
