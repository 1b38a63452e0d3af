/**
 * Batch ingestion: a file (CSV, JSON array, NDJSON, Parquet) or a list of rows lands in a table
 * through the same mapping, validation, dead-letter and commit path as streaming ingestion.
 *
 * - Every source becomes a stream of JSON records without being held in memory: NDJSON is read
 *   line by line; CSV, JSON arrays and Parquet are first converted to NDJSON on disk by DuckDB
 *   (`read_csv(all_varchar)` / `read_json_objects` / `read_parquet` → `COPY … (FORMAT json)`).
 *   CSV lines DuckDB cannot split (wrong column count, bad quoting) come from its rejects table
 *   and become dead letters with DuckDB's reason and the raw line.
 * - Each record goes through RecordMapper (types, required, ranges, patterns, enums — CSV columns
 *   are cast leniently by default since CSV has no types), is staged as NDJSON and read by DuckDB
 *   `read_json` in chunks; values DuckDB cannot TRY_CAST become dead letters too. Each chunk is
 *   written to Parquet (writeDataFiles); nothing is committed until the whole source is read.
 * - One source = one atomic data commit (a fast append, summary `lakehouse.ingest.*`), preceded by
 *   one commit of the dead-letter table `<table>__dlq` when there are dead letters — data last, so
 *   a data commit implies its dead letters landed. Any failure before the data commit commits no
 *   data (the written files are deleted; a DLQ commit that already landed stays, recording the
 *   letters of an upload whose data did not land — reported in the error).
 * - Dead-letter rows: raw = the record text, topic = the source label (e.g. `upload:<file>`),
 *   partition = 0, offset = the record's ordinal in the source (0-based; CSV rejects: the CSV
 *   line number), job_id = the ingest id.
 */
import { createReadStream } from 'node:fs';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Catalog, LoadedTable } from '../../catalog/catalog.js';
import type { TableIdent } from '../../catalog/store.js';
import { isLakehouseError, lakehouseError } from '../../core/errors.js';
import { Duck, ident, str } from '../../duck/db.js';
import { duckType } from '../../duck/types.js';
import type { DataFile } from '../../iceberg/manifest-types.js';
import { currentSchema, defaultSpec } from '../../iceberg/metadata.js';
import { isPrimitive, primitiveInfo, type IcebergType, type NestedField } from '../../iceberg/types.js';
import { writeDataFiles } from '../../table/data-writer.js';
import { fastAppend } from '../../table/snapshot-producer.js';
import { DEAD_LETTER_SCHEMA, deadLetterIdent, loadOrCreateTable } from '../dead-letter.js';
import { RecordError, RecordMapper, type ColumnMapping, type RecordMapping } from '../mapping.js';
import { sqlMappingPlan } from './sql-mapping.js';

export type BatchFormat = 'csv' | 'json' | 'ndjson' | 'parquet';
export const BATCH_FORMATS: BatchFormat[] = ['csv', 'json', 'ndjson', 'parquet'];

export interface CsvOptions {
  /** Field delimiter (default `,`). */
  delimiter?: string;
  /** First line is a header with the column names (default true). */
  header?: boolean;
  /** Quote character (default `"`). */
  quote?: string;
}

export interface BatchIngestOptions {
  catalog: Catalog;
  table: TableIdent;
  mapping?: RecordMapping;
  /** Dead-letter `topic` value and summary `lakehouse.ingest.source` (e.g. `upload:orders.csv`). */
  sourceLabel: string;
  /** Own DuckDB is opened when not given. */
  duck?: Duck;
  /** Records per staging chunk (default 200,000). */
  chunkRecords?: number;
  /** CSV/Parquet: 'auto' converts in DuckDB when the mapping allows (default); 'js' maps each record in JS. */
  engine?: 'auto' | 'js';
}

export interface BatchIngestResult {
  ingestId: string;
  /** Records read from the source (committed + dead-lettered). */
  records: number;
  rowsCommitted: number;
  rowsDeadLettered: number;
  /** The data table's new snapshot (null when there was nothing to commit). */
  snapshotId: string | null;
  deadLetterSnapshotId: string | null;
  ms: number;
}

