/**
 * JSON Schema record values (schema-registry framed): the payload is JSON text, validated against
 * the registered JSON Schema with Ajv. The draft follows the schema's `$schema` (2020-12, 2019-09,
 * draft-07 — also the default, as Confluent's serializer writes — and draft-06); `format` keywords
 * are checked (ajv-formats). Unknown keywords are allowed: producers' schemas often carry
 * annotations of their own (`connect.type`, `javaType`).
 */
import { Ajv, type ValidateFunction, type AnySchemaObject } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as formatsModule from 'ajv-formats';
import { createRequire } from 'node:module';
import { DecodeError } from './decode-error.js';

type AjvLike = Ajv | Ajv2019 | Ajv2020;
type FormatsPlugin = (ajv: AjvLike) => unknown;
// CommonJS module: its default export sits on `default` or is the module itself.
const addFormats = ((formatsModule as unknown as { default?: FormatsPlugin }).default ?? formatsModule) as unknown as FormatsPlugin;
const require = createRequire(import.meta.url);

const OPTIONS = { strict: false, allErrors: true, validateFormats: true } as const;

function newAjv(draft: '2020-12' | '2019-09' | 'draft-07' | 'draft-06'): AjvLike {
  const ajv = draft === '2020-12' ? new Ajv2020(OPTIONS) : draft === '2019-09' ? new Ajv2019(OPTIONS) : new Ajv(OPTIONS);
  if (draft === 'draft-06') ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as AnySchemaObject);
  addFormats(ajv);
  return ajv;
}

/** The draft a schema declares (by its `$schema`), or an unsupported-schema DecodeError. */
export function schemaDraft(schema: unknown): '2020-12' | '2019-09' | 'draft-07' | 'draft-06' {
  const uri = schema !== null && typeof schema === 'object' ? (schema as { $schema?: unknown }).$schema : undefined;
  if (uri === undefined) return 'draft-07';
  const s = String(uri);
  if (s.includes('2020-12')) return '2020-12';
  if (s.includes('2019-09')) return '2019-09';
  if (s.includes('draft-07')) return 'draft-07';
  if (s.includes('draft-06')) return 'draft-06';
  throw new DecodeError('unsupported-schema', `JSON Schema dialect ${s} is not supported (2020-12, 2019-09, draft-07 and draft-06 are)`);
}

/** A validator for one registered JSON Schema; throws DecodeError `unsupported-schema` when it does not compile. */
export function compileJsonSchema(schemaText: string, what: string): { schema: unknown; validate: ValidateFunction } {
  let schema: unknown;
  try {
    schema = JSON.parse(schemaText);
  } catch (e) {
    throw new DecodeError('unsupported-schema', `${what}: schema is not JSON: ${(e as Error).message}`);
  }
  if (typeof schema !== 'boolean' && (schema === null || typeof schema !== 'object' || Array.isArray(schema))) {
    throw new DecodeError('unsupported-schema', `${what}: a JSON Schema is an object or a boolean`);
  }
  // One Ajv a schema: registered schemas may reuse `$id`s, which one shared instance rejects.
  const ajv = newAjv(schemaDraft(schema));
  try {
    return { schema, validate: ajv.compile(schema as AnySchemaObject) };
  } catch (e) {
    throw new DecodeError('unsupported-schema', `${what}: invalid JSON Schema: ${(e as Error).message}`);
  }
}

/** Parses and validates one payload; throws DecodeError `json-invalid` / `json-schema-violation`. */
export function decodeJsonSchema(validate: ValidateFunction, payload: Buffer, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch (e) {
    throw new DecodeError('json-invalid', `${what}: payload is not JSON: ${(e as Error).message}`);
  }
  if (!validate(value)) {
    const errs = (validate.errors ?? []).slice(0, 5).map((er) => `${er.instancePath || '/'} ${er.message ?? 'is invalid'}`);
    const more = (validate.errors?.length ?? 0) > 5 ? ` (+${validate.errors!.length - 5} more)` : '';
    throw new DecodeError('json-schema-violation', `${what}: ${errs.join('; ')}${more}`);
  }
  return value;
}
