/**
 * Quality results as an Iceberg table beside the checked one: `<table>__quality` in the same
 * namespace, one row per check result and per anomaly of every evaluated batch, so the history
 * is queryable with SQL like any table (`SELECT … FROM sales.orders__quality WHERE NOT passed`).
 */
import type { Catalog } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { str, type Duck } from '../duck/db.js';
import type { Schema } from '../iceberg/schema.js';
import { loadOrCreateTable } from '../ingest/dead-letter.js';
import { appendSql } from '../table/table-ops.js';

export const QUALITY_SUFFIX = '__quality';

export const QUALITY_SCHEMA: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'evaluated_at', required: true, type: 'timestamptz' },
    { id: 2, name: 'batch_id', required: false, type: 'string', doc: 'the batch (ingestion job batch, scheduled run) evaluated' },
    { id: 3, name: 'kind', required: true, type: 'string', doc: 'check or anomaly' },
    { id: 4, name: 'name', required: true, type: 'string', doc: 'check name, or the profile metric (null_ratio:email)' },
    { id: 5, name: 'column_name', required: false, type: 'string' },
    { id: 6, name: 'passed', required: true, type: 'boolean' },
    { id: 7, name: 'severity', required: true, type: 'string' },
    { id: 8, name: 'observed', required: false, type: 'double' },
    { id: 9, name: 'expected', required: false, type: 'string' },
    { id: 10, name: 'score', required: false, type: 'double', doc: 'anomalies: robust z-score (or range excursion for min/max)' },
    { id: 11, name: 'failing_rows', required: false, type: 'long' },
    { id: 12, name: 'total_rows', required: false, type: 'long' },
    { id: 13, name: 'message', required: false, type: 'string' },
  ],
};

export interface QualityRow {
  evaluatedAt: number;
  batchId: string | null;
  kind: 'check' | 'anomaly';
  name: string;
  column: string | null;
  passed: boolean;
  severity: string;
  observed: number | null;
  expected: string | null;
  score: number | null;
  failingRows: number | null;
  totalRows: number | null;
  message: string | null;
}

export function qualityIdent(target: TableIdent): TableIdent {
  return { namespace: target.namespace, name: `${target.name}${QUALITY_SUFFIX}` };
}

const s = (v: string | null) => (v === null ? 'NULL::VARCHAR' : str(v));
const d = (v: number | null) => (v === null || !Number.isFinite(v) ? 'NULL::DOUBLE' : `${v}::DOUBLE`);
const l = (v: number | null) => (v === null ? 'NULL::BIGINT' : `${Math.trunc(v)}::BIGINT`);

/** Appends the rows as one snapshot of `<table>__quality` (created on first use). */
export async function appendQualityRows(catalog: Catalog, target: TableIdent, duck: Duck, rows: QualityRow[]): Promise<void> {
  if (rows.length === 0) return;
  const ident = qualityIdent(target);
  await loadOrCreateTable(catalog, ident, { schema: QUALITY_SCHEMA });
  const values = rows.map(
    (r) =>
      `(epoch_ms(${Math.trunc(r.evaluatedAt)}::BIGINT)::TIMESTAMPTZ, ${s(r.batchId)}, ${str(r.kind)}, ${str(r.name)}, ${s(r.column)}, ${r.passed}, ${str(r.severity)}, ${d(r.observed)}, ${s(r.expected)}, ${d(r.score)}, ${l(r.failingRows)}, ${l(r.totalRows)}, ${s(r.message)})`,
  );
  const cols = QUALITY_SCHEMA.fields.map((f) => f.name).join(', ');
  await appendSql(catalog, ident, duck, `SELECT * FROM (VALUES ${values.join(', ')}) AS v(${cols})`);
}
