import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { parse, isSafeNumber } from 'lossless-json';
import { lakehouseError } from '../../core/errors.js';
import { stringifyJson } from '../../core/json.js';
import type { Namespace, TableIdent } from '../../catalog/store.js';

/** The one error shape of the service (Iceberg REST / Lakekeeper): `{error:{message,type,code}}`. */
export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      message: Type.String(),
      type: Type.String({ description: 'Exception type, e.g. NoSuchTableException' }),
      code: Type.Integer({ description: 'HTTP status' }),
    }),
  },
  { description: 'Error' },
);

/** Response map for a route: its success responses plus the error shape for every other status. */
export function responses(ok: Record<number, TSchema>): Record<string, TSchema> {
  return { ...ok, default: ErrorResponse };
}

export const NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,127}$';
export const NAMESPACE_PATTERN = '^[A-Za-z_][A-Za-z0-9_]{0,127}(\\.[A-Za-z_][A-Za-z0-9_]{0,127}){0,7}$';

export const NamespaceParam = Type.String({ pattern: NAMESPACE_PATTERN, description: 'Namespace, levels joined by dots (sales.eu)' });
export const NameParam = Type.String({ pattern: NAME_PATTERN });

export function parseNamespace(ns: string): Namespace {
  return ns.split('.');
}

export function tableIdent(p: { namespace: string; table: string }): TableIdent {
  return { namespace: parseNamespace(p.namespace), name: p.table };
}

/** Sends JSON (bigint-safe) with a status. */
export function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json').send(stringifyJson(body));
}

/**
 * JSON body parser for the own API: integers beyond 2^53 (snapshot ids) become decimal strings,
 * which is how the own API spells 64-bit ids.
 */
export function parseOwnJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return parse(text, undefined, (value: string) => (isSafeNumber(value) ? Number(value) : /^-?\d+$/.test(value) ? value : Number(value)));
  } catch (e) {
    throw lakehouseError('BAD_REQUEST', `malformed JSON body: ${(e as Error).message}`);
  }
}

export const Id = Type.String({ format: 'uuid' });
export const SnapshotId = Type.String({ pattern: '^[0-9]{1,19}$', description: '64-bit snapshot id as a decimal string' });
