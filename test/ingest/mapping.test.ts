import { describe, expect, it } from 'vitest';
import type { Schema } from '../../src/iceberg/schema.js';
import { RecordError, RecordMapper, withEnrichmentColumns } from '../../src/ingest/mapping.js';
import { decodeOffsets, encodeOffsets, mergeOffsets, recordedOffsets } from '../../src/ingest/offsets.js';
import type { TableMetadata } from '../../src/iceberg/metadata.js';

const schema: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'id', required: true, type: 'long' },
    { id: 2, name: 'n', required: false, type: 'int' },
    { id: 3, name: 'amount', required: false, type: 'decimal(6, 2)' },
    { id: 4, name: 'ts', required: false, type: 'timestamptz' },
    { id: 5, name: 'ok', required: false, type: 'boolean' },
    { id: 6, name: 'tag', required: false, type: 'string' },
    { id: 7, name: 'd', required: false, type: 'date' },
  ],
};

function err(m: RecordMapper, rec: unknown): string {
  try {
    m.map(rec);
  } catch (e) {
    expect(e).toBeInstanceOf(RecordError);
    return (e as Error).message;
  }
  throw new Error('expected a RecordError');
}

describe('record mapping', () => {
  it('maps by name, renames, casts, defaults and checks rules', () => {
    const m = new RecordMapper(schema, {
      columns: { id: 'user.id', n: { cast: true, min: 0, max: 10 }, tag: { enum: ['a', 'b'], default: 'a' }, ok: { cast: true } },
    });
    expect(m.columns).toEqual(['id', 'n', 'amount', 'ts', 'ok', 'tag', 'd']);
    expect(m.map({ user: { id: 7 }, n: '3', amount: 12.5, ts: '2024-01-01T00:00:00.123456Z', ok: 'true', d: '2024-02-29', other: 1 }))
      .toEqual([7, 3, '12.5', '2024-01-01T00:00:00.123456Z', true, 'a', '2024-02-29']);
    expect(err(m, { n: 1 })).toBe('column id: required value is missing');
    expect(err(m, { user: { id: 1 }, n: 11 })).toMatch(/above the maximum 10/);
    expect(err(m, { user: { id: 1 }, tag: 'c' })).toMatch(/not one of/);
    expect(err(m, { user: { id: 1.5 } })).toMatch(/is not an integer/);
    expect(err(m, { user: { id: 1 }, amount: '12345.5' })).toMatch(/too many digits/);
    expect(err(m, { user: { id: 1 }, amount: '1.234' })).toMatch(/scale > 2/);
    expect(err(m, { user: { id: 1 }, ts: 'noon' })).toMatch(/ISO-8601/);
    expect(err(m, { user: { id: 1 }, d: '2023-02-29' })).toMatch(/valid date/);
    expect(err(m, [1])).toBe('record is not a JSON object');
    expect(m.map({ user: { id: '9007199254740993' } })[0]).toBe('9007199254740993');
  });

  it('rejects unknown fields when asked, except dropped ones; adds enrichment columns', () => {
    const m = new RecordMapper(schema, { unknownFields: 'reject', drop: ['debug'] });
    expect(m.map({ id: 1, debug: true })[0]).toBe(1);
    expect(err(m, { id: 1, extra: 2 })).toBe('unknown field extra');
    const s = withEnrichmentColumns(schema, ['topic', 'offset', 'ingested_at']);
    expect(s.fields.slice(-3).map((f) => [f.id, f.name, f.type])).toEqual([[8, '_kafka_topic', 'string'], [9, '_kafka_offset', 'long'], [10, '_ingested_at', 'timestamptz']]);
    expect(() => new RecordMapper(schema, { columns: { nope: 'x' } })).toThrow(/nope/);
  });
});

describe('offsets in snapshot summaries', () => {
  it('encodes, merges and finds the nearest recorded map in main ancestry', () => {
    expect(encodeOffsets(new Map([[1, 5n], [0, 7n]]))).toBe('{"0":7,"1":5}');
    expect(decodeOffsets('{"0":7,"1":"5"}')).toEqual(new Map([[0, 7n], [1, 5n]]));
    const a = new Map([['t', new Map([[0, 10n], [1, 3n]])]]);
    expect(mergeOffsets(a, new Map([['t', new Map([[1, 2n]])]]), true).get('t')).toEqual(new Map([[0, 10n], [1, 3n]]));
    expect(mergeOffsets(a, new Map([['t', new Map([[1, 2n]])]])).get('t')).toEqual(new Map([[0, 10n], [1, 2n]]));
    const snap = (id: bigint, parent: bigint | null, summary: Record<string, string>) => ({ 'snapshot-id': id, 'parent-snapshot-id': parent, summary: { operation: 'append', ...summary } });
    const md = {
      refs: { main: { 'snapshot-id': 3n, type: 'branch' } },
      snapshots: [
        snap(1n, null, { 'kafka.offsets.t': '{"0":1}', 'kafka.offsets.u': '{"0":9}' }),
        snap(2n, 1n, { 'kafka.offsets.t': '{"0":5,"1":2}' }),
        snap(3n, 2n, {}),
        snap(4n, 2n, { 'kafka.offsets.t': '{"0":99}' }), // not an ancestor of main
      ],
    } as unknown as TableMetadata;
    const got = recordedOffsets(md, ['t', 'u', 'v']);
    expect(got.get('t')).toEqual(new Map([[0, 5n], [1, 2n]]));
    expect(got.get('u')).toEqual(new Map([[0, 9n]]));
    expect(got.has('v')).toBe(false);
    expect(recordedOffsets(md, ['t'], 1n).get('t')).toEqual(new Map([[0, 1n]]));
  });
});
