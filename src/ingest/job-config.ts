/**
 * Configuration, status and dependencies of a streaming ingestion job (streaming-job.ts).
 */
import type { Catalog } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import type { Duck } from '../duck/db.js';
import type { Schema } from '../iceberg/schema.js';
import type { QualityMonitor } from '../quality/index.js';
import type { IngestQuality } from './batch-quality.js';
import type { RecordFormat } from './formats/index.js';
import type { KafkaLog } from './kafka-client.js';
import type { Enrichment, RecordMapping } from './mapping.js';
import type { TopicOffsets } from './offsets.js';
import type { SchemaRegistryConfig } from './schema-registry.js';

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
  /**
   * Where partitions the table has no offsets for start (default earliest). A timestamp starts each
   * partition at its first offset whose timestamp is >= it (Kafka's ListOffsets by time; the end
   * when there is none). 'latest' and a timestamp are resolved once and recorded in the table at
   * the start, so a later start (or another member) does not move them.
   */
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
  consumer?: {
    sessionTimeoutMs?: number;
    heartbeatIntervalMs?: number;
    maxBytesPerPartition?: number;
    maxBytes?: number;
    /**
     * Read record batches with our own fetch loop (raw-consumer.ts) when the job takes the SQL fast
     * path (default true; $LAKEHOUSE_KAFKA_RAW_FETCH=0 turns it off service-wide). False reads
     * through kafkajs' consumer — same outcome, more CPU per record.
     */
    rawFetch?: boolean;
  };
  /**
   * Map JSON records in DuckDB where the mapping allows it (fast-path.ts; default true). False
   * maps every record in JS — same outcome, slower; for comparison and as an escape hatch.
   */
  fastPath?: boolean;
  /** Record value format (default json); avro and json-schema are schema-registry framed (formats/). */
  format?: RecordFormat;
  /** The Confluent-compatible registry avro and json-schema need. */
  schemaRegistry?: SchemaRegistryConfig;
  /** Data quality per batch (needs `deps.quality`); see commitBatch. */
  quality?: IngestQuality;
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
  /** Rows typed by the SQL fast path (the rest were mapped in JS). */
  fastPathRows: number;
  /** Why records are mapped in JS rather than by the fast path (null: the fast path is on). */
  fastPath: string | null;
  /** Records read by the job's own fetch loop (raw-consumer.ts); the rest came through kafkajs' consumer. */
  rawFetchRecords: number;
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
