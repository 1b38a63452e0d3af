import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLakehouseError } from '../../src/core/errors.js';
import { parseJsonLossless } from '../../src/core/json.js';
import { readTableMetadata, type TableMetadata } from '../../src/iceberg/metadata.js';
import {
  checkRequirements, parseTableRequirement, parseTableRequirements, type TableRequirement,
} from '../../src/iceberg/requirements.js';
import { REFERENCE_DIR } from '../support/fixtures.js';

const V7 = join(REFERENCE_DIR, 'equality_deletes/metadata/v7.metadata.json');
const md: TableMetadata = readTableMetadata(readFileSync(V7), V7);
const HEAD = 1916084761853986166n;

function commitFailure(base: TableMetadata | null, req: TableRequirement): string {
  try {
    checkRequirements(base, [req]);
  } catch (e) {
    expect(isLakehouseError(e, 'COMMIT_FAILED'), String(e)).toBe(true);
    expect((e as Error).message).toMatch(/^Requirement failed: /);
    return (e as Error).message;
  }
  throw new Error(`expected ${req.type} to fail`);
}

function badRequest(json: unknown): string {
  try {
    parseTableRequirement(json);
  } catch (e) {
    expect(isLakehouseError(e, 'BAD_REQUEST'), String(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected BAD_REQUEST');
}

describe('parseTableRequirement', () => {
  it('parses every requirement type from REST JSON (lossless snapshot ids)', () => {
    const json = parseJsonLossless(`[
      {"type":"assert-create"},
      {"type":"assert-table-uuid","uuid":"96247900-66da-4f86-9cbe-c81dbcf8420f"},
      {"type":"assert-ref-snapshot-id","ref":"main","snapshot-id":1916084761853986166},
      {"type":"assert-ref-snapshot-id","ref":"audit","snapshot-id":null},
      {"type":"assert-last-assigned-field-id","last-assigned-field-id":3},
      {"type":"assert-current-schema-id","current-schema-id":0},
      {"type":"assert-last-assigned-partition-id","last-assigned-partition-id":999},
      {"type":"assert-default-spec-id","default-spec-id":0},
      {"type":"assert-default-sort-order-id","default-sort-order-id":0}
    ]`);
    const reqs = parseTableRequirements(json);
    expect(reqs).toEqual([
      { type: 'assert-create' },
      { type: 'assert-table-uuid', uuid: '96247900-66da-4f86-9cbe-c81dbcf8420f' },
      { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': HEAD },
      { type: 'assert-ref-snapshot-id', ref: 'audit', 'snapshot-id': null },
      { type: 'assert-last-assigned-field-id', 'last-assigned-field-id': 3 },
      { type: 'assert-current-schema-id', 'current-schema-id': 0 },
      { type: 'assert-last-assigned-partition-id', 'last-assigned-partition-id': 999 },
      { type: 'assert-default-spec-id', 'default-spec-id': 0 },
      { type: 'assert-default-sort-order-id', 'default-sort-order-id': 0 },
    ]);
    // All but assert-create hold for v7 (the create one is checked separately).
    expect(() => checkRequirements(md, reqs.slice(1))).not.toThrow();
  });

  it('treats a missing snapshot-id as null, as Java does', () => {
    expect(parseTableRequirement({ type: 'assert-ref-snapshot-id', ref: 'b' })).toEqual({ type: 'assert-ref-snapshot-id', ref: 'b', 'snapshot-id': null });
  });

  it('rejects malformed requirements with BAD_REQUEST', () => {
    expect(badRequest(null)).toMatch('expected a JSON object');
    expect(badRequest({})).toMatch('missing type');
    expect(badRequest({ type: 'assert-nothing' })).toMatch('Unknown table requirement type: assert-nothing');
    expect(badRequest({ type: 'assert-table-uuid' })).toMatch('missing uuid');
    expect(badRequest({ type: 'assert-current-schema-id', 'current-schema-id': '1' })).toMatch('must be an integer');
    expect(badRequest({ type: 'assert-default-spec-id' })).toMatch('missing default-spec-id');
    expect(badRequest({ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': 'x' })).toMatch('snapshot-id');
    expect(badRequest({ type: 'assert-ref-snapshot-id', 'snapshot-id': 1 })).toMatch('missing ref');
    expect(() => parseTableRequirements({})).toThrow(/must be an array/);
    expect(() => parseTableRequirements([{ type: 'assert-create' }, { type: 'bogus' }])).toThrow(/requirements\[1\]/);
  });
});

describe('checkRequirements', () => {
  it('assert-create: only when the table does not exist', () => {
    expect(() => checkRequirements(null, [{ type: 'assert-create' }])).not.toThrow();
    expect(commitFailure(md, { type: 'assert-create' })).toBe('Requirement failed: table already exists');
  });

  it('other requirements fail for a missing table, except the last-assigned-id ones (Java)', () => {
    expect(commitFailure(null, { type: 'assert-current-schema-id', 'current-schema-id': 0 })).toMatch('table does not exist');
    expect(() => checkRequirements(null, [{ type: 'assert-last-assigned-field-id', 'last-assigned-field-id': 0 }])).not.toThrow();
    expect(() => checkRequirements(null, [{ type: 'assert-last-assigned-partition-id', 'last-assigned-partition-id': 999 }])).not.toThrow();
  });

  it('assert-table-uuid (case-insensitive)', () => {
    expect(() => checkRequirements(md, [{ type: 'assert-table-uuid', uuid: '96247900-66DA-4F86-9CBE-C81DBCF8420F' }])).not.toThrow();
    expect(commitFailure(md, { type: 'assert-table-uuid', uuid: '00000000-0000-0000-0000-000000000000' })).toBe(
      'Requirement failed: UUID does not match: expected 00000000-0000-0000-0000-000000000000 != 96247900-66da-4f86-9cbe-c81dbcf8420f',
    );
  });

  it('assert-ref-snapshot-id: matching id, changed id, missing ref, and null = must not exist', () => {
    expect(() => checkRequirements(md, [{ type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': HEAD }])).not.toThrow();
    expect(() => checkRequirements(md, [{ type: 'assert-ref-snapshot-id', ref: 'dev', 'snapshot-id': null }])).not.toThrow();
    expect(commitFailure(md, { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': 1n })).toBe(
      `Requirement failed: branch main has changed: expected id 1 != ${HEAD}`,
    );
    expect(commitFailure(md, { type: 'assert-ref-snapshot-id', ref: 'main', 'snapshot-id': null })).toBe(
      'Requirement failed: branch main was created concurrently',
    );
    expect(commitFailure(md, { type: 'assert-ref-snapshot-id', ref: 'dev', 'snapshot-id': 5n })).toBe(
      'Requirement failed: branch or tag dev is missing, expected 5',
    );
    const tagged: TableMetadata = { ...md, refs: { ...md.refs, v1: { 'snapshot-id': 853766660775201079n, type: 'tag' } } };
    expect(commitFailure(tagged, { type: 'assert-ref-snapshot-id', ref: 'v1', 'snapshot-id': null })).toBe(
      'Requirement failed: tag v1 was created concurrently',
    );
  });

  it('the id assertions compare with the current metadata', () => {
    const cases: [TableRequirement, string][] = [
      [{ type: 'assert-last-assigned-field-id', 'last-assigned-field-id': 4 }, 'last assigned field id changed: expected id 4 != 3'],
      [{ type: 'assert-current-schema-id', 'current-schema-id': 1 }, 'current schema changed: expected id 1 != 0'],
      [{ type: 'assert-last-assigned-partition-id', 'last-assigned-partition-id': 1000 }, 'last assigned partition id changed: expected id 1000 != 999'],
      [{ type: 'assert-default-spec-id', 'default-spec-id': 1 }, 'default partition spec changed: expected id 1 != 0'],
      [{ type: 'assert-default-sort-order-id', 'default-sort-order-id': 1 }, 'default sort order changed: expected id 1 != 0'],
    ];
    for (const [req, message] of cases) expect(commitFailure(md, req)).toBe(`Requirement failed: ${message}`);
  });

  it('stops at the first failing requirement', () => {
    expect(() =>
      checkRequirements(md, [
        { type: 'assert-current-schema-id', 'current-schema-id': 0 },
        { type: 'assert-default-spec-id', 'default-spec-id': 7 },
        { type: 'assert-create' },
      ]),
    ).toThrow(/default partition spec changed/);
  });
});
