/**
 * Record → table row mapping and validation for ingestion. A record is a parsed JSON object; each
 * target column takes its value from a source field (same name by default, or renamed / a dotted
 * path), optionally cast leniently, checked against the column's type and the column's value rules
 * (range, pattern, enum), and required columns must be present. The output is a *staging value*
 * per column: a JSON-serialisable primitive DuckDB casts to the column type (numbers, booleans,
 * strings; decimals, timestamps and nested values as strings). A record failing any check raises
 * a RecordError with a message that goes to the dead-letter table.
 */
import type { Schema } from '../iceberg/schema.js';
import { isPrimitive, primitiveInfo, type IcebergType, type NestedField } from '../iceberg/types.js';

export interface ColumnMapping {
  /** Source field, dotted for nested objects (`user.id`). Default: the column name. */
  from?: string;
  /** Lenient conversion: numeric strings → numbers, scalars → strings, epoch millis → timestamps, 'true'/'false' → booleans. */
  cast?: boolean;
  /** Value used when the source field is missing or null. */
  default?: unknown;
  min?: number;
  max?: number;
  /** Regular expression the (string form of the) value must match. */
  pattern?: string;
  enum?: unknown[];
}

export interface RecordMapping {
  /** Per target column: a source field name (rename) or a full column mapping. */
  columns?: Record<string, string | ColumnMapping>;
  /** Source fields deliberately not ingested (allowed even when `unknownFields` is 'reject'). */
  drop?: string[];
  /** What to do with source fields no column takes: ignore (default) or reject the record. */
  unknownFields?: 'ignore' | 'reject';
}

/** Kafka metadata columns a job can add to each row. */
export const ENRICHMENT_COLUMNS = {
  topic: { name: '_kafka_topic', type: 'string' },
  partition: { name: '_kafka_partition', type: 'int' },
  offset: { name: '_kafka_offset', type: 'long' },
  key: { name: '_kafka_key', type: 'string' },
  timestamp: { name: '_kafka_timestamp', type: 'timestamptz' },
  ingested_at: { name: '_ingested_at', type: 'timestamptz' },
  /** All record headers as map<string, string> (values as UTF-8; a repeated header keeps its last value). */
  headers: { name: '_kafka_headers', type: 'map<string, string>' },
} as const;

export type Enrichment = keyof typeof ENRICHMENT_COLUMNS;

/** An enrichment column's Iceberg type (`nextId` numbers the map's key and value). */
export function enrichmentType(e: Enrichment, nextId: () => number): IcebergType {
  if (e === 'headers') return { type: 'map', 'key-id': nextId(), key: 'string', 'value-id': nextId(), value: 'string', 'value-required': false };
  return ENRICHMENT_COLUMNS[e].type as IcebergType;
}

/** Highest field id used anywhere in `fields` (nested ids included). */
function maxId(fields: NestedField[]): number {
  let max = 0;
  const visit = (t: IcebergType) => {
    if (typeof t !== 'object') return;
    if (t.type === 'struct') for (const f of t.fields) { max = Math.max(max, f.id); visit(f.type); }
    else if (t.type === 'list') { max = Math.max(max, t['element-id']); visit(t.element); }
    else { max = Math.max(max, t['key-id'], t['value-id']); visit(t.key); visit(t.value); }
  };
  visit({ type: 'struct', fields });
  return max;
}

/**
 * A declared schema plus the chosen enrichment columns and `extra` columns (header columns,
 * derived columns) it does not have yet, for creating a target table.
 */
export function withEnrichmentColumns(schema: Schema, enrich: Enrichment[], extra: { name: string; type: IcebergType }[] = []): Schema {
  let id = maxId(schema.fields);
  const next = () => ++id;
  const added: NestedField[] = [];
  const has = (name: string) => schema.fields.some((f) => f.name === name) || added.some((f) => f.name === name);
  for (const e of enrich) if (!has(ENRICHMENT_COLUMNS[e].name)) added.push({ id: next(), name: ENRICHMENT_COLUMNS[e].name, required: false, type: enrichmentType(e, next) });
  for (const x of extra) {
    if (has(x.name)) continue;
    const fid = next();
    let type = x.type;
    if (typeof type === 'object' && type.type === 'map') type = { ...type, 'key-id': next(), 'value-id': next() };
    added.push({ id: fid, name: x.name, required: false, type });
  }
  return { ...schema, fields: [...schema.fields, ...added] };
}

export class RecordError extends Error {}

type Converter = (v: unknown) => unknown;

