/**
 * Client for a Confluent-compatible schema registry REST API (Confluent Schema Registry, Apicurio's
 * `/apis/ccompat/v7`, Karapace, Redpanda): schemas by id and the latest version of a subject.
 *
 * Schemas by id are immutable in the registry, so they are cached for the life of the client (a
 * promise per id: concurrent look-ups share one request); an id the registry does not know is
 * cached as absent too, so a stream full of bad ids costs one request, not one per record.
 * Subjects move, so `latest` is fetched each time it is asked for (callers decide how often).
 *
 * Errors are lakehouseError codes with `details.reason` stable across versions:
 * - `schema-not-found` (NOT_FOUND): unknown id / subject / version (registry error 40401-40403).
 * - `registry-auth` (UNAUTHENTICATED): the registry refused the credentials (HTTP 401/403).
 * - `registry-unavailable` (SERVICE_UNAVAILABLE): unreachable, timed out, or HTTP 5xx, after retries.
 * - `registry-bad-response` (BAD_REQUEST): any other answer (bad URL, not a registry).
 */
import { lakehouseError, isLakehouseError } from '../core/errors.js';

export interface SchemaRegistryConfig {
  /** Base URL, e.g. `http://registry:8081` or `http://apicurio:8080/apis/ccompat/v7`. */
  url: string;
  /** HTTP basic auth (Confluent's `basic.auth.user.info`). */
  username?: string;
  password?: string;
  /** Per request (default 10,000 ms). */
  timeoutMs?: number;
  /** Attempts for unreachable / 5xx answers (default 3). */
  attempts?: number;
}

export type SchemaType = 'AVRO' | 'JSON' | 'PROTOBUF';

export interface SchemaReference {
  name: string;
  subject: string;
  version: number;
}

export interface RegisteredSchema {
  id: number;
  /** Confluent omits it for Avro. */
  schemaType: SchemaType;
  /** The schema text as registered. */
  schema: string;
  references: SchemaReference[];
}

export interface SubjectVersion extends RegisteredSchema {
  subject: string;
  version: number;
}

