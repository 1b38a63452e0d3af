/**
 * A streaming ingestion job: consumes JSON records from Kafka topics as one consumer group, maps
 * and validates them into the target Iceberg table's columns, sends failures to the dead-letter
 * table `<table>__dlq`, and commits batches (by record count, bytes or interval) exactly once.
 *
 * Hot path: where the job's mapping can be expressed in SQL (fast-path.ts), a JSON record's raw
 * value is only appended to the batch; at commit DuckDB reads the batch's values as one NDJSON
 * file, checks and types them, and hands records failing a check to the per-record path. That
 * path parses and maps records in JS (record-decode.ts, mapping.ts) and stages them as NDJSON
 * lines (staging.ts) that DuckDB casts with TRY_CAST; a row whose value still fails to cast goes
 * to the dead-letter table, so one bad value never fails a batch (batch-rows.ts). Derived columns
 * (derived.ts, derived-eval.ts) are evaluated by DuckDB over the batch; Kafka metadata columns
 * come with the rows. The typed rows become Parquet via writeDataFiles, quality checks run per
 * batch (batch-quality.ts), and dead letters and data are committed (batch-commit.ts). A full
 * batch commits while the next one is consumed (at most one commit in flight), so DuckDB's work
 * overlaps kafkajs' decoding.
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
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { identToString, type Catalog, type LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { Duck } from '../duck/db.js';
import { buildPartitionSpec } from '../iceberg/partition.js';
import { currentSchema, defaultSpec } from '../iceberg/metadata.js';
import type { Schema } from '../iceberg/schema.js';
import { canPromote, isPrimitive, type IcebergType } from '../iceberg/types.js';
import { evolveSchema } from '../table/table-admin.js';
import { writeDataFiles } from '../table/data-writer.js';
import type { DataFile } from '../iceberg/manifest-types.js';
import { addDecodedFast, addFast, fastEligible, newPending, tpKey, type Pending } from './batch.js';
import { checkBatchStart, commitTypedBatch, type TableState } from './batch-commit.js';
import { evaluateBatchQuality, type IngestQuality } from './batch-quality.js';
import { buildBatchRows } from './batch-rows.js';
import { appendWithOffsets, OffsetConflictError } from './commit.js';
import { DEAD_LETTER_SCHEMA, deadLetterIdent, loadOrCreateTable } from './dead-letter.js';
import { bindDerived } from './derived.js';
import { floatColumns, inferFields, newFields, schemaOf, widenFor, widenings, type SchemaChange } from './evolution.js';
import { FastPath, fastPathBlocker } from './fast-path.js';
import { createKafka, isRebalanceError, listTopics, offsetsForTimestamp, topicOffsets, type KafkaLog, type PartitionRange } from './kafka-client.js';
import { ENRICHMENT_COLUMNS, enrichmentType, RecordError, RecordMapper, withEnrichmentColumns, type Enrichment, type RecordMapping } from './mapping.js';
import { getOffset, mergeOffsets, recordedOffsets, setOffset, type TopicOffsets } from './offsets.js';
import { runRawLoop, type PartitionAt } from './raw-consumer.js';
import type { FetchedPartition } from './raw-fetch.js';
import { decodeRecords, type DecodedRecords } from './record-batch.js';
import { decodeValue, isRecordObject } from './record-decode.js';
import { removeStaleStageDirs, STAGE_PREFIX, stagedLine, type StageColumn, type StageSlots } from './staging.js';
import { RecordDecoder, type RecordFormat } from './formats/index.js';
import type { SchemaRegistryConfig } from './schema-registry.js';
import { observe } from '../observability/events.js';
import type { QualityMonitor } from '../quality/index.js';

export type { IngestQuality } from './batch-quality.js';

import type { JobStatus, StreamingJobConfig, StreamingJobDeps } from './job-config.js';

export type { CommitInfo, JobStatus, StreamingJobConfig, StreamingJobDeps } from './job-config.js';

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
  /** Staging slots of the metadata and header columns. */
  private slots: StageSlots = { enrich: {}, headers: [] };
  /** The SQL fast path for the current schema (null: records are mapped in JS). */
  private fast: FastPath | null = null;
  /** Why the fast path is not used (reported once per reason). */
  private fastNote: string | null = null;
  /** Bumped whenever buffered records are dropped and partitions re-sought (a batch loop seeing it change stops). */
  private epoch = 0;
  /** The commit running while the next batch is consumed (at most one). */
  private inflight: Promise<void> | null = null;
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
  /**
   * Reading through our own fetch loop (raw-consumer.ts), kafkajs' consumer paused; decided when
   * the consumer starts, and once off (a batch only kafkajs reads) off for good.
   */
  private raw = false;
  private rawDecided = false;
  private rawLoop: Promise<void> | null = null;
  /** Raw loop: where to fetch a partition next, valid while its position is still `pos` (control batches hold no records). */
  private readonly fetchAt = new Map<string, { pos: bigint; next: bigint }>();
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
    state: 'starting', rowsCommitted: 0, deadLettersCommitted: 0, commits: 0, conflicts: 0, schemaChanges: 0, lastCommitAt: null, offsets: {}, fastPathRows: 0, fastPath: null, rawFetchRecords: 0,
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

  /** Stops consuming and leaves the group without committing what is buffered; the run fails with `err`. */
  abort(err: Error): Promise<void> {
    this.fail(err);
    return this.stopping ?? Promise.resolve();
  }

  /** Stops consuming, commits what is buffered, leaves the group. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.st.state === 'running') this.st.state = 'stopping';
      try {
        await this.consumer?.stop();
        await this.rawLoop;
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
    await this.recordStart();
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

  /**
   * Records where partitions the table has no offsets for start, when `startFrom` is 'latest' or a
   * timestamp (an empty snapshot, `kafka.start`, like a reset's). Those positions move with time:
   * resolved again at the next start (stop/start, pause/resume, a crash, another member joining),
   * they would skip what a partition that had no record yet received meanwhile. Partitions already
   * recorded (by a concurrent member, say) keep their offsets: the first start wins.
   */
  private async recordStart(label?: string): Promise<void> {
    const from = this.cfg.startFrom;
    if (from === undefined || from === 'earliest' || !this.target) return;
    const absent = (recorded: TopicOffsets): TopicOffsets => {
      const out: TopicOffsets = new Map();
      for (const [t, m] of this.startPos) for (const [p, off] of m) if (getOffset(recorded, t, p) === undefined) setOffset(out, t, p, off);
      return out;
    };
    if (absent(this.tableWm).size === 0) return;
    const res = await appendWithOffsets(
      this.deps.catalog,
      this.cfg.table,
      [],
      {
        jobId: this.cfg.jobId,
        topics: this.topics,
        summary: { 'kafka.start': label ?? (typeof from === 'object' ? `timestamp:${from.timestampMs}` : from) },
        resolve: (parent) => mergeOffsets(parent, absent(parent)),
      },
      this.target,
    );
    this.target = res.table;
    this.tableWm = res.offsets;
  }

  private async startConsumer(): Promise<void> {
    if (this.topics.length === 0) return; // pattern without matches yet: tick() looks again
    const c = this.cfg.consumer ?? {};
    const consumer = this.kafka.consumer({
      groupId: this.cfg.groupId,
      sessionTimeout: c.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: c.heartbeatIntervalMs ?? 1000,
      rebalanceTimeout: Math.max(15_000, (c.sessionTimeoutMs ?? 10_000) + 5000),
      // 8 MiB / 32 MiB fetches measured no faster than these in the bench (noise dominated).
      maxBytesPerPartition: c.maxBytesPerPartition ?? 4 * 1024 * 1024,
      maxBytes: c.maxBytes ?? 16 * 1024 * 1024,
      maxWaitTimeInMs: 250,
    });
    this.consumer = consumer;
    if (!this.rawDecided) {
      this.rawDecided = true;
      // The raw loop hands every record to the fast path or to the per-record path without schema
      // changes (the fast path rules those out), so it runs only where the fast path does.
      this.raw = (c.rawFetch ?? process.env.LAKEHOUSE_KAFKA_RAW_FETCH !== '0') && this.fast !== null;
    }
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      if (this.consumer !== consumer) return;
      // kafkajs keeps the group (heartbeats, rejoins) but fetches nothing while paused.
      if (this.raw) consumer.pause(this.topics.map((topic) => ({ topic })));
      this.onAssign(e.payload.memberAssignment);
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart && this.consumer === consumer) this.fail(e.payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.topics, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.onBatch(p) });
    if (this.raw && !this.rawLoop) {
      this.rawLoop = runRawLoop(
        this.kafka,
        {
          active: () => this.raw && this.st.state === 'running',
          prepare: async () => {
            if (this.unsynced.size > 0) await this.syncAssigned().catch(() => undefined);
          },
          positions: () => this.rawPositions(),
          deliver: (at, part) => this.onRawFetch(at, part),
          fallback: (reason) => this.rawFallback(reason),
        },
        {
          maxBytesPerPartition: c.maxBytesPerPartition ?? 4 * 1024 * 1024,
          maxBytes: c.maxBytes ?? 16 * 1024 * 1024,
          maxWaitMs: 250,
          clientId: `lakehouse-${this.cfg.jobId}`,
          warn: (msg) => this.deps.log?.warn(msg, { jobId: this.cfg.jobId }),
        },
      );
    }
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
    // New topics are read from their start, whatever startFrom says; a later start (a restart, a
    // crash, another member) would resolve startFrom for them anew and skip what is not yet
    // committed, so where they start is recorded now, as at the first start.
    await this.recordStart('earliest (topic found by pattern)');
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
    this.slots = { enrich: {}, headers: [] };
    const field = (name: string) => schema.fields.find((f) => f.name === name)!;
    for (const name of this.mapper.columns) this.stageCols.push({ key: `c${this.stageCols.length}`, field: field(name) });
    for (const [name, e] of enrichNames) {
      if (e === 'ingested_at') continue;
      this.slots.enrich[e] = this.stageCols.length;
      this.stageCols.push({ key: `c${this.stageCols.length}`, field: field(name) });
    }
    for (const [name, header] of Object.entries(cfg.headerColumns ?? {})) {
      this.slots.headers.push({ idx: this.stageCols.length, header });
      this.stageCols.push({ key: `c${this.stageCols.length}`, field: field(name) });
    }
    this.tableColumns = new Set(schema.fields.map((f) => f.name));
    this.floatCols = cfg.schemaEvolution ? floatColumns(schema, this.mapper.columns) : [];
    await this.planFastPath(schema);
  }

  /** Decides whether records go through the SQL fast path under `schema` (fast-path.ts). */
  private async planFastPath(schema: Schema): Promise<void> {
    const cfg = this.cfg;
    const blocker =
      cfg.fastPath === false
        ? 'disabled by the job'
        : fastPathBlocker({ json: !this.decoder, evolve: cfg.schemaEvolution === true, inferred: this.inferred, mapping: cfg.mapping, enrich: cfg.enrich, headerColumns: cfg.headerColumns });
    const plan = blocker ?? (await FastPath.plan(this.duck, schema, this.mapper!.columns, cfg.mapping));
    this.fast = typeof plan === 'string' ? null : plan;
    this.noteFastPath(typeof plan === 'string' ? plan : null);
  }

  private noteFastPath(reason: string | null): void {
    this.st.fastPath = reason;
    if (reason !== null && reason !== this.fastNote && reason !== 'disabled by the job') this.deps.log?.warn(`records are mapped one by one in JS (no SQL fast path): ${reason}`, { jobId: this.cfg.jobId });
    this.fastNote = reason;
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
        rec = decodeValue(m, topic, this.decoder);
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
      await this.recordStart();
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
    // Fetched before kafkajs saw the pause: the raw loop reads these partitions.
    if (this.raw) return;
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
    // A commit running beside this loop may drop the buffer and re-seek (offset conflict): records
    // after that point belong to no batch, so the loop stops and kafkajs fetches from the seek.
    const epoch = this.epoch;
    const live = () => isRunning() && !isStale() && this.st.state === 'running' && this.owned.has(key) && this.epoch === epoch;
    let last: string | null = null;
    for (const m of batch.messages) {
      if (this.epoch !== epoch) return;
      const off = BigInt(m.offset);
      last = m.offset;
      if (off < this.pos.get(key)!) continue;
      const p = this.pending;
      if (this.fast && fastEligible(m.value)) addFast(p, m, tp, off);
      else {
        const changes = this.accept(p, m, topic, partition, tp, off, evolve);
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
          if (!live()) return;
          this.accept(this.pending, m, topic, partition, tp, off, false);
        }
      }
      const q = this.pending;
      if (getOffset(q.from, topic, partition) === undefined) setOffset(q.from, topic, partition, this.pos.get(key)!);
      this.pos.set(key, off + 1n);
      setOffset(q.end, topic, partition, off + 1n);
      if (q.records >= this.maxRecords || q.bytes >= this.maxBytes) {
        resolveOffset(m.offset);
        last = null;
        // The batch commits while the next one is consumed (DuckDB works on its own threads);
        // a second full batch waits for the first commit.
        await this.inflight;
        if (!live()) return; // the commit failed (the job stops itself) or dropped the buffer
        void this.commitBehind(heartbeat);
        await this.checkRebalance(heartbeat);
        if (!live()) return;
      }
    }
    if (last !== null) resolveOffset(last);
  }

  // --- raw fetch (raw-consumer.ts) ---------------------------------------------------------------

  /** Owned partitions whose start is known, each from where it reads next. */
  private rawPositions(): (PartitionAt & { pos: bigint })[] {
    const out: (PartitionAt & { pos: bigint })[] = [];
    for (const key of this.owned) {
      const pos = this.pos.get(key);
      if (this.unsynced.has(key) || pos === undefined) continue;
      const [p, topic] = key.split('\u0000');
      const partition = Number(p);
      // Bounded mode: nothing to read past the end target.
      const end = this.endTargets ? getOffset(this.endTargets, topic, partition) : undefined;
      if (end !== undefined && pos >= end) continue;
      const f = this.fetchAt.get(key);
      out.push({ topic, partition, offset: f && f.pos === pos ? f.next : pos, pos });
    }
    return out;
  }

  /**
   * One partition's fetched records into the batch, in commit-sized pieces (a full batch commits
   * while the rest is decoded, as in onBatch). Dropped when the partition's position moved while
   * the fetch was out (resync, rebalance).
   */
  private async onRawFetch(req: PartitionAt, part: FetchedPartition): Promise<void> {
    const at = req as PartitionAt & { pos: bigint };
    const { topic, partition } = at;
    const key = tpKey(topic, partition);
    const epoch = this.epoch;
    const live = () => this.raw && this.st.state === 'running' && this.owned.has(key) && !this.unsynced.has(key) && this.epoch === epoch;
    if (!live() || this.pos.get(key) !== at.pos) return;
    this.highWm.set(key, { topic, partition, high: part.highWatermark });
    const tp = this.tpIdx(topic, partition);
    let from = at.offset;
    for (;;) {
      const room = this.maxRecords - this.pending.records;
      if (room <= 0) return; // the batch is full (bytes, or a flush not started yet): fetched again later
      const d = decodeRecords(part.records, from, room);
      const taken = d.starts.length + d.others.length;
      if (taken > 0) {
        this.addRaw(d, topic, partition, key, tp);
        this.st.rawFetchRecords += taken;
      }
      if (d.next > from) this.fetchAt.set(key, { pos: this.pos.get(key)!, next: d.next });
      if (d.stop && taken === 0) {
        this.rawFallback(`${topic}/${partition} at ${d.stop.offset}: ${d.stop.reason}`);
        return;
      }
      const q = this.pending;
      if (q.records >= this.maxRecords || q.bytes >= this.maxBytes) {
        await this.inflight;
        if (!live()) return;
        // Decoding on before the flush has taken the batch would add to the full batch.
        await this.commitBehind();
        if (!live()) return;
      }
      // Fewer than asked for: the fetched bytes are used up (or end at a batch only kafkajs reads).
      if (taken < room || d.stop) {
        this.flushAtEnd();
        return;
      }
      from = d.next;
    }
  }

  /** Adds decoded records to the batch: eligible values as NDJSON rows, the others one by one. */
  private addRaw(d: DecodedRecords, topic: string, partition: number, key: string, tp: number): void {
    const q = this.pending;
    if (getOffset(q.from, topic, partition) === undefined) setOffset(q.from, topic, partition, this.pos.get(key)!);
    const rows = d.starts.length;
    let last = rows > 0 ? d.offset(rows - 1) : -1n;
    // Also when the fast path was switched off since: the batch then maps them in JS (typeFast).
    addDecodedFast(q, d, tp);
    for (const { message } of d.others) {
      const off = BigInt(message.offset);
      if (off > last) last = off;
      this.accept(q, message, topic, partition, tp, off, false);
    }
    this.pos.set(key, last + 1n);
    setOffset(q.end, topic, partition, last + 1n);
  }

  /** Hands reading back to kafkajs' consumer, from the job's positions, for good. */
  private rawFallback(reason: string): void {
    if (!this.raw) return;
    this.raw = false;
    this.deps.log?.warn(`reading through kafkajs from now on: ${reason}`, { jobId: this.cfg.jobId });
    try {
      for (const key of this.owned) {
        const at = this.pos.get(key);
        if (this.unsynced.has(key) || at === undefined) continue;
        const [p, topic] = key.split('\u0000');
        this.consumer.seek({ topic, partition: Number(p), offset: at.toString() });
      }
      this.consumer.resume(this.topics.map((topic) => ({ topic })));
    } catch (e) {
      // Nothing would read the partitions any more: the run fails rather than stalls.
      this.fail(new Error(`handing the job to kafkajs' consumer failed: ${(e as Error).message}`));
    }
  }

  /**
   * Starts committing the full batch while the next one is consumed (DuckDB works on its own
   * threads); callers first wait for the previous such commit (`inflight`), so at most one runs.
   * Settles once the flush has taken the batch: it starts after flushes queued before it.
   */
  private commitBehind(heartbeat?: () => Promise<void>): Promise<void> {
    let started!: () => void;
    const taken = new Promise<void>((r) => (started = r));
    const tracked: Promise<void> = this.flush(heartbeat, started)
      .catch(() => undefined) // a failing commit has recorded the job's failure
      .finally(() => {
        if (this.inflight === tracked) this.inflight = null;
        this.flushAtEnd();
      });
    this.inflight = tracked;
    return taken;
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
   * Adds one record to the batch, mapped in JS, as a staged row or a dead letter. With `evolve`,
   * returns the schema changes the record needs instead (nothing is added then). `count`: false
   * for a fast-path record handed back at commit time (already counted in the batch).
   */
  private accept(p: Pending, m: KafkaMessage, topic: string, partition: number, tp: number, off: bigint, evolve: boolean, count = true): SchemaChange[] | null {
    const raw = m.value;
    let values: unknown[];
    let parsed: unknown;
    try {
      parsed = decodeValue(m, topic, this.decoder);
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
      if (count) {
        p.records++;
        p.bytes += raw ? raw.length : 0;
      }
      p.letters.push({ raw, key: m.key, error: e.message, topic, partition, offset: off, timestamp: m.timestamp });
      return null;
    }
    if (count) {
      p.records++;
      p.bytes += raw ? raw.length : 0;
    }
    p.lines.push(stagedLine(p.lines.length, values, this.slots, m, topic, partition, off));
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
    if (this.flushAtEnd()) return;
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

  /**
   * Bounded mode: once every partition is consumed to its end there is nothing to wait for, so the
   * buffered rest commits now (called by the tick, after a fetch and when a commit ends, so the
   * last batch does not wait up to a tick behind the one before it).
   */
  private flushAtEnd(): boolean {
    if (!this.endTargets || this.inflight || this.pending.records === 0 || this.st.state !== 'running' || !this.consumedToEnd()) return false;
    void this.flush().catch(() => undefined);
    return true;
  }

  // --- committing ------------------------------------------------------------------------------

  /** Commits the buffered batch (serialised with other flushes); `onStart` runs as it takes the batch. */
  flush(heartbeat?: () => Promise<void>, onStart?: () => void): Promise<void> {
    const run = this.flushChain.then(() => {
      onStart?.();
      return this.flushOnce(heartbeat);
    });
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

  /** Bounded mode: every partition consumed (by us, or committed by anyone) up to its end target. */
  private consumedToEnd(): boolean {
    for (const [t, m] of this.endTargets ?? []) {
      for (const [p, high] of m) {
        const at = this.pos.get(tpKey(t, p)) ?? getOffset(this.tableWm, t, p) ?? getOffset(this.startPos, t, p) ?? 0n;
        if (at < high) return false;
      }
    }
    return true;
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
    this.epoch++;
    this.target = await this.deps.catalog.loadTable(this.cfg.table);
    this.dlq = await this.deps.catalog.loadTable(this.dlqIdent);
    this.tableWm = recordedOffsets(this.target.metadata, this.topics);
    this.dlqWm = recordedOffsets(this.dlq.metadata, this.topics);
    // Records accepted while the tables loaded were accepted at the old positions: they go too,
    // in the same synchronous step that moves the positions (a buffer whose `from` is an old
    // position but that then took records from the new, lower one would commit them twice).
    this.pending = newPending();
    this.epoch++;
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
    const id = randomUUID();
    const beat = async () => {
      await heartbeat?.().catch((e: unknown) => {
        if (isRebalanceError(e)) this.rebalanceError ??= e as Error;
      });
    };
    // Early, against the offsets as last seen (commitTypedBatch checks again against the table's
    // current ones): a batch that cannot commit is not worth typing and writing.
    checkBatchStart(batch.from, this.tableWm);
    this.checkSpans(batch);
    let dataFiles: DataFile[] = [];
    let rows = 0;
    let suspect: string | null = null;
    if (this.target && (batch.lines.length > 0 || batch.fast.length > 0)) {
      const target = this.target;
      const schema = currentSchema(target.metadata);
      const built = await buildBatchRows(
        {
          duck: this.duck, stageDir: this.stageDir, schema, stageCols: this.stageCols, mapped: this.mapper?.columns.length ?? 0,
          enrich: this.cfg.enrich ?? [], derived: this.cfg.derived ?? {}, fast: this.fast, tpList: this.tpList,
          mapInJs: (p, m, tp) => {
            const { topic, partition } = this.tpList[tp];
            this.accept(p, m, topic, partition, tp, BigInt(m.offset), false, false);
          },
        },
        batch,
        id,
      );
      try {
        this.st.fastPathRows += built.fastRows;
        if (built.fastFailed) this.deps.log?.warn(`batch ${id}: ${batch.fast.length} records mapped in JS (the SQL fast path could not read them: ${built.fastFailed})`, { jobId: this.cfg.jobId });
        // Most records failing the SQL checks means they need what only the JS mapping does
        // (lenient forms, say): stop paying for both.
        if (built.fastRejected > 1000 && built.fastRejected > built.fastRows) {
          this.fast = null;
          this.noteFastPath(`most records (${built.fastRejected} of ${batch.fast.length}) need the JS mapping`);
        }
        if (built.sourceSql !== null) {
          suspect = await evaluateBatchQuality(
            { duck: this.duck, table: this.cfg.table, jobId: this.cfg.jobId, quality: this.cfg.quality, monitor: this.deps.quality, log: this.deps.log },
            built.sourceSql,
            id,
            batch.startedAt,
          );
          const md = target.metadata;
          dataFiles = await writeDataFiles({
            duck: this.duck, io: target.io, location: md.location, schema, spec: defaultSpec(md), properties: md.properties,
            sourceSql: built.sourceSql,
          });
          rows = dataFiles.reduce((a, f) => a + Number(f.recordCount), 0);
        }
      } finally {
        await built.dispose();
      }
      await beat();
    } else if (!this.target) {
      // No table yet (nothing decodable to infer it from): every record is a dead letter.
      for (let i = 0; i < batch.fast.length; i++) {
        const m = batch.fast.message(i);
        const tp = batch.fast.tp(i);
        this.accept(batch, m, this.tpList[tp].topic, this.tpList[tp].partition, tp, BigInt(m.offset), false, false);
      }
    }

    // Every record of the batch is a written row or a dead letter: anything else would commit
    // offsets past records that landed nowhere.
    if (rows + batch.letters.length !== batch.records) {
      throw new Error(`batch ${id}: ${batch.records} records but ${rows} rows and ${batch.letters.length} dead letters (not committed)`);
    }
    const state: TableState = { target: this.target, dlq: this.dlq, tableWm: this.tableWm, dlqWm: this.dlqWm };
    const out = await commitTypedBatch(
      {
        catalog: this.deps.catalog, duck: this.duck, jobId: this.cfg.jobId, table: this.cfg.table, dlqIdent: this.dlqIdent, topics: this.topics,
        stageDir: this.stageDir, quarantineBranch: this.cfg.quality?.branch, log: this.deps.log,
      },
      state,
      { id, from: batch.from, end: batch.end, records: batch.records, letters: batch.letters, dataFiles, rows, suspect },
      beat,
    );
    this.target = state.target;
    this.dlq = state.dlq;
    this.tableWm = state.tableWm;
    this.dlqWm = state.dlqWm;
    this.st.deadLettersCommitted += out.deadLetters;
    if (!out.committed) return;
    this.st.commits++;
    this.st.rowsCommitted += out.rows;
    this.st.lastCommitAt = Date.now();
    // Counters follow the table at once: a status that already sees the committed offsets (lag 0)
    // must not report the run's rows as a round trip to the broker behind.
    this.deps.onCommit?.({ rows: out.rows, deadLetters: out.deadLetters, offsets: this.tableWm, ms: Date.now() - t0 });
    // Group offsets follow the table (for lag in Kafka tools); best effort.
    const commits: { topic: string; partition: number; offset: string }[] = [];
    for (const [t, m] of batch.end) for (const [p, off] of m) if (this.owned.has(tpKey(t, p))) commits.push({ topic: t, partition: p, offset: off.toString() });
    if (commits.length > 0) await this.consumer.commitOffsets(commits).catch(() => undefined);
    this.observeCommit(batch, out.rows, out.deadLetters, out.quarantined);
  }

  /**
   * A batch holds at most end - from records per partition (offsets may have gaps, never
   * repeats); more means some offsets were taken twice, which must never be committed.
   */
  private checkSpans(batch: Pending): void {
    const counts = batch.fast.countsByTp();
    for (const tp of batch.tps) counts.set(tp, (counts.get(tp) ?? 0) + 1);
    for (const l of batch.letters) {
      const tp = this.tpIdx(l.topic, l.partition);
      counts.set(tp, (counts.get(tp) ?? 0) + 1);
    }
    for (const [tp, n] of counts) {
      const { topic, partition } = this.tpList[tp];
      const from = getOffset(batch.from, topic, partition);
      const end = getOffset(batch.end, topic, partition);
      if (from === undefined || end === undefined || BigInt(n) > end - from) {
        throw new OffsetConflictError(`${topic}/${partition}: ${n} records for offsets ${from}..${end} (a position moved under the batch)`);
      }
    }
  }

  // --- observability ---------------------------------------------------------------------------

  /** Metrics events of a committed batch (src/observability/events.ts). */
  private observeCommit(batch: Pending, rows: number, deadLetters: number, quarantined: number): void {
    let newest: number | null = null;
    const see = (ts: number) => {
      if (Number.isFinite(ts) && ts > 0 && (newest === null || ts > newest)) newest = ts;
    };
    for (const m of batch.msgs) see(Number(m.timestamp));
    // Fast records: the last of each segment (timestamps grow within a partition, near enough).
    for (const s of batch.fast.segments) see(batch.fast.timestamp(s.start + s.count - 1));
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
}

export { DEAD_LETTER_SCHEMA } from './dead-letter.js';
export { withEnrichmentColumns } from './mapping.js';
