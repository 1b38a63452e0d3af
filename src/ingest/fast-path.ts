/**
 * The SQL fast path for JSON records: a batch's raw record values, as they came from Kafka, are
 * joined into one NDJSON file and read by DuckDB's `read_json` — no JSON.parse, mapping or
 * re-serialisation per record in JS (which capped ingestion at ~20k rows/s). Each mapped source
 * field is read as DuckDB JSON text, and the job's types and rules are checked in SQL.
 *
 * Exactness: the SQL check is a *strict subset* of what the per-record path (mapping.ts) accepts,
 * and the values it produces are the ones that path would stage. A row that fails the check is
 * not judged here: its record goes through the per-record path, which decides (and words the
 * dead-letter error) exactly as before. So the fast path changes speed, never outcomes:
 * - JSON types are strict as in the mapper: a string column takes JSON strings, numeric columns
 *   JSON numbers (ints: integral values in range, like Number.isInteger/isSafeInteger), booleans
 *   true/false; decimals, dates, times, timestamps, UUIDs and base64 binaries take strings of the
 *   mapper's forms that DuckDB also casts (a decimal given as a JSON number takes the slow path).
 * - Required columns, min/max (numeric columns), pattern (string columns; RE2, which agrees with
 *   JavaScript's RegExp on the ASCII patterns rules use), enum (string or integer columns).
 * A record the JSON reader rejects (malformed, not an object, duplicate keys, bad UTF-8) fails
 * the whole read: that batch then takes the per-record path. Records that cannot be lines of one
 * file (empty, not starting with `{`, containing CR/LF) take the per-record path when accepted.
 *
 * Not expressible here (the job uses the per-record path): registry formats, schema evolution or
 * an inferred table (nested values and new fields change the table), `unknownFields: reject`,
 * dotted source paths, lenient `cast`, defaults, two columns from one field, nested column types,
 * fixed / nanosecond timestamps, and the record-level enrichments (key, timestamp, headers).
 */
import { ident, str, type Duck } from '../duck/db.js';
import { duckType } from '../duck/types.js';
import type { Schema } from '../iceberg/schema.js';
import { isPrimitive, primitiveInfo, type NestedField } from '../iceberg/types.js';
import type { Enrichment, RecordMapping, ColumnMapping } from './mapping.js';

/** One contiguous run of fast rows from one partition: rows [start, start + count) have offsets base, base + 1, … */
export interface Segment {
  start: number;
  count: number;
  tp: number;
  base: bigint;
}

interface FastColumn {
  field: NestedField;
  source: string;
  rules: ColumnMapping;
}

const SAFE = 9007199254740991;
const INT_MAX = 2 ** 31 - 1;
const INT_MIN = -(2 ** 31);
/** Enrichments filled from the batch's segments (the others need per-record metadata). */
const SEGMENT_ENRICHMENTS: ReadonlySet<Enrichment> = new Set(['topic', 'partition', 'offset', 'ingested_at']);
const TS_RE = `[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,9})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?`;

/** Why a job cannot use the fast path (null: it can). */
export function fastPathBlocker(opts: { json: boolean; evolve: boolean; inferred: boolean; mapping?: RecordMapping; enrich?: Enrichment[]; headerColumns?: Record<string, string> }): string | null {
  if (!opts.json) return 'registry formats decode per record';
  if (opts.evolve || opts.inferred) return 'schema evolution changes the table per record';
  if (opts.mapping?.unknownFields === 'reject') return 'unknownFields: reject';
  if ((opts.enrich ?? []).some((e) => !SEGMENT_ENRICHMENTS.has(e))) return 'key, timestamp or header enrichment';
  if (Object.keys(opts.headerColumns ?? {}).length > 0) return 'header columns';
  return null;
}

export class FastPath {
  private constructor(private readonly cols: FastColumn[]) {}