/** Confluent's default subject name strategy (TopicNameStrategy) for record values. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

export class SchemaRegistryClient {
  private readonly base: string;
  private readonly auth: string | undefined;
  private readonly byId = new Map<number, Promise<RegisteredSchema | null>>();

  constructor(private readonly cfg: SchemaRegistryConfig) {
    let u: URL;
    try {
      u = new URL(cfg.url);
    } catch {
      throw lakehouseError('VALIDATION_FAILED', `schema registry URL ${JSON.stringify(cfg.url)} is not a URL`, { reason: 'registry-bad-response' });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw lakehouseError('VALIDATION_FAILED', `schema registry URL ${cfg.url}: only http and https are supported`, { reason: 'registry-bad-response' });
    }
    this.base = cfg.url.replace(/\/+$/, '');
    if (cfg.username !== undefined || cfg.password !== undefined) {
      this.auth = `Basic ${Buffer.from(`${cfg.username ?? ''}:${cfg.password ?? ''}`).toString('base64')}`;
    }
  }

  get url(): string {
    return this.base;
  }

  /** The schema with this global id; null when the registry has none (cached either way). */
  getById(id: number): Promise<RegisteredSchema | null> {
    let p = this.byId.get(id);
    if (!p) {
      p = this.request(`/schemas/ids/${id}`).then((body) => (body === null ? null : toSchema(id, body, `schema id ${id}`)));
      this.byId.set(id, p);
      // A failed look-up (outage) is not an answer: the next caller asks again.
      p.catch(() => this.byId.delete(id));
    }
    return p;
  }

  /** Like getById, but a missing id is an error (NOT_FOUND, reason schema-not-found). */
  async requireById(id: number): Promise<RegisteredSchema> {
    const s = await this.getById(id);
    if (!s) throw lakehouseError('NOT_FOUND', `schema registry ${this.base} has no schema with id ${id}`, { reason: 'schema-not-found', schemaId: id });
    return s;
  }

  /** A subject's version (`latest` by default); null when the subject or version does not exist. */
  async version(subject: string, version: number | 'latest' = 'latest'): Promise<SubjectVersion | null> {
    const body = await this.request(`/subjects/${encodeURIComponent(subject)}/versions/${version}`);
    if (body === null) return null;
    const o = body as Record<string, unknown>;
    if (typeof o.id !== 'number' || typeof o.version !== 'number') throw this.badResponse(`subject ${subject} version ${version}`, 'no id or version');
    return { ...toSchema(o.id, o, `subject ${subject}`), subject, version: o.version };
  }

  /** GET `path` as JSON; null for a registry "not found". */
  private async request(path: string): Promise<unknown> {
    const attempts = Math.max(1, this.cfg.attempts ?? 3);
    const headers: Record<string, string> = { accept: 'application/vnd.schemaregistry.v1+json, application/json' };
    if (this.auth) headers.authorization = this.auth;
    let last = '';
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 200 * 2 ** i));
      let res: Response;
      try {
        res = await fetch(this.base + path, { headers, signal: AbortSignal.timeout(this.cfg.timeoutMs ?? 10_000) });
      } catch (e) {
        last = (e as Error).cause ? String(((e as Error).cause as Error).message ?? (e as Error).cause) : (e as Error).message;
        continue;
      }
      const text = await res.text().catch(() => '');
      if (res.status >= 500) {
        last = `HTTP ${res.status} ${text.slice(0, 200)}`;
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        throw lakehouseError('UNAUTHENTICATED', `schema registry ${this.base} refused access (HTTP ${res.status})${this.auth ? '' : '; no credentials were configured'}`, {
          reason: 'registry-auth',
        });
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw this.badResponse(path, `HTTP ${res.status}, not JSON: ${text.slice(0, 120)}`);
      }
      if (res.status === 404) {
        // 40401 subject, 40402 version, 40403 schema: all mean "no such thing". A 404 without a
        // registry error code is a wrong URL, which must not read as "every id is unknown".
        const code = (body as { error_code?: unknown })?.error_code;
        if (typeof code === 'number' && code >= 40400 && code < 40500) return null;
        throw this.badResponse(path, `HTTP 404 without a registry error code (is ${this.base} the registry's API base?)`);
      }
      if (!res.ok) {
        const msg = (body as { message?: unknown })?.message;
        throw this.badResponse(path, `HTTP ${res.status}${typeof msg === 'string' ? `: ${msg}` : ''}`);
      }
      return body;
    }
    throw lakehouseError('SERVICE_UNAVAILABLE', `schema registry ${this.base} did not answer GET ${path} after ${attempts} attempts: ${last}`, {
      reason: 'registry-unavailable',
    });
  }

  private badResponse(what: string, why: string) {
    return lakehouseError('BAD_REQUEST', `schema registry ${this.base}: unexpected answer for ${what}: ${why}`, { reason: 'registry-bad-response' });
  }
}

function toSchema(id: number, body: unknown, what: string): RegisteredSchema {
  const o = (body ?? {}) as Record<string, unknown>;
  if (typeof o.schema !== 'string') {
    throw lakehouseError('BAD_REQUEST', `schema registry: ${what} has no schema text`, { reason: 'registry-bad-response' });
  }
  const t = o.schemaType ?? 'AVRO';
  if (t !== 'AVRO' && t !== 'JSON' && t !== 'PROTOBUF') {
    throw lakehouseError('BAD_REQUEST', `schema registry: ${what} has unknown schemaType ${JSON.stringify(t)}`, { reason: 'registry-bad-response' });
  }
  const refs = Array.isArray(o.references) ? (o.references as SchemaReference[]) : [];
  return { id, schemaType: t, schema: o.schema, references: refs };
}

/** True for errors that say the registry could not be asked (as opposed to a definite answer). */
export function isRegistryOutage(e: unknown): boolean {
  return isLakehouseError(e) && (e.details.reason === 'registry-unavailable' || e.details.reason === 'registry-auth' || e.details.reason === 'registry-bad-response');
}
