/**
 * The streaming job's fetch loop when it reads record batches itself (raw-fetch.ts, decoded by
 * record-batch.ts) instead of through kafkajs' consumer, whose message object per record was the
 * largest main-thread cost of Kafka → Iceberg ingestion. kafkajs still owns group membership:
 * the job pauses every topic in kafkajs (which then only heartbeats and rejoins) and this loop
 * fetches the partitions the group assigned, from the job's own positions. Exactly once does not
 * depend on which client read the records: commits check the table's offsets either way.
 *
 * Leaders come from kafkajs' admin metadata; a partition whose leader moved (or whose broker
 * connection failed) is fetched again after a metadata refresh. Any other broker error, like an
 * offset out of range, and any batch the decoder does not read (compressed, transactional, legacy)
 * hand the job back to kafkajs' consumer for good (`fallback`), from the job's positions.
 */
import type { Admin, Kafka } from 'kafkajs';
import { tpKey } from './batch.js';
import { RawFetchConnection, type FetchedPartition } from './raw-fetch.js';

/** Kafka error codes after which a metadata refresh and another fetch are the cure. */
const RETRIABLE = new Set([3, 5, 6, 9, 74, 75]);
/** Connection failure (no Kafka error code). */
const NETWORK = -1;

export interface PartitionAt {
  topic: string;
  partition: number;
  offset: bigint;
}

export interface RawLoopHost {
  /** False once the loop should end (job stopping, or fallen back to kafkajs). */
  active(): boolean;
  /** Work to finish before the next fetch (newly assigned partitions read their start from the table). */
  prepare(): Promise<void>;
  /** Partitions to fetch now, each from the job's position (empty: nothing assigned yet). */
  positions(): PartitionAt[];
  /** Takes one partition's fetched records (requested from `at.offset`). */
  deliver(at: PartitionAt, part: FetchedPartition): Promise<void>;
  /** Hands reading back to kafkajs' consumer for good. */
  fallback(reason: string): void;
}

export interface RawLoopOptions {
  maxBytesPerPartition: number;
  maxBytes: number;
  maxWaitMs: number;
  clientId: string;
  warn(msg: string): void;
}

/** Broker connections by node id and the leaders of the partitions fetched. */
class Fetcher {
  private admin: Admin | null = null;
  private readonly conns = new Map<number, Promise<RawFetchConnection>>();
  private readonly leaders = new Map<string, number>();
  private readonly brokers = new Map<number, string>();
  private stale = true;

  constructor(
    private readonly kafka: Kafka,
    private readonly clientId: string,
  ) {}

  private async refresh(topics: string[]): Promise<void> {
    if (!this.admin) {
      this.admin = this.kafka.admin();
      await this.admin.connect();
    }
    const cluster = await this.admin.describeCluster();
    this.brokers.clear();
    for (const b of cluster.brokers) this.brokers.set(b.nodeId, `${b.host}:${b.port}`);
    const md = await this.admin.fetchTopicMetadata({ topics });
    this.leaders.clear();
    for (const t of md.topics) for (const p of t.partitions) this.leaders.set(tpKey(t.name, p.partitionId), p.leader);
    this.stale = false;
  }

  private connection(node: number): Promise<RawFetchConnection> {
    let c = this.conns.get(node);
    if (!c) {
      const address = this.brokers.get(node);
      c = address ? RawFetchConnection.open(address, this.clientId) : Promise.reject(new Error(`no address for broker ${node}`));
      c.catch(() => this.conns.delete(node));
      this.conns.set(node, c);
    }
    return c;
  }

