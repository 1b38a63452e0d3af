/**
 * Record value formats for ingestion: how a Kafka record's value bytes become the plain object the
 * mapping reads. `json` is plain JSON text; `avro` and `json-schema` are Confluent schema-registry
 * framed (confluent-wire.ts) and need a registry.
 *
 * Decoding is split so the per-record path stays synchronous: `prepare(topic, values)` (async,
 * once per fetched batch) looks up in the registry the schema ids the batch uses that are not
 * cached yet — and, when there were any, the subject's latest schema, the reader schema that Avro
 * data is resolved to — then `decode(topic, value)` works from the cache. Registry outages throw
 * from `prepare` (the batch is retried by the job, nothing is lost); a definite "no such schema"
 * is cached and every record using that id is a dead letter (DecodeError).
 */
import type avro from 'avsc';
import type { ValidateFunction } from 'ajv';
import { lakehouseError } from '../../core/errors.js';
import type { Schema } from '../../iceberg/schema.js';
import { SchemaRegistryClient, valueSubject, type RegisteredSchema, type SchemaRegistryConfig } from '../schema-registry.js';
import { compileAvro, decodeAvro, namedTypes, resolver, type AvroResolver } from './avro.js';
import { unframe } from './confluent-wire.js';
import { DecodeError } from './decode-error.js';
import { avroToIceberg, jsonSchemaToIceberg } from './iceberg-schema.js';
import { compileJsonSchema, decodeJsonSchema } from './json-schema.js';

export { DecodeError, type DecodeFailure } from './decode-error.js';
export { frame, unframe } from './confluent-wire.js';
export { avroToIceberg, jsonSchemaToIceberg } from './iceberg-schema.js';

export type RecordFormat = 'json' | 'avro' | 'json-schema';

/** A compiled registered schema, or why it cannot be used (then every record using it is a dead letter). */
type Compiled =
  | { ok: true; id: number; avro?: avro.Type; json?: { schema: unknown; validate: ValidateFunction } }
  | { ok: false; id: number; error: DecodeError };

export class RecordDecoder {
  readonly format: RecordFormat;
  readonly registry: SchemaRegistryClient | null;
  private readonly compiled = new Map<number, Compiled>();
  /** topic → the latest schema id of its value subject (null: no such subject). */
  private readonly latest = new Map<string, number | null>();
  private readonly resolvers = new Map<string, AvroResolver | DecodeError>();

  constructor(format: RecordFormat, registry?: SchemaRegistryConfig | SchemaRegistryClient) {
    this.format = format;
    this.registry = registry instanceof SchemaRegistryClient ? registry : registry ? new SchemaRegistryClient(registry) : null;
    if (format !== 'json' && !this.registry) throw lakehouseError('VALIDATION_FAILED', `record format ${format} needs a schema registry`);
  }

  /** Caches the schemas `values` of `topic` use (see the file comment). */
  async prepare(topic: string, values: Iterable<Buffer | null | undefined>): Promise<void> {
    if (this.format === 'json') return;
    const missing = new Set<number>();
    for (const v of values) {
      if (!v || v.length < 5 || v[0] !== 0) continue; // decode() reports these
      const id = v.readUInt32BE(1);
      if (!this.compiled.has(id)) missing.add(id);
    }
    if (missing.size > 0) await Promise.all([...missing].map((id) => this.load(id)));
    // A new writer schema may come with a new latest version: the reader follows it.
    if (this.format === 'avro' && (missing.size > 0 || !this.latest.has(topic))) await this.refreshLatest(topic);
  }

  /** One value → the object the mapping reads; throws DecodeError (a RecordError) when it cannot. */
  decode(topic: string, value: Buffer): unknown {
    if (this.format === 'json') {
      try {
        return JSON.parse(value.toString('utf8'));
      } catch (e) {
        throw new DecodeError('json-invalid', `invalid JSON: ${(e as Error).message}`);
      }
    }
    const { schemaId, payload } = unframe(value);
    const c = this.compiled.get(schemaId);
    if (!c) throw new Error(`schema ${schemaId} was not prepared (call prepare() for each batch first)`);
    if (!c.ok) throw c.error;
    const what = `schema id ${schemaId}`;
    if (this.format === 'json-schema') return decodeJsonSchema(c.json!.validate, payload, what);
    const readerId = this.latest.get(topic);
    const reader = readerId != null && readerId !== schemaId ? this.compiled.get(readerId) : undefined;
    if (!reader?.ok || !reader.avro) return decodeAvro(c.avro!, payload, undefined, what);
    const key = `${readerId}<${schemaId}`;
    let res = this.resolvers.get(key);
    if (!res) {
      try {
        res = resolver(reader.avro, c.avro!, `writer schema id ${schemaId} cannot be read as the subject's latest schema id ${readerId}`);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        res = e;
      }
      this.resolvers.set(key, res);
    }
    if (res instanceof DecodeError) throw res;
    return decodeAvro(reader.avro, payload, res, `${what} (read as schema id ${readerId})`);
  }

  /**
   * The Iceberg schema of the topic's registered value schema (latest version of `<topic>-value`),
   * for creating the target table; null when the subject does not exist. Throws VALIDATION_FAILED
   * when the schema has no Iceberg equivalent.
   */
  async tableSchema(topic: string): Promise<Schema | null> {
    if (!this.registry) return null;
    const v = await this.registry.version(valueSubject(topic));
    if (!v) return null;
    const c = await this.load(v.id);
    if (!c.ok) throw c.error;
    if (c.avro) return avroToIceberg(c.avro);
    return jsonSchemaToIceberg(c.json!.schema);
  }

  private async refreshLatest(topic: string): Promise<void> {
    const v = await this.registry!.version(valueSubject(topic));
    if (v) await this.load(v.id);
    this.latest.set(topic, v ? v.id : null);
  }

  private async load(id: number): Promise<Compiled> {
    const have = this.compiled.get(id);
    if (have) return have;
    const s = await this.registry!.getById(id);
    let c: Compiled;
    try {
      if (!s) throw new DecodeError('unknown-schema-id', `schema registry ${this.registry!.url} has no schema with id ${id}`);
      c = await this.compile(s);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      c = { ok: false, id, error: e };
    }
    this.compiled.set(id, c);
    return c;
  }

  private async compile(s: RegisteredSchema): Promise<Compiled> {
    const want = this.format === 'avro' ? 'AVRO' : 'JSON';
    if (s.schemaType !== want) {
      throw new DecodeError('schema-type-mismatch', `schema id ${s.id} is a ${s.schemaType} schema, but the job reads ${this.format}`);
    }
    if (want === 'JSON') {
      if (s.references.length > 0) throw new DecodeError('unsupported-schema', `schema id ${s.id}: JSON Schema references are not supported`);
      return { ok: true, id: s.id, json: compileJsonSchema(s.schema, `schema id ${s.id}`) };
    }
    // Avro references name types defined by other registered schemas: compile those first.
    const named: Record<string, avro.Type> = {};
    for (const ref of s.references) {
      const v = await this.registry!.version(ref.subject, ref.version);
      if (!v) throw new DecodeError('unknown-schema-id', `schema id ${s.id} references ${ref.subject} version ${ref.version}, which the registry does not have`);
      const c = await this.load(v.id);
      if (!c.ok) throw new DecodeError('unsupported-schema', `schema id ${s.id} references schema id ${v.id}: ${c.error.message}`);
      Object.assign(named, namedTypes(c.avro!));
    }
    return { ok: true, id: s.id, avro: compileAvro(s.schema, named) };
  }
}
