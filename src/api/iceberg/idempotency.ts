import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler, onSendHookHandler } from 'fastify';

/**
 * Idempotency-Key support (REST spec `idempotency-key` parameter): the final response of a
 * mutating request is kept in memory per key and route for a TTL; a replay gets the same status
 * and body without re-running the operation, and a duplicate that arrives while the first is
 * still running waits for it. 5xx responses are not finalized (a retry runs again).
 */
interface Done {
  state: 'done';
  status: number;
  body: string | undefined;
  headers: Record<string, string>;
  expires: number;
}
interface Pending {
  state: 'pending';
  promise: Promise<void>;
  resolve: () => void;
  expires: number;
}

const REPLAY_HEADERS = ['content-type', 'etag'];

export class IdempotencyCache {
  readonly #entries = new Map<string, Done | Pending>();
  readonly #owned = new WeakMap<FastifyRequest, string>();

  constructor(
    readonly ttlMs = 30 * 60 * 1000,
    /** Bound on remembered responses: the oldest finalized ones are forgotten first. */
    readonly maxEntries = 10_000,
  ) {}

  /** ISO-8601 duration of the TTL, for `/v1/config`'s `idempotency-key-lifetime`. */
  get lifetime(): string {
    return `PT${Math.max(1, Math.round(this.ttlMs / 60000))}M`;
  }

  get size(): number {
    return this.#entries.size;
  }

  #sweep(now: number): void {
    // Entries are inserted in time order with the same TTL: expired ones are at the front.
    for (const [k, e] of this.#entries) {
      if (e.expires > now || e.state === 'pending') break;
      this.#entries.delete(k);
    }
    if (this.#entries.size >= this.maxEntries) {
      for (const [k, e] of this.#entries) {
        if (this.#entries.size < this.maxEntries) break;
        if (e.state === 'done') this.#entries.delete(k);
      }
    }
  }

  readonly onRequest: onRequestAsyncHookHandler = async (req, reply) => {
    const raw = req.headers['idempotency-key'];
    const key = Array.isArray(raw) ? raw[0] : raw;
    if (!key) return;
    // Keyed by the caller's credential too: a replay must never hand one principal's stored
    // response to another (the replay happens before the privilege check runs).
    const auth = req.headers.authorization ?? '';
    const id = `${createHash('sha256').update(auth).digest('base64url')} ${key} ${req.method} ${req.url}`;
    for (;;) {
      const now = Date.now();
      this.#sweep(now);
      const e = this.#entries.get(id);
      if (e && e.state === 'done' && e.expires > now) {
        replay(reply, e);
        return reply;
      }
      if (e && e.state === 'pending') {
        await e.promise;
        continue;
      }
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#entries.delete(id);
      this.#entries.set(id, { state: 'pending', promise, resolve, expires: now + this.ttlMs });
      this.#owned.set(req, id);
      return;
    }
  };

  readonly onSend: onSendHookHandler<unknown> = async (req, reply, payload) => {
    const id = this.#owned.get(req);
    if (id === undefined) return payload;
    this.#owned.delete(req);
    const e = this.#entries.get(id);
    if (!e || e.state !== 'pending') return payload;
    if (reply.statusCode >= 500 || (payload !== undefined && payload !== null && typeof payload !== 'string')) {
      this.#entries.delete(id);
    } else {
      const headers: Record<string, string> = {};
      for (const h of REPLAY_HEADERS) {
        const v = reply.getHeader(h);
        if (v !== undefined) headers[h] = String(v);
      }
      this.#entries.set(id, { state: 'done', status: reply.statusCode, body: payload ?? undefined, headers, expires: e.expires });
    }
    e.resolve();
    return payload;
  };

  /** Releases a pending key whose request ended without a response (aborted connection). */
  readonly onResponse = async (req: FastifyRequest): Promise<void> => {
    const id = this.#owned.get(req);
    if (id === undefined) return;
    this.#owned.delete(req);
    const e = this.#entries.get(id);
    if (e?.state === 'pending') {
      this.#entries.delete(id);
      e.resolve();
    }
  };
}

function replay(reply: FastifyReply, e: Done): void {
  for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
  reply.header('idempotent-replayed', 'true');
  reply.code(e.status).send(e.body);
}
