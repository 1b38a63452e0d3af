/**
 * RecordMapper's checks translated to DuckDB SQL over text columns, for converting big CSV and
 * Parquet files without a JS step per row. Every source column is VARCHAR; per target column the
 * plan yields the typed value expression and an error expression (NULL when the value is fine)
 * whose message follows mapping.ts. Checks per column, in RecordMapper's order: required value
 * present (after the default), the value's text form (same regular expressions as mapping.ts,
 * plus a DuckDB TRY_CAST: range of ints, decimal precision and scale, real dates), then the rules
 * (min, max, pattern, enum). Values are converted leniently (`cast`), as CSV has no types.
 *
 * Returns null when the mapping needs the JS path: nested target types, dotted source paths,
 * object defaults.
 */
import { ident, str } from '../../duck/db.js';
import { duckType } from '../../duck/types.js';
import { isPrimitive, primitiveInfo, type NestedField } from '../../iceberg/types.js';
import type { ColumnMapping, RecordMapping } from '../mapping.js';

export interface SqlMappingPlan {
  /** `<typed value> AS "<column>"` per table field, in schema order. */
  values: string[];
  /** One VARCHAR expression: the first error of the row, NULL when the row is valid. */
  error: string;
}

const re = (pattern: string) => str(pattern);

function lit(v: unknown): string {
  return str(String(v));
}

export function sqlMappingPlan(fields: NestedField[], mapping: RecordMapping = {}, sourceColumns: string[]): SqlMappingPlan | null {
  const cols = mapping.columns ?? {};
  for (const name of Object.keys(cols)) if (!fields.some((f) => f.name === name)) return null; // JS path reports it
  const values: string[] = [];
  const errors: string[] = [];
  const used = new Set<string>();
  for (const f of fields) {
    const raw = cols[f.name];
    const m: ColumnMapping = typeof raw === 'string' ? { from: raw } : raw ?? {};
    const from = m.from ?? f.name;
    if (from.includes('.')) return null;
    if (!isPrimitive(f.type)) return null;
    const dflt = m.default ?? f['write-default'] ?? null;
    if (dflt !== null && typeof dflt === 'object') return null;
    used.add(from);
    const src = sourceColumns.includes(from) ? ident(from) : 'NULL::VARCHAR';
    const v = dflt === null ? src : `COALESCE(${src}, ${lit(dflt)})`;
    const info = primitiveInfo(f.type);
    const t = duckType(f.type);
    const col = (msg: string) => str(`column ${f.name}: ${msg}`);
    const bad = (what: string) => `${col('')} || '"' || left(${v}, 57) || '" is not ${what.replace(/'/g, "''")}'`;
    let valid: string;
    let value = `TRY_CAST(${v} AS ${t})`;
    let numeric = false;
    switch (info.kind) {
      case 'boolean':
        valid = `${v} IN ('true', 'false')`;
        value = `(${v} = 'true')`;
        break;
      case 'int':
      case 'long':
        valid = `regexp_full_match(${v}, ${re('[+-]?[0-9]+')}) AND TRY_CAST(${v} AS ${t}) IS NOT NULL`;
        numeric = true;
        break;
      case 'float':
      case 'double':
        valid = `trim(${v}) <> '' AND isfinite(TRY_CAST(trim(${v}) AS DOUBLE))`;
        value = `TRY_CAST(trim(${v}) AS ${t})`;
        numeric = true;
        break;
      case 'decimal': {
        const s = info.scale!;
        valid =
          `regexp_full_match(trim(${v}), ${re('[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)')}) AND ` +
          `regexp_full_match(trim(${v}), ${re(`[^.]*(\\.[0-9]{0,${s}}0*)?`)}) AND TRY_CAST(trim(${v}) AS ${t}) IS NOT NULL`;
        value = `TRY_CAST(trim(${v}) AS ${t})`;
        numeric = true;
        break;
      }
      case 'string':
        valid = 'true';
        value = v;
        break;
      case 'date':
        valid = `regexp_full_match(${v}, ${re('[0-9]{4}-[0-9]{2}-[0-9]{2}')}) AND TRY_CAST(${v} AS DATE) IS NOT NULL`;
        break;
      case 'time':
        valid = `regexp_full_match(${v}, ${re('[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?')}) AND TRY_CAST(${v} AS TIME) IS NOT NULL`;
        break;
      case 'timestamp':
      case 'timestamptz':
      case 'timestamp_ns':
      case 'timestamptz_ns':
        valid = `regexp_full_match(${v}, ${re('[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?')}) AND TRY_CAST(${v} AS ${t}) IS NOT NULL`;
        break;
      case 'uuid':
        valid = `regexp_full_match(${v}, ${re('(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')})`;
        break;
      case 'binary':
      case 'fixed':
        valid = `length(${v}) % 4 = 0 AND regexp_full_match(${v}, ${re('[A-Za-z0-9+/]*={0,2}')})`;
        value = `from_base64(${v})`;
        break;
      default:
        return null;
    }
    values.push(`${value} AS ${ident(f.name)}`);
    const what = info.kind === 'decimal' ? `a decimal(${info.precision}, ${info.scale})` : info.kind === 'int' || info.kind === 'long' ? `an ${info.kind}` : `a ${info.kind}`;
    const checks: string[] = [];
    if (f.required) checks.push(`WHEN ${v} IS NULL THEN ${col('required value is missing')}`);
    checks.push(`WHEN ${v} IS NOT NULL AND NOT coalesce(${valid}, false) THEN ${bad(what)}`);
    const num = `TRY_CAST(trim(${v}) AS DOUBLE)`;
    if (m.min !== undefined) checks.push(`WHEN ${v} IS NOT NULL AND ${num} < ${Number(m.min)} THEN ${col('')} || '"' || ${v} || '" is below the minimum ${Number(m.min)}'`);
    if (m.max !== undefined) checks.push(`WHEN ${v} IS NOT NULL AND ${num} > ${Number(m.max)} THEN ${col('')} || '"' || ${v} || '" is above the maximum ${Number(m.max)}'`);
    if (m.pattern !== undefined) checks.push(`WHEN ${v} IS NOT NULL AND NOT regexp_matches(${v}, ${str(m.pattern)}) THEN ${col('')} || '"' || ${v} || '" does not match /' || ${str(m.pattern)} || '/'`);
    if (m.enum) {
      const allowed = numeric ? m.enum.filter((e) => typeof e === 'number').map((e) => String(Number(e))) : m.enum.filter((e) => typeof e === 'string' || typeof e === 'boolean').map(lit);
      const inList = allowed.length === 0 ? 'false' : `${numeric ? num : v} IN (${allowed.join(', ')})`;
      checks.push(`WHEN ${v} IS NOT NULL AND NOT coalesce(${inList}, false) THEN ${col('')} || '"' || ${v} || '" is not one of ' || ${str(JSON.stringify(m.enum))}`);
    }
    errors.push(`CASE ${checks.join(' ')} END`);
  }
  if (mapping.unknownFields === 'reject') {
    const known = new Set([...used, ...(mapping.drop ?? [])]);
    const unknown = sourceColumns.find((c) => !known.has(c));
    if (unknown !== undefined) errors.unshift(str(`unknown field ${unknown}`));
  }
  return { values, error: errors.length === 0 ? 'NULL::VARCHAR' : `coalesce(${errors.join(', ')})` };
}
