/**
 * A decoder for Kafka record batches (magic v2, the only format Kafka 4.x writes), for ingestion
 * without one JS object per record: kafkajs builds a message object (Buffers for key and value,
 * header objects, string offsets and timestamps through a Long library) per record, which is the
 * largest main-thread cost of the Kafka → Iceberg path. This walks a partition's fetched `records`
 * bytes once and copies each record value that can be a line of the SQL fast path's NDJSON file
 * (fast-path.ts; the test is batch.ts `fastEligible`) straight into one Buffer, newline after
 * each, with contiguous offset runs as segments. Every other record (null value, not an object,
 * containing CR/LF, or carrying headers) comes back as a message object for the per-record path.
 * Batch CRCs are not checked (nor does kafkajs check them).
 *
 * The streaming job's raw fetch loop (raw-consumer.ts) uses it; test/ingest/record-batch.test.ts
 * checks it against kafkajs on real broker output.
 *
 * What it does not decode, reported as `stop` so the caller can fetch that range through kafkajs:
 * compressed batches, transactional batches (read_committed needs the aborted-transaction list),
 * legacy message sets (magic 0/1). Control batches (transaction markers) hold no data records:
 * they are skipped, as kafkajs skips them. A batch cut off at the end of the fetch response (the
 * broker returns whole batches up to the size limit, the last one possibly partial) ends the
 * decode; `next` is where to fetch again.
 */

import type { IHeaders, KafkaMessage } from 'kafkajs';

/** Compression codecs by the low 3 bits of a batch's attributes. */
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const LOG_APPEND_TIME = 0x08;
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
/** Bytes of a v2 batch header before its first record. */
const HEADER = 61;

/**
 * A record the fast path cannot take as a line, as kafkajs' consumer gives it (a null header value
 * stays null, which kafkajs' IHeaders type leaves out).
 */
export type RawMessage = KafkaMessage;

export interface DecodedRecords {
  /** The eligible values in offset order, each followed by `\n`. */
  ndjson: Buffer;
  /** Rows of `ndjson`: rows [start, start + count) have offsets base, base + 1, … */
  segments: { start: number; count: number; base: bigint }[];
  /** Per ndjson row: start of its value in `ndjson` (row r ends at starts[r + 1] - 1). */
  starts: number[];
  /** Per ndjson row: the record's timestamp (ms). */
  timestamps: number[];
  /** An ndjson row's offset, key and value (views of the fetched bytes and of `ndjson`). */
  offset(row: number): bigint;
  key(row: number): Buffer | null;
  value(row: number): Buffer;
  /** Records not in `ndjson`, with their row position: they come before ndjson row `at`. */
  others: { at: number; message: RawMessage }[];
  /** Offset after the last record decoded or skipped (the next fetch offset). */
  next: bigint;
  /**
   * The first batch not decoded: its records from `offset` up to `end` (exclusive) must be read
   * another way (null: everything up to `next` was decoded).
   */
  stop: { offset: bigint; end: bigint; reason: string } | null;
}

/** Whether a value can be one line of the fast path's NDJSON file (as batch.ts `fastEligible`). */
function eligible(b: Buffer, start: number, end: number): boolean {
  if (end - start <= 1 || b[start] !== 0x7b) return false;
  for (let i = start; i < end; i++) if (b[i] === 10 || b[i] === 13) return false;
  return true;
}

interface Cursor {
  pos: number;
}

/** A zigzag varint (int32 range). */
function varint(b: Buffer, c: Cursor): number {
  let v = 0;
  let shift = 0;
  for (;;) {
    const x = b[c.pos++];
    v |= (x & 0x7f) << shift;
    if ((x & 0x80) === 0) break;
    shift += 7;
    if (shift > 28) throw new Error('record batch: varint too long');
  }
  return (v >>> 1) ^ -(v & 1);
}

/** A zigzag varlong, exact within ±2^53 (timestamps). */
function varlong(b: Buffer, c: Cursor): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; ; i++) {
    const x = b[c.pos++];
    v += (x & 0x7f) * mul;
    if ((x & 0x80) === 0) break;
    mul *= 128;
    if (i >= 9) throw new Error('record batch: varlong too long');
  }
  return v % 2 === 1 ? -(v + 1) / 2 : v / 2;
}

/**
 * Decodes `records` (one partition of a Fetch response) from offset `from` on: records before it
 * (a fetch returns whole batches) are skipped. At most `limit` records are taken (a commit's size
 * limit); `next` is then the offset of the first one left.
 */
