import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLakehouseError, type ErrorCode } from '../../src/core/errors.js';
import { parseJsonLossless } from '../../src/core/json.js';
import { readTableMetadata, writeTableMetadata, type TableMetadata } from '../../src/iceberg/metadata.js';
import type { Schema } from '../../src/iceberg/schema.js';
import { SchemaUpdate } from '../../src/iceberg/schema-evolution.js';
import type { Snapshot } from '../../src/iceberg/snapshot.js';
import type { StructType } from '../../src/iceberg/types.js';
import {
  applyUpdates, newTableMetadata, parseTableUpdate, parseTableUpdates, updatesForCreate, type TableUpdate,
} from '../../src/iceberg/updates.js';
import { REFERENCE_DIR } from '../support/fixtures.js';

const V7 = join(REFERENCE_DIR, 'equality_deletes/metadata/v7.metadata.json');
const V7_TEXT = readFileSync(V7);
const load = (): TableMetadata => readTableMetadata(V7_TEXT, V7);
const md = load();

const HEAD = 1916084761853986166n;
const FIRST = 853766660775201079n;
const SECOND = 7342794868382145167n;
const NOW = 1_800_000_000_000;
const LOC = 'data/persistent/equality_deletes/warehouse/mydb/mytable/metadata/v7.metadata.json';

function apply(updates: TableUpdate[], base: TableMetadata | null = md, metadataLocation?: string): TableMetadata {
  return applyUpdates(base, updates, { nowMs: NOW, metadataLocation });
}

