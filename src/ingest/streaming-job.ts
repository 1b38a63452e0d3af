/**
 * A streaming ingestion job: consumes JSON records from Kafka topics as one consumer group, maps
 * and validates them into the target Iceberg table's columns, sends failures to the dead-letter
 * table `<table>__dlq`, and commits batches (by record count, bytes or interval) exactly once.
 *
 * Hot path: records are parsed and checked in JS, then staged as NDJSON (one line per row, values
 * as JSON text) and read by DuckDB in one `read_json` per batch — no per-row INSERT. DuckDB casts
 * every column with TRY_CAST; a row whose value still fails to cast goes to the dead-letter table
 * too, so one bad value never fails a batch. The typed rows become Parquet via writeDataFiles and
 * one fast append per batch.
 *
 * Exactly once (see offsets.ts and commit.ts):
 * - The target table's snapshots record, per topic and partition, the next offset to consume
 *   (`kafka.offsets.<topic>`, cumulative). On start — and whenever a partition is assigned — the
 *   job seeks to those offsets, not to the group's committed offsets. Group offsets are committed
 *   after each Iceberg commit only so that lag shows in Kafka tools.
 * - Every commit checks, inside the catalog's optimistic retry loop, that the table's recorded
 *   offsets for the batch's partitions are still where the batch started; otherwise (another
 *   process or a zombie committed them) the batch is dropped with OffsetConflictError and the job
 *   re-reads the table's offsets and seeks there. A crash between the Parquet write and the commit
 *   leaves only unreferenced files.
 * - The dead-letter table is committed first, then the data table. The DLQ table's snapshots record
 *   their own watermark ("every dead letter below this offset is here", max-merged). Resuming from
 *   the data table's offsets is therefore complete for the DLQ too (a data commit implies the DLQ
 *   commit of the same batch landed), and on replay dead letters below the DLQ watermark are
 *   skipped — so a crash between the two commits duplicates nothing. Both tables see each record
 *   at most once; each record lands in exactly one of them (for an unchanged job configuration).
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Catalog, LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { Duck, ident, str } from '../duck/db.js';
import { duckType } from '../duck/types.js';
import { buildPartitionSpec } from '../iceberg/partition.js';
import { currentSchema, defaultSpec } from '../iceberg/metadata.js';
import type { Schema } from '../iceberg/schema.js';
import { isPrimitive, primitiveInfo, type IcebergType, type NestedField } from '../iceberg/types.js';
import { writeDataFiles } from '../table/data-writer.js';
import type { DataFile } from '../iceberg/manifest-types.js';
import { appendWithOffsets, OffsetConflictError } from './commit.js';
import { DEAD_LETTER_SCHEMA, deadLetterIdent, loadOrCreateTable } from './dead-letter.js';
import { createKafka, offsetsForTimestamp, topicOffsets, type KafkaLog } from './kafka-client.js';
import { ENRICHMENT_COLUMNS, RecordError, RecordMapper, withEnrichmentColumns, type Enrichment, type RecordMapping } from './mapping.js';
import { getOffset, mergeOffsets, recordedOffsets, setOffset, type TopicOffsets } from './offsets.js';

export interface StreamingJobConfig {
  /** Recorded in every snapshot summary (`kafka.job-id`). */
  jobId: string;
  brokers: string[];
  topics: string[];
  groupId: string;
  /** Where partitions the table has no offsets for start (default earliest). */
  startFrom?: 'earliest' | 'latest' | { timestampMs: number };
  table: TableIdent;
  /** Creates the target table when missing: declared schema (+ enrichment columns), partitioning. */
  createTable?: { schema: Schema; partitionBy?: string[]; properties?: Record<string, string> };
  mapping?: RecordMapping;
  /** Kafka metadata columns to fill (`_kafka_topic`, `_kafka_partition`, `_kafka_offset`, `_kafka_key`, `_kafka_timestamp`, `_ingested_at`). */
  enrich?: Enrichment[];
  commit?: {
    /** Commit when this many records are buffered (default 50,000). */
    maxRecords?: number;
    /** Commit when this many bytes of record values are buffered (default 64 MiB). */
    maxBytes?: number;
    /** Commit buffered records at least this often (default 1,000 ms). */
    intervalMs?: number;
  };
  /** Stop once every partition is committed up to its high watermark as of the start. */
  stopAtEnd?: boolean;
  consumer?: { sessionTimeoutMs?: number; heartbeatIntervalMs?: number; maxBytesPerPartition?: number };
}

