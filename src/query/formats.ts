import type { JsonValue } from '../duck/result-json.js';

/** Result renderings shared by the query API and the CLI. */
export interface Tabular {
  columns: { name: string; type: string }[];
  rows: JsonValue[][];
}

function cellText(v: JsonValue): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** One RFC 4180 field: quoted when it holds a comma, quote, CR or LF (quotes doubled). */
export function csvField(v: JsonValue): string {
  const s = cellText(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** RFC 4180 lines (CRLF-terminated) for rows; NULL is an empty field, nested values are JSON. */
export function csvRows(rows: JsonValue[][]): string {
  let out = '';
  for (const r of rows) out += `${r.map(csvField).join(',')}\r\n`;
  return out;
}

export function csvHeader(columns: { name: string }[]): string {
  return `${columns.map((c) => csvField(c.name)).join(',')}\r\n`;
}

export function toCsv(t: Tabular, header = true): string {
  return (header ? csvHeader(t.columns) : '') + csvRows(t.rows);
}

/** A plain-text table for terminals (NULL shown as NULL). */
export function toTable(t: Tabular): string {
  const cells = t.rows.map((r) => r.map((v) => (v === null ? 'NULL' : cellText(v).replace(/\r?\n/g, '\\n'))));
  const widths = t.columns.map((c, i) => Math.max(c.name.length, ...cells.map((r) => r[i].length)));
  const numeric = t.columns.map((c) => /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT|FLOAT|DOUBLE|DECIMAL)/i.test(c.type));
  const line = (vals: string[], align: boolean) =>
    vals.map((v, i) => (align && numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join(' | ').trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('-+-');
  return [line(t.columns.map((c) => c.name), false), sep, ...cells.map((r) => line(r, true))].join('\n') + '\n';
}