/** The format a file name suggests, if any. */
export function formatFromName(name: string): BatchFormat | undefined {
  const m = /\.(csv|tsv|json|ndjson|jsonl|parquet)(\.gz)?$/i.exec(name);
  if (!m) return undefined;
  const ext = m[1].toLowerCase();
  return ext === 'tsv' ? 'csv' : ext === 'jsonl' ? 'ndjson' : (ext as BatchFormat);
}

function castExpr(col: string, type: IcebergType): string {
  const c = ident(col);
  if (isPrimitive(type)) {
    const k = primitiveInfo(type).kind;
    if (k === 'binary' || k === 'fixed') return `from_base64(${c})`;
    return `TRY_CAST(${c} AS ${duckType(type)})`;
  }
  return `TRY_CAST(TRY_CAST(${c} AS JSON) AS ${duckType(type)})`;
}

/** CSV has no types: every column converts leniently unless the mapping says otherwise. */
function lenientMapping(fields: NestedField[], mapping: RecordMapping = {}): RecordMapping {
  const columns: Record<string, string | ColumnMapping> = { ...(mapping.columns ?? {}) };
  for (const f of fields) {
    const raw = mapping.columns?.[f.name];
    const m: ColumnMapping = typeof raw === 'string' ? { from: raw } : { ...(raw ?? {}) };
    m.cast ??= true;
    columns[f.name] = m;
  }
  return { ...mapping, columns };
}

interface Letter {
  raw: string | null;
  error: string;
  offset: number;
}

type Source = AsyncIterable<{ text?: string; value?: unknown }>;

class BatchRun {
  readonly id = randomUUID();
  private readonly t0 = Date.now();
  private duck!: Duck;
  private ownDuck = false;
  private dir = '';
  private target!: LoadedTable;
  private mapper!: RecordMapper;
  private fields: NestedField[] = [];
  private readonly files: DataFile[] = [];
  private dlqFile = '';
  private readonly dlqFiles: string[] = [];
  private letters = 0;
  private records = 0;
  private rows = 0;
  private chunk: { lines: string[]; raws: (string | null)[]; offsets: number[] } = { lines: [], raws: [], offsets: [] };
  private readonly chunkRecords: number;

  constructor(private readonly opts: BatchIngestOptions) {
    this.chunkRecords = opts.chunkRecords ?? 200_000;
  }

  async open(lenient: boolean): Promise<void> {
    const { catalog, table } = this.opts;
    if (!(await catalog.tableExists(table))) throw lakehouseError('NOT_FOUND', `table ${[...table.namespace, table.name].join('.')} does not exist`);
    this.target = await catalog.loadTable(table);
    const schema = currentSchema(this.target.metadata);
    this.fields = schema.fields;
    try {
      this.mapper = new RecordMapper(schema, lenient ? lenientMapping(schema.fields, this.opts.mapping) : this.opts.mapping);
    } catch (e) {
      throw lakehouseError('VALIDATION_FAILED', (e as Error).message);
    }
    if (this.opts.duck) this.duck = this.opts.duck;
    else {
      this.duck = await Duck.open();
      this.ownDuck = true;
    }
    this.dir = await mkdtemp(join(tmpdir(), 'lakehouse-batch-'));
    this.dlqFile = join(this.dir, 'dlq.ndjson');
    await writeFile(this.dlqFile, '');
    this.dlqFiles.push(this.dlqFile);
  }