export interface CommitInfo {
  rows: number;
  deadLetters: number;
  /** Offsets recorded in the data table after this commit. */
  offsets: TopicOffsets;
  ms: number;
}

export interface JobStatus {
  state: 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';
  rowsCommitted: number;
  deadLettersCommitted: number;
  commits: number;
  conflicts: number;
  lastCommitAt: number | null;
  /** The data table's recorded offsets as last seen. */
  offsets: Record<string, Record<string, string>>;
  error?: string;
}

export interface StreamingJobDeps {
  catalog: Catalog;
  /** Own DuckDB is opened when not given. */
  duck?: Duck;
  log?: KafkaLog;
  onCommit?: (info: CommitInfo) => void;
}

interface StageColumn {
  key: string;
  field: NestedField;
}

interface Letter {
  raw: Buffer | null;
  key: Buffer | null;
  error: string;
  topic: string;
  partition: number;
  offset: bigint;
  timestamp: string | undefined;
}

interface Pending {
  lines: string[];
  msgs: KafkaMessage[];
  tps: number[];
  letters: Letter[];
  /** Partition position before this batch's first record. */
  from: TopicOffsets;
  /** Next offset after this batch's last record. */
  end: TopicOffsets;
  records: number;
  bytes: number;
  startedAt: number;
}

