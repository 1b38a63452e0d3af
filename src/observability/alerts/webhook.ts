import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Webhook } from './types.js';

/**
 * Webhook delivery: `POST` of a JSON body signed with HMAC-SHA256 over the exact body bytes
 * (`X-Lakehouse-Signature: sha256=<hex>`, key = the webhook's secret), so a receiver can verify
 * origin and integrity before parsing. Network errors, timeouts, 5xx, 408 and 429 are retried with
 * exponential backoff; other 4xx mean the receiver rejects the payload and retrying cannot help.
 */
export const SIGNATURE_HEADER = 'x-lakehouse-signature';
export const DELIVERY_HEADER = 'x-lakehouse-delivery';

export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Constant-time check of a signature header against the body (for receivers and tests). */
export function verifySignature(secret: string, body: string, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export interface DeliveryOptions {
  /** Delay before the 2nd attempt; each later one doubles (capped at maxDelayMs). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface DeliveryResult {
  ok: boolean;
  attempts: number;
  status: number | null;
  error: string | null;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export async function deliverWebhook(hook: Pick<Webhook, 'url' | 'secret' | 'maxAttempts'>, payload: unknown, deliveryId: string, opts: DeliveryOptions = {}): Promise<DeliveryResult> {
  const body = JSON.stringify(payload);
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'lakehouse-alerts',
    [SIGNATURE_HEADER]: signBody(hook.secret, body),
    // The same id on every attempt lets a receiver drop duplicates (a 2xx lost on the way back).
    [DELIVERY_HEADER]: deliveryId,
  };
  const base = opts.baseDelayMs ?? 1000;
  const cap = opts.maxDelayMs ?? 60_000;
  const sleep = opts.sleep ?? defaultSleep;
  const max = Math.max(1, hook.maxAttempts);
  let status: number | null = null;
  let error: string | null = null;
  for (let attempt = 1; attempt <= max; attempt++) {
    try {
      const res = await fetch(hook.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { ok: true, attempts: attempt, status, error: null };
      error = `HTTP ${res.status}`;
      if (!retryable(res.status)) return { ok: false, attempts: attempt, status, error };
    } catch (e) {
      status = null;
      error = (e as Error).message || String(e);
    }
    if (attempt < max) await sleep(Math.min(cap, base * 2 ** (attempt - 1)));
  }
  return { ok: false, attempts: max, status, error };
}
