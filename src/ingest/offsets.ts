/**
 * Kafka offsets recorded in Iceberg snapshot summaries: the source of truth for exactly-once
 * ingestion. Every ingestion commit writes, per topic, `kafka.offsets.<topic>` = JSON
 * `{"<partition>": <next offset>}` — cumulative (merged with the parent snapshot's map inside the
 * commit's retry loop, so concurrent writers never lose each other's partitions) — plus
 * `kafka.job-id`. Reading walks main's ancestry from the head: the nearest snapshot carrying a
 * topic's key holds that topic's complete map. Our other writers (compaction, SQL writes) carry the
 * keys over from their parent (CARRIED_SUMMARY_PREFIXES in table/snapshot-producer.ts), so expiring
 * older snapshots cannot lose them; snapshots of external engines are skipped over.
 */
import { MAIN_BRANCH } from '../iceberg/snapshot.js';
import type { TableMetadata } from '../iceberg/metadata.js';

/** One of CARRIED_SUMMARY_PREFIXES (table/snapshot-producer.ts), which keeps it across other writers' snapshots. */
export const OFFSETS_KEY_PREFIX = 'kafka.offsets.';
export const JOB_ID_KEY = 'kafka.job-id';

/** partition → next offset to consume. */
export type PartitionOffsets = Map<number, bigint>;
/** topic → partition → next offset. */
export type TopicOffsets = Map<string, PartitionOffsets>;

export function offsetsKey(topic: string): string {
  return `${OFFSETS_KEY_PREFIX}${topic}`;
}

export function encodeOffsets(p: PartitionOffsets): string {
  const obj: Record<string, number | string> = {};
  for (const [part, off] of [...p].sort((a, b) => a[0] - b[0])) {
    obj[String(part)] = off <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(off) : off.toString();
  }
  return JSON.stringify(obj);
}

export function decodeOffsets(json: string): PartitionOffsets {
  const out: PartitionOffsets = new Map();
  const obj = JSON.parse(json) as Record<string, number | string>;
  for (const [k, v] of Object.entries(obj)) out.set(Number(k), BigInt(v));
  return out;
}

/**
 * Offsets recorded for `topics` as of snapshot `fromSnapshotId` (default: main's head), found by
 * walking the ancestry. Topics never recorded are absent from the result.
 */
export function recordedOffsets(md: TableMetadata, topics: string[], fromSnapshotId?: bigint | null): TopicOffsets {
  const out: TopicOffsets = new Map();
  const byId = new Map(md.snapshots.map((s) => [s['snapshot-id'], s]));
  let id: bigint | null | undefined = fromSnapshotId === undefined ? md.refs[MAIN_BRANCH]?.['snapshot-id'] : fromSnapshotId;
  const missing = new Set(topics);
  while (id !== null && id !== undefined && missing.size > 0) {
    const snap = byId.get(id);
    if (!snap) break; // expired history: nothing older is known
    const summary = snap.summary as unknown as Record<string, string | undefined>;
    for (const topic of [...missing]) {
      const v = summary[offsetsKey(topic)];
      if (v !== undefined) {
        out.set(topic, decodeOffsets(v));
        missing.delete(topic);
      }
    }
    id = snap['parent-snapshot-id'];
  }
  return out;
}

export function getOffset(o: TopicOffsets, topic: string, partition: number): bigint | undefined {
  return o.get(topic)?.get(partition);
}

export function setOffset(o: TopicOffsets, topic: string, partition: number, offset: bigint): void {
  let m = o.get(topic);
  if (!m) o.set(topic, (m = new Map()));
  m.set(partition, offset);
}

export function cloneOffsets(o: TopicOffsets): TopicOffsets {
  return new Map([...o].map(([t, m]) => [t, new Map(m)]));
}

/** `base` with every offset of `upd` applied (`max`: keep the larger of both). */
export function mergeOffsets(base: TopicOffsets, upd: TopicOffsets, max = false): TopicOffsets {
  const out = cloneOffsets(base);
  for (const [t, m] of upd) {
    for (const [p, off] of m) {
      const cur = getOffset(out, t, p);
      setOffset(out, t, p, max && cur !== undefined && cur > off ? cur : off);
    }
  }
  return out;
}

/** Summary properties recording `offsets` for each topic. */
export function offsetsSummary(offsets: TopicOffsets): Record<string, string> {
  const s: Record<string, string> = {};
  for (const [t, m] of offsets) s[offsetsKey(t)] = encodeOffsets(m);
  return s;
}