function newPending(): Pending {
  return { lines: [], msgs: [], tps: [], letters: [], from: new Map(), end: new Map(), records: 0, bytes: 0, startedAt: Date.now() };
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

const STAGE_PREFIX = 'lakehouse-ingest-';

/** Staging dirs of ingesting processes that died without cleaning up (e.g. SIGKILL). */
async function removeStaleStageDirs(): Promise<void> {
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const name of names) {
    const m = /^lakehouse-ingest-(\d+)-/.exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') await rm(join(tmpdir(), name), { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

const tpKey = (topic: string, partition: number) => `${partition}\u0000${topic}`;

export class StreamingJob {
  private readonly cfg: StreamingJobConfig;
  private readonly deps: StreamingJobDeps;
  private readonly kafka: Kafka;
  private consumer!: Consumer;
  private duck!: Duck;
  private ownDuck = false;
  private stageDir = '';
  private dlqIdent: TableIdent;
  private target!: LoadedTable;
  private dlq!: LoadedTable;
  private mapper!: RecordMapper;
  private stageCols: StageColumn[] = [];
  private enrichIdx: Partial<Record<Enrichment, number>> = {};
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly intervalMs: number;

  /** Offsets recorded in the data / DLQ table (cache, refreshed by our commits and resyncs). */
  private tableWm: TopicOffsets = new Map();
  private dlqWm: TopicOffsets = new Map();
  /** Where partitions without recorded offsets start. */
  private startPos: TopicOffsets = new Map();
  private endTargets: TopicOffsets | null = null;
  /** Next offset to accept per owned partition. */
  private readonly pos = new Map<string, bigint>();
  private readonly owned = new Set<string>();
  private readonly tpList: { topic: string; partition: number }[] = [];
  private readonly tpIndex = new Map<string, number>();
  private pending: Pending = newPending();
  private flushChain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private lastPoll = 0;
  private stopping: Promise<void> | null = null;
  private resolveDone!: () => void;
  private rejectDone!: (e: Error) => void;
  /** Settles when the job has stopped (stop(), stopAtEnd) or failed. */
  readonly done: Promise<void>;
  private readonly st: JobStatus = {
    state: 'starting', rowsCommitted: 0, deadLettersCommitted: 0, commits: 0, conflicts: 0, lastCommitAt: null, offsets: {},
  };

  private constructor(cfg: StreamingJobConfig, deps: StreamingJobDeps) {
    this.cfg = cfg;
    this.deps = deps;
    this.kafka = createKafka({ brokers: cfg.brokers, clientId: `lakehouse-${cfg.jobId}`, log: deps.log });
    this.dlqIdent = deadLetterIdent(cfg.table);
    this.maxRecords = cfg.commit?.maxRecords ?? 50_000;
    this.maxBytes = cfg.commit?.maxBytes ?? 64 * 1024 * 1024;
    this.intervalMs = cfg.commit?.intervalMs ?? 1000;
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => undefined);
  }

  static async start(cfg: StreamingJobConfig, deps: StreamingJobDeps): Promise<StreamingJob> {
    const job = new StreamingJob(cfg, deps);
    try {
      await job.init();
    } catch (e) {
      await job.cleanup();
      throw e;
    }
    return job;
  }

  status(): JobStatus {
    const offsets: Record<string, Record<string, string>> = {};
    for (const [t, m] of this.tableWm) offsets[t] = Object.fromEntries([...m].map(([p, o]) => [String(p), o.toString()]));
    return { ...this.st, offsets };
  }

  /** Stops consuming, commits what is buffered, leaves the group. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.st.state === 'running') this.st.state = 'stopping';
      try {
        await this.consumer?.stop();
        if (this.st.state !== 'failed') await this.flush();
        if (this.st.state !== 'failed') this.st.state = 'stopped';
      } catch (e) {
        this.fail(e as Error);
      } finally {
        await this.cleanup();
        if (this.st.state === 'failed') this.rejectDone(new Error(this.st.error));
        else this.resolveDone();
      }
    })();
    return this.stopping;
  }

  // --- setup -----------------------------------------------------------------------------------

  private async init(): Promise<void> {
    const { catalog } = this.deps;
    const cfg = this.cfg;
    const enrich = cfg.enrich ?? [];
    let create: Parameters<typeof loadOrCreateTable>[2];
    if (cfg.createTable) {
      const schema = withEnrichmentColumns(cfg.createTable.schema, enrich);
      create = {
        schema,
        spec: cfg.createTable.partitionBy?.length ? buildPartitionSpec(schema, cfg.createTable.partitionBy) : undefined,
        properties: cfg.createTable.properties,
      };
    }
    this.target = await loadOrCreateTable(catalog, cfg.table, create);
    this.dlq = await loadOrCreateTable(catalog, this.dlqIdent, { schema: DEAD_LETTER_SCHEMA });
    const schema = currentSchema(this.target.metadata);
    const enrichNames = new Map(enrich.map((e) => [ENRICHMENT_COLUMNS[e].name as string, e]));
    for (const name of enrichNames.keys()) {
      if (!schema.fields.some((f) => f.name === name)) throw new Error(`enrichment column ${name} is not in the table`);
    }
    this.mapper = new RecordMapper(schema, cfg.mapping, new Set(enrichNames.keys()));
    for (const name of this.mapper.columns) this.stageCols.push({ key: `c${this.stageCols.length}`, field: schema.fields.find((f) => f.name === name)! });
    for (const [name, e] of enrichNames) {
      if (e === 'ingested_at') continue;
      this.enrichIdx[e] = this.stageCols.length;
      this.stageCols.push({ key: `c${this.stageCols.length}`, field: schema.fields.find((f) => f.name === name)! });
    }

    this.tableWm = recordedOffsets(this.target.metadata, cfg.topics);
    this.dlqWm = recordedOffsets(this.dlq.metadata, cfg.topics);
    const ranges = await topicOffsets(this.kafka, cfg.topics);
    for (const [topic, parts] of ranges) {
      const byTime = typeof cfg.startFrom === 'object' ? await offsetsForTimestamp(this.kafka, topic, cfg.startFrom.timestampMs) : null;
      for (const [p, r] of parts) {
        setOffset(this.startPos, topic, p, byTime ? byTime.get(p) ?? r.high : cfg.startFrom === 'latest' ? r.high : r.low);
      }
    }
    if (cfg.stopAtEnd) {
      this.endTargets = new Map();
      for (const [topic, parts] of ranges) for (const [p, r] of parts) setOffset(this.endTargets, topic, p, r.high);
    }

    if (this.deps.duck) this.duck = this.deps.duck;
    else {
      this.duck = await Duck.open();
      this.ownDuck = true;
    }
    await removeStaleStageDirs();
    this.stageDir = await mkdtemp(join(tmpdir(), `${STAGE_PREFIX}${process.pid}-`));

    if (this.caughtUp()) {
      this.st.state = 'stopped';
      this.stopping = Promise.resolve();
      await this.cleanup();
      this.resolveDone();
      return;
    }

    const c = cfg.consumer ?? {};
    this.consumer = this.kafka.consumer({
      groupId: cfg.groupId,
      sessionTimeout: c.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: c.heartbeatIntervalMs ?? 1000,
      rebalanceTimeout: Math.max(15_000, (c.sessionTimeoutMs ?? 10_000) + 5000),
      maxBytesPerPartition: c.maxBytesPerPartition ?? 4 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
      maxWaitTimeInMs: 250,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => this.onAssign(e.payload.memberAssignment));
    this.consumer.on(this.consumer.events.CRASH, (e) => {
      if (!e.payload.restart) this.fail(e.payload.error);
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: cfg.topics, fromBeginning: true });
    this.st.state = 'running';
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.onBatch(p) });
    this.timer = setInterval(() => this.tick(), Math.max(50, Math.min(250, this.intervalMs / 4)));
  }

  private async cleanup(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.consumer?.disconnect().catch(() => undefined);
    if (this.ownDuck) {
      try {
        this.duck.close();
      } catch {
        /* already closed */
      }
      this.ownDuck = false;
    }
    if (this.stageDir) await rm(this.stageDir, { recursive: true, force: true });
  }

  private fail(e: Error): void {
    if (this.st.state === 'failed') return;
    this.st.state = 'failed';
    this.st.error = e.message;
    void this.stop();
  }

  // --- consuming -------------------------------------------------------------------------------

  private onAssign(assignment: Record<string, number[]>): void {
    const now = new Set<string>();
    for (const [topic, parts] of Object.entries(assignment)) {
      for (const partition of parts) {
        const key = tpKey(topic, partition);
        now.add(key);
        if (!this.owned.has(key) && !this.pos.has(key)) {
          // Never read here (or reset by a resync): start at the table's offsets. A partition we
          // owned before keeps its position, as buffered records up to it are still to be committed
          // (if someone else committed it meanwhile, our commit conflicts and resyncs).
          this.pos.set(key, getOffset(this.tableWm, topic, partition) ?? getOffset(this.startPos, topic, partition) ?? 0n);
        }
        // Always seek: after a rebalance kafkajs would resume from the group's committed offsets.
        this.consumer.seek({ topic, partition, offset: this.pos.get(key)!.toString() });
      }
    }
    this.owned.clear();
    for (const k of now) this.owned.add(k);
  }

  private tpIdx(topic: string, partition: number): number {
    const key = tpKey(topic, partition);
    let i = this.tpIndex.get(key);
    if (i === undefined) {
      i = this.tpList.length;
      this.tpList.push({ topic, partition });
      this.tpIndex.set(key, i);
    }
    return i;
  }

  private async onBatch({ batch, resolveOffset, isRunning, isStale, heartbeat }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const key = tpKey(topic, partition);
    // Offsets are resolved by hand (eachBatchAutoResolve off): what we leave unresolved is fetched
    // again, so returning early never skips records.
    if (!this.owned.has(key) || this.st.state !== 'running') return;
    const tp = this.tpIdx(topic, partition);
    let last: string | null = null;
    for (const m of batch.messages) {
      const off = BigInt(m.offset);
      const pos = this.pos.get(key)!;
      last = m.offset;
      if (off < pos) continue;
      const p = this.pending;
      if (getOffset(p.from, topic, partition) === undefined) setOffset(p.from, topic, partition, pos);
      this.accept(p, m, topic, partition, tp, off);
      this.pos.set(key, off + 1n);
      setOffset(p.end, topic, partition, off + 1n);
      if (p.records >= this.maxRecords || p.bytes >= this.maxBytes) {
        resolveOffset(m.offset);
        last = null;
        try {
          await this.flush(heartbeat);
        } catch {
          return; // the job is failing (state and error already recorded); it stops itself
        }
        if (!isRunning() || isStale() || this.st.state !== 'running' || !this.owned.has(key)) return;
      }
    }
    if (last !== null) resolveOffset(last);
  }

  private accept(p: Pending, m: KafkaMessage, topic: string, partition: number, tp: number, off: bigint): void {
    p.records++;
    const raw = m.value;
    p.bytes += raw ? raw.length : 0;
    let values: unknown[];
    try {
      if (!raw) throw new RecordError('record has no value');
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw.toString('utf8'));
      } catch (e) {
        throw new RecordError(`invalid JSON: ${(e as Error).message}`);
      }
      values = this.mapper.map(parsed);
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      p.letters.push({ raw, key: m.key, error: e.message, topic, partition, offset: off, timestamp: m.timestamp });
      return;
    }
    const i = p.lines.length;
    let line = `{"__i":${i}`;
    for (let k = 0; k < values.length; k++) {
      const v = values[k];
      if (v !== null) line += `,"c${k}":${JSON.stringify(v)}`;
    }
    const e = this.enrichIdx;
    if (e.topic !== undefined) line += `,"c${e.topic}":${JSON.stringify(topic)}`;
    if (e.partition !== undefined) line += `,"c${e.partition}":${partition}`;
    if (e.offset !== undefined) line += `,"c${e.offset}":"${off}"`;
    if (e.key !== undefined && m.key) line += `,"c${e.key}":${JSON.stringify(m.key.toString('utf8'))}`;
    if (e.timestamp !== undefined && m.timestamp) line += `,"c${e.timestamp}":"${new Date(Number(m.timestamp)).toISOString()}"`;
    p.lines.push(`${line}}`);
    p.msgs.push(m);
    p.tps.push(tp);
  }

  private tick(): void {
    if (this.st.state !== 'running') return;
    const p = this.pending;
    if (p.records > 0 && Date.now() - p.startedAt >= this.intervalMs) {
      void this.flush().catch(() => undefined);
      return;
    }
    // Bounded mode with nothing buffered: other members may have finished the work.
    if (this.endTargets && p.records === 0 && Date.now() - this.lastPoll > 1000) {
      this.lastPoll = Date.now();
      void this.flush().catch(() => undefined);
    }
  }

  // --- committing ------------------------------------------------------------------------------

  /** Commits the buffered batch (serialised with other flushes). */
  flush(heartbeat?: () => Promise<void>): Promise<void> {
    const run = this.flushChain.then(() => this.flushOnce(heartbeat));
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  private async flushOnce(heartbeat?: () => Promise<void>): Promise<void> {
    if (this.st.state === 'failed') return;
    const batch = this.pending;
    this.pending = newPending();
    try {
      if (batch.records === 0) {
        if (this.endTargets) {
          this.target = await this.deps.catalog.loadTable(this.cfg.table);
          this.tableWm = recordedOffsets(this.target.metadata, this.cfg.topics);
        }
      } else {
        await this.commitBatch(batch, heartbeat);
      }
      if (this.caughtUp() && this.st.state === 'running') void this.stop();
    } catch (e) {
      if (e instanceof OffsetConflictError) {
        this.st.conflicts++;
        await this.resync();
        return;
      }
      this.fail(e as Error);
      throw e;
    }
  }

  private caughtUp(): boolean {
    if (!this.endTargets) return false;
    for (const [t, m] of this.endTargets) {
      for (const [p, high] of m) {
        const at = getOffset(this.tableWm, t, p) ?? getOffset(this.startPos, t, p) ?? 0n;
        if (at < high) return false;
      }
    }
    return true;
  }

  /** Drops buffered records, re-reads both tables' offsets and seeks every owned partition there. */
  private async resync(): Promise<void> {
    this.pending = newPending();
    this.target = await this.deps.catalog.loadTable(this.cfg.table);
    this.dlq = await this.deps.catalog.loadTable(this.dlqIdent);
    this.tableWm = recordedOffsets(this.target.metadata, this.cfg.topics);
    this.dlqWm = recordedOffsets(this.dlq.metadata, this.cfg.topics);
    // Positions of partitions we no longer own are forgotten with the buffer they described.
    this.pos.clear();
    if (this.st.state !== 'running') return;
    for (const key of this.owned) {
      const [p, topic] = key.split('\u0000');
      const partition = Number(p);
      const at = getOffset(this.tableWm, topic, partition) ?? getOffset(this.startPos, topic, partition) ?? 0n;
      this.pos.set(key, at);
      this.consumer.seek({ topic, partition, offset: at.toString() });
    }
  }

  private async commitBatch(batch: Pending, heartbeat?: () => Promise<void>): Promise<void> {
    const t0 = Date.now();
    const { catalog } = this.deps;
    const id = randomUUID();
    const beat = async () => {
      await heartbeat?.().catch(() => undefined);
    };
    // The batch must start where the table's offsets are (always true unless someone else committed).
    for (const [t, m] of batch.from) {
      for (const [p, from] of m) {
        const wm = getOffset(this.tableWm, t, p);
        if (wm !== undefined && wm !== from) throw new OffsetConflictError(`${t}/${p}: batch starts at ${from}, table is at ${wm}`);
      }
    }
    const letters = batch.letters;
    let dataFiles: DataFile[] = [];
    let rows = 0;
    if (batch.lines.length > 0) {
      const file = join(this.stageDir, `${id}.ndjson`);
      await writeFile(file, `${batch.lines.join('\n')}\n`);
      const stage = `__ingest_stage`;
      const cols = [`__i: 'BIGINT'`, ...this.stageCols.map((c) => `${c.key}: 'VARCHAR'`)].join(', ');
      try {
        await this.duck.run(`CREATE OR REPLACE TEMP TABLE ${stage} AS SELECT * FROM read_json(${str(file)}, format='newline_delimited', columns={${cols}}, maximum_object_size=67108864)`);
        // Values JS accepted but DuckDB cannot cast: those rows become dead letters.
        const checked = this.stageCols.filter((c) => !(isPrimitive(c.field.type) && ['binary', 'fixed', 'string'].includes(primitiveInfo(c.field.type).kind)));
        if (checked.length > 0) {
          const conds = checked.map((c) => `(${ident(c.key)} IS NOT NULL AND ${castExpr(c.key, c.field.type)} IS NULL)`);
          const which = checked.map((c, k) => `WHEN ${conds[k]} THEN ${str(`column ${c.field.name}: cannot cast to ${duckType(c.field.type)}: `)} || ${ident(c.key)}`);
          const bad = await this.duck.rows(`SELECT __i, CASE ${which.join(' ')} END AS err FROM ${stage} WHERE ${conds.join(' OR ')}`);
          if (bad.length > 0) {
            for (const r of bad) {
              const i = Number(r.__i);
              const m = batch.msgs[i];
              const { topic, partition } = this.tpList[batch.tps[i]];
              letters.push({ raw: m.value, key: m.key, error: String(r.err), topic, partition, offset: BigInt(m.offset), timestamp: m.timestamp });
            }
            await this.duck.run(`DELETE FROM ${stage} WHERE __i IN (${bad.map((r) => String(r.__i)).join(', ')})`);
          }
        }
        const schema = currentSchema(this.target.metadata);
        const ingestedAt = `TIMESTAMPTZ ${str(new Date().toISOString())}`;
        const select = schema.fields.map((f) => {
          const sc = this.stageCols.find((c) => c.field.name === f.name);
          if (sc) return `${castExpr(sc.key, f.type)} AS ${ident(f.name)}`;
          if (f.name === ENRICHMENT_COLUMNS.ingested_at.name && this.cfg.enrich?.includes('ingested_at')) return `${ingestedAt} AS ${ident(f.name)}`;
          return `NULL AS ${ident(f.name)}`;
        });
        const md = this.target.metadata;
        dataFiles = await writeDataFiles({
          duck: this.duck, io: this.target.io, location: md.location, schema, spec: defaultSpec(md), properties: md.properties,
          sourceSql: `SELECT ${select.join(', ')} FROM ${stage}`,
        });
        rows = dataFiles.reduce((a, f) => a + Number(f.recordCount), 0);
      } finally {
        await this.duck.run(`DROP TABLE IF EXISTS ${stage}`).catch(() => undefined);
        await rm(file, { force: true });
      }
      await beat();
    }

    // Dead letters first (skipping those a previous run already recorded), then the data.
    const fresh = letters.filter((l) => {
      const wm = getOffset(this.dlqWm, l.topic, l.partition);
      return wm === undefined || l.offset >= wm;
    });
    if (fresh.length > 0) {
      const minByTp: TopicOffsets = new Map();
      for (const l of fresh) {
        const cur = getOffset(minByTp, l.topic, l.partition);
        if (cur === undefined || l.offset < cur) setOffset(minByTp, l.topic, l.partition, l.offset);
      }
      const files = await this.writeLetters(fresh);
      const res = await appendWithOffsets(catalog, this.dlqIdent, files, {
        jobId: this.cfg.jobId,
        topics: this.cfg.topics,
        resolve: (parent) => {
          for (const [t, m] of minByTp) {
            for (const [p, min] of m) {
              const wm = getOffset(parent, t, p);
              if (wm !== undefined && wm > min) throw new OffsetConflictError(`dead letters of ${t}/${p} from ${min} are already recorded (watermark ${wm})`);
            }
          }
          return mergeOffsets(parent, batch.end, true);
        },
      });
      this.dlq = res.table;
      this.dlqWm = res.offsets;
      await beat();
    }

    const expected = new Map([...batch.from].map(([t, m]) => [t, new Map([...m].map(([p]) => [p, getOffset(this.tableWm, t, p)]))]));
    const res = await appendWithOffsets(
      catalog,
      this.cfg.table,
      dataFiles,
      {
        jobId: this.cfg.jobId,
        topics: this.cfg.topics,
        summary: { 'kafka.batch-records': String(batch.records), 'kafka.batch-dead-letters': String(fresh.length) },
        resolve: (parent) => {
          for (const [t, m] of expected) {
            for (const [p, want] of m) {
              const got = getOffset(parent, t, p);
              if (got !== want) throw new OffsetConflictError(`${t}/${p}: table offsets moved to ${got} (batch built on ${want})`);
            }
          }
          return mergeOffsets(parent, batch.end);
        },
      },
      this.target,
    );
    this.target = res.table;
    this.tableWm = res.offsets;
    this.st.commits++;
    this.st.rowsCommitted += rows;
    this.st.deadLettersCommitted += fresh.length;
    this.st.lastCommitAt = Date.now();
    // Group offsets follow the table (for lag in Kafka tools); best effort.
    const commits: { topic: string; partition: number; offset: string }[] = [];
    for (const [t, m] of batch.end) for (const [p, off] of m) if (this.owned.has(tpKey(t, p))) commits.push({ topic: t, partition: p, offset: off.toString() });
    if (commits.length > 0) await this.consumer.commitOffsets(commits).catch(() => undefined);
    this.deps.onCommit?.({ rows, deadLetters: fresh.length, offsets: res.offsets, ms: Date.now() - t0 });
  }

  private async writeLetters(letters: Letter[]): Promise<DataFile[]> {
    const failedAt = new Date().toISOString();
    const lines = letters.map((l) =>
      JSON.stringify({
        raw: l.raw ? l.raw.toString('base64') : null,
        key: l.key ? l.key.toString('base64') : null,
        error: l.error,
        topic: l.topic,
        partition: l.partition,
        offset: l.offset.toString(),
        ts: l.timestamp ? new Date(Number(l.timestamp)).toISOString() : null,
      }),
    );
    const file = join(this.stageDir, `${randomUUID()}-dlq.ndjson`);
    await writeFile(file, `${lines.join('\n')}\n`);
    try {
      const md = this.dlq.metadata;
      const cols = `{'raw': 'VARCHAR', 'key': 'VARCHAR', 'error': 'VARCHAR', 'topic': 'VARCHAR', 'partition': 'INTEGER', 'offset': 'BIGINT', 'ts': 'VARCHAR'}`;
      return await writeDataFiles({
        duck: this.duck, io: this.dlq.io, location: md.location, schema: currentSchema(md), spec: defaultSpec(md), properties: md.properties,
        sourceSql: `SELECT from_base64(raw) AS raw, from_base64(key) AS "key", error, topic, "partition", "offset", TRY_CAST(ts AS TIMESTAMPTZ) AS kafka_timestamp,
          TIMESTAMPTZ ${str(failedAt)} AS failed_at, ${str(this.cfg.jobId)} AS job_id
          FROM read_json(${str(file)}, format='newline_delimited', columns=${cols}, maximum_object_size=67108864)`,
      });
    } finally {
      await rm(file, { force: true });
    }
  }
}

export { DEAD_LETTER_SCHEMA } from './dead-letter.js';
export { withEnrichmentColumns } from './mapping.js';
