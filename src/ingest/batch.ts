/**
 * One batch of consumed records between two commits, as the streaming job builds it: records on
 * the fast path (raw values for DuckDB, see fast-path.ts), records mapped in JS (staged NDJSON
 * lines), dead letters, and the offsets the batch spans.
 */
import type { KafkaMessage } from 'kafkajs';
import { FastRows } from './fast-rows.js';
import type { DecodedRecords } from './record-batch.js';
import type { TopicOffsets } from './offsets.js';

export interface Letter {
  raw: Buffer | null;
  key: Buffer | null;
  error: string;
  topic: string;
  partition: number;
  offset: bigint;
  timestamp: string | undefined;
}

export interface Pending {
  /** Staged rows mapped in JS: `{"__i": <index in msgs>, "c<k>": value, …}`. */
  lines: string[];
  msgs: KafkaMessage[];
  tps: number[];
  /** Records whose raw values go to DuckDB as they are (fast path), in order. */
  fast: FastRows;
  letters: Letter[];
  /** Partition position before this batch's first record. */
  from: TopicOffsets;
  /** Next offset after this batch's last record. */
  end: TopicOffsets;
  records: number;
  bytes: number;
  startedAt: number;
}

export function newPending(): Pending {
  return {
    lines: [], msgs: [], tps: [], fast: new FastRows(), letters: [],
    from: new Map(), end: new Map(), records: 0, bytes: 0, startedAt: Date.now(),
  };
}

/** Appends a fast-path record consumed as a kafkajs message. */
export function addFast(p: Pending, m: KafkaMessage, tp: number, off: bigint): void {
  p.fast.addMessage(m, tp, off);
  p.records++;
  p.bytes += m.value!.length;
}

/** Appends the NDJSON rows of a decoded fetch of partition `tp` (record-batch.ts). */
export function addDecodedFast(p: Pending, d: DecodedRecords, tp: number): void {
  const before = p.fast.bytes;
  p.fast.addDecoded(d, tp);
  p.records += d.starts.length;
  p.bytes += p.fast.bytes - before;
}

/** Whether a raw value can be one line of the fast path's NDJSON file (else: mapped in JS). */
export function fastEligible(raw: Buffer | null): raw is Buffer {
  return raw !== null && raw.length > 1 && raw[0] === 0x7b && raw.indexOf(10) === -1 && raw.indexOf(13) === -1;
}

export const tpKey = (topic: string, partition: number) => `${partition}\u0000${topic}`;
