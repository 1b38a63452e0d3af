import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.js';

/**
 * Real HTTP for tests: a JSON client over Node's fetch, and the service (or any Fastify app)
 * listening on a free port of 127.0.0.1.
 */
export interface Reply {
  status: number;
  /** The parsed body; null when the body is empty. */
  body: any;
  text: string;
  headers: Headers;
}

/** Sends `body` (when given) as JSON; `headers` win over the default content type. */
export type Call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Reply>;

export interface ClientOptions {
  /** Parses a non-empty body (default JSON.parse: a body that is not JSON fails the call). */
  parse?: (text: string) => unknown;
  /** Serializes a body (default JSON.stringify). */
  encode?: (body: unknown) => string;
}

/** JSON.stringify, except that a string is sent as it is (for tests of malformed bodies). */
export function stringsAsIs(body: unknown): string {
  return typeof body === 'string' ? body : JSON.stringify(body);
}

/** JSON when it is JSON, else the text (for routes that answer text, such as /metrics). */
export function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** A client for the URLs `base` + path. */
export function httpClient(base: string, opts: ClientOptions = {}): Call {
  const parse = opts.parse ?? JSON.parse;
  const encode = opts.encode ?? JSON.stringify;
  return async (method, path, body, headers = {}) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : encode(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? parse(text) : null, text, headers: res.headers };
  };
}

export interface Listening {
  app: FastifyInstance;
  /** `http://127.0.0.1:PORT` */
  base: string;
  /** A client for `base` + path. */
  call: Call;
}

/** Starts `app` listening on a free port of 127.0.0.1 (close it with `app.close()`). */
export async function listen(app: FastifyInstance, opts: ClientOptions = {}): Promise<Listening> {
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, base, call: httpClient(base, opts) };
}

/** The service built in-process (buildServer) and listening; the caller closes `app` and its catalog. */
export async function startServer(options: Parameters<typeof buildServer>[0], opts: ClientOptions = {}): Promise<Listening> {
  return listen(await buildServer(options), opts);
}