  /**
   * The fast path for mapped `columns` of `schema` (in staging order), or a reason it cannot be
   * used. Patterns are compiled by DuckDB here so a pattern RE2 rejects is found once, not per batch.
   */
  static async plan(duck: Duck, schema: Schema, columns: string[], mapping: RecordMapping | undefined): Promise<FastPath | string> {
    if (columns.length === 0) return 'no mapped columns';
    const cols: FastColumn[] = [];
    const sources = new Set<string>();
    for (const name of columns) {
      const field = schema.fields.find((f) => f.name === name)!;
      const raw = mapping?.columns?.[name];
      const m: ColumnMapping = typeof raw === 'string' ? { from: raw } : raw ?? {};
      const source = m.from ?? name;
      if (source.includes('.')) return `column ${name}: dotted source path`;
      if (sources.has(source)) return `field ${source} feeds two columns`;
      sources.add(source);
      if (m.cast) return `column ${name}: lenient cast`;
      if ((m.default ?? field['write-default'] ?? null) !== null) return `column ${name}: default value`;
      if (!isPrimitive(field.type)) return `column ${name}: nested type`;
      const kind = primitiveInfo(field.type).kind;
      const numeric = ['int', 'long', 'float', 'double', 'decimal'].includes(kind);
      if (!['boolean', 'int', 'long', 'float', 'double', 'decimal', 'string', 'date', 'time', 'timestamp', 'timestamptz', 'uuid', 'binary'].includes(kind)) return `column ${name}: type ${field.type}`;
      if (kind === 'decimal' && primitiveInfo(field.type).precision! <= primitiveInfo(field.type).scale!) return `column ${name}: decimal without integer digits`;
      if ((m.min !== undefined || m.max !== undefined) && !numeric) return `column ${name}: range rule on a non-numeric column`;
      if (m.pattern !== undefined) {
        if (kind !== 'string') return `column ${name}: pattern on a non-string column`;
        if (!/^[\x20-\x7e]*$/.test(m.pattern)) return `column ${name}: non-ASCII pattern`;
        try {
          await duck.run(`SELECT regexp_matches('', ${str(m.pattern)})`);
        } catch {
          return `column ${name}: pattern DuckDB cannot compile`;
        }
      }
      if (m.enum) {
        const okStrings = kind === 'string' && m.enum.every((e) => typeof e === 'string');
        const okInts = (kind === 'int' || kind === 'long') && m.enum.every((e) => typeof e === 'number' && Number.isSafeInteger(e));
        if (!okStrings && !okInts) return `column ${name}: enum of other values`;
      }
      cols.push({ field, source, rules: m });
    }
    return new FastPath(cols);
  }

  /** `read_json` over the NDJSON file of raw values: one JSON-typed column per mapped source field. */
  readSql(file: string): string {
    const columns = this.cols.map((c, k) => `${str(c.source)}: 'JSON'`);
    return `SELECT * FROM read_json(${str(file)}, format='newline_delimited', columns={${columns.join(', ')}}, maximum_object_size=67108864)`;
  }

