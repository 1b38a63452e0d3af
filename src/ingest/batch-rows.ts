/**
 * A batch's rows in DuckDB, typed to the table's columns: the fast-path rows (raw values read and
 * checked in SQL, fast-path.ts) and the rows mapped in JS (staged NDJSON lines, staging.ts), with
 * Kafka metadata columns and derived columns. Rows that cannot be typed become dead letters.
 *
 * Row numbers (`__i`): fast rows are numbered 0…F-1 in `pending.fast` order, staged rows F + their
 * index in `pending.msgs`, so any row leads back to its record.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { ident, str, type Duck } from '../duck/db.js';
import { duckType } from '../duck/types.js';
import type { Schema } from '../iceberg/schema.js';
import { isPrimitive, primitiveInfo } from '../iceberg/types.js';
import type { Letter, Pending } from './batch.js';
import { evaluateDerived } from './derived-eval.js';
import { FastPath } from './fast-path.js';
import { ENRICHMENT_COLUMNS, type Enrichment } from './mapping.js';
import { castExpr, type StageColumn } from './staging.js';

export interface BatchRowsContext {
  duck: Duck;
  stageDir: string;
  schema: Schema;
  /** Staging columns of the JS-mapped rows (mapped columns first, in the fast path's order). */
  stageCols: StageColumn[];
  /** Number of mapped columns (the fast path's `c<k>`). */
  mapped: number;
  enrich: Enrichment[];
  derived: Record<string, string>;
  fast: FastPath | null;
  tpList: { topic: string; partition: number }[];
  /** Maps a record in JS into the batch (a staged line or a dead letter), as when it was consumed. */
  mapInJs(p: Pending, m: KafkaMessage, tp: number): void;
}

export interface BatchRows {
  /** Every row to write, columns named like the table's (null: every record became a dead letter). */
  sourceSql: string | null;
  /** Rows the fast path typed, and fast records it handed to the JS mapping. */
  fastRows: number;
  fastRejected: number;
  /** Why the whole fast part went to the JS mapping (a record DuckDB's JSON reader rejects), or null. */
  fastFailed: string | null;
  dispose(): Promise<void>;
}

/** Below this many fast records a batch is mapped in JS. */
const FAST_MIN_RECORDS = 500;
const FAST = '__ingest_fast';
const STAGE = '__ingest_stage';
const ROWS = '__ingest_rows';
const TYPED = '__ingest_typed';