  async close(): Promise<void> {
    if (this.ownDuck) {
      try {
        this.duck.close();
      } catch {
        /* closed */
      }
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** A scratch file path inside the run's temp dir. */
  scratch(name: string): string {
    return join(this.dir, name);
  }

  get db(): Duck {
    return this.duck;
  }

  get schemaFields(): NestedField[] {
    return this.fields;
  }

  get table(): LoadedTable {
    return this.target;
  }

  /** Dead letters the SQL path wrote as NDJSON `{raw (base64), error, offset}`. */
  addDeadLetterFile(path: string, count: number): void {
    this.dlqFiles.push(path);
    this.letters += count;
  }

  addDataFiles(files: DataFile[]): void {
    this.files.push(...files);
    this.rows += files.reduce((a, f) => a + Number(f.recordCount), 0);
  }

  private pendingLetters: string[] = [];

  async letter(l: Letter): Promise<void> {
    this.letters++;
    this.pendingLetters.push(JSON.stringify({ raw: l.raw === null ? null : Buffer.from(l.raw, 'utf8').toString('base64'), error: l.error, offset: l.offset }));
    if (this.pendingLetters.length >= 10_000) await this.flushLetters();
  }

  private async flushLetters(): Promise<void> {
    if (this.pendingLetters.length === 0) return;
    await appendFile(this.dlqFile, `${this.pendingLetters.join('\n')}\n`);
    this.pendingLetters = [];
  }

  /** One source record (raw text to parse, or an already parsed value). */
  async record(rec: { text?: string; value?: unknown }): Promise<void> {
    const offset = this.records++;
    let values: unknown[];
    const raw = rec.text ?? null;
    try {
      let parsed = rec.value;
      if (rec.text !== undefined) {
        try {
          parsed = JSON.parse(rec.text);
        } catch (e) {
          throw new RecordError(`invalid JSON: ${(e as Error).message}`);
        }
      }
      values = this.mapper.map(parsed);
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      await this.letter({ raw: raw ?? JSON.stringify(rec.value) ?? null, error: e.message, offset });
      return;
    }
    const c = this.chunk;
    let line = `{"__i":${c.lines.length}`;
    for (let k = 0; k < values.length; k++) {
      const v = values[k];
      if (v !== null) line += `,"c${k}":${JSON.stringify(v)}`;
    }
    c.lines.push(`${line}}`);
    c.raws.push(raw);
    c.offsets.push(offset);
    if (c.lines.length >= this.chunkRecords) await this.flushChunk();
  }

  async consume(src: Source): Promise<void> {
    for await (const rec of src) await this.record(rec);
  }

  /** Stages the buffered rows, dead-letters what DuckDB cannot cast, writes Parquet files. */
  private async flushChunk(): Promise<void> {
    const c = this.chunk;
    this.chunk = { lines: [], raws: [], offsets: [] };
    if (c.lines.length === 0) return;
    const file = join(this.dir, `${randomUUID()}.ndjson`);
    await writeFile(file, `${c.lines.join('\n')}\n`);
    c.lines = [];
    const stage = `__batch_stage_${this.id.replace(/-/g, '')}`;
    const stageCols = this.mapper.columns.map((name, k) => ({ key: `c${k}`, field: this.fields.find((f) => f.name === name)! }));
    const cols = [`__i: 'BIGINT'`, ...stageCols.map((s) => `${s.key}: 'VARCHAR'`)].join(', ');
    try {
      await this.duck.run(`CREATE OR REPLACE TEMP TABLE ${stage} AS SELECT * FROM read_json(${str(file)}, format='newline_delimited', columns={${cols}}, maximum_object_size=67108864)`);
      const checked = stageCols.filter((s) => !(isPrimitive(s.field.type) && ['string'].includes(primitiveInfo(s.field.type).kind)));
      if (checked.length > 0) {
        const conds = checked.map((s) => `(${ident(s.key)} IS NOT NULL AND ${castExpr(s.key, s.field.type)} IS NULL)`);
        const which = checked.map((s, k) => `WHEN ${conds[k]} THEN ${str(`column ${s.field.name}: cannot cast to ${duckType(s.field.type)}: `)} || ${ident(s.key)}`);
        const bad = await this.duck.rows(`SELECT __i, CASE ${which.join(' ')} END AS err FROM ${stage} WHERE ${conds.join(' OR ')}`);
        if (bad.length > 0) {
          for (const r of bad) {
            const i = Number(r.__i);
            await this.letter({ raw: c.raws[i], error: String(r.err), offset: c.offsets[i] });
          }
          await this.duck.run(`DELETE FROM ${stage} WHERE __i IN (${bad.map((r) => String(r.__i)).join(', ')})`);
        }
      }
      const select = this.fields.map((f) => {
        const sc = stageCols.find((s) => s.field.name === f.name);
        return sc ? `${castExpr(sc.key, f.type)} AS ${ident(f.name)}` : `NULL AS ${ident(f.name)}`;
      });
      const md = this.target.metadata;
      const files = await writeDataFiles({
        duck: this.duck, io: this.target.io, location: md.location, schema: currentSchema(md), spec: defaultSpec(md), properties: md.properties,
        sourceSql: `SELECT ${select.join(', ')} FROM ${stage} ORDER BY __i`,
      });
      this.files.push(...files);
      this.rows += files.reduce((a, f) => a + Number(f.recordCount), 0);
    } finally {
      await this.duck.run(`DROP TABLE IF EXISTS ${stage}`).catch(() => undefined);
      await rm(file, { force: true });
    }
  }

  /** Dead letters (if any), then the data: one commit each. */
  async commit(): Promise<BatchIngestResult> {
    await this.flushChunk();
    await this.flushLetters();
    const { catalog, table, sourceLabel } = this.opts;
    let dlqSnap: string | null = null;
    let snap: string | null = null;
    const summary = {
      'lakehouse.ingest.id': this.id,
      'lakehouse.ingest.source': sourceLabel,
      'lakehouse.ingest.records': String(this.rows + this.letters),
      'lakehouse.ingest.dead-letters': String(this.letters),
    };
    if (this.letters > 0) {
      const dlqIdent = deadLetterIdent(table);
      const dlq = await loadOrCreateTable(catalog, dlqIdent, { schema: DEAD_LETTER_SCHEMA });
      const md = dlq.metadata;
      const cols = `{'raw': 'VARCHAR', 'error': 'VARCHAR', 'offset': 'BIGINT'}`;
      const files = await writeDataFiles({
        duck: this.duck, io: dlq.io, location: md.location, schema: currentSchema(md), spec: defaultSpec(md), properties: md.properties,
        sourceSql: `SELECT from_base64(raw) AS raw, NULL::BLOB AS "key", error, ${str(sourceLabel)} AS topic, 0 AS "partition", "offset",
          NULL::TIMESTAMPTZ AS kafka_timestamp, TIMESTAMPTZ ${str(new Date().toISOString())} AS failed_at, ${str(this.id)} AS job_id
          FROM read_json([${this.dlqFiles.map(str).join(', ')}], format='newline_delimited', columns=${cols}, maximum_object_size=67108864)`,
      });
      try {
        const res = await fastAppend(catalog, dlqIdent, files, { summary }, dlq);
        dlqSnap = String(res.metadata['current-snapshot-id']);
      } catch (e) {
        await deleteFiles(dlq, files);
        throw e;
      }
    }
    if (this.files.length > 0 || this.letters > 0) {
      try {
        const res = await fastAppend(catalog, table, this.files, { summary }, this.target);
        snap = String(res.metadata['current-snapshot-id']);
      } catch (e) {
        await deleteFiles(this.target, this.files);
        throw e;
      }
    }
    return {
      ingestId: this.id,
      records: this.rows + this.letters,
      rowsCommitted: this.rows,
      rowsDeadLettered: this.letters,
      snapshotId: snap,
      deadLetterSnapshotId: dlqSnap,
      ms: Date.now() - this.t0,
    };
  }

  /** Removes data files written for a run that will not commit. */
  async abandon(): Promise<void> {
    if (this.target) await deleteFiles(this.target, this.files);
  }
}

async function deleteFiles(t: LoadedTable, files: DataFile[]): Promise<void> {
  for (const f of files) await t.io.delete(f.filePath).catch(() => undefined);
}

async function* ndjsonLines(path: string, unwrap = false): AsyncGenerator<{ text?: string; value?: unknown }> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.trim() === '') continue;
    if (unwrap) yield { value: (JSON.parse(line) as { json: unknown }).json };
    else yield { text: line };
  }
}