  /**
   * Over `relation` (the read_json result, rows in file order) — `__ok` (the row passes every
   * check) and `c<k>` per mapped column (its typed value, meaningful when __ok), in file order.
   * No row number: read and check run as one query (materialising the JSON text first measured
   * ~25% costlier), and the table this is stored in numbers the rows by its rowid.
   */
  checkSql(relation: string): string {
    const inner: string[] = [];
    // Casts that several checks (and the value) use are computed once, a layer below them:
    // DuckDB evaluates a repeated expression once per occurrence.
    const mid: string[] = ['*'];
    const ok: string[] = [];
    const vals: string[] = [];
    this.cols.forEach((c, k) => {
      const j = ident(c.source);
      const t = `t${k}`;
      const s = `s${k}`;
      inner.push(`${j}::VARCHAR AS ${t}`);
      const kind = primitiveInfo(c.field.type as string).kind;
      const stringy = !['boolean', 'int', 'long', 'float', 'double'].includes(kind);
      if (stringy) {
        // A JSON string's value (NULL for other JSON values). json_extract_string measured ~2x
        // cheaper than slicing the quotes off by hand (substr copies; a CASE over both runs more).
        inner.push(`CASE WHEN starts_with(${j}::VARCHAR, '"') THEN json_extract_string(${j}, '$') END AS ${s}`);
      }
      let d = `TRY_CAST(${t} AS DOUBLE)`;
      if (['int', 'long', 'float', 'double'].includes(kind)) {
        mid.push(`${d} AS d${k}`);
        d = `d${k}`;
      }
      /** The string cast to `type`, computed once. */
      const once = (type: string) => {
        mid.push(`TRY_CAST(${s} AS ${type}) AS v${k}`);
        return `v${k}`;
      };
      let typeOk: string;
      let val: string;
      const ty = duckType(c.field.type);
      const re = (pattern: string) => `regexp_full_match(${s}, ${str(pattern)})`;
      switch (kind) {
        case 'boolean':
          typeOk = `${t} IN ('true', 'false')`;
          val = `${t} = 'true'`;
          break;
        case 'int':
        case 'long': {
          const [lo, hi] = kind === 'int' ? [INT_MIN, INT_MAX] : [-SAFE, SAFE];
          typeOk = `(${d} = trunc(${d}) AND ${d} BETWEEN ${lo} AND ${hi})`;
          val = `TRY_CAST(${d} AS ${ty})`;
          break;
        }
        case 'float':
        case 'double':
          typeOk = `TRY_CAST(${d} AS ${ty}) IS NOT NULL`;
          val = `TRY_CAST(${d} AS ${ty})`;
          break;
        case 'decimal': {
          const { precision: p, scale: sc } = primitiveInfo(c.field.type as string) as { precision: number; scale: number };
          // DuckDB's own rendering of the value (`-`, integer digits without leading zeros, `.`,
          // exactly sc digits) is one of the forms the pattern allows, so when the string round-trips
          // the (costlier) pattern need not run; other forms still get the full check.
          const v = once(ty);
          typeOk = `(${v}::VARCHAR = ${s} OR (${re(`-?0*[0-9]{1,${p - sc}}(\\.[0-9]{0,${sc}}0*)?`)} AND ${v} IS NOT NULL))`;
          val = v;
          break;
        }
        case 'string':
          typeOk = `${s} IS NOT NULL`;
          val = s;
          break;
        case 'date':
          val = once('DATE');
          typeOk = `${re('[0-9]{4}-[0-9]{2}-[0-9]{2}')} AND ${val} IS NOT NULL`;
          break;
        case 'time':
          val = once('TIME');
          typeOk = `${re('([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?')} AND ${val} IS NOT NULL`;
          break;
        case 'timestamp':
        case 'timestamptz':
          val = once(ty);
          typeOk = `${re(TS_RE)} AND ${val} IS NOT NULL`;
          break;
        case 'uuid':
          typeOk = `${re('[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}')}`;
          val = `TRY_CAST(${s} AS UUID)`;
          break;
        case 'binary':
          typeOk = `length(${s}) % 4 = 0 AND ${re('[A-Za-z0-9+/]*={0,2}')}`;
          // from_base64 raises (not NULL) on bad input, and values are computed for every row.
          val = `CASE WHEN ${typeOk} THEN from_base64(${s}) END`;
          break;
        default:
          throw new Error(`fast path: unplanned type ${c.field.type}`);
      }
      const rules: string[] = [];
      const m = c.rules;
      const num = kind === 'decimal' ? `TRY_CAST(${s} AS DOUBLE)` : d;
      if (m.min !== undefined) rules.push(`${num} >= ${Number(m.min)}`);
      if (m.max !== undefined) rules.push(`${num} <= ${Number(m.max)}`);
      if (m.pattern !== undefined) rules.push(`regexp_matches(${s}, ${str(m.pattern)})`);
      if (m.enum) rules.push(kind === 'string' ? `${s} IN (${m.enum.map((e) => str(String(e))).join(', ')})` : `${d} IN (${m.enum.map((e) => String(e)).join(', ')})`);
      const check = [typeOk, ...rules].map((x) => `(${x})`).join(' AND ');
      ok.push(c.field.required ? `(${t} IS NOT NULL AND ${check})` : `(${t} IS NULL OR (${check}))`);
      vals.push(`${val} AS c${k}`);
    });
    return `SELECT COALESCE(${ok.join(' AND ')}, false) AS __ok, ${vals.join(', ')} FROM (SELECT ${mid.join(', ')} FROM (SELECT ${inner.join(', ')} FROM ${relation}) AS __f) AS __m`;
  }

  /**
   * Segment lookup for enrichment: `(__seg_start, __seg_tp, __seg_base)` per row via a range join
   * on the batch's segments (few: one per partition fetch).
   */
  static segmentsSql(segments: Segment[]): string {
    const rows = segments.map((s) => `(${s.start}, ${s.start + s.count}, ${s.tp}, ${s.base.toString()}::BIGINT)`);
    return `(VALUES ${rows.join(', ')}) AS __seg(seg_start, seg_end, seg_tp, seg_base)`;
  }
}
