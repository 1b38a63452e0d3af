import { lakehouseError, type LakehouseError } from '../core/errors.js';
import { stringifyJson, toBigInt } from '../core/json.js';
import type { TableMetadata } from './metadata.js';

/**
 * Commit requirements of the REST catalog spec (`TableRequirement` in rest-catalog-open-api.yaml):
 * assertions about the table's current metadata that must hold for a commit's updates to apply.
 * Failures are `CommitFailedException`s (409) with Java's `UpdateRequirement` messages.
 */
export type TableRequirement =
  | { type: 'assert-create' }
  | { type: 'assert-table-uuid'; uuid: string }
  /** `snapshot-id: null` asserts that the ref does not exist. */
  | { type: 'assert-ref-snapshot-id'; ref: string; 'snapshot-id': bigint | null }
  | { type: 'assert-last-assigned-field-id'; 'last-assigned-field-id': number }
  | { type: 'assert-current-schema-id'; 'current-schema-id': number }
  | { type: 'assert-last-assigned-partition-id'; 'last-assigned-partition-id': number }
  | { type: 'assert-default-spec-id'; 'default-spec-id': number }
  | { type: 'assert-default-sort-order-id'; 'default-sort-order-id': number };

export type TableRequirementType = TableRequirement['type'];

function bad(message: string): LakehouseError {
  return lakehouseError('BAD_REQUEST', message);
}

function intField(o: Record<string, unknown>, key: string, type: string): number {
  const v = o[key];
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (v === undefined || v === null) throw bad(`Invalid requirement ${type}: missing ${key}`);
  throw bad(`Invalid requirement ${type}: ${key} must be an integer, got ${stringifyJson(v ?? null)}`);
}

function stringField(o: Record<string, unknown>, key: string, type: string): string {
  const v = o[key];
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) throw bad(`Invalid requirement ${type}: missing ${key}`);
  throw bad(`Invalid requirement ${type}: ${key} must be a string`);
}

/** Validates one requirement of an untrusted commit request (BAD_REQUEST on a malformed one). */
export function parseTableRequirement(json: unknown): TableRequirement {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw bad('Invalid requirement: expected a JSON object');
  const o = json as Record<string, unknown>;
  const type = o.type;
  if (typeof type !== 'string') throw bad('Invalid requirement: missing type');
  switch (type) {
    case 'assert-create':
      return { type };
    case 'assert-table-uuid':
      return { type, uuid: stringField(o, 'uuid', type) };
    case 'assert-ref-snapshot-id': {
      const raw = o['snapshot-id'];
      let id: bigint | null = null;
      // Java reads a missing snapshot-id as null ("the ref must not exist").
      if (raw !== undefined && raw !== null) {
        try {
          id = toBigInt(raw, 'snapshot-id');
        } catch {
          throw bad(`Invalid requirement ${type}: snapshot-id must be an integer or null, got ${JSON.stringify(String(raw))}`);
        }
      }
      return { type, ref: stringField(o, 'ref', type), 'snapshot-id': id };
    }
    case 'assert-last-assigned-field-id':
    case 'assert-current-schema-id':
    case 'assert-last-assigned-partition-id':
    case 'assert-default-spec-id':
    case 'assert-default-sort-order-id': {
      const key = type.slice('assert-'.length);
      return { type, [key]: intField(o, key, type) } as TableRequirement;
    }
    default:
      throw bad(`Unknown table requirement type: ${type}`);
  }
}

/** Parses a request's `requirements` array (absent = none). */
export function parseTableRequirements(json: unknown): TableRequirement[] {
  if (json === undefined || json === null) return [];
  if (!Array.isArray(json)) throw bad('Invalid commit request: requirements must be an array');
  return json.map((r, i) => {
    try {
      return parseTableRequirement(r);
    } catch (e) {
      if (e instanceof Error && 'code' in e) throw lakehouseError('BAD_REQUEST', `requirements[${i}]: ${e.message}`);
      throw e;
    }
  });
}

function failed(message: string): LakehouseError {
  return lakehouseError('COMMIT_FAILED', `Requirement failed: ${message}`);
}

/**
 * Checks requirements against the table's current metadata (`null` when the table does not exist,
 * as in a create transaction). Throws COMMIT_FAILED on the first one that does not hold.
 */
export function checkRequirements(base: TableMetadata | null, reqs: TableRequirement[]): void {
  for (const req of reqs) checkRequirement(base, req);
}

function checkRequirement(base: TableMetadata | null, req: TableRequirement): void {
  if (req.type === 'assert-create') {
    if (base !== null) throw failed('table already exists');
    return;
  }
  if (base === null) {
    // As Java: the last-assigned-id assertions hold trivially for a table that does not exist yet.
    if (req.type === 'assert-last-assigned-field-id' || req.type === 'assert-last-assigned-partition-id') return;
    throw failed('table does not exist');
  }
  switch (req.type) {
    case 'assert-table-uuid':
      if (req.uuid.toLowerCase() !== base['table-uuid'].toLowerCase()) {
        throw failed(`UUID does not match: expected ${req.uuid} != ${base['table-uuid']}`);
      }
      return;
    case 'assert-ref-snapshot-id': {
      const ref = base.refs[req.ref];
      if (ref) {
        if (req['snapshot-id'] === null) throw failed(`${ref.type} ${req.ref} was created concurrently`);
        if (ref['snapshot-id'] !== req['snapshot-id']) {
          throw failed(`${ref.type} ${req.ref} has changed: expected id ${req['snapshot-id']} != ${ref['snapshot-id']}`);
        }
      } else if (req['snapshot-id'] !== null) {
        throw failed(`branch or tag ${req.ref} is missing, expected ${req['snapshot-id']}`);
      }
      return;
    }
    case 'assert-last-assigned-field-id':
      if (base['last-column-id'] !== req['last-assigned-field-id']) {
        throw failed(`last assigned field id changed: expected id ${req['last-assigned-field-id']} != ${base['last-column-id']}`);
      }
      return;
    case 'assert-current-schema-id':
      if (base['current-schema-id'] !== req['current-schema-id']) {
        throw failed(`current schema changed: expected id ${req['current-schema-id']} != ${base['current-schema-id']}`);
      }
      return;
    case 'assert-last-assigned-partition-id':
      if (base['last-partition-id'] !== req['last-assigned-partition-id']) {
        throw failed(
          `last assigned partition id changed: expected id ${req['last-assigned-partition-id']} != ${base['last-partition-id']}`,
        );
      }
      return;
    case 'assert-default-spec-id':
      if (base['default-spec-id'] !== req['default-spec-id']) {
        throw failed(`default partition spec changed: expected id ${req['default-spec-id']} != ${base['default-spec-id']}`);
      }
      return;
    case 'assert-default-sort-order-id':
      if (base['default-sort-order-id'] !== req['default-sort-order-id']) {
        throw failed(
          `default sort order changed: expected id ${req['default-sort-order-id']} != ${base['default-sort-order-id']}`,
        );
      }
      return;
  }
}