  /** One fetch per leader (all its partitions, every topic), all at once; failed partitions come back with an error code. */
  async fetch(parts: PartitionAt[], opts: RawLoopOptions): Promise<{ at: PartitionAt; part: FetchedPartition }[]> {
    if (this.stale || parts.some((p) => !this.leaders.has(key(p)))) await this.refresh([...new Set(parts.map((p) => p.topic))]);
    const byNode = new Map<number, PartitionAt[]>();
    for (const p of parts) {
      const node = this.leaders.get(key(p)) ?? -1;
      const group = byNode.get(node);
      if (group) group.push(p);
      else byNode.set(node, [p]);
    }
    const out: { at: PartitionAt; part: FetchedPartition }[] = [];
    const failed = (at: PartitionAt, errorCode: number) => ({ at, part: { topic: at.topic, partition: at.partition, errorCode, highWatermark: -1n, lastStableOffset: -1n, abortedTransactions: null, records: Buffer.alloc(0) } });
    await Promise.all(
      [...byNode].map(async ([node, group]) => {
        try {
          if (node < 0) throw new Error('no leader');
          const topics = new Map<string, PartitionAt[]>();
          for (const p of group) {
            const ps = topics.get(p.topic);
            if (ps) ps.push(p);
            else topics.set(p.topic, [p]);
          }
          const conn = await this.connection(node);
          const res = await conn.fetch(
            [...topics].map(([topic, ps]) => ({ topic, partitions: ps.map((p) => ({ partition: p.partition, offset: p.offset, maxBytes: opts.maxBytesPerPartition })) })),
            { maxWaitMs: opts.maxWaitMs, maxBytes: opts.maxBytes },
          );
          for (const part of res) {
            const at = group.find((p) => p.topic === part.topic && p.partition === part.partition);
            if (at) out.push({ at, part });
          }
        } catch {
          const c = this.conns.get(node);
          this.conns.delete(node);
          void c?.then((x) => x.close(), () => undefined);
          for (const at of group) out.push(failed(at, NETWORK));
        }
      }),
    );
    if (out.some((o) => o.part.errorCode === NETWORK || RETRIABLE.has(o.part.errorCode))) this.stale = true;
    return out;
  }

  async close(): Promise<void> {
    for (const c of this.conns.values()) void c.then((x) => x.close(), () => undefined);
    this.conns.clear();
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = null;
  }
}

/** Runs the loop until the host turns inactive; settles then (never rejects). */
export async function runRawLoop(kafka: Kafka, host: RawLoopHost, opts: RawLoopOptions): Promise<void> {
  const fetcher = new Fetcher(kafka, opts.clientId);
  // Per partition: after a retriable error it waits (doubling) while the others go on.
  const backoff = new Map<string, { until: number; failures: number }>();
  let failures = 0;
  let round = 0;
  const fallback = (reason: string) => {
    try {
      host.fallback(reason);
    } catch (e) {
      opts.warn(`raw fetch: handing over to kafkajs failed: ${(e as Error).message}`);
    }
  };
  try {
    while (host.active()) {
      await host.prepare();
      if (!host.active()) break;
      const now = Date.now();
      const all = host.positions();
      const ready = all.filter((p) => (backoff.get(key(p))?.until ?? 0) <= now);
      if (ready.length === 0) {
        await sleep(50);
        continue;
      }
      // A fetch response fills partitions in request order up to its size limit: rotate the order
      // so that, while catching up, no partition waits behind the others (KIP-74).
      const k = round++ % ready.length;
      const parts = [...ready.slice(k), ...ready.slice(0, k)];
      let results;
      try {
        results = await fetcher.fetch(parts, opts);
        failures = 0;
      } catch (e) {
        // Metadata itself failed (broker unreachable): kafkajs' own connections see the same, and
        // its consumer fails the job if it persists; keep trying meanwhile.
        opts.warn(`raw fetch: ${(e as Error).message}`);
        await sleep(Math.min(5000, 200 * 2 ** Math.min(failures++, 5)));
        continue;
      }
      for (const { at, part } of results) {
        if (!host.active()) break;
        if (part.errorCode === NETWORK || RETRIABLE.has(part.errorCode)) {
          const n = (backoff.get(key(at))?.failures ?? 0) + 1;
          backoff.set(key(at), { until: Date.now() + Math.min(5000, 100 * 2 ** Math.min(n, 6)), failures: n });
          continue;
        }
        backoff.delete(key(at));
        if (part.errorCode !== 0) {
          fallback(`broker error ${part.errorCode} for ${at.topic}/${at.partition}`);
          break;
        }
        await host.deliver(at, part);
      }
    }
  } catch (e) {
    if (host.active()) fallback(`raw fetch failed: ${(e as Error).message}`);
  } finally {
    await fetcher.close();
  }
}

const key = (p: PartitionAt) => tpKey(p.topic, p.partition);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