interface CompiledColumn {
  name: string;
  path: string[];
  required: boolean;
  default: unknown;
  convert: Converter;
  check?: (v: unknown) => string | null;
}

const INT_RE = /^[+-]?\d+$/;
const DEC_RE = /^([+-]?)(\d*)(?:\.(\d*))?$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$/;
const TS_RE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

function describe(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function converter(name: string, type: IcebergType, cast: boolean, nestedAsJson = false): Converter {
  const bad = (v: unknown, what: string): never => {
    throw new RecordError(`column ${name}: ${describe(v)} is not ${what}`);
  };
  if (!isPrimitive(type)) {
    // Nested values go to DuckDB as JSON text and are cast there (checked by the batch's cast check).
    return (v) => (typeof v === 'object' ? JSON.stringify(v) : bad(v, `a ${typeof type === 'object' ? type.type : 'nested value'}`));
  }
  const info = primitiveInfo(type);
  switch (info.kind) {
    case 'boolean':
      return (v) => {
        if (typeof v === 'boolean') return v;
        if (cast && (v === 'true' || v === 'false')) return v === 'true';
        if (cast && (v === 0 || v === 1)) return v === 1;
        return bad(v, 'a boolean');
      };
    case 'int':
    case 'long': {
      const isInt = info.kind === 'int';
      return (v) => {
        if (typeof v === 'number') {
          if (!Number.isInteger(v)) return bad(v, 'an integer');
          if (isInt ? v < INT_MIN || v > INT_MAX : !Number.isSafeInteger(v)) return bad(v, `in ${info.kind} range`);
          return v;
        }
        if (typeof v === 'string' && (cast || !isInt) && INT_RE.test(v)) {
          const b = BigInt(v);
          if (isInt ? b < BigInt(INT_MIN) || b > BigInt(INT_MAX) : b < LONG_MIN || b > LONG_MAX) return bad(v, `in ${info.kind} range`);
          return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b.toString();
        }
        return bad(v, `an ${info.kind === 'int' ? 'int' : 'integer (long)'}`);
      };
    }
    case 'float':
    case 'double':
      return (v) => {
        if (typeof v === 'number') return v;
        if (cast && typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
        return bad(v, 'a number');
      };
    case 'decimal': {
      const p = info.precision!;
      const s = info.scale!;
      return (v) => {
        let text: string;
        if (typeof v === 'number' && Number.isFinite(v)) text = String(v);
        else if (typeof v === 'string') text = v.trim();
        else return bad(v, `a decimal(${p}, ${s})`);
        const m = DEC_RE.exec(text);
        if (!m || (m[2] === '' && (m[3] ?? '') === '')) return bad(v, `a decimal(${p}, ${s})`);
        const intDigits = m[2].replace(/^0+/, '').length;
        const frac = (m[3] ?? '').replace(/0+$/, '');
        if (frac.length > s) return bad(v, `a decimal(${p}, ${s}) (scale > ${s})`);
        if (intDigits > p - s) return bad(v, `a decimal(${p}, ${s}) (too many digits)`);
        return text;
      };
    }
    case 'string':
      return (v) => {
        if (typeof v === 'string') return v;
        if (cast && (typeof v === 'number' || typeof v === 'boolean')) return String(v);
        if ((cast || nestedAsJson) && typeof v === 'object') return JSON.stringify(v);
        return bad(v, 'a string');
      };
    case 'date':
      return (v) => {
        const m = typeof v === 'string' ? DATE_RE.exec(v) : null;
        if (!m) return bad(v, 'a date (YYYY-MM-DD)');
        const d = new Date(`${v as string}T00:00:00Z`);
        if (Number.isNaN(d.getTime()) || d.getUTCDate() !== Number(m[3])) return bad(v, 'a valid date');
        return v;
      };
    case 'time':
      return (v) => (typeof v === 'string' && TIME_RE.test(v) ? v : bad(v, 'a time (HH:MM:SS[.ffffff])'));
    case 'timestamp':
    case 'timestamptz':
    case 'timestamp_ns':
    case 'timestamptz_ns':
      return (v) => {
        if (typeof v === 'string' && TS_RE.test(v) && !Number.isNaN(Date.parse(v.replace(' ', 'T').replace(/\.\d+/, '')))) return v;
        if (cast && typeof v === 'number' && Number.isFinite(v)) {
          const d = new Date(v);
          if (!Number.isNaN(d.getTime())) return d.toISOString();
        }
        return bad(v, 'an ISO-8601 timestamp');
      };
    case 'uuid':
      return (v) => (typeof v === 'string' && UUID_RE.test(v) ? v : bad(v, 'a UUID'));
    case 'binary':
    case 'fixed':
      return (v) => (typeof v === 'string' && v.length % 4 === 0 && B64_RE.test(v) ? v : bad(v, 'base64 binary'));
    default:
      return (v) => v;
  }
}

function ruleCheck(name: string, m: ColumnMapping): ((v: unknown) => string | null) | undefined {
  const re = m.pattern !== undefined ? new RegExp(m.pattern) : undefined;
  const allowed = m.enum ? new Set(m.enum.map((e) => JSON.stringify(e))) : undefined;
  if (m.min === undefined && m.max === undefined && !re && !allowed) return undefined;
  return (v) => {
    if (m.min !== undefined && Number(v) < m.min) return `column ${name}: ${describe(v)} is below the minimum ${m.min}`;
    if (m.max !== undefined && Number(v) > m.max) return `column ${name}: ${describe(v)} is above the maximum ${m.max}`;
    if (re && !re.test(String(v))) return `column ${name}: ${describe(v)} does not match /${m.pattern}/`;
    if (allowed && !allowed.has(JSON.stringify(v))) return `column ${name}: ${describe(v)} is not one of ${JSON.stringify(m.enum)}`;
    return null;
  };
}

/** A compiled mapping: record object → staging values in the order of `columns`. */
export class RecordMapper {
  readonly columns: string[];
  /** Top-level record fields some column takes or the mapping drops. */
  readonly sourceRoots: Set<string>;
  private readonly compiled: CompiledColumn[];
  private readonly known: Set<string> | null;

  /**
   * `skip`: table columns the mapper leaves alone (enrichment, header and derived columns filled
   * by the job). `nestedAsJson`: string columns take objects and arrays as their JSON text (the
   * type schema evolution gives nested fields).
   */
  constructor(schema: Schema, mapping: RecordMapping = {}, skip: Set<string> = new Set(), nestedAsJson = false) {
    const cols = mapping.columns ?? {};
    for (const name of Object.keys(cols)) {
      if (!schema.fields.some((f) => f.name === name)) throw new Error(`mapping names column ${name}, which the table does not have`);
    }
    this.compiled = schema.fields
      .filter((f) => !skip.has(f.name))
      .map((f) => {
        const raw = cols[f.name];
        const m: ColumnMapping = typeof raw === 'string' ? { from: raw } : raw ?? {};
        return {
          name: f.name,
          path: (m.from ?? f.name).split('.'),
          required: f.required,
          default: m.default ?? f['write-default'] ?? null,
          convert: converter(f.name, f.type, m.cast ?? false, nestedAsJson),
          check: ruleCheck(f.name, m),
        };
      });
    this.columns = this.compiled.map((c) => c.name);
    this.sourceRoots = new Set([...this.compiled.map((c) => c.path[0]), ...(mapping.drop ?? [])]);
    this.known = mapping.unknownFields === 'reject' ? this.sourceRoots : null;
  }

  /** The raw source value of `column` in a record object (undefined when absent). */
  sourceValue(record: Record<string, unknown>, column: string): unknown {
    const c = this.compiled.find((x) => x.name === column);
    if (!c) return undefined;
    let v: unknown = record[c.path[0]];
    for (let j = 1; j < c.path.length && v !== undefined && v !== null; j++) v = (v as Record<string, unknown>)[c.path[j]];
    return v;
  }

  /** Staging values for one parsed record (throws RecordError). */
  map(record: unknown): unknown[] {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new RecordError('record is not a JSON object');
    const obj = record as Record<string, unknown>;
    if (this.known) {
      for (const k of Object.keys(obj)) if (!this.known.has(k)) throw new RecordError(`unknown field ${k}`);
    }
    const out = new Array<unknown>(this.compiled.length);
    for (let i = 0; i < this.compiled.length; i++) {
      const c = this.compiled[i];
      let v: unknown = obj[c.path[0]];
      for (let j = 1; j < c.path.length && v !== undefined && v !== null; j++) v = (v as Record<string, unknown>)[c.path[j]];
      if (v === undefined || v === null) v = c.default;
      if (v === undefined || v === null) {
        if (c.required) throw new RecordError(`column ${c.name}: required value is missing`);
        out[i] = null;
        continue;
      }
      const converted = c.convert(v);
      if (c.check) {
        const err = c.check(converted);
        if (err) throw new RecordError(err);
      }
      out[i] = converted;
    }
    return out;
  }
}
