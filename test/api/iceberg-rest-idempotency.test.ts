import Fastify from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { IdempotencyCache } from '../../src/api/iceberg/idempotency.js';

// The Idempotency-Key cache in isolation: TTL expiry, 5xx not finalized, scope per route.
describe('IdempotencyCache', () => {
  const build = (ttlMs: number) => {
    const cache = new IdempotencyCache(ttlMs, 3);
    const app = Fastify();
    let runs = 0;
    const opts = { onRequest: cache.onRequest, onSend: cache.onSend, onResponse: cache.onResponse };
    app.post('/ok', opts, async (_req, reply) => reply.code(200).type('application/json').send(JSON.stringify({ run: ++runs })));
    app.post('/other', opts, async (_req, reply) => reply.code(200).type('application/json').send(JSON.stringify({ run: ++runs })));
    app.post('/boom', opts, async (_req, reply) => reply.code(503).type('application/json').send(JSON.stringify({ run: ++runs })));
    return { app, cache, runs: () => runs };
  };
  const post = (app: ReturnType<typeof Fastify>, url: string, key: string) => app.inject({ method: 'POST', url, headers: { 'idempotency-key': key } });

  it('replays within the TTL, runs again after it, and scopes keys per route', async () => {
    // Only Date is faked: the TTL passes by setting the clock, so a slow moment between the first
    // two requests cannot expire the entry (a real 60 ms TTL could).
    vi.useFakeTimers({ toFake: ['Date'] });
    const { app, cache, runs } = build(60_000);
    const a = await post(app, '/ok', 'k1');
    const b = await post(app, '/ok', 'k1');
    expect(b.body).toBe(a.body);
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(runs()).toBe(1);
    expect(JSON.parse((await post(app, '/other', 'k1')).body).run).toBe(2);
    vi.setSystemTime(Date.now() + 61_000);
    expect(JSON.parse((await post(app, '/ok', 'k1')).body).run).toBe(3);
    vi.useRealTimers();
    expect(cache.lifetime).toBe('PT1M');
    await app.close();
  });

  it('does not finalize 5xx responses and bounds the number of entries', async () => {
    const { app, cache, runs } = build(60_000);
    await post(app, '/boom', 'k');
    await post(app, '/boom', 'k');
    expect(runs()).toBe(2);
    for (const k of ['a', 'b', 'c', 'd', 'e']) await post(app, '/ok', k);
    expect(cache.size).toBeLessThanOrEqual(3);
    await app.close();
  });
});
