/**
 * A streaming ingestion job: consumes JSON records from Kafka topics as one consumer group, maps
 * and validates them into the target Iceberg table's columns, sends failures to the dead-letter
 * table `<table>__dlq`, and commits batches (by record count, bytes or interval) exactly once.
 *
 * Hot path: records are parsed and checked in JS, then staged as NDJSON (one line per row, values
 * as JSON text) and read by DuckDB in one `read_json` per batch — no per-row INSERT. DuckDB casts
 * every column with TRY_CAST; a row whose value still fails to cast goes to the dead-letter table
 * too, so one bad value never fails a batch. Derived columns (SQL over the row, derived.ts) are
 * evaluated by DuckDB over the staged batch; header and Kafka metadata columns are staged with the
 * row. The typed rows become Parquet via writeDataFiles and one fast append per batch. Record
 * values are decoded in one place, decodeValue().
 *
 * The table may be created from the first record, and records may evolve its schema (evolution.ts):
 * a record that needs a change first commits the batch before it, then the change, then is mapped
 * under the new schema. A topic pattern's new topics replace the consumer (kafkajs cannot change a
 * running subscription).
 *
 * Group membership: partitions are (re)assigned by kafkajs; a newly assigned partition starts at the
 * table's offsets (re-read then, as another member may have moved them); during a long batch we
 * heartbeat after each commit and, when the group rebalances, commit and rejoin at once, so a joining
 * member gets its share quickly (checkRebalance).
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
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { identToString, type Catalog, type LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { Duck, ident, str } from '../duck/db.js';
import { duckType } from '../duck/types.js';
import { buildPartitionSpec } from '../iceberg/partition.js';
import { currentSchema, defaultSpec } from '../iceberg/metadata.js';
import type { Schema } from '../iceberg/schema.js';
import { canPromote, isPrimitive, primitiveInfo, type IcebergType, type NestedField } from '../iceberg/types.js';
import { evolveSchema } from '../table/table-admin.js';
import { writeDataFiles } from '../table/data-writer.js';
import type { DataFile } from '../iceberg/manifest-types.js';
import { appendWithOffsets, OffsetConflictError } from './commit.js';
import { DEAD_LETTER_SCHEMA, deadLetterIdent, loadOrCreateTable } from './dead-letter.js';
import { bindDerived } from './derived.js';
import { floatColumns, inferFields, newFields, schemaOf, widenFor, widenings, type SchemaChange } from './evolution.js';
import { createKafka, listTopics, offsetsForTimestamp, topicOffsets, type KafkaLog, type PartitionRange } from './kafka-client.js';
import { ENRICHMENT_COLUMNS, enrichmentType, RecordError, RecordMapper, withEnrichmentColumns, type Enrichment, type RecordMapping } from './mapping.js';
import { getOffset, mergeOffsets, recordedOffsets, setOffset, type TopicOffsets } from './offsets.js';
import { RecordDecoder, type RecordFormat } from './formats/index.js';
import type { SchemaRegistryConfig } from './schema-registry.js';
import { observe } from '../observability/events.js';
import { quarantineFiles, DEFAULT_QUARANTINE_BRANCH, type QualityMonitor, type CheckSpec } from '../quality/index.js';

export interface StreamingJobConfig {
  /** Recorded in every snapshot summary (`kafka.job-id`). */
  jobId: string;
  brokers: string[];
  /** Topics to consume (may be empty when `topicPattern` is given). */
  topics: string[];
  /**
   * A regular expression (JavaScript syntax, matched against the whole topic name): every matching
   * topic is consumed too, including topics created while the job runs (found every
   * `topicRefreshMs`; they are read from their beginning — a topic born after the job started has
   * nothing to skip, whatever `startFrom` says).
   */
  topicPattern?: string;
  /** How often to look for new topics matching `topicPattern` (default 10,000 ms). */
  topicRefreshMs?: number;
  groupId: string;
  /** Where partitions the table has no offsets for start (default earliest). */
  startFrom?: 'earliest' | 'latest' | { timestampMs: number };
  table: TableIdent;
  /**
   * Creates the target table when missing: declared schema (+ enrichment, header and derived
   * columns), partitioning. Without it a missing table is created from the first record's fields.
   */
  createTable?: { schema: Schema; partitionBy?: string[]; properties?: Record<string, string> };
  mapping?: RecordMapping;
  /** Kafka metadata columns to fill (`_kafka_topic`, `_kafka_partition`, `_kafka_offset`, `_kafka_key`, `_kafka_timestamp`, `_ingested_at`, `_kafka_headers`). */
  enrich?: Enrichment[];
  /** Column → record header whose value (UTF-8) fills it (a string column; absent header: null). */
  headerColumns?: Record<string, string>;
  /** Column → SQL expression over the row's other columns, evaluated by DuckDB per batch (see derived.ts). */
  derived?: Record<string, string>;
  /**
   * Let records change the table's schema: new fields add columns, values that fit a promoted
   * type widen their column (see evolution.ts); job columns (enrichment, headers, derived) missing
   * from an existing table are added. Without it such records are dead letters.
   */
  schemaEvolution?: boolean;
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
  /** Record value format (default json); avro and json-schema are schema-registry framed (formats/). */
  format?: RecordFormat;
  /** The Confluent-compatible registry avro and json-schema need. */
  schemaRegistry?: SchemaRegistryConfig;
  /** Data quality per batch (needs `deps.quality`); see commitBatch. */
  quality?: IngestQuality;
}

