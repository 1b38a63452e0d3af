/**
 * A batch's fast-path records (fast-path.ts): raw JSON values that DuckDB reads as one NDJSON file.
 * They arrive two ways — as kafkajs messages, or as runs of NDJSON bytes decoded straight from
 * fetched record batches (record-batch.ts), which make no object per record. Rows are numbered in
 * arrival order; a row's message (for the per-record path and dead letters) is only built when
 * asked for, which is for the few records the SQL checks reject.
 */
import type { KafkaMessage } from 'kafkajs';
import type { Segment } from './fast-path.js';
import type { DecodedRecords } from './record-batch.js';

/** Rows [start, start + count): kafkajs messages, or the NDJSON rows of one decoded fetch. */
type Chunk =
  | { start: number; count: number; msgs: KafkaMessage[]; tps: number[] }
  | { start: number; count: number; decoded: DecodedRecords; tp: number };

export class FastRows {
  private readonly chunks: Chunk[] = [];
  /** Contiguous offset runs of one partition (enrichment columns are computed from these). */
  readonly segments: Segment[] = [];
  length = 0;
  /** Bytes of the raw values (the NDJSON file's size less its newlines). */
  bytes = 0;

  /** Appends a record consumed as a kafkajs message (its value is fast-path eligible). */
  addMessage(m: KafkaMessage, tp: number, off: bigint): void {
    let c = this.chunks.at(-1);
    if (!c || !('msgs' in c)) {
      c = { start: this.length, count: 0, msgs: [], tps: [] };
      this.chunks.push(c);
    }
    c.msgs.push(m);
    c.tps.push(tp);
    c.count++;
    this.extend(tp, off, 1);
    this.length++;
    this.bytes += m.value!.length;
  }

  /** Appends every NDJSON row of a decoded fetch of partition `tp`. */
  addDecoded(d: DecodedRecords, tp: number): void {
    const count = d.starts.length;
    if (count === 0) return;
    this.chunks.push({ start: this.length, count, decoded: d, tp });
    for (const s of d.segments) {
      const row = this.length + s.start;
      const last = this.segments.at(-1);
      if (last && last.tp === tp && last.start + last.count === row && last.base + BigInt(last.count) === s.base) last.count += s.count;
      else this.segments.push({ start: row, count: s.count, tp, base: s.base });
    }
    this.length += count;
    this.bytes += d.ndjson.length - count;
  }

  private extend(tp: number, off: bigint, n: number): void {
    const s = this.segments.at(-1);
    if (s && s.tp === tp && s.start + s.count === this.length && s.base + BigInt(s.count) === off) s.count += n;
    else this.segments.push({ start: this.length, count: n, tp, base: off });
  }

  private chunkOf(i: number): Chunk {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.chunks[mid].start <= i) lo = mid;
      else hi = mid - 1;
    }
    const c = this.chunks[lo];
    if (!c || i < c.start || i >= c.start + c.count) throw new RangeError(`fast row ${i} of ${this.length}`);
    return c;
  }

  /** Row `i`'s partition index. */
  tp(i: number): number {
    const c = this.chunkOf(i);
    return 'msgs' in c ? c.tps[i - c.start] : c.tp;
  }

  /** Row `i` as a message (built on demand for decoded rows; no headers: those were not eligible). */
  message(i: number): KafkaMessage {
    const c = this.chunkOf(i);
    if ('msgs' in c) return c.msgs[i - c.start];
    const r = i - c.start;
    const d = c.decoded;
    return { offset: d.offset(r).toString(), timestamp: String(d.timestamps[r]), key: d.key(r), value: d.value(r), headers: {}, attributes: 0 };
  }

  /** Row `i`'s record timestamp (ms). */
  timestamp(i: number): number {
    const c = this.chunkOf(i);
    return 'msgs' in c ? Number(c.msgs[i - c.start].timestamp) : c.decoded.timestamps[i - c.start];
  }

  /** Rows per partition index. */
  countsByTp(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const c of this.chunks) {
      if ('msgs' in c) for (const tp of c.tps) counts.set(tp, (counts.get(tp) ?? 0) + 1);
      else counts.set(c.tp, (counts.get(c.tp) ?? 0) + c.count);
    }
    return counts;
  }

  /** The NDJSON file: each raw value and a newline, in row order. */
  content(): Buffer {
    const buf = Buffer.allocUnsafe(this.bytes + this.length);
    let at = 0;
    for (const c of this.chunks) {
      if ('msgs' in c) {
        for (const m of c.msgs) {
          at += m.value!.copy(buf, at);
          buf[at++] = 10;
        }
      } else at += c.decoded.ndjson.copy(buf, at);
    }
    return buf;
  }
}