function failure(code: ErrorCode, fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(isLakehouseError(e, code), String(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error(`expected ${code}`);
}

function snapshot(id: bigint, parent: bigint | null, seq: number, ts = NOW - 1000, schemaId = 0): Snapshot {
  const s: Snapshot = {
    'snapshot-id': id,
    'sequence-number': seq,
    'timestamp-ms': ts,
    'manifest-list': `s3://b/t/metadata/snap-${id}.avro`,
    summary: { operation: 'append' },
    'schema-id': schemaId,
  };
  if (parent !== null) s['parent-snapshot-id'] = parent;
  return s;
}

const schemaWith = (fields: Schema['fields'], id = 0): Schema => ({ type: 'struct', 'schema-id': id, fields });
const v7Fields = md.schemas[0].fields;

describe('parseTableUpdate', () => {
  it('parses every update action from REST JSON', () => {
    const json = parseJsonLossless(`[
      {"action":"assign-uuid","uuid":"96247900-66da-4f86-9cbe-c81dbcf8420f"},
      {"action":"upgrade-format-version","format-version":2},
      {"action":"add-schema","schema":{"type":"struct","schema-id":1,"fields":[{"id":1,"name":"id","required":false,"type":"long"}]},"last-column-id":3},
      {"action":"set-current-schema","schema-id":-1},
      {"action":"add-spec","spec":{"fields":[{"source-id":1,"name":"id_bucket","transform":"bucket[4]"}]}},
      {"action":"set-default-spec","spec-id":-1},
      {"action":"add-sort-order","sort-order":{"order-id":1,"fields":[{"transform":"identity","source-id":1,"direction":"asc","null-order":"nulls-first"}]}},
      {"action":"set-default-sort-order","sort-order-id":-1},
      {"action":"add-snapshot","snapshot":{"snapshot-id":9007199254740993,"parent-snapshot-id":1916084761853986166,"sequence-number":7,"timestamp-ms":1,"manifest-list":"m.avro","summary":{"operation":"append","added-data-files":"1"},"schema-id":0}},
      {"action":"set-snapshot-ref","ref-name":"main","snapshot-id":9007199254740993,"type":"branch","max-ref-age-ms":1000},
      {"action":"remove-snapshots","snapshot-ids":[853766660775201079]},
      {"action":"remove-snapshot-ref","ref-name":"dev"},
      {"action":"set-location","location":"s3://b/t"},
      {"action":"set-properties","updates":{"a":"1"}},
      {"action":"remove-properties","removals":["b"]},
      {"action":"set-statistics","snapshot-id":1916084761853986166,"statistics":{"snapshot-id":1916084761853986166,"statistics-path":"s.puffin","file-size-in-bytes":10,"file-footer-size-in-bytes":5,"blob-metadata":[{"type":"apache-datasketches-theta-v1","snapshot-id":1916084761853986166,"sequence-number":6,"fields":[1],"properties":{"ndv":"4"}}]}},
      {"action":"remove-statistics","snapshot-id":1916084761853986166},
      {"action":"set-partition-statistics","partition-statistics":{"snapshot-id":1916084761853986166,"statistics-path":"p.parquet","file-size-in-bytes":42}},
      {"action":"remove-partition-statistics","snapshot-id":1916084761853986166},
      {"action":"remove-partition-specs","spec-ids":[1,2]},
      {"action":"remove-schemas","schema-ids":[3]}
    ]`);
    const updates = parseTableUpdates(json);
    expect(updates.map((u) => u.action)).toEqual([
      'assign-uuid', 'upgrade-format-version', 'add-schema', 'set-current-schema', 'add-spec', 'set-default-spec',
      'add-sort-order', 'set-default-sort-order', 'add-snapshot', 'set-snapshot-ref', 'remove-snapshots',
      'remove-snapshot-ref', 'set-location', 'set-properties', 'remove-properties', 'set-statistics', 'remove-statistics',
      'set-partition-statistics', 'remove-partition-statistics', 'remove-partition-specs', 'remove-schemas',
    ]);
    expect(updates[2]).toMatchObject({ 'last-column-id': 3, schema: { 'schema-id': 1 } });
    expect(updates[4]).toEqual({ action: 'add-spec', spec: { fields: [{ 'source-id': 1, name: 'id_bucket', transform: 'bucket[4]' }] } });
    expect(updates[8]).toMatchObject({ snapshot: { 'snapshot-id': 9007199254740993n, 'parent-snapshot-id': HEAD, 'sequence-number': 7 } });
    expect(updates[9]).toEqual({ action: 'set-snapshot-ref', 'ref-name': 'main', 'snapshot-id': 9007199254740993n, type: 'branch', 'max-ref-age-ms': 1000 });
    expect(updates[10]).toEqual({ action: 'remove-snapshots', 'snapshot-ids': [FIRST] });
    expect(updates[15]).toMatchObject({ 'snapshot-id': HEAD, statistics: { 'snapshot-id': HEAD, 'blob-metadata': [{ fields: [1], properties: { ndv: '4' } }] } });
    expect(updates[17]).toEqual({
      action: 'set-partition-statistics',
      'partition-statistics': { 'snapshot-id': HEAD, 'statistics-path': 'p.parquet', 'file-size-in-bytes': 42 },
    });
  });

  it('rejects malformed updates with BAD_REQUEST and clear messages', () => {
    const bad = (json: unknown) => failure('BAD_REQUEST', () => parseTableUpdate(json));
    expect(bad('x')).toMatch('expected a JSON object');
    expect(bad({})).toMatch('missing action');
    expect(bad({ action: 'frobnicate' })).toMatch('Unknown table update action: frobnicate');
    expect(bad({ action: 'assign-uuid' })).toMatch('assign-uuid: missing uuid');
    expect(bad({ action: 'upgrade-format-version', 'format-version': '2' })).toMatch('format-version must be an integer');
    expect(bad({ action: 'add-schema', schema: { type: 'struct' } })).toMatch('add-schema.schema');
    expect(bad({ action: 'add-schema', schema: { type: 'struct', fields: [{ id: 1, name: 'x', type: 'varchar' }] } })).toMatch('varchar');
    expect(bad({ action: 'add-spec', spec: { fields: [{ 'source-id': 1, name: 'x' }] } })).toMatch('missing transform');
    expect(bad({ action: 'add-spec', spec: { fields: [{ 'source-id': 1, name: 'x', transform: 'bucket[0]' }] } })).toMatch('bucket[0]');
    expect(bad({ action: 'add-sort-order', 'sort-order': { fields: [{ transform: 'identity', 'source-id': 1, direction: 'up', 'null-order': 'nulls-first' }] } })).toMatch('direction');
    expect(bad({ action: 'add-snapshot', snapshot: { 'snapshot-id': 1, 'timestamp-ms': 1 } })).toMatch('manifest');
    expect(bad({ action: 'add-snapshot', snapshot: { 'snapshot-id': 1, 'timestamp-ms': 1, 'manifest-list': 'm', summary: { operation: 'merge' } } })).toMatch('operation');
    expect(bad({ action: 'set-snapshot-ref', 'ref-name': 'b', 'snapshot-id': 1, type: 'leaf' })).toMatch('branch or tag');
    expect(bad({ action: 'set-snapshot-ref', 'ref-name': 'b', type: 'tag' })).toMatch('missing snapshot-id');
    expect(bad({ action: 'remove-snapshots', 'snapshot-ids': ['a'] })).toMatch('snapshot-ids[0] must be an integer');
    expect(bad({ action: 'set-properties', updates: { a: 1 } })).toMatch('updates.a must be a string');
    expect(bad({ action: 'remove-properties', removals: 'a' })).toMatch('removals must be an array');
    expect(bad({ action: 'set-statistics', statistics: { 'snapshot-id': 1 } })).toMatch('statistics-path');
    expect(bad({ action: 'remove-schemas', 'schema-ids': [1.5] })).toMatch('schema-ids[0] must be an integer');
    expect(bad({ action: 'add-view-version', 'view-version': {} })).toMatch('Cannot apply update add-view-version to a table');
    expect(failure('UNSUPPORTED_OPERATION', () => parseTableUpdate({ action: 'add-encryption-key', 'encryption-key': {} }))).toMatch('encryption');
    expect(failure('BAD_REQUEST', () => parseTableUpdates([{ action: 'set-location', location: 'x' }, {}]))).toMatch('updates[1]');
  });
});

describe('applyUpdates on a real table (equality_deletes v7)', () => {
  it('returns base itself when nothing changes', () => {
    const same = apply([
      { action: 'set-location', location: md.location },
      { action: 'set-properties', updates: { owner: 'zhangjun' } },
      { action: 'remove-properties', removals: ['nope'] },
      { action: 'upgrade-format-version', 'format-version': 2 },
      { action: 'set-snapshot-ref', 'ref-name': 'main', 'snapshot-id': HEAD, type: 'branch' },
      { action: 'add-schema', schema: md.schemas[0] },
      { action: 'set-current-schema', 'schema-id': -1 },
      { action: 'remove-snapshots', 'snapshot-ids': [42n] },
    ], md, LOC);
    expect(same).toBe(md);
  });

  it('does not modify base; sets last-updated-ms and appends the previous metadata file to metadata-log', () => {
    const before = JSON.stringify(writeTableMetadata(md).toString());
    const next = apply([{ action: 'set-properties', updates: { a: '1' } }], md, LOC);
    expect(JSON.stringify(writeTableMetadata(md).toString())).toBe(before);
    expect(next['last-updated-ms']).toBe(NOW);
    expect(next.properties).toEqual({ ...md.properties, a: '1' });
    expect(next['metadata-log']).toHaveLength(7);
    expect(next['metadata-log'].at(-1)).toEqual({ 'timestamp-ms': md['last-updated-ms'], 'metadata-file': LOC });
    // Without a metadata location nothing is logged.
    expect(apply([{ action: 'set-properties', updates: { a: '1' } }])['metadata-log']).toEqual(md['metadata-log']);
  });

  it('trims metadata-log to write.metadata.previous-versions-max (set in the same commit)', () => {
    const next = apply([{ action: 'set-properties', updates: { 'write.metadata.previous-versions-max': '3' } }], md, LOC);
    expect(next['metadata-log'].map((e) => e['metadata-file'].split('/').pop())).toEqual(['v5.metadata.json', 'v6.metadata.json', 'v7.metadata.json']);
    const one = apply([{ action: 'set-properties', updates: { 'write.metadata.previous-versions-max': '0' } }], md, LOC);
    expect(one['metadata-log']).toHaveLength(1); // at least 1, as Java
  });

  it('round-trips through the metadata writer and reader', () => {
    const next = apply([
      { action: 'add-snapshot', snapshot: snapshot(9007199254740993n, HEAD, 7) },
      { action: 'set-snapshot-ref', 'ref-name': 'main', 'snapshot-id': 9007199254740993n, type: 'branch' },
    ], md, LOC);
    const reread = readTableMetadata(writeTableMetadata(next), 'x.json');
    expect(reread['current-snapshot-id']).toBe(9007199254740993n);
    expect(reread.snapshots).toEqual(next.snapshots);
    expect(reread['snapshot-log']).toEqual(next['snapshot-log']);
    expect(reread['metadata-log']).toEqual(next['metadata-log']);
  });

  describe('uuid and format version', () => {
    it('assign-uuid is a no-op when equal and refused on an existing table', () => {
      expect(apply([{ action: 'assign-uuid', uuid: md['table-uuid'].toUpperCase() }])).toBe(md);
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'assign-uuid', uuid: '00000000-0000-0000-0000-000000000001' }]))).toMatch('Cannot reassign the UUID');
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'assign-uuid', uuid: 'nope' }]))).toMatch('invalid table UUID');
    });

    it('upgrade-format-version upgrades v1 → v2, refuses downgrades and unsupported versions', () => {
      const v1: TableMetadata = { ...md, 'format-version': 1 };
      expect(apply([{ action: 'upgrade-format-version', 'format-version': 2 }], v1)['format-version']).toBe(2);
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'upgrade-format-version', 'format-version': 1 }]))).toBe('Cannot downgrade v2 table to v1');
      expect(failure('UNSUPPORTED_FORMAT_VERSION', () => apply([{ action: 'upgrade-format-version', 'format-version': 3 }]))).toMatch(
        'Cannot upgrade table to unsupported format version: v3 (supported: v2)',
      );
    });
  });

  describe('schemas', () => {
    const evolved = () => new SchemaUpdate(md.schemas[0], md['last-column-id']).addColumn(null, 'note', 'string').updateColumnType('id', 'long').apply();

    it('add-schema assigns max+1, raises last-column-id; set-current-schema -1 selects it', () => {
      const { schema, lastColumnId } = evolved();
      const next = apply([
        { action: 'add-schema', schema: { ...schema, 'schema-id': 42 }, 'last-column-id': lastColumnId },
        { action: 'set-current-schema', 'schema-id': -1 },
      ]);
      expect(next.schemas.map((s) => s['schema-id'])).toEqual([0, 1]);
      expect(next['current-schema-id']).toBe(1);
      expect(next['last-column-id']).toBe(4);
      expect(next.schemas[1].fields.map((f) => [f.id, f.name, f.type])).toEqual([[1, 'id', 'long'], [2, 'name', 'string'], [3, 'bir', 'date'], [4, 'note', 'string']]);
    });

    it('reuses an identical schema instead of adding a duplicate, and -1 refers to it', () => {
      const { schema } = evolved();
      const once = apply([{ action: 'add-schema', schema }, { action: 'set-current-schema', 'schema-id': -1 }]);
      const twice = apply([{ action: 'add-schema', schema: { ...schema, 'schema-id': 9 } }, { action: 'set-current-schema', 'schema-id': -1 }], once);
      expect(twice).toBe(once);
      // Re-adding the old schema 0 and selecting it with -1 rolls the schema back without a new id.
      const back = apply([{ action: 'add-schema', schema: md.schemas[0] }, { action: 'set-current-schema', 'schema-id': -1 }], once);
      expect(back.schemas).toHaveLength(2);
      expect(back['current-schema-id']).toBe(0);
      // Two adds of the same schema in one commit produce one schema.
      const dup = apply([{ action: 'add-schema', schema }, { action: 'add-schema', schema }]);
      expect(dup.schemas).toHaveLength(2);
    });

    it('ids skip past removed schemas (max + 1)', () => {
      const one = apply([{ action: 'add-schema', schema: evolved().schema }]);
      const withGap: TableMetadata = { ...one, schemas: [one.schemas[0], { ...one.schemas[1], 'schema-id': 5 }] };
      const next = apply([{ action: 'add-schema', schema: schemaWith([...v7Fields, { id: 9, name: 'z', required: false, type: 'int' }]) }], withGap);
      expect(next.schemas.map((s) => s['schema-id'])).toEqual([0, 5, 6]);
      expect(next['last-column-id']).toBe(9);
    });

    it('set-current-schema rejects unknown ids and -1 without an added schema', () => {
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'set-current-schema', 'schema-id': 7 }]))).toBe('Cannot set current schema to unknown schema: 7');
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'set-current-schema', 'schema-id': -1 }]))).toBe(
        'Cannot set last added schema: no schema has been added',
      );
    });

    it('add-schema rejects a lower last-column-id, duplicate ids and names, v3-only types and defaults', () => {
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'add-schema', schema: md.schemas[0], 'last-column-id': 2 }]))).toBe(
        'Invalid last column ID: 2 < 3 (previous last column ID)',
      );
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'add-schema', schema: schemaWith([...v7Fields, { id: 3, name: 'x', required: false, type: 'int' }]) }]))).toMatch('duplicate field id 3');
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'add-schema', schema: schemaWith([...v7Fields, { id: 4, name: 'name', required: false, type: 'int' }]) }]))).toMatch('multiple fields for name name');
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'add-schema', schema: schemaWith([...v7Fields, { id: 4, name: 't', required: false, type: 'timestamp_ns' }]) }]))).toMatch('timestamp_ns is not supported until v3');
      const withDefault = new SchemaUpdate(md.schemas[0], 3).addColumn(null, 'r', 'int', { required: true, initialDefault: 1 }).apply().schema;
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'add-schema', schema: withDefault }]))).toMatch('non-null default (1) is not supported until v3');
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'add-schema', schema: { ...md.schemas[0], 'identifier-field-ids': [2] } }]))).toMatch('not a required field');
    });

    it('SchemaUpdate.forTable evolves the current schema and guards the default spec source', () => {
      const { schema, lastColumnId } = SchemaUpdate.forTable(md).renameColumn('bir', 'birthday').addColumn(null, 'age', 'int').apply();
      expect(schema['schema-id']).toBe(1);
      const next = apply([{ action: 'add-schema', schema, 'last-column-id': lastColumnId }, { action: 'set-current-schema', 'schema-id': -1 }]);
      expect(next.schemas[1].fields.map((f) => [f.id, f.name])).toEqual([[1, 'id'], [2, 'name'], [3, 'birthday'], [4, 'age']]);
      const partitioned = apply([{ action: 'add-spec', spec: { fields: [{ 'source-id': 3, name: 'bir_year', transform: 'year' }] } }, { action: 'set-default-spec', 'spec-id': -1 }]);
      expect(failure('VALIDATION_FAILED', () => SchemaUpdate.forTable(partitioned).deleteColumn('bir').apply())).toMatch('source of partition field bir_year');
    });

    it('remove-schemas drops old schemas but never the current one', () => {
      const two = apply([{ action: 'add-schema', schema: evolved().schema }, { action: 'set-current-schema', 'schema-id': -1 }]);
      const next = apply([{ action: 'remove-schemas', 'schema-ids': [0, 77] }], two);
      expect(next.schemas.map((s) => s['schema-id'])).toEqual([1]);
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'remove-schemas', 'schema-ids': [1] }], two))).toBe('Cannot remove the current schema');
      expect(apply([{ action: 'remove-schemas', 'schema-ids': [77] }], two)).toBe(two);
    });

    it('rejects a current schema that drops the default spec source at build time', () => {
      const partitioned = apply([{ action: 'add-spec', spec: { fields: [{ 'source-id': 2, name: 'name', transform: 'identity' }] } }, { action: 'set-default-spec', 'spec-id': -1 }]);
      const dropped = schemaWith(v7Fields.filter((f) => f.id !== 2));
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'add-schema', schema: dropped }, { action: 'set-current-schema', 'schema-id': -1 }], partitioned))).toMatch(
        'Cannot find source column for partition field',
      );
    });
  });

  describe('partition specs', () => {
    it('add-spec assigns field ids after last-partition-id and spec id max+1; -1 selects it', () => {
      const next = apply([
        { action: 'add-spec', spec: { 'spec-id': 99, fields: [{ 'source-id': 1, name: 'id_bucket_4', transform: 'bucket[4]' }, { 'source-id': 3, name: 'bir_month', transform: 'Month' }] } },
        { action: 'set-default-spec', 'spec-id': -1 },
      ]);
      expect(next['partition-specs'][1]).toEqual({
        'spec-id': 1,
        fields: [
          { 'source-id': 1, 'field-id': 1000, name: 'id_bucket_4', transform: 'bucket[4]' },
          { 'source-id': 3, 'field-id': 1001, name: 'bir_month', transform: 'month' },
        ],
      });
      expect(next['default-spec-id']).toBe(1);
      expect(next['last-partition-id']).toBe(1001);
    });

    it('reuses the field id of an equivalent field, keeps explicit ids, and reuses identical specs', () => {
      const one = apply([{ action: 'add-spec', spec: { fields: [{ 'source-id': 1, name: 'b', transform: 'bucket[4]' }] } }, { action: 'set-default-spec', 'spec-id': -1 }]);
      const two = apply([{ action: 'add-spec', spec: { fields: [{ 'source-id': 2, name: 'name', transform: 'identity' }, { 'source-id': 1, name: 'b2', transform: 'bucket[4]' }] } }], one);
      expect(two['partition-specs'][2].fields.map((f) => f['field-id'])).toEqual([1001, 1000]);
      const explicit = apply([{ action: 'add-spec', spec: { fields: [{ 'source-id': 2, 'field-id': 1005, name: 'n', transform: 'identity' }, { 'source-id': 3, name: 'd', transform: 'day' }] } }], one);
      expect(explicit['partition-specs'][2].fields.map((f) => f['field-id'])).toEqual([1005, 1006]);
      expect(explicit['last-partition-id']).toBe(1006);
      // Identical (ids aside) → reused; -1 refers to the existing spec.
      const again = apply([{ action: 'add-spec', spec: { fields: [{ 'source-id': 1, 'field-id': 1234, name: 'b', transform: 'bucket[4]' }] } }, { action: 'set-default-spec', 'spec-id': -1 }], one);
      expect(again).toBe(one);
      const backToUnpartitioned = apply([{ action: 'add-spec', spec: { fields: [] } }, { action: 'set-default-spec', 'spec-id': -1 }], one);
      expect(backToUnpartitioned['partition-specs']).toHaveLength(2);
      expect(backToUnpartitioned['default-spec-id']).toBe(0);
    });

    it('rejects specs that do not fit the current schema', () => {
      const add = (fields: TableUpdate & { action: 'add-spec' }) => apply([fields]);
      expect(failure('VALIDATION_FAILED', () => add({ action: 'add-spec', spec: { fields: [{ 'source-id': 9, name: 'x', transform: 'identity' }] } }))).toMatch('Cannot find source column for partition field');
      expect(failure('VALIDATION_FAILED', () => add({ action: 'add-spec', spec: { fields: [{ 'source-id': 2, name: 'x', transform: 'day' }] } }))).toMatch('Invalid source type string for transform: day');
      expect(failure('VALIDATION_FAILED', () => add({ action: 'add-spec', spec: { fields: [{ 'source-id': 1, name: 'x', transform: 'identity' }, { 'source-id': 2, name: 'x', transform: 'identity' }] } }))).toMatch('Cannot use partition name more than once: x');
      expect(failure('VALIDATION_FAILED', () => add({ action: 'add-spec', spec: { fields: [{ 'source-id': 1, name: 'name', transform: 'bucket[2]' }] } }))).toMatch('name that exists in schema: name');
      expect(failure('VALIDATION_FAILED', () => add({ action: 'add-spec', spec: { fields: [{ 'source-id': 1, 'field-id': 1000, name: 'a', transform: 'identity' }, { 'source-id': 2, 'field-id': 1000, name: 'b', transform: 'identity' }] } }))).toMatch('field id 1000 is used more than once');
      // The identity field may share its source column's name.
      expect(add({ action: 'add-spec', spec: { fields: [{ 'source-id': 2, name: 'name', transform: 'identity' }] } })['partition-specs']).toHaveLength(2);
    });

    it('v1 tables number partition fields by position and require sequential ids', () => {
      const v1: TableMetadata = { ...md, 'format-version': 1 };
      const next = apply([{ action: 'add-spec', spec: { fields: [{ 'source-id': 1, name: 'a', transform: 'identity' }, { 'source-id': 2, name: 'b', transform: 'identity' }] } }], v1);
      expect(next['partition-specs'][1].fields.map((f) => f['field-id'])).toEqual([1000, 1001]);
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'add-spec', spec: { fields: [{ 'source-id': 1, 'field-id': 1003, name: 'a', transform: 'identity' }] } }], v1))).toMatch(
        'Spec does not use sequential IDs that are required in v1',
      );
    });

    it('set-default-spec and remove-partition-specs validate ids', () => {
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'set-default-spec', 'spec-id': 3 }]))).toBe('Cannot set default partition spec to unknown spec: 3');
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'set-default-spec', 'spec-id': -1 }]))).toBe('Cannot set last added spec: no spec has been added');
      const two = apply([{ action: 'add-spec', spec: { fields: [{ 'source-id': 1, name: 'b', transform: 'bucket[4]' }] } }, { action: 'set-default-spec', 'spec-id': -1 }]);
      expect(apply([{ action: 'remove-partition-specs', 'spec-ids': [0] }], two)['partition-specs'].map((s) => s['spec-id'])).toEqual([1]);
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'remove-partition-specs', 'spec-ids': [1] }], two))).toBe('Cannot remove the default partition spec');
    });
  });

  describe('sort orders', () => {
    const byName = { 'order-id': 5, fields: [{ transform: 'identity', 'source-id': 2, direction: 'desc' as const, 'null-order': 'nulls-last' as const }] };

    it('add-sort-order assigns ids from 1, reuses identical orders; unsorted is always 0', () => {
      const next = apply([{ action: 'add-sort-order', 'sort-order': byName }, { action: 'set-default-sort-order', 'sort-order-id': -1 }]);
      expect(next['sort-orders']).toEqual([{ 'order-id': 0, fields: [] }, { ...byName, 'order-id': 1 }]);
      expect(next['default-sort-order-id']).toBe(1);
      expect(apply([{ action: 'add-sort-order', 'sort-order': { ...byName, 'order-id': 7 } }, { action: 'set-default-sort-order', 'sort-order-id': -1 }], next)).toBe(next);
      const unsorted = apply([{ action: 'add-sort-order', 'sort-order': { 'order-id': 3, fields: [] } }, { action: 'set-default-sort-order', 'sort-order-id': -1 }], next);
      expect(unsorted['default-sort-order-id']).toBe(0);
      expect(unsorted['sort-orders']).toHaveLength(2);
      const second = apply([{ action: 'add-sort-order', 'sort-order': { 'order-id': 1, fields: [{ ...byName.fields[0], 'source-id': 3 }] } }], next);
      expect(second['sort-orders'].map((o) => o['order-id'])).toEqual([0, 1, 2]);
    });

    it('rejects unknown ids and incompatible orders', () => {
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'set-default-sort-order', 'sort-order-id': 4 }]))).toBe('Cannot set default sort order to unknown sort order: 4');
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'set-default-sort-order', 'sort-order-id': -1 }]))).toBe(
        'Cannot set last added sort order: no sort order has been added',
      );
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'add-sort-order', 'sort-order': { 'order-id': 1, fields: [{ ...byName.fields[0], 'source-id': 77 }] } }]))).toMatch(
        'Cannot find source column for sort field',
      );
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'add-sort-order', 'sort-order': { 'order-id': 1, fields: [{ ...byName.fields[0], transform: 'hour' }] } }]))).toMatch(
        'Invalid source type string for transform: hour',
      );
    });
  });

  describe('snapshots and refs', () => {
    const NEW = 9007199254740993n;

    it('add-snapshot + set main: current snapshot, last-sequence-number, snapshot-log at the snapshot time', () => {
      const next = apply([
        { action: 'add-snapshot', snapshot: snapshot(NEW, HEAD, 7, NOW - 5) },
        { action: 'set-snapshot-ref', 'ref-name': 'main', 'snapshot-id': NEW, type: 'branch' },
      ]);
      expect(next['current-snapshot-id']).toBe(NEW);
      expect(next['last-sequence-number']).toBe(7);
      expect(next.refs.main).toEqual({ 'snapshot-id': NEW, type: 'branch' });
      expect(next['snapshot-log']).toHaveLength(md['snapshot-log'].length + 1);
      expect(next['snapshot-log'].at(-1)).toEqual({ 'timestamp-ms': NOW - 5, 'snapshot-id': NEW });
    });

    it('a snapshot added without moving main is not current and not logged', () => {
      const next = apply([{ action: 'add-snapshot', snapshot: snapshot(NEW, HEAD, 7) }, { action: 'set-snapshot-ref', 'ref-name': 'audit', 'snapshot-id': NEW, type: 'branch', 'min-snapshots-to-keep': 2 }]);
      expect(next['current-snapshot-id']).toBe(HEAD);
      expect(next['snapshot-log']).toEqual(md['snapshot-log']);
      expect(next.refs.audit).toEqual({ 'snapshot-id': NEW, type: 'branch', 'min-snapshots-to-keep': 2 });
    });

    it('rollback of main logs the commit time; an unchanged head adds no log entry', () => {
      const back = apply([{ action: 'set-snapshot-ref', 'ref-name': 'main', 'snapshot-id': SECOND, type: 'branch' }]);
      expect(back['current-snapshot-id']).toBe(SECOND);
      expect(back['snapshot-log'].at(-1)).toEqual({ 'timestamp-ms': NOW, 'snapshot-id': SECOND });
      const retention = apply([{ action: 'set-snapshot-ref', 'ref-name': 'main', 'snapshot-id': HEAD, type: 'branch', 'max-ref-age-ms': 10 }]);
      expect(retention).not.toBe(md);
      expect(retention.refs.main['max-ref-age-ms']).toBe(10);
      expect(retention['snapshot-log']).toEqual(md['snapshot-log']);
    });

    it('drops intermediate snapshots (superseded within the commit) from snapshot-log', () => {
      const A = 100n;
      const B = 101n;
      const next = apply([
        { action: 'add-snapshot', snapshot: snapshot(A, HEAD, 7, NOW - 20) },
        { action: 'set-snapshot-ref', 'ref-name': 'main', 'snapshot-id': A, type: 'branch' },
        { action: 'add-snapshot', snapshot: snapshot(B, A, 8, NOW - 10) },
        { action: 'set-snapshot-ref', 'ref-name': 'main', 'snapshot-id': B, type: 'branch' },
      ]);
      expect(next['snapshot-log'].slice(-2)).toEqual([md['snapshot-log'].at(-1), { 'timestamp-ms': NOW - 10, 'snapshot-id': B }]);
      expect(next.snapshots.map((s) => s['snapshot-id']).slice(-2)).toEqual([A, B]);
      expect(next['last-sequence-number']).toBe(8);
    });

    it('add-snapshot rejections', () => {
      expect(failure('COMMIT_FAILED', () => apply([{ action: 'add-snapshot', snapshot: snapshot(NEW, HEAD, 6) }]))).toBe(
        'Cannot add snapshot with sequence number 6 older than last sequence number 6',
      );
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'add-snapshot', snapshot: snapshot(HEAD, null, 7) }]))).toBe(`Snapshot already exists for id: ${HEAD}`);
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'add-snapshot', snapshot: snapshot(NEW, 5n, 7) }]))).toMatch('parent snapshot 5 does not exist');
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'add-snapshot', snapshot: snapshot(NEW, HEAD, 7, NOW, 3) }]))).toMatch('unknown schema id: 3');
      // v1 tables carry no sequence numbers; a parentless v2 snapshot passes the check (Java).
      expect(apply([{ action: 'add-snapshot', snapshot: snapshot(NEW, HEAD, 0) }], { ...md, 'format-version': 1 }).snapshots).toHaveLength(7);
      const orphan = apply([{ action: 'add-snapshot', snapshot: snapshot(NEW, null, 1) }]);
      expect(orphan['last-sequence-number']).toBe(6);
    });

    it('set-snapshot-ref rejections', () => {
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'set-snapshot-ref', 'ref-name': 'dev', 'snapshot-id': 5n, type: 'branch' }]))).toBe('Cannot set dev to unknown snapshot: 5');
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'set-snapshot-ref', 'ref-name': 'main', 'snapshot-id': SECOND, type: 'tag' }]))).toBe(
        'Cannot set main to a tag, it must be a branch',
      );
    });

    it('remove-snapshot-ref: removing main clears the current snapshot but keeps the log', () => {
      const tagged = apply([{ action: 'set-snapshot-ref', 'ref-name': 'v1', 'snapshot-id': FIRST, type: 'tag' }]);
      expect(tagged.refs.v1).toEqual({ 'snapshot-id': FIRST, type: 'tag' });
      const untagged = apply([{ action: 'remove-snapshot-ref', 'ref-name': 'v1' }], tagged);
      expect(untagged.refs).toEqual(md.refs);
      const noMain = apply([{ action: 'remove-snapshot-ref', 'ref-name': 'main' }]);
      expect(noMain['current-snapshot-id']).toBeNull();
      expect(noMain.refs).toEqual({});
      expect(noMain['snapshot-log']).toEqual(md['snapshot-log']);
      expect(apply([{ action: 'remove-snapshot-ref', 'ref-name': 'nope' }])).toBe(md);
    });

    it('remove-snapshots drops snapshots, refs to them, their statistics and the log history before them', () => {
      const withExtras = apply([
        { action: 'set-snapshot-ref', 'ref-name': 'old', 'snapshot-id': SECOND, type: 'tag' },
        { action: 'set-statistics', statistics: { 'snapshot-id': SECOND, 'statistics-path': 's.puffin', 'file-size-in-bytes': 1, 'file-footer-size-in-bytes': 1, 'blob-metadata': [] } },
        { action: 'set-partition-statistics', 'partition-statistics': { 'snapshot-id': SECOND, 'statistics-path': 'p.parquet', 'file-size-in-bytes': 1 } },
      ]);
      const next = apply([{ action: 'remove-snapshots', 'snapshot-ids': [FIRST, SECOND] }], withExtras);
      expect(next.snapshots.map((s) => s['snapshot-id'])).not.toContain(SECOND);
      expect(next.snapshots).toHaveLength(4);
      expect(next.refs).toEqual({ main: md.refs.main });
      expect(next.statistics).toEqual([]);
      expect(next['partition-statistics']).toEqual([]);
      // v7's log revisits SECOND at index 3; everything up to it goes.
      expect(next['snapshot-log']).toEqual(md['snapshot-log'].slice(4));
      expect(next['current-snapshot-id']).toBe(HEAD);
    });

    it('removing the current snapshot removes main', () => {
      const next = apply([{ action: 'remove-snapshots', 'snapshot-ids': [HEAD] }]);
      expect(next['current-snapshot-id']).toBeNull();
      expect(next.refs.main).toBeUndefined();
      expect(next['snapshot-log']).toEqual([]);
    });
  });

  describe('location, properties, statistics', () => {
    it('set-location', () => {
      expect(apply([{ action: 'set-location', location: 's3://bucket/moved' }]).location).toBe('s3://bucket/moved');
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'set-location', location: '' }]))).toMatch('empty');
    });

    it('set-properties / remove-properties; reserved properties are refused', () => {
      const next = apply([
        { action: 'set-properties', updates: { a: '1', owner: 'me' } },
        { action: 'remove-properties', removals: ['write.parquet.compression-codec', 'missing'] },
      ]);
      expect(next.properties).toEqual({ owner: 'me', a: '1' });
      expect(failure('VALIDATION_FAILED', () => apply([{ action: 'set-properties', updates: { 'format-version': '2' } }]))).toBe(
        'Table properties should not contain reserved properties, but got [format-version]',
      );
    });

    it('set-statistics replaces the file of the same snapshot; remove-statistics removes it', () => {
      const file = (path: string) => ({ 'snapshot-id': HEAD, 'statistics-path': path, 'file-size-in-bytes': 10, 'file-footer-size-in-bytes': 2, 'blob-metadata': [] });
      const one = apply([{ action: 'set-statistics', statistics: file('a.puffin') }]);
      const two = apply([{ action: 'set-statistics', statistics: file('b.puffin') }], one);
      expect(two.statistics).toEqual([file('b.puffin')]);
      expect(apply([{ action: 'set-statistics', statistics: file('b.puffin') }], two)).toBe(two);
      expect(apply([{ action: 'remove-statistics', 'snapshot-id': HEAD }], two).statistics).toEqual([]);
      expect(apply([{ action: 'remove-statistics', 'snapshot-id': 1n }], two)).toBe(two);
    });

    it('set-partition-statistics / remove-partition-statistics', () => {
      const file = { 'snapshot-id': HEAD, 'statistics-path': 'p.parquet', 'file-size-in-bytes': 42 };
      const one = apply([{ action: 'set-partition-statistics', 'partition-statistics': file }]);
      expect(one['partition-statistics']).toEqual([file]);
      expect(apply([{ action: 'remove-partition-statistics', 'snapshot-id': HEAD }], one)['partition-statistics']).toEqual([]);
    });

    it('statistics read from a metadata file (plain JSON numbers) are matched by snapshot id', () => {
      const raw: TableMetadata = { ...md, statistics: [{ 'snapshot-id': 7, 'statistics-path': 'x', 'file-size-in-bytes': 1, 'file-footer-size-in-bytes': 1, 'blob-metadata': [] }] };
      expect(apply([{ action: 'remove-statistics', 'snapshot-id': 7n }], raw).statistics).toEqual([]);
    });
  });
});