async function run(opts: BatchIngestOptions, lenient: boolean, body: (r: BatchRun) => Promise<void>): Promise<BatchIngestResult> {
  const r = new BatchRun(opts);
  try {
    await r.open(lenient);
    try {
      await body(r);
      return await r.commit();
    } catch (e) {
      await r.abandon();
      throw e;
    }
  } finally {
    await r.close();
  }
}

function sourceError(format: string, e: unknown): Error {
  if (isLakehouseError(e)) return e;
  return lakehouseError('BAD_REQUEST', `cannot read the ${format} source: ${(e as Error).message}`);
}

/** Ingests a local file (one commit; see the module comment). */
export async function ingestFile(opts: BatchIngestOptions, path: string, format: BatchFormat, csv: CsvOptions = {}): Promise<BatchIngestResult> {
  return run(opts, format === 'csv' || format === 'parquet', async (r) => {
    if (format === 'ndjson') {
      await r.consume(ndjsonLines(path));
      return;
    }
    const out = r.scratch('converted.ndjson');
    let rejects: Record<string, unknown>[] = [];
    try {
      if ((format === 'csv' || format === 'parquet') && opts.engine !== 'js' && (await sqlPath(r, opts.mapping, path, format, csv))) return;
      if (format === 'csv') {
        const rj = `__rej_${r.id.replace(/-/g, '')}`;
        const args = [
          `header=${csv.header ?? true}`,
          `all_varchar=true`,
          `store_rejects=true`,
          `rejects_table=${str(rj)}`,
          `rejects_scan=${str(`${rj}_scan`)}`,
          `auto_detect=true`,
        ];
        if (csv.delimiter !== undefined) args.push(`delim=${str(csv.delimiter)}`);
        if (csv.quote !== undefined) args.push(`quote=${str(csv.quote)}`);
        await r.db.run(`COPY (SELECT * FROM read_csv(${str(path)}, ${args.join(', ')})) TO ${str(out)} (FORMAT json)`);
        rejects = await r.db.rows(`SELECT line, error_type, error_message, csv_line FROM ${rj} ORDER BY line`);
        await r.db.run(`DROP TABLE IF EXISTS ${rj}`).catch(() => undefined);
        await r.db.run(`DROP TABLE IF EXISTS ${rj}_scan`).catch(() => undefined);
      } else if (format === 'json') {
        await r.db.run(`COPY (SELECT json FROM read_json_objects(${str(path)}, format='array', maximum_object_size=67108864)) TO ${str(out)} (FORMAT json)`);
      } else {
        // Typed values in the text forms the mapping accepts: exact 64-bit integers and decimals
        // as strings, timestamps as ISO-8601.
        const cols = await r.db.rows(`DESCRIBE SELECT * FROM read_parquet(${str(path)})`);
        const select = cols.map((c) => {
          const name = ident(String(c.column_name));
          const type = String(c.column_type);
          if (type === 'TIMESTAMP WITH TIME ZONE') return `strftime(timezone('UTC', ${name}), '%Y-%m-%dT%H:%M:%S.%fZ') AS ${name}`;
          if (type === 'TIMESTAMP' || type === 'TIMESTAMP_NS' || type === 'TIMESTAMP_MS' || type === 'TIMESTAMP_S') return `strftime(${name}::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.%f') AS ${name}`;
          if (/^(BIGINT|UBIGINT|HUGEINT|UHUGEINT|DECIMAL)/.test(type)) return `${name}::VARCHAR AS ${name}`;
          return name;
        });
        await r.db.run(`COPY (SELECT ${select.join(', ')} FROM read_parquet(${str(path)})) TO ${str(out)} (FORMAT json)`);
      }
    } catch (e) {
      throw sourceError(format, e);
    }
    await r.consume(ndjsonLines(out, format === 'json'));
    await csvRejectLetters(r, rejects);
  });
}

