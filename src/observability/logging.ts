import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { DestinationStream, LoggerOptions } from 'pino';

/**
 * Structured JSON logs (pino through Fastify). Every line logged through a request's `req.log`
 * carries `reqId` (Fastify's label); the id is taken from an incoming `x-request-id` header when it is a sane
 * token (≤128 chars of [A-Za-z0-9._:-]) and generated (UUID) otherwise, and echoed back in the
 * `x-request-id` response header. Secrets are redacted wherever they appear under the usual keys.
 */
export const REQUEST_ID_HEADER = 'x-request-id';
export const REQUEST_ID_LOG_LABEL = 'reqId';

const SECRET_KEYS = ['password', 'secretAccessKey', 'sessionToken', 'accessKeyId', 'secret', 'token', 'authorization', 'sasl.password'];

export const REDACT_PATHS: string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]),
];

export function requestIdFor(req: IncomingMessage): string {
  const h = req.headers[REQUEST_ID_HEADER];
  const v = Array.isArray(h) ? h[0] : h;
  return v && /^[A-Za-z0-9._:-]{1,128}$/.test(v) ? v : randomUUID();
}

export function loggerOptions(level: string, stream?: DestinationStream): LoggerOptions & { stream?: DestinationStream } {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    ...(stream ? { stream } : {}),
  };
}