export function decodeRecords(records: Buffer, from: bigint, limit = Infinity): DecodedRecords {
  const starts: number[] = [];
  const keyStarts: number[] = [];
  const keyLens: number[] = [];
  const out: DecodedRecords = {
    ndjson: Buffer.alloc(0), segments: [], starts, timestamps: [], others: [], next: from, stop: null,
    // Keys stay in the fetched bytes until asked for (a Buffer object per record is what we avoid).
    offset: (row) => {
      const seg = out.segments.find((s) => row >= s.start && row < s.start + s.count);
      if (!seg) throw new RangeError(`no decoded row ${row}`);
      return seg.base + BigInt(row - seg.start);
    },
    key: (row) => (keyStarts[row] < 0 ? null : records.subarray(keyStarts[row], keyStarts[row] + keyLens[row])),
    value: (row) => out.ndjson.subarray(starts[row], (row + 1 < starts.length ? starts[row + 1] : out.ndjson.length) - 1),
  };
  // The output cannot exceed the input: each value plus its newline fits in its record's framing.
  const buf = Buffer.allocUnsafe(records.length);
  let at = 0;
  const c: Cursor = { pos: 0 };
  let seg: { start: number; count: number; base: bigint } | null = null;
  let taken = 0;
  batches: for (let p = 0; p + 17 <= records.length; ) {
    const base = records.readBigInt64BE(p);
    const length = records.readInt32BE(p + 8);
    const end = p + 12 + length;
    if (end > records.length) break; // partial batch at the end of the response
    const magic = records.readInt8(p + 16);
    if (magic !== 2) {
      // Legacy message sets have no last-offset field: the caller reads on from `offset`.
      out.stop = { offset: base > out.next ? base : out.next, end: base + 1n, reason: `message format v${magic}` };
      break;
    }
    const attributes = records.readInt16BE(p + 21);
    const lastDelta = records.readInt32BE(p + 23);
    const last = base + BigInt(lastDelta);
    if (last < out.next) {
      p = end; // wholly before the fetch offset
      continue;
    }
    if (attributes & CONTROL) {
      out.next = last + 1n;
      p = end;
      continue;
    }
    const codec = attributes & 7;
    if (codec !== 0 || attributes & TRANSACTIONAL) {
      out.stop = { offset: base > out.next ? base : out.next, end: last + 1n, reason: codec !== 0 ? `compressed (${CODECS[codec] ?? codec})` : 'transactional batch' };
      break;
    }
    const firstTs = Number(records.readBigInt64BE(p + 27));
    // Log-append time: every record carries the batch's max timestamp (as kafkajs reports it).
    const appendTs = attributes & LOG_APPEND_TIME ? Number(records.readBigInt64BE(p + 35)) : 0;
    const count = records.readInt32BE(p + 57);
    c.pos = p + HEADER;
    // Offsets as deltas from the batch's base (numbers, no BigInt per record).
    const skipBelow = out.next > base ? Number(out.next - base) : 0;
    // The delta that would continue the open segment (across batches too).
    let nextDelta: number = seg ? Number(seg.base + BigInt(seg.count) - base) : -1;
    for (let i = 0; i < count; i++) {
      const len = varint(records, c);
      const recEnd = c.pos + len;
      c.pos++; // attributes (unused)
      const tsDelta = varlong(records, c);
      const delta = varint(records, c);
      if (delta < skipBelow) {
        c.pos = recEnd;
        continue;
      }
      if (taken >= limit) {
        out.next = base + BigInt(delta);
        break batches;
      }
      taken++;
      const keyLen = varint(records, c);
      const keyStart = c.pos;
      if (keyLen > 0) c.pos += keyLen;
      const valueLen = varint(records, c);
      const valueStart = c.pos;
      if (valueLen > 0) c.pos += valueLen;
      const valueEnd = c.pos;
      const nHeaders = varint(records, c);
      const ts = appendTs || firstTs + tsDelta;
      if (nHeaders === 0 && eligible(records, valueStart, valueEnd)) {
        const row = starts.length;
        if (seg && delta === nextDelta) seg.count++;
        else {
          seg = { start: row, count: 1, base: base + BigInt(delta) };
          out.segments.push(seg);
        }
        nextDelta = delta + 1;
        starts.push(at);
        out.timestamps.push(ts);
        keyStarts.push(keyLen < 0 ? -1 : keyStart);
        keyLens.push(keyLen);
        at += records.copy(buf, at, valueStart, valueEnd);
        buf[at++] = 10;
      } else {
        const headers: Record<string, Buffer | null | (Buffer | null)[]> = {};
        for (let h = 0; h < nHeaders; h++) {
          const hkLen = varint(records, c);
          const hk = records.toString('utf8', c.pos, c.pos + hkLen);
          c.pos += hkLen;
          const hvLen = varint(records, c);
          const hv = hvLen < 0 ? null : records.subarray(c.pos, c.pos + hvLen);
          if (hvLen > 0) c.pos += hvLen;
          const prev = headers[hk];
          // Repeated header keys become arrays, as kafkajs gives them.
          headers[hk] = prev === undefined ? hv : Array.isArray(prev) ? [...prev, hv] : [prev, hv];
        }
        const key = keyLen < 0 ? null : records.subarray(keyStart, keyStart + keyLen);
        const value = valueLen < 0 ? null : records.subarray(valueStart, valueEnd);
        out.others.push({ at: starts.length, message: { offset: (base + BigInt(delta)).toString(), timestamp: String(ts), key, value, headers: headers as IHeaders, attributes: 0 } });
        seg = null;
        nextDelta = -1;
      }
      c.pos = recEnd;
    }
    // Every record of the batch is at or below its last offset; offsets a batch leaves out
    // (compaction) are passed over with it.
    out.next = last + 1n;
    p = end;
  }
  out.ndjson = buf.subarray(0, at);
  return out;
}