/** Ingests rows given as values (small pushes; one commit). */
export async function ingestRows(opts: BatchIngestOptions, rows: unknown[]): Promise<BatchIngestResult> {
  return run(opts, false, async (r) => {
    for (const value of rows) await r.record({ value });
  });
}

async function csvRejectLetters(r: BatchRun, rejects: Record<string, unknown>[]): Promise<void> {
  for (const x of rejects) {
    await r.letter({ raw: x.csv_line === null ? null : String(x.csv_line), error: `CSV ${String(x.error_type).toLowerCase()}: ${String(x.error_message)}`, offset: Number(x.line) });
  }
}

function csvArgs(csv: CsvOptions): string[] {
  const args = [`header=${csv.header ?? true}`, 'all_varchar=true'];
  if (csv.delimiter !== undefined) args.push(`delim=${str(csv.delimiter)}`);
  if (csv.quote !== undefined) args.push(`quote=${str(csv.quote)}`);
  return args;
}

/**
 * CSV and Parquet entirely in DuckDB (sql-mapping.ts): one streaming pass writes the invalid rows
 * (with their reasons, and for CSV the lines DuckDB rejected) as dead letters, a second writes the
 * valid rows as Parquet data files. False when the mapping needs the JS path.
 */
async function sqlPath(r: BatchRun, mapping: RecordMapping | undefined, path: string, format: 'csv' | 'parquet', csv: CsvOptions): Promise<boolean> {
  const duck = r.db;
  const tag = r.id.replace(/-/g, '');
  let rel: (rejects: boolean) => string;
  let columns: string[];
  if (format === 'csv') {
    const base = csvArgs(csv);
    rel = (rejects) =>
      `SELECT * FROM read_csv(${str(path)}, ${[...base, ...(rejects ? [`store_rejects=true`, `rejects_table='__rej_${tag}'`, `rejects_scan='__rejscan_${tag}'`] : ['ignore_errors=true'])].join(', ')})`;
    columns = (await duck.rows(`DESCRIBE ${rel(false)}`)).map((c) => String(c.column_name));
  } else {
    const desc = await duck.rows(`DESCRIBE SELECT * FROM read_parquet(${str(path)})`);
    if (desc.some((c) => /STRUCT|MAP|\[\]|UNION/.test(String(c.column_type)))) return false;
    const select = desc.map((c) => {
      const name = ident(String(c.column_name));
      const type = String(c.column_type);
      if (type === 'TIMESTAMP WITH TIME ZONE') return `strftime(timezone('UTC', ${name}), '%Y-%m-%dT%H:%M:%S.%fZ') AS ${name}`;
      if (type.startsWith('TIMESTAMP')) return `strftime(${name}::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.%f') AS ${name}`;
      if (type === 'BLOB') return `to_base64(${name}) AS ${name}`;
      if (type === 'BOOLEAN') return `CASE WHEN ${name} THEN 'true' WHEN NOT ${name} THEN 'false' END AS ${name}`;
      return `CAST(${name} AS VARCHAR) AS ${name}`;
    });
    rel = () => `SELECT ${select.join(', ')} FROM read_parquet(${str(path)})`;
    columns = desc.map((c) => String(c.column_name));
  }
  const plan = sqlMappingPlan(r.schemaFields, mapping, columns);
  if (!plan) return false;
  const src = `(${rel(true)}) __src`;
  const dlq = r.scratch('sql-dlq.ndjson');
  const counted = await duck.rows(
    `COPY (SELECT to_base64(encode(to_json(__src)::VARCHAR)) AS raw, __err AS error, __i AS "offset" FROM (SELECT __src, ${plan.error} AS __err, row_number() OVER () - 1 AS __i FROM ${src}) WHERE __err IS NOT NULL) TO ${str(dlq)} (FORMAT json)`,
  );
  r.addDeadLetterFile(dlq, Number(counted[0]?.Count ?? 0));
  if (format === 'csv') {
    const rejects = await duck.rows(`SELECT line, error_type, error_message, csv_line FROM __rej_${tag} ORDER BY line`);
    await duck.run(`DROP TABLE IF EXISTS __rej_${tag}`).catch(() => undefined);
    await duck.run(`DROP TABLE IF EXISTS __rejscan_${tag}`).catch(() => undefined);
    await csvRejectLetters(r, rejects);
  }
  const md = r.table.metadata;
  r.addDataFiles(
    await writeDataFiles({
      duck, io: r.table.io, location: md.location, schema: currentSchema(md), spec: defaultSpec(md), properties: md.properties,
      sourceSql: `SELECT ${plan.values.join(', ')} FROM (SELECT *, ${plan.error} AS __err FROM (${rel(false)})) WHERE __err IS NULL`,
    }),
  );
  return true;
}
