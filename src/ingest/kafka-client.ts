/**
 * The Kafka client for ingestion: kafkajs 2.2.4 (pure JS, no dependencies, types included).
 *
 * Chosen by a measured run against our real broker (Apache Kafka 4.3.2 KRaft, scripts/start-kafka.sh)
 * on the shared 2-core machine (load average 16-24 during the runs, so absolute numbers are noisy;
 * the CPU cost per message is the stable figure). 100,000 JSON messages of 206 bytes, 4-partition
 * topic, producer batches of 2,000 with 4 in flight (acks=all), one consumer group:
 *
 * |                          | kafkajs 2.2.4             | @platformatic/kafka 1.35.0 |
 * | ------------------------ | ------------------------- | -------------------------- |
 * | produce (msg/s, 4 runs)  | 6.9k / 12.3k / 9.6k        | 7.0k / 13.3k / 20.3k       |
 * | consume (msg/s, group)   | 24.7k / 61.5k / 32.5k / 42.1k / 40.8k | 10.0k / 17.8k / 25.7k / 11.8k / 13.2k |
 * | consume CPU per message  | 8.6-9.0 µs                | 22.3-24.8 µs               |
 * | admin createTopics       | ok (218 ms)               | ok (804 ms)                |
 * | offset commit + fetch    | ok                        | ok                         |
 * | rebalance 2 members      | ok, 2+2 partitions, 1.6-3.1 s | ok, 2+2 partitions, 0.6 s |
 *
 * Producing is broker-bound on this machine (both clients alike). Consuming — the ingestion hot
 * path — costs 2.6x less CPU with kafkajs, whose `eachBatch` also hands over whole fetched batches,
 * which suits batch commits. @platformatic/kafka 1.35 additionally pulls dependencies that declare
 * Node >= 22.19 (EBADENGINE on Node 20) and documents Kafka only up to 4.1. Downsides of kafkajs:
 * no release since 2023, classic group protocol only (no KIP-848), no static membership, and
 * ERROR-level log noise on every rebalance (filtered below).
 */
import { Kafka, logLevel, type LogEntry, type logCreator } from 'kafkajs';

export type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';

export interface KafkaLog {
  warn(msg: string, extra?: Record<string, unknown>): void;
  error(msg: string, extra?: Record<string, unknown>): void;
}

const stderrLog: KafkaLog = {
  warn: (msg, extra) => process.stderr.write(`kafka warn: ${msg} ${extra ? JSON.stringify(extra) : ''}\n`),
  error: (msg, extra) => process.stderr.write(`kafka error: ${msg} ${extra ? JSON.stringify(extra) : ''}\n`),
};

/** Messages kafkajs logs as errors although they are a normal part of group membership. */
const NOISE = /rebalanc|not the correct coordinator|not coordinator|coordinator is (not available|loading)|unknown member|rejoin|restarting the consumer/i;

function makeLogCreator(log: KafkaLog): logCreator {
  return () => ({ level, log: entry }: LogEntry) => {
    const { message, ...extra } = entry;
    const text = `${message}${extra.error ? `: ${String(extra.error)}` : ''}`;
    if (NOISE.test(text)) return;
    if (level === logLevel.ERROR) log.error(message, extra);
    else if (level === logLevel.WARN) log.warn(message, extra);
  };
}

export interface KafkaConnectOptions {
  brokers: string[];
  clientId?: string;
  log?: KafkaLog;
}

export function createKafka(opts: KafkaConnectOptions): Kafka {
  return new Kafka({
    clientId: opts.clientId ?? 'lakehouse',
    brokers: opts.brokers,
    logLevel: logLevel.WARN,
    logCreator: makeLogCreator(opts.log ?? stderrLog),
    retry: { retries: 8, initialRetryTime: 200 },
  });
}

/** Creates the topic when missing (no error when it exists). */
export async function ensureTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
      } catch (e) {
        // kafkajs gives up on UNKNOWN_TOPIC_OR_PARTITION while a slow broker is still electing
        // leaders for a topic it just created; wait for the leaders ourselves.
        if (!/does not host this topic-partition|already exists|leader/i.test(String((e as Error).message))) throw e;
      }
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          const md = await admin.fetchTopicMetadata({ topics: [topic] });
          const parts = md.topics[0]?.partitions ?? [];
          if (parts.length >= partitions && parts.every((p) => p.leader >= 0)) break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
        }
        if (Date.now() > deadline) throw new Error(`topic ${topic}: partitions have no leader after 60 s`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

export interface PartitionRange {
  /** Log start offset (earliest readable). */
  low: bigint;
  /** High watermark: the offset the next produced record gets. */
  high: bigint;
}

/** Names of the cluster's topics (internal ones, `__…`, left out). */
export async function listTopics(kafka: Kafka): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter((t) => !t.startsWith('__'));
  } finally {
    await admin.disconnect();
  }
}

/** Per topic: partition → log start offset and high watermark. */
export async function topicOffsets(kafka: Kafka, topics: string[]): Promise<Map<string, Map<number, PartitionRange>>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const out = new Map<string, Map<number, PartitionRange>>();
    for (const topic of topics) {
      const offs = await admin.fetchTopicOffsets(topic);
      out.set(topic, new Map(offs.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }])));
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

/** Per partition: the first offset with a timestamp >= `timestampMs` (the high watermark when none). */
export async function offsetsForTimestamp(kafka: Kafka, topic: string, timestampMs: number): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offs = await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
    return new Map(offs.map((o) => [o.partition, BigInt(o.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** kafkajs' errors that mean "rejoin the group" (its own isRebalancing, which it does not export). */
export function isRebalanceError(e: unknown): boolean {
  const type = (e as { type?: string } | null)?.type;
  return type === 'REBALANCE_IN_PROGRESS' || type === 'NOT_COORDINATOR_FOR_GROUP' || type === 'ILLEGAL_GENERATION';
}