export async function buildBatchRows(ctx: BatchRowsContext, batch: Pending, id: string): Promise<BatchRows> {
  const { duck } = ctx;
  const files: string[] = [];
  const tables = [FAST, STAGE, ROWS, TYPED];
  const dispose = async () => {
    for (const t of tables) await duck.run(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
    for (const f of files) await rm(f, { force: true });
  };
  try {
    const fast = await typeFast(ctx, batch, id, files);
    const F = fast.used ? batch.fast.length : 0;
    const msgAt = (i: number): { m: KafkaMessage; tp: number } => (i < F ? { m: batch.fast.message(i), tp: batch.fast.tp(i) } : { m: batch.msgs[i - F], tp: batch.tps[i - F] });
    const letter = (i: number, error: string) => {
      const { m, tp } = msgAt(i);
      const { topic, partition } = ctx.tpList[tp];
      batch.letters.push({ raw: m.value, key: m.key, error, topic, partition, offset: BigInt(m.offset), timestamp: m.timestamp });
    };
    const ingestedAt = `TIMESTAMPTZ ${str(new Date().toISOString())}`;
    const fields = ctx.schema.fields.filter((f) => !Object.hasOwn(ctx.derived, f.name));
    const parts: string[] = [];
    if (batch.lines.length > 0) {
      await stageLines(ctx, batch, id, files, (i, error) => letter(i + F, error));
      const select = fields.map((f) => {
        const sc = ctx.stageCols.find((c) => c.field.name === f.name);
        if (sc) return `${castExpr(sc.key, f.type)} AS ${ident(f.name)}`;
        if (f.name === ENRICHMENT_COLUMNS.ingested_at.name && ctx.enrich.includes('ingested_at')) return `${ingestedAt} AS ${ident(f.name)}`;
        return `NULL AS ${ident(f.name)}`;
      });
      parts.push(`SELECT __i + ${F} AS __i, ${select.join(', ')} FROM ${STAGE}`);
    }
    if (fast.used && fast.rows > 0) parts.push(fastSelect(ctx, batch, fields.map((f) => f.name), ingestedAt));
    const names = fields.map((f) => ident(f.name)).join(', ');
    let sourceSql = parts.length > 0 ? `SELECT ${names} FROM (${parts.join(' UNION ALL ')}) AS __u` : null;
    if (Object.keys(ctx.derived).length > 0 && parts.length > 0) {
      await duck.run(`CREATE OR REPLACE TEMP TABLE ${ROWS} AS ${parts.join(' UNION ALL ')}`);
      for (const b of await evaluateDerived(duck, ctx.derived, ctx.schema, ROWS, TYPED)) letter(b.i, b.error);
      sourceSql = `SELECT ${ctx.schema.fields.map((f) => ident(f.name)).join(', ')} FROM ${TYPED}`;
    }
    return { sourceSql, fastRows: fast.rows, fastRejected: fast.rejected, fastFailed: fast.failed, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/**
 * Reads and checks the fast records in DuckDB (table FAST). Records failing the check, or all of
 * them when DuckDB cannot read the file as one JSON object per line, are mapped in JS instead.
 */
async function typeFast(ctx: BatchRowsContext, batch: Pending, id: string, files: string[]): Promise<{ used: boolean; rows: number; rejected: number; failed: string | null }> {
  const n = batch.fast.length;
  if (n === 0) return { used: false, rows: 0, rejected: 0, failed: null };
  if (!ctx.fast || n < FAST_MIN_RECORDS) {
    // The fast path was switched off while these records were buffered, or the batch is so small
    // that DuckDB's extra queries cost more than mapping in JS (a trickle, where latency matters).
    for (let i = 0; i < n; i++) ctx.mapInJs(batch, batch.fast.message(i), batch.fast.tp(i));
    return { used: false, rows: 0, rejected: 0, failed: null };
  }
  const file = join(ctx.stageDir, `${id}-fast.ndjson`);
  files.push(file);
  let failed: string | null = null;
  let bad: number[] = [];
  try {
    await writeFile(file, batch.fast.content());
    // One query reads and checks; FAST keeps the file's row order (insertion order is preserved),
    // so its rowid is the record's index in `batch.fast`.
    await ctx.duck.run(`CREATE OR REPLACE TEMP TABLE ${FAST} AS ${ctx.fast.checkSql(`(${ctx.fast.readSql(file)}) AS __r`)}`);
    const count = Number((await ctx.duck.rows(`SELECT count(*) AS n FROM ${FAST}`))[0].n);
    // Every line is one object or the read fails; a count that differs means lines were split or skipped.
    if (count !== n) throw new Error(`read ${count} rows from ${n} records`);
    bad = (await ctx.duck.rows(`SELECT rowid AS __i FROM ${FAST} WHERE NOT __ok ORDER BY rowid`)).map((r) => Number(r.__i));
  } catch (e) {
    failed = (e as Error).message.split('\n')[0];
  }
  await rm(file, { force: true });
  if (failed !== null) {
    for (let i = 0; i < n; i++) ctx.mapInJs(batch, batch.fast.message(i), batch.fast.tp(i));
    return { used: false, rows: 0, rejected: 0, failed };
  }
  for (const i of bad) ctx.mapInJs(batch, batch.fast.message(i), batch.fast.tp(i));
  return { used: true, rows: n - bad.length, rejected: bad.length, failed: null };
}

/** The fast rows as table columns: mapped values, then Kafka metadata from the batch's segments. */
function fastSelect(ctx: BatchRowsContext, batch: Pending, columns: string[], ingestedAt: string): string {
  const needSeg = ctx.enrich.some((e) => e === 'topic' || e === 'partition' || e === 'offset');
  const tps = [...new Set(batch.fast.segments.map((s) => s.tp))];
  const byTp = (f: (tp: number) => string) => `CASE seg_tp ${tps.map((tp) => `WHEN ${tp} THEN ${f(tp)}`).join(' ')} END`;
  const select = columns.map((name) => {
    const k = ctx.stageCols.findIndex((c) => c.field.name === name);
    if (k >= 0 && k < ctx.mapped) return `c${k} AS ${ident(name)}`;
    const e = (Object.keys(ENRICHMENT_COLUMNS) as Enrichment[]).find((x) => ENRICHMENT_COLUMNS[x].name === name && ctx.enrich.includes(x));
    if (e === 'topic') return `${byTp((tp) => str(ctx.tpList[tp].topic))} AS ${ident(name)}`;
    if (e === 'partition') return `${byTp((tp) => String(ctx.tpList[tp].partition))} AS ${ident(name)}`;
    if (e === 'offset') return `CAST(seg_base + (__i - seg_start) AS BIGINT) AS ${ident(name)}`;
    if (e === 'ingested_at') return `${ingestedAt} AS ${ident(name)}`;
    return `NULL AS ${ident(name)}`;
  });
  const numbered = `(SELECT rowid AS __i, * FROM ${FAST}) AS __fr`;
  const from = needSeg ? `${numbered} JOIN ${FastPath.segmentsSql(batch.fast.segments)} ON __i >= seg_start AND __i < seg_end` : numbered;
  return `SELECT __i, ${select.join(', ')} FROM ${from} WHERE __ok`;
}

/**
 * Stages the JS-mapped lines (table STAGE). Values JS accepted but DuckDB cannot cast are
 * reported (`onBad(index in msgs, error)`) and removed.
 */
async function stageLines(ctx: BatchRowsContext, batch: Pending, id: string, files: string[], onBad: (i: number, error: string) => void): Promise<void> {
  const { duck } = ctx;
  const file = join(ctx.stageDir, `${id}.ndjson`);
  files.push(file);
  await writeFile(file, `${batch.lines.join('\n')}\n`);
  const cols = [`__i: 'BIGINT'`, ...ctx.stageCols.map((c) => `${c.key}: 'VARCHAR'`)].join(', ');
  await duck.run(`CREATE OR REPLACE TEMP TABLE ${STAGE} AS SELECT * FROM read_json(${str(file)}, format='newline_delimited', columns={${cols}}, maximum_object_size=67108864)`);
  const checked = ctx.stageCols.filter((c) => !(isPrimitive(c.field.type) && ['binary', 'fixed', 'string'].includes(primitiveInfo(c.field.type).kind)));
  if (checked.length === 0) return;
  const conds = checked.map((c) => `(${ident(c.key)} IS NOT NULL AND ${castExpr(c.key, c.field.type)} IS NULL)`);
  const which = checked.map((c, k) => `WHEN ${conds[k]} THEN ${str(`column ${c.field.name}: cannot cast to ${duckType(c.field.type)}: `)} || ${ident(c.key)}`);
  const bad = await duck.rows(`SELECT __i, CASE ${which.join(' ')} END AS err FROM ${STAGE} WHERE ${conds.join(' OR ')}`);
  if (bad.length === 0) return;
  for (const r of bad) onBad(Number(r.__i), String(r.err));
  await duck.run(`DELETE FROM ${STAGE} WHERE __i IN (${bad.map((r) => String(r.__i)).join(', ')})`);
}