describe('new tables', () => {
  const input: Schema = {
    type: 'struct',
    'schema-id': 3,
    'identifier-field-ids': [10],
    fields: [
      { id: 10, name: 'id', required: true, type: 'long' },
      { id: 20, name: 'loc', required: false, type: { type: 'struct', fields: [{ id: 21, name: 'lat', required: false, type: 'double' }, { id: 22, name: 'lon', required: false, type: 'double' }] } },
      { id: 30, name: 'tags', required: false, type: { type: 'list', 'element-id': 31, element: 'string', 'element-required': false } },
      { id: 40, name: 'ts', required: false, type: 'timestamptz' },
    ],
  };

  it('newTableMetadata assigns fresh ids (struct level first), partition ids from 1000 and order id 1', () => {
    const md = newTableMetadata({
      schema: input,
      spec: { fields: [{ 'source-id': 40, 'field-id': 7, name: 'ts_day', transform: 'day' }, { 'source-id': 10, name: 'id_bucket', transform: 'bucket[8]' }] },
      sortOrder: { 'order-id': 9, fields: [{ transform: 'identity', 'source-id': 21, direction: 'asc', 'null-order': 'nulls-first' }] },
      location: 's3://b/db/t',
      properties: { owner: 'me' },
      tableUuid: '11111111-2222-3333-4444-555555555555',
      nowMs: NOW,
    });
    expect(md['format-version']).toBe(2);
    expect(md['table-uuid']).toBe('11111111-2222-3333-4444-555555555555');
    expect(md['last-updated-ms']).toBe(NOW);
    const s = md.schemas[0];
    expect(md['current-schema-id']).toBe(0);
    expect(s['schema-id']).toBe(0);
    // id=1 loc=2 tags=3 ts=4, then loc's lat=5 lon=6, then tags' element=7
    expect(s.fields.map((f) => f.id)).toEqual([1, 2, 3, 4]);
    expect((s.fields[1].type as StructType).fields.map((f) => f.id)).toEqual([5, 6]);
    expect((s.fields[2].type as { 'element-id': number })['element-id']).toBe(7);
    expect(s['identifier-field-ids']).toEqual([1]);
    expect(md['last-column-id']).toBe(7);
    expect(md['partition-specs']).toEqual([{
      'spec-id': 0,
      fields: [
        { 'source-id': 4, 'field-id': 1000, name: 'ts_day', transform: 'day' },
        { 'source-id': 1, 'field-id': 1001, name: 'id_bucket', transform: 'bucket[8]' },
      ],
    }]);
    expect(md['last-partition-id']).toBe(1001);
    expect(md['sort-orders']).toEqual([{ 'order-id': 1, fields: [{ transform: 'identity', 'source-id': 5, direction: 'asc', 'null-order': 'nulls-first' }] }]);
    expect(md['default-sort-order-id']).toBe(1);
    expect(md.properties).toEqual({ owner: 'me' });
    expect(md.snapshots).toEqual([]);
    expect(md['current-snapshot-id']).toBeNull();
    expect(md['metadata-log']).toEqual([]);
  });

  it('defaults: unpartitioned spec 0, unsorted order 0, last-partition-id 999; format-version property selects v1', () => {
    const md = newTableMetadata({ schema: input, location: 's3://b/t', properties: { 'format-version': '1' } });
    expect(md['format-version']).toBe(1);
    expect(md.properties).toEqual({});
    expect(md['partition-specs']).toEqual([{ 'spec-id': 0, fields: [] }]);
    expect(md['last-partition-id']).toBe(999);
    expect(md['sort-orders']).toEqual([{ 'order-id': 0, fields: [] }]);
    expect(md['default-sort-order-id']).toBe(0);
    expect(() => readTableMetadata(writeTableMetadata(md), 'x')).not.toThrow();
  });

  it('rejects reserved properties, unknown source ids and invalid specs', () => {
    expect(failure('VALIDATION_FAILED', () => newTableMetadata({ schema: input, location: 'x', properties: { 'current-snapshot-id': '1' } }))).toMatch('reserved properties');
    expect(failure('VALIDATION_FAILED', () => newTableMetadata({ schema: input, location: 'x', spec: { fields: [{ 'source-id': 99, name: 'p', transform: 'identity' }] } }))).toMatch('Cannot find source column 99');
    expect(failure('VALIDATION_FAILED', () => newTableMetadata({ schema: input, location: 'x', spec: { fields: [{ 'source-id': 30, name: 'p', transform: 'identity' }] } }))).toMatch('non-primitive');
    expect(failure('VALIDATION_FAILED', () => newTableMetadata({ schema: input, location: '' }))).toMatch('location');
  });

  it('updatesForCreate(md) rebuilds md from nothing', () => {
    const md = newTableMetadata({
      schema: input,
      spec: { fields: [{ 'source-id': 40, name: 'ts_day', transform: 'day' }] },
      sortOrder: { 'order-id': 1, fields: [{ transform: 'identity', 'source-id': 10, direction: 'desc', 'null-order': 'nulls-last' }] },
      location: 's3://b/t',
      properties: { a: 'b' },
      nowMs: NOW,
    });
    const updates = updatesForCreate(md);
    expect(updates.map((u) => u.action)).toEqual([
      'assign-uuid', 'upgrade-format-version', 'add-schema', 'set-current-schema', 'add-spec', 'set-default-spec',
      'add-sort-order', 'set-default-sort-order', 'set-location', 'set-properties',
    ]);
    expect(applyUpdates(null, updates, { nowMs: NOW })).toEqual(md);
    // The updates survive a JSON round trip through the REST parser.
    const wire = parseJsonLossless(JSON.stringify(updates));
    expect(applyUpdates(null, parseTableUpdates(wire), { nowMs: NOW })).toEqual(md);
  });

  it('a create transaction from the REST flow: stage-create updates applied to null', () => {
    const fresh = applyUpdates(null, [
      { action: 'upgrade-format-version', 'format-version': 1 },
      { action: 'add-schema', schema: schemaWith(v7Fields) },
      { action: 'set-current-schema', 'schema-id': -1 },
      { action: 'add-spec', spec: { fields: [] } },
      { action: 'set-default-spec', 'spec-id': -1 },
      { action: 'add-sort-order', 'sort-order': { 'order-id': 0, fields: [] } },
      { action: 'set-default-sort-order', 'sort-order-id': -1 },
      { action: 'set-location', location: 's3://b/t' },
    ], { nowMs: NOW, metadataLocation: 'ignored-for-create' });
    expect(fresh['format-version']).toBe(1);
    expect(fresh['last-column-id']).toBe(3);
    expect(fresh['metadata-log']).toEqual([]);
    expect(failure('VALIDATION_FAILED', () => applyUpdates(null, [{ action: 'set-location', location: 's3://b/t' }]))).toMatch('Current schema 0 does not exist');
    expect(failure('VALIDATION_FAILED', () => applyUpdates(null, [{ action: 'add-schema', schema: schemaWith(v7Fields) }]))).toMatch('location');
    expect(failure('VALIDATION_FAILED', () => applyUpdates(null, [{ action: 'add-snapshot', snapshot: snapshot(1n, null, 1) }]))).toMatch(
      'Attempting to add a snapshot before a schema is added',
    );
  });
});
