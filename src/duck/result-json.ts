import {
  DuckDBBlobValue, DuckDBDateValue, DuckDBDecimalValue, DuckDBListValue, DuckDBArrayValue, DuckDBMapValue,
  DuckDBStructValue, DuckDBTimeValue, DuckDBTimestampTZValue, DuckDBTimestampValue, DuckDBTimestampNanosecondsValue,
  DuckDBTimestampMillisecondsValue, DuckDBTimestampSecondsValue, DuckDBUUIDValue, type DuckDBValue,
} from '@duckdb/node-api';

/**
 * Converts DuckDB result values to the project's JSON value convention (shared fixture README):
 * integers as numbers while safe (else decimal strings), decimals as strings with their scale,
 * dates/times/timestamps as ISO strings (timestamptz in UTC with `Z`), binary as lowercase hex.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function toJsonValue(v: DuckDBValue): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v.toString();
  if (v instanceof DuckDBDecimalValue) return formatDecimal(v.value, v.scale);
  if (v instanceof DuckDBDateValue) return formatDate(v.days);
  if (v instanceof DuckDBTimeValue) return formatTimeMicros(v.micros);
  if (v instanceof DuckDBTimestampTZValue) return `${formatTimestampMicros(v.micros)}Z`;
  if (v instanceof DuckDBTimestampValue) return formatTimestampMicros(v.micros);
  if (v instanceof DuckDBTimestampNanosecondsValue) return formatTimestampNanos(v.nanos);
  if (v instanceof DuckDBTimestampMillisecondsValue) return formatTimestampMicros(v.millis * 1000n);
  if (v instanceof DuckDBTimestampSecondsValue) return formatTimestampMicros(v.seconds * 1_000_000n);
  if (v instanceof DuckDBUUIDValue) return v.toString().toLowerCase();
  if (v instanceof DuckDBBlobValue) return Buffer.from(v.bytes).toString('hex');
  if (v instanceof DuckDBListValue || v instanceof DuckDBArrayValue) return v.items.map(toJsonValue);
  if (v instanceof DuckDBStructValue) {
    const out: Record<string, JsonValue> = {};
    for (const [k, x] of Object.entries(v.entries)) out[k] = toJsonValue(x);
    return out;
  }
  if (v instanceof DuckDBMapValue) {
    return v.entries.map((e) => ({ key: toJsonValue(e.key), value: toJsonValue(e.value) }));
  }
  return String(v);
}

export function formatDecimal(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  const digits = (neg ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const body = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return neg ? `-${body}` : body;
}

const DAY_MS = 86_400_000;

export function formatDate(days: number): string {
  const d = new Date(days * DAY_MS);
  const y = d.getUTCFullYear();
  const year = y < 0 ? `-${String(-y).padStart(4, '0')}` : String(y).padStart(4, '0');
  return `${year}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q;
}

export function formatTimeMicros(micros: bigint): string {
  const s = micros / 1_000_000n;
  const frac = micros % 1_000_000n;
  const base = `${pad2(Number(s / 3600n))}:${pad2(Number((s / 60n) % 60n))}:${pad2(Number(s % 60n))}`;
  return frac === 0n ? base : `${base}.${frac.toString().padStart(6, '0')}`;
}

export function formatTimestampMicros(micros: bigint): string {
  const days = floorDiv(micros, 86_400_000_000n);
  const rest = micros - days * 86_400_000_000n;
  return `${formatDate(Number(days))}T${formatTimeMicros(rest)}`;
}

export function formatTimestampNanos(nanos: bigint): string {
  const days = floorDiv(nanos, 86_400_000_000_000n);
  const rest = nanos - days * 86_400_000_000_000n;
  const whole = formatTimeMicros((rest / 1_000_000_000n) * 1_000_000n);
  const frac = rest % 1_000_000_000n;
  return `${formatDate(Number(days))}T${frac === 0n ? whole : `${whole}.${frac.toString().padStart(9, '0')}`}`;
}