export interface IngestQuality {
  /** Checks run on every batch (default: the table's `lakehouse.quality.checks` property). */
  checks?: CheckSpec[];
  /** Score each batch's profile against the table's baseline (default true). */
  anomalyDetection?: boolean;
  /** Commit a suspect batch to the quarantine branch instead of main (default false). */
  quarantine?: boolean;
  /** Default `quarantine`. */
  branch?: string;
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
  /** Schema changes this run made (columns added or widened). */
  schemaChanges: number;
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
  /** This member's partitions after each (re)join of the consumer group. */
  onAssign?: (partitions: { topic: string; partition: number }[]) => void;
  /** Evaluates batches when the config has `quality` (checks, anomalies, alerts). */
  quality?: QualityMonitor | null;
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
/** Staged rows with derived columns evaluated. */
const TYPED = '__ingest_typed';

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

/** kafkajs' errors that mean "rejoin the group" (its own isRebalancing, which it does not export). */
function isRebalanceError(e: unknown): boolean {
  const type = (e as { type?: string } | null)?.type;
  return type === 'REBALANCE_IN_PROGRESS' || type === 'NOT_COORDINATOR_FOR_GROUP' || type === 'ILLEGAL_GENERATION';
}

/** Header values as UTF-8 strings (the last value of a repeated header). */
function headerStrings(headers: IHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const last = Array.isArray(v) ? v.at(-1) : v;
    if (last !== undefined && last !== null) out[k] = typeof last === 'string' ? last : last.toString('utf8');
  }
  return out;
}

const isRecordObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

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
  /** Undefined until the first record when the table is created from it. */
  private target: LoadedTable | undefined;
  private dlq!: LoadedTable;
  private mapper: RecordMapper | undefined;
  /** Schema-registry formats (null: JSON). */
  private readonly decoder: RecordDecoder | null;
  private inferred = false;
  private stageCols: StageColumn[] = [];
  private enrichIdx: Partial<Record<Enrichment, number>> = {};
  /** Staging column per header column. */
  private headerIdx: { idx: number; header: string }[] = [];
  /** Every column name of the table (fields named so are never "new"). */
  private tableColumns = new Set<string>();
  private floatCols: string[] = [];
  /** Topics consumed now (the configured ones plus those matching the pattern). */
  private topics: string[] = [];
  private readonly topicRe: RegExp | null;
  private lastTopicCheck = 0;
  private topicCheck: Promise<void> | null = null;
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
  /** Owned partitions whose start must be read from the table before consuming (newly assigned). */
  private readonly unsynced = new Set<string>();
  /** A rebalance noticed by a heartbeat inside a commit: rethrown from eachBatch so kafkajs rejoins. */
  private rebalanceError: Error | null = null;
  private readonly tpList: { topic: string; partition: number }[] = [];
  private readonly tpIndex = new Map<string, number>();
  private pending: Pending = newPending();
  /** High watermark per partition as of its last fetched batch (for the lag metric). */
  private readonly highWm = new Map<string, { topic: string; partition: number; high: bigint }>();
  private flushChain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private lastPoll = 0;
  private stopping: Promise<void> | null = null;
  private resolveDone!: () => void;
  private rejectDone!: (e: Error) => void;
  /** Settles when the job has stopped (stop(), stopAtEnd) or failed. */
  readonly done: Promise<void>;
  private readonly st: JobStatus = {
    state: 'starting', rowsCommitted: 0, deadLettersCommitted: 0, commits: 0, conflicts: 0, schemaChanges: 0, lastCommitAt: null, offsets: {},
  };

  private constructor(cfg: StreamingJobConfig, deps: StreamingJobDeps) {
    this.cfg = cfg;
    this.deps = deps;
    this.kafka = createKafka({ brokers: cfg.brokers, clientId: `lakehouse-${cfg.jobId}`, log: deps.log });
    this.dlqIdent = deadLetterIdent(cfg.table);
    this.topicRe = cfg.topicPattern ? new RegExp(`^(?:${cfg.topicPattern})$`) : null;
    this.maxRecords = cfg.commit?.maxRecords ?? 50_000;
    this.maxBytes = cfg.commit?.maxBytes ?? 64 * 1024 * 1024;
    this.intervalMs = cfg.commit?.intervalMs ?? 1000;
    this.decoder = cfg.format && cfg.format !== 'json' ? new RecordDecoder(cfg.format, cfg.schemaRegistry) : null;
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
        observe({ type: 'ingest.stopped', jobId: this.cfg.jobId });
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
    this.topics = await this.resolveTopics();
    if (this.deps.duck) this.duck = this.deps.duck;
    else {
      this.duck = await Duck.open();
      this.ownDuck = true;
    }
    this.dlq = await loadOrCreateTable(catalog, this.dlqIdent, { schema: DEAD_LETTER_SCHEMA });
    if (await catalog.tableExists(cfg.table)) this.target = await catalog.loadTable(cfg.table);
    else {
      // Undeclared: a registry format's table takes the first topic's registered value schema.
      const registered = !cfg.createTable && this.decoder && this.topics[0] !== undefined ? await this.decoder.tableSchema(this.topics[0]) : null;
      const create = cfg.createTable ?? (registered ? { schema: registered } : undefined);
      if (create) {
        const schema = await this.withJobColumns(create.schema);
        this.target = await loadOrCreateTable(catalog, cfg.table, {
          schema,
          spec: create.partitionBy?.length ? buildPartitionSpec(schema, create.partitionBy) : undefined,
          properties: create.properties,
        });
      }
    }
    if (this.target) await this.prepareColumns();

    this.tableWm = this.target ? recordedOffsets(this.target.metadata, this.topics) : new Map();
    this.dlqWm = recordedOffsets(this.dlq.metadata, this.topics);
    const ranges = await this.addStartPositions(this.topics, cfg.startFrom);
    if (cfg.stopAtEnd) {
      this.endTargets = new Map();
      for (const [topic, parts] of ranges) for (const [p, r] of parts) setOffset(this.endTargets, topic, p, r.high);
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
    this.st.state = 'running';
    await this.startConsumer();
    this.timer = setInterval(() => this.tick(), Math.max(50, Math.min(250, this.intervalMs / 4)));
  }

  /** The configured topics plus the existing ones matching the pattern. */
  private async resolveTopics(): Promise<string[]> {
    const out = new Set(this.cfg.topics);
    if (this.topicRe) for (const t of await listTopics(this.kafka)) if (this.topicRe.test(t)) out.add(t);
    return [...out].sort();
  }

  /** Records where `topics`' partitions start when the table has no offsets for them. */
  private async addStartPositions(topics: string[], startFrom: StreamingJobConfig['startFrom']): Promise<Map<string, Map<number, PartitionRange>>> {
    const ranges = await topicOffsets(this.kafka, topics);
    for (const [topic, parts] of ranges) {
      const byTime = typeof startFrom === 'object' ? await offsetsForTimestamp(this.kafka, topic, startFrom.timestampMs) : null;
      for (const [p, r] of parts) setOffset(this.startPos, topic, p, byTime ? byTime.get(p) ?? r.high : startFrom === 'latest' ? r.high : r.low);
    }
    return ranges;
  }

  private async startConsumer(): Promise<void> {
    if (this.topics.length === 0) return; // pattern without matches yet: tick() looks again
    const c = this.cfg.consumer ?? {};
    const consumer = this.kafka.consumer({
      groupId: this.cfg.groupId,
      sessionTimeout: c.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: c.heartbeatIntervalMs ?? 1000,
      rebalanceTimeout: Math.max(15_000, (c.sessionTimeoutMs ?? 10_000) + 5000),
      maxBytesPerPartition: c.maxBytesPerPartition ?? 4 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
      maxWaitTimeInMs: 250,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      if (this.consumer === consumer) this.onAssign(e.payload.memberAssignment);
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart && this.consumer === consumer) this.fail(e.payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.topics, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.onBatch(p) });
  }

  /**
   * New topics matching the pattern: kafkajs cannot change a running consumer's subscription, so
   * the consumer is replaced — after committing what is buffered; positions are forgotten and
   * come from the table again (as after any rebalance).
   */
  private async refreshTopics(): Promise<void> {
    const topics = await this.resolveTopics();
    const added = topics.filter((t) => !this.topics.includes(t));
    if (added.length === 0 || this.st.state !== 'running') return;
    const old = this.consumer as Consumer | undefined;
    await old?.stop();
    await this.flush();
    await old?.disconnect().catch(() => undefined);
    if (this.st.state !== 'running') return;
    await this.addStartPositions(added, 'earliest');
    if (this.target) {
      const more = recordedOffsets(this.target.metadata, added);
      this.tableWm = mergeOffsets(this.tableWm, more);
    }
    this.dlqWm = mergeOffsets(this.dlqWm, recordedOffsets(this.dlq.metadata, added));
    this.topics = topics;
    this.owned.clear();
    this.pos.clear();
    this.unsynced.clear();
    await this.startConsumer();
  }

  /** `schema` plus the job's enrichment, header and derived columns it lacks. */
  private async withJobColumns(schema: Schema): Promise<Schema> {
    const enrich = this.cfg.enrich ?? [];
    const headerCols = Object.keys(this.cfg.headerColumns ?? {}).map((name) => ({ name, type: 'string' as IcebergType }));
    const known = new Map<string, IcebergType | null>(schema.fields.map((f) => [f.name, f.type]));
    for (const e of enrich) known.set(ENRICHMENT_COLUMNS[e].name, enrichmentType(e, () => 0));
    for (const h of headerCols) known.set(h.name, h.type);
    for (const name of Object.keys(this.cfg.derived ?? {})) known.delete(name);
    const derived = await bindDerived(this.duck, this.cfg.derived ?? {}, known);
    return withEnrichmentColumns(schema, enrich, [...headerCols, ...[...derived].map(([name, type]) => ({ name, type }))]);
  }

  /**
   * Binds the job to the target table's current schema: record mapper, staging columns, header
   * and enrichment slots. Job columns the table lacks are added when schema evolution is on.
   */
  private async prepareColumns(): Promise<void> {
    const cfg = this.cfg;
    let schema = currentSchema(this.target!.metadata);
    const full = await this.withJobColumns(schema);
    const missing = full.fields.filter((f) => !schema.fields.some((x) => x.name === f.name));
    if (missing.length > 0) {
      if (!cfg.schemaEvolution) throw new Error(`columns ${missing.map((f) => f.name).join(', ')} are not in the table ${[...cfg.table.namespace, cfg.table.name].join('.')} (add them, or allow schema evolution)`);
      await this.applySchemaChanges(missing.map((f) => ({ kind: 'add', column: f.name, type: f.type })));
      schema = currentSchema(this.target!.metadata);
    }
    const enrich = cfg.enrich ?? [];
    const enrichNames = new Map(enrich.map((e) => [ENRICHMENT_COLUMNS[e].name as string, e]));
    const skip = new Set([...enrichNames.keys(), ...Object.keys(cfg.headerColumns ?? {}), ...Object.keys(cfg.derived ?? {})]);
    this.mapper = new RecordMapper(schema, cfg.mapping, skip, cfg.schemaEvolution === true || this.inferred);
    this.stageCols = [];
    this.enrichIdx = {};
    this.headerIdx = [];
    const field = (name: string) => schema.fields.find((f) => f.name === name)!;
    for (const name of this.mapper.columns) this.stageCols.push({ key: `c${this.stageCols.length}`, field: field(name) });
    for (const [name, e] of enrichNames) {
      if (e === 'ingested_at') continue;
      this.enrichIdx[e] = this.stageCols.length;
      this.stageCols.push({ key: `c${this.stageCols.length}`, field: field(name) });
    }
    for (const [name, header] of Object.entries(cfg.headerColumns ?? {})) {
      this.headerIdx.push({ idx: this.stageCols.length, header });
      this.stageCols.push({ key: `c${this.stageCols.length}`, field: field(name) });
    }
    this.tableColumns = new Set(schema.fields.map((f) => f.name));
    this.floatCols = cfg.schemaEvolution ? floatColumns(schema, this.mapper.columns) : [];
  }

  /**
   * Adds / widens columns (skipping what the table already has: another member may have made the
   * same change). evolveSchema fails when the schema changed under it; then we re-read and re-plan.
   */
  private async applySchemaChanges(changes: SchemaChange[]): Promise<void> {
    const { catalog } = this.deps;
    for (let attempt = 0; ; attempt++) {
      const t = await catalog.loadTable(this.cfg.table);
      const schema = currentSchema(t.metadata);
      const todo = changes.filter((c) => {
        const f = schema.fields.find((x) => x.name === c.column);
        if (c.kind === 'add') return !f;
        return f !== undefined && isPrimitive(f.type) && f.type !== c.to && canPromote(f.type, c.to);
      });
      if (todo.length === 0) {
        this.target = t;
        return;
      }
      try {
        this.target = await evolveSchema(catalog, this.cfg.table, (u) => {
          for (const c of todo) {
            if (c.kind === 'add') u.addColumn(null, c.column, c.type);
            else u.updateColumnType(c.column, c.to);
          }
        });
        this.st.schemaChanges += todo.length;
        return;
      } catch (e) {
        if (attempt >= 4) throw e;
      }
    }
  }

  /** Creates the missing target table from the first record object of `messages` (false: none). */
  private async inferTable(messages: KafkaMessage[], topic: string): Promise<boolean> {
    const cfg = this.cfg;
    for (const m of messages) {
      let rec: unknown;
      try {
        rec = this.decodeValue(m, topic);
      } catch {
        continue;
      }
      if (!isRecordObject(rec)) continue;
      const renames = new Map<string, string>();
      for (const [col, v] of Object.entries(cfg.mapping?.columns ?? {})) renames.set(col, typeof v === 'string' ? v : v.from ?? col);
      const fields = inferFields(rec, renames, new Set(cfg.mapping?.drop ?? []));
      // Mapped columns whose source the first record lacks: typed string until values say more.
      for (const col of renames.keys()) if (!fields.some((f) => f.name === col)) fields.push({ name: col, type: 'string' });
      const schema = await this.withJobColumns(schemaOf(fields));
      this.target = await loadOrCreateTable(this.deps.catalog, cfg.table, { schema });
      this.inferred = true;
      this.tableWm = recordedOffsets(this.target.metadata, this.topics);
      await this.prepareColumns();
      return true;
    }
    return false;
  }

  /** Runs `fn` after the flushes queued so far (table state changes never interleave with commits). */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.flushChain.then(fn);
    this.flushChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
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

  /**
   * A (re)join's assignment. Kept partitions continue at our position (kafkajs would go back to the
   * group's committed offsets). Newly assigned ones are only marked: their start comes from the
   * table, which another member may have advanced since we last saw it, and reading it is async —
   * so the first batch of such a partition first commits our buffer and re-reads the table
   * (syncAssigned). Buffered records of revoked partitions are committed right away, before their
   * new owner commits the same offsets (which would turn our commit into a conflict).
   */
  private onAssign(assignment: Record<string, number[]>): void {
    const now = new Set<string>();
    for (const [topic, parts] of Object.entries(assignment)) {
      for (const partition of parts) {
        const key = tpKey(topic, partition);
        now.add(key);
        const at = this.pos.get(key);
        if (this.owned.has(key) && at !== undefined) this.consumer.seek({ topic, partition, offset: at.toString() });
        else this.unsynced.add(key);
      }
    }
    let revokedPending = false;
    for (const key of this.owned) {
      if (now.has(key)) continue;
      this.pos.delete(key);
      this.unsynced.delete(key);
      const [p, topic] = key.split('\u0000');
      if (getOffset(this.pending.from, topic, Number(p)) !== undefined) revokedPending = true;
    }
    this.owned.clear();
    for (const k of now) this.owned.add(k);
    this.deps.onAssign?.(Object.entries(assignment).flatMap(([topic, parts]) => parts.map((partition) => ({ topic, partition }))));
    if (revokedPending && this.st.state === 'running') void this.flush().catch(() => undefined);
  }

  /** Commits the buffer, re-reads the table's offsets and seeks newly assigned partitions there. */
  private syncAssigned(): Promise<void> {
    const run = this.flush().then(async () => {
      if (this.unsynced.size === 0 || this.st.state !== 'running') return;
      // No target yet (created from the first record): another member may have created it.
      if (this.target || (await this.deps.catalog.tableExists(this.cfg.table))) {
        const t = await this.deps.catalog.loadTable(this.cfg.table);
        this.tableWm = recordedOffsets(t.metadata, this.topics);
        if (this.target) this.target = t;
      }
      for (const key of this.unsynced) {
        if (!this.owned.has(key)) continue;
        const [p, topic] = key.split('\u0000');
        const partition = Number(p);
        const at = getOffset(this.tableWm, topic, partition) ?? getOffset(this.startPos, topic, partition) ?? 0n;
        this.pos.set(key, at);
        this.consumer.seek({ topic, partition, offset: at.toString() });
      }
      this.unsynced.clear();
    });
    this.flushChain = run.catch(() => undefined);
    return run;
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
    if (this.unsynced.has(key)) {
      await this.syncAssigned().catch(() => undefined);
      return; // sought to the table's offset: this batch is stale, kafkajs fetches from there
    }
    if (this.decoder) {
      // Registry look-ups for the batch's new schema ids; an unreachable registry fails the job.
      try {
        await this.decoder.prepare(topic, batch.messages.map((m) => m.value));
      } catch (e) {
        this.fail(e as Error);
        return;
      }
    }
    if (!this.target) {
      try {
        await this.serialized(() => this.inferTable(batch.messages, topic));
      } catch (e) {
        this.fail(e as Error);
        return;
      }
    }
    this.highWm.set(key, { topic, partition, high: BigInt(batch.highWatermark) });
    const tp = this.tpIdx(topic, partition);
    const evolve = this.cfg.schemaEvolution === true;
    let last: string | null = null;
    for (const m of batch.messages) {
      const off = BigInt(m.offset);
      last = m.offset;
      if (off < this.pos.get(key)!) continue;
      const changes = this.accept(this.pending, m, topic, partition, tp, off, evolve);
      if (changes) {
        // Records before this one are committed under the old schema; this one is mapped under
        // the new one (or, if it still does not fit, becomes a dead letter).
        try {
          await this.flush(heartbeat);
          await this.serialized(async () => {
            await this.applySchemaChanges(changes);
            await this.prepareColumns();
          });
        } catch (e) {
          this.fail(e as Error);
          return;
        }
        if (!isRunning() || isStale() || this.st.state !== 'running' || !this.owned.has(key)) return;
        this.accept(this.pending, m, topic, partition, tp, off, false);
      }
      const p = this.pending;
      if (getOffset(p.from, topic, partition) === undefined) setOffset(p.from, topic, partition, this.pos.get(key)!);
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
        await this.checkRebalance(heartbeat);
        if (!isRunning() || isStale() || this.st.state !== 'running' || !this.owned.has(key)) return;
      }
    }
    if (last !== null) resolveOffset(last);
  }

  /**
   * kafkajs heartbeats only between batches or when eachBatch asks, and a member that has not
   * rejoined holds the whole group's rebalance up (up to the rebalance timeout) — so while we work
   * through a large fetched batch, a joining member would get nothing. After every commit we
   * heartbeat; when the group is rebalancing we commit what is buffered (we still own those
   * partitions) and rethrow kafkajs' error, which makes it rejoin at once.
   */
  private async checkRebalance(heartbeat: () => Promise<void>): Promise<void> {
    if (!this.rebalanceError) {
      try {
        await heartbeat();
      } catch (e) {
        if (!isRebalanceError(e)) return; // other heartbeat errors: kafkajs' own loop retries
        this.rebalanceError = e as Error;
      }
    }
    const err = this.rebalanceError;
    if (!err) return;
    this.rebalanceError = null;
    await this.flush().catch(() => undefined);
    throw err;
  }

  /**
   * The record value → what the mapping reads. The one place where the record format is decoded
   * (JSON, or the decoder's registry formats); throws RecordError for a value that cannot be decoded.
   */
  private decodeValue(m: KafkaMessage, topic: string): unknown {
    const raw = m.value;
    if (!raw) throw new RecordError('record has no value');
    if (this.decoder) return this.decoder.decode(topic, raw);
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw new RecordError(`invalid JSON: ${(e as Error).message}`);
    }
  }

  /**
   * Adds one record to the batch, as a staged row or a dead letter. With `evolve`, returns the
   * schema changes the record needs instead (nothing is added then).
   */
  private accept(p: Pending, m: KafkaMessage, topic: string, partition: number, tp: number, off: bigint, evolve: boolean): SchemaChange[] | null {
    const raw = m.value;
    let values: unknown[];
    let parsed: unknown;
    try {
      parsed = this.decodeValue(m, topic);
      // No table yet: its first batch held no record object to infer it from.
      if (!this.mapper) throw new RecordError('record is not a JSON object');
      if (evolve && isRecordObject(parsed)) {
        const changes = newFields(parsed, this.mapper, this.tableColumns);
        for (const c of this.floatCols) {
          const to = widenFor('float', this.mapper.sourceValue(parsed, c));
          if (to) changes.push({ kind: 'widen', column: c, to });
        }
        if (changes.length > 0) return changes;
      }
      values = this.mapper.map(parsed);
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      if (evolve && this.mapper && isRecordObject(parsed)) {
        const changes = widenings(parsed, this.mapper, currentSchema(this.target!.metadata));
        if (changes.length > 0) return changes;
      }
      p.records++;
      p.bytes += raw ? raw.length : 0;
      p.letters.push({ raw, key: m.key, error: e.message, topic, partition, offset: off, timestamp: m.timestamp });
      return null;
    }
    p.records++;
    p.bytes += raw ? raw.length : 0;
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
    if ((e.headers !== undefined || this.headerIdx.length > 0) && m.headers) {
      const h = headerStrings(m.headers);
      if (e.headers !== undefined) line += `,"c${e.headers}":${JSON.stringify(JSON.stringify(h))}`;
      for (const { idx, header } of this.headerIdx) if (h[header] !== undefined) line += `,"c${idx}":${JSON.stringify(h[header])}`;
    }
    p.lines.push(`${line}}`);
    p.msgs.push(m);
    p.tps.push(tp);
    return null;
  }

  private tick(): void {
    if (this.st.state !== 'running') return;
    if (this.topicRe && !this.endTargets && !this.topicCheck && Date.now() - this.lastTopicCheck >= (this.cfg.topicRefreshMs ?? 10_000)) {
      this.lastTopicCheck = Date.now();
      this.topicCheck = this.refreshTopics()
        .catch((e: Error) => this.deps.log?.warn(`looking for new topics matching ${this.cfg.topicPattern}: ${e.message}`))
        .finally(() => {
          this.topicCheck = null;
          this.lastTopicCheck = Date.now();
        });
    }
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
        if (this.endTargets && this.target) {
          this.target = await this.deps.catalog.loadTable(this.cfg.table);
          this.tableWm = recordedOffsets(this.target.metadata, this.topics);
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
    this.tableWm = recordedOffsets(this.target.metadata, this.topics);
    this.dlqWm = recordedOffsets(this.dlq.metadata, this.topics);
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
    this.unsynced.clear();
  }

  private async commitBatch(batch: Pending, heartbeat?: () => Promise<void>): Promise<void> {
    const t0 = Date.now();
    const { catalog } = this.deps;
    const id = randomUUID();
    const beat = async () => {
      await heartbeat?.().catch((e: unknown) => {
        if (isRebalanceError(e)) this.rebalanceError ??= e as Error;
      });
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
    /** Why the batch goes to the quarantine branch (null: it goes to main). */
    let suspect: string | null = null;
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
        const target = this.target!;
        const schema = currentSchema(target.metadata);
        const derived = this.cfg.derived ?? {};
        const ingestedAt = `TIMESTAMPTZ ${str(new Date().toISOString())}`;
        const select = schema.fields.filter((f) => !Object.hasOwn(derived, f.name)).map((f) => {
          const sc = this.stageCols.find((c) => c.field.name === f.name);
          if (sc) return `${castExpr(sc.key, f.type)} AS ${ident(f.name)}`;
          if (f.name === ENRICHMENT_COLUMNS.ingested_at.name && this.cfg.enrich?.includes('ingested_at')) return `${ingestedAt} AS ${ident(f.name)}`;
          return `NULL AS ${ident(f.name)}`;
        });
        let sourceSql = `SELECT ${select.join(', ')} FROM ${stage}`;
        if (Object.keys(derived).length > 0) {
          await this.evaluateDerived(batch, letters, schema, `SELECT __i, ${select.join(', ')} FROM ${stage}`, stage);
          sourceSql = `SELECT ${schema.fields.map((f) => ident(f.name)).join(', ')} FROM ${TYPED}`;
        }
        suspect = await this.evaluateQuality(sourceSql, id, batch.startedAt);
        const md = target.metadata;
        dataFiles = await writeDataFiles({
          duck: this.duck, io: target.io, location: md.location, schema, spec: defaultSpec(md), properties: md.properties,
          sourceSql,
        });
        rows = dataFiles.reduce((a, f) => a + Number(f.recordCount), 0);
      } finally {
        await this.duck.run(`DROP TABLE IF EXISTS ${stage}`).catch(() => undefined);
        await this.duck.run(`DROP TABLE IF EXISTS ${TYPED}`).catch(() => undefined);
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
        topics: this.topics,
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

    if (!this.target) {
      // Only undecodable records so far, so no table to infer: the dead-letter table's watermark
      // alone keeps them from repeating.
      this.st.deadLettersCommitted += fresh.length;
      return;
    }
    const expected = new Map([...batch.from].map(([t, m]) => [t, new Map([...m].map(([p]) => [p, getOffset(this.tableWm, t, p)]))]));
    // A quarantined batch: its files are committed to the quarantine branch, and main gets an
    // append of no files that still carries the batch's offsets (else the batch is replayed after
    // a restart). A crash between the two commits replays it into quarantine again, never into main.
    let quarantined = 0;
    if (suspect !== null && dataFiles.length > 0) {
      const q = await quarantineFiles(catalog, this.cfg.table, dataFiles, {
        branch: this.cfg.quality?.branch ?? DEFAULT_QUARANTINE_BRANCH,
        reason: suspect,
        batchId: id,
        summary: { 'kafka.job-id': this.cfg.jobId },
      });
      this.deps.log?.warn(`batch ${id} quarantined on branch ${q.branch}: ${suspect}`, { jobId: this.cfg.jobId, table: identToString(this.cfg.table), rows: q.rows });
      this.target = q.table;
      quarantined = rows;
      rows = 0;
      dataFiles = [];
      await beat();
    }
    const res = await appendWithOffsets(
      catalog,
      this.cfg.table,
      dataFiles,
      {
        jobId: this.cfg.jobId,
        topics: this.topics,
        summary: {
          'kafka.batch-records': String(batch.records),
          'kafka.batch-dead-letters': String(fresh.length),
          ...(quarantined > 0 ? { 'lakehouse.quarantine.batch-id': id, 'lakehouse.quarantine.rows': String(quarantined) } : {}),
        },
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
    this.observeCommit(batch, rows, fresh.length, quarantined);
  }

  // --- observability ---------------------------------------------------------------------------

  /** Metrics events of a committed batch (src/observability/events.ts). */
  private observeCommit(batch: Pending, rows: number, deadLetters: number, quarantined: number): void {
    let newest: number | null = null;
    for (const m of batch.msgs) {
      const ts = Number(m.timestamp);
      if (Number.isFinite(ts) && ts > 0 && (newest === null || ts > newest)) newest = ts;
    }
    observe({
      type: 'ingest.batch',
      jobId: this.cfg.jobId,
      table: identToString(this.cfg.table),
      records: batch.records,
      rows,
      deadLetters,
      quarantined,
      commitSeconds: (Date.now() - batch.startedAt) / 1000,
      newestRecordMs: newest,
    });
    // Its health gauges are worth recomputing (also when this job's catalog is not instrumented).
    observe({ type: 'table.touched', table: this.cfg.table });
    for (const [key, h] of this.highWm) {
      const at = getOffset(this.tableWm, h.topic, h.partition);
      if (at === undefined || !this.owned.has(key)) continue;
      observe({ type: 'ingest.lag', jobId: this.cfg.jobId, topic: h.topic, partition: h.partition, lag: Number(h.high > at ? h.high - at : 0n) });
    }
  }

  /**
   * Data quality of the batch (config `quality` with a monitor in deps): checks and anomaly
   * detection over the batch's rows as they will be written. Returns why the batch must be
   * quarantined, or null. An evaluation that itself fails is logged and does not stop ingestion.
   */
  private async evaluateQuality(sourceSql: string, batchId: string, at: number): Promise<string | null> {
    const q = this.cfg.quality;
    const monitor = this.deps.quality;
    if (!q || !monitor) return null;
    const view = '__ingest_quality';
    try {
      await this.duck.run(`CREATE OR REPLACE TEMP VIEW ${view} AS ${sourceSql}`);
      const ev = await monitor.evaluateBatch(this.cfg.table, this.duck, view, { at, batchId, checks: q.checks, anomalyDetection: q.anomalyDetection !== false });
      if (!ev.suspect || q.quarantine !== true) return null;
      const reasons = [...ev.anomalies.map((a) => a.message), ...ev.checks.filter((c) => !c.passed && c.severity === 'critical').map((c) => c.message)];
      return reasons.join('; ') || 'suspect batch';
    } catch (e) {
      this.deps.log?.warn(`quality evaluation of batch ${batchId} failed: ${(e as Error).message}`, { jobId: this.cfg.jobId, table: identToString(this.cfg.table) });
      return null;
    } finally {
      await this.duck.run(`DROP VIEW IF EXISTS ${view}`).catch(() => undefined);
    }
  }

  /**
   * Evaluates the derived columns of the staged rows into table TYPED. A row on which an
   * expression fails (a cast error, say) must not fail the batch: the failing rows are found by
   * bisection (a few queries per bad row) and become dead letters.
   */
  private async evaluateDerived(batch: Pending, letters: Letter[], schema: Schema, typedSql: string, stage: string): Promise<void> {
    const derived = this.cfg.derived ?? {};
    const cols = schema.fields.map((f) => (Object.hasOwn(derived, f.name) ? `CAST((${derived[f.name]}) AS ${duckType(f.type)}) AS ${ident(f.name)}` : ident(f.name)));
    const query = (where: string) => `SELECT __i, ${cols.join(', ')} FROM (${typedSql}${where}) AS s`;
    try {
      await this.duck.run(`CREATE OR REPLACE TEMP TABLE ${TYPED} AS ${query('')}`);
      return;
    } catch {
      /* some rows fail: find them */
    }
    const ids = (await this.duck.rows(`SELECT __i FROM ${stage} ORDER BY __i`)).map((r) => Number(r.__i));
    const bad: { i: number; error: string }[] = [];
    const probe = async (lo: number, hi: number): Promise<void> => {
      try {
        await this.duck.run(`CREATE OR REPLACE TEMP TABLE __ingest_probe AS ${query(` WHERE __i IN (${ids.slice(lo, hi).join(', ')})`)}`);
      } catch (e) {
        if (hi - lo === 1) bad.push({ i: ids[lo], error: `derived columns: ${(e as Error).message.split('\n')[0]}` });
        else {
          const mid = (lo + hi) >> 1;
          await probe(lo, mid);
          await probe(mid, hi);
        }
      }
    };
    await probe(0, ids.length);
    await this.duck.run('DROP TABLE IF EXISTS __ingest_probe');
    for (const { i, error } of bad) {
      const m = batch.msgs[i];
      const { topic, partition } = this.tpList[batch.tps[i]];
      letters.push({ raw: m.value, key: m.key, error, topic, partition, offset: BigInt(m.offset), timestamp: m.timestamp });
    }
    if (bad.length > 0) await this.duck.run(`DELETE FROM ${stage} WHERE __i IN (${bad.map((b) => b.i).join(', ')})`);
    await this.duck.run(`CREATE OR REPLACE TEMP TABLE ${TYPED} AS ${query('')}`);
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
