/**
 * A minimal Kafka Fetch client on its own broker connection: sends Fetch v4 (a non-flexible
 * encoding, request header v1; Kafka 4.x still serves v4–v11) and returns each partition's
 * `records` bytes undecoded, for record-batch.ts to walk without a JS object per record. Group
 * membership, metadata and offset commits stay with kafkajs; this only reads. Plaintext
 * connections only (no TLS or SASL yet), isolation read_committed (as kafkajs' consumer).
 *
 * Wire format (Kafka protocol guide): request = int32 size, int16 api_key (1), int16 api_version,
 * int32 correlation_id, string client_id, then the Fetch v4 body; response = int32 size, int32
 * correlation_id, then the body.
 */
import { connect, type Socket } from 'node:net';

export interface FetchPartition {
  partition: number;
  offset: bigint;
  maxBytes: number;
}

export interface FetchedPartition {
  topic: string;
  partition: number;
  /** Kafka error code (0: none). */
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  abortedTransactions: { producerId: bigint; firstOffset: bigint }[] | null;
  records: Buffer;
}

export interface FetchOptions {
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
}

const FETCH = 1;
const VERSION = 4;
const READ_COMMITTED = 1;
const RESPONSE_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;

export class RawFetchConnection {
  private readonly socket: Socket;
  private correlation = 0;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly waiting = new Map<number, { resolve(b: Buffer): void; reject(e: Error): void }>();
  private closed: Error | null = null;

  private constructor(socket: Socket, private readonly clientId: string) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => this.onData(d));
    const fail = (e: Error) => {
      this.closed ??= e;
      for (const w of this.waiting.values()) w.reject(this.closed);
      this.waiting.clear();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('broker connection closed')));
  }

  /** Connects to `host:port` (a broker's advertised address). */
  static open(hostPort: string, clientId = 'lakehouse'): Promise<RawFetchConnection> {
    const i = hostPort.lastIndexOf(':');
    const host = hostPort.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(hostPort.slice(i + 1));
    return new Promise((resolve, reject) => {
      // A host that drops the connection attempt must not hold the fetch loop (and a stop) for
      // the OS's minutes-long connect timeout.
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connecting to ${hostPort}: no answer in ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      const s = connect({ host, port, noDelay: true }, () => {
        clearTimeout(timer);
        s.off('error', onError);
        resolve(new RawFetchConnection(s, clientId));
      });
      const onError = (e: Error) => {
        clearTimeout(timer);
        reject(e);
      };
      s.once('error', onError);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  /**
   * One Fetch request for the given partitions of each topic (all led by this broker). One request
   * per broker: a broker serves a connection's requests one at a time, so several requests that
   * each wait `maxWaitMs` for data would queue behind each other.
   */
  async fetch(topics: { topic: string; partitions: FetchPartition[] }[], opts: FetchOptions = {}): Promise<FetchedPartition[]> {
    if (this.closed) throw this.closed;
    const id = (this.correlation = (this.correlation + 1) | 0);
    const client = Buffer.from(this.clientId);
    const names = topics.map((t) => Buffer.from(t.topic));
    let size = 2 + 2 + 4 + 2 + client.length + 4 + 4 + 4 + 4 + 1 + 4;
    topics.forEach((t, i) => (size += 2 + names[i].length + 4 + t.partitions.length * 16));
    const b = Buffer.allocUnsafe(4 + size);
    let p = b.writeInt32BE(size, 0);
    p = b.writeInt16BE(FETCH, p);
    p = b.writeInt16BE(VERSION, p);
    p = b.writeInt32BE(id, p);
    p = b.writeInt16BE(client.length, p);
    p += client.copy(b, p);
    p = b.writeInt32BE(-1, p); // replica id: a consumer
    p = b.writeInt32BE(opts.maxWaitMs ?? 250, p);
    p = b.writeInt32BE(opts.minBytes ?? 1, p);
    p = b.writeInt32BE(opts.maxBytes ?? 16 * 1024 * 1024, p);
    p = b.writeInt8(READ_COMMITTED, p);
    p = b.writeInt32BE(topics.length, p);
    topics.forEach((t, i) => {
      p = b.writeInt16BE(names[i].length, p);
      p += names[i].copy(b, p);
      p = b.writeInt32BE(t.partitions.length, p);
      for (const fp of t.partitions) {
        p = b.writeInt32BE(fp.partition, p);
        p = b.writeBigInt64BE(fp.offset, p);
        p = b.writeInt32BE(fp.maxBytes, p);
      }
    });
    // A broker that stops answering without closing the connection must not hang the job: the
    // connection is dropped (the caller opens a new one) well after the broker's own wait.
    let timer: NodeJS.Timeout | undefined;
    const response = new Promise<Buffer>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no fetch response in ${RESPONSE_TIMEOUT_MS} ms`));
        this.socket.destroy();
      }, (opts.maxWaitMs ?? 250) + RESPONSE_TIMEOUT_MS);
    });
    this.socket.write(b);
    try {
      return parseFetchResponse(await response);
    } finally {
      clearTimeout(timer);
    }
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    for (;;) {
      if (this.buffered < 4) return;
      let head = this.chunks[0];
      if (head.length < 4) head = this.flatten();
      const size = head.readInt32BE(0);
      if (this.buffered < 4 + size) return;
      const all = this.chunks.length === 1 ? head : this.flatten();
      const frame = all.subarray(4, 4 + size);
      const rest = all.subarray(4 + size);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      const id = frame.readInt32BE(0);
      const w = this.waiting.get(id);
      this.waiting.delete(id);
      w?.resolve(frame.subarray(4));
    }
  }

  private flatten(): Buffer {
    const all = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [all];
    return all;
  }
}

/** A Fetch v4 response body (after the correlation id). */
export function parseFetchResponse(b: Buffer): FetchedPartition[] {
  let p = 4; // throttle_time_ms
  const out: FetchedPartition[] = [];
  const topics = b.readInt32BE(p);
  p += 4;
  for (let t = 0; t < topics; t++) {
    const nameLen = b.readInt16BE(p);
    const topic = b.toString('utf8', p + 2, p + 2 + nameLen);
    p += 2 + nameLen;
    const parts = b.readInt32BE(p);
    p += 4;
    for (let i = 0; i < parts; i++) {
      const partition = b.readInt32BE(p);
      const errorCode = b.readInt16BE(p + 4);
      const highWatermark = b.readBigInt64BE(p + 6);
      const lastStableOffset = b.readBigInt64BE(p + 14);
      p += 22;
      const nAborted = b.readInt32BE(p);
      p += 4;
      let abortedTransactions: FetchedPartition['abortedTransactions'] = null;
      if (nAborted >= 0) {
        abortedTransactions = [];
        for (let a = 0; a < nAborted; a++, p += 16) abortedTransactions.push({ producerId: b.readBigInt64BE(p), firstOffset: b.readBigInt64BE(p + 8) });
      }
      const len = b.readInt32BE(p);
      p += 4;
      const records = len > 0 ? b.subarray(p, p + len) : Buffer.alloc(0);
      if (len > 0) p += len;
      out.push({ topic, partition, errorCode, highWatermark, lastStableOffset, abortedTransactions, records });
    }
  }
  return out;
}
