import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { isLakehouseError } from '../../src/core/errors.js';
import { avroType, readAvroFile, readAvroMeta, writeAvroFile, type AvroSchema } from '../../src/iceberg/avro.js';
import {
  inheritManifestMetadata,
  manifestEntryAvroSchema,
  readManifest,
  writeManifest,
  type ManifestSpecInput,
} from '../../src/iceberg/manifest.js';
import {
  readManifestList,
  readManifestListWithMeta,
  UNASSIGNED_SEQUENCE_NUMBER,
  writeManifestList,
} from '../../src/iceberg/manifest-list.js';
import {
  FileContent,
  ManifestContent,
  ManifestEntryStatus,
  type DataFile,
  type ManifestEntry,
  type ManifestFile,
} from '../../src/iceberg/manifest-types.js';
import type { Schema } from '../../src/iceberg/schema.js';
import type { StructType } from '../../src/iceberg/types.js';

const FIXTURES = '/work/shared/fixtures/iceberg-reference';
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function expectCorrupt(fn: () => unknown, file: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeDefined();
  expect(isLakehouseError(err, 'CORRUPT_FILE'), String(err)).toBe(true);
  expect((err as Error).message).toContain(file);
  expect((err as { details: { file?: string } }).details.file).toBe(file);
}

// ------------------------------------------------------------------------------------------------
// (a) Real Spark / PyIceberg files
// ------------------------------------------------------------------------------------------------

interface TableFiles {
  table: string;
  dir: string;
  lists: string[];
  manifests: string[];
}

function fixtureTables(): TableFiles[] {
  if (!existsSync(FIXTURES)) return [];
  return readdirSync(FIXTURES)
    .filter((t) => existsSync(join(FIXTURES, t, 'metadata')))
    .map((table) => {
      const dir = join(FIXTURES, table, 'metadata');
      const avros = readdirSync(dir).filter((f) => f.endsWith('.avro'));
      return {
        table,
        dir,
        lists: avros.filter((f) => f.startsWith('snap-')),
        manifests: avros.filter((f) => !f.startsWith('snap-')),
      };
    });
}

const tables = fixtureTables();

function readTableManifests(t: TableFiles, partitionType?: StructType) {
  return t.manifests.map((f) => ({ name: f, ...readManifest(readFileSync(join(t.dir, f)), { file: f, partitionType }) }));
}

describe('reference tables (Spark / PyIceberg)', () => {
  it('finds the fixture tables', () => {
    expect(tables.length).toBeGreaterThanOrEqual(10);
  });

  for (const t of tables) {
    it(`${t.table}: reads every manifest list and manifest, consistently`, () => {
      expect(t.lists.length).toBeGreaterThan(0);
      expect(t.manifests.length).toBeGreaterThan(0);
      const manifests = new Map(readTableManifests(t).map((m) => [m.name, m]));
      for (const m of manifests.values()) {
        expect(m.meta.formatVersion).toBe(2);
        expect(m.meta.partitionSpecId).toBe(0);
        expect(m.meta.schema?.type).toBe('struct');
        expect(Array.isArray(m.meta.partitionSpec)).toBe(true);
        for (const e of m.entries) {
          expect(typeof e.snapshotId).toBe('bigint');
          expect(e.dataFile.fileFormat).toBe('PARQUET');
          expect(typeof e.dataFile.recordCount).toBe('bigint');
          expect(e.dataFile.partition.length).toBe(m.meta.partitionType.fields.length);
          expect((m.meta.content === ManifestContent.DELETES) === (e.dataFile.content !== FileContent.DATA)).toBe(true);
        }
      }
      for (const listFile of t.lists) {
        const { manifests: list, meta } = readManifestListWithMeta(readFileSync(join(t.dir, listFile)), { file: listFile });
        expect(meta.formatVersion).toBe(2);
        // Snapshot ids are above 2^53: the header and the file name must agree exactly.
        expect(meta.snapshotId).toBe(BigInt(/^snap-(\d+)-/.exec(listFile)![1]));
        expect(typeof meta.sequenceNumber).toBe('bigint');
        expect(list.length).toBeGreaterThan(0);
        for (const mf of list) {
          expect(typeof mf.addedSnapshotId).toBe('bigint');
          expect(mf.sequenceNumber).toBeGreaterThan(0n);
          expect(mf.minSequenceNumber).toBeLessThanOrEqual(mf.sequenceNumber);
          const local = manifests.get(basename(mf.manifestPath));
          expect(local, `${mf.manifestPath} is in the fixture`).toBeDefined();
          expect(local!.meta.content).toBe(mf.content);
          expect(local!.meta.partitionSpecId).toBe(mf.partitionSpecId);
          const count = (s: ManifestEntryStatus) => local!.entries.filter((e) => e.status === s).length;
          expect(count(ManifestEntryStatus.ADDED)).toBe(mf.addedFilesCount);
          expect(count(ManifestEntryStatus.EXISTING)).toBe(mf.existingFilesCount);
          expect(count(ManifestEntryStatus.DELETED)).toBe(mf.deletedFilesCount);
          const rows = local!.entries.filter((e) => e.status === ManifestEntryStatus.ADDED).reduce((a, e) => a + e.dataFile.recordCount, 0n);
          expect(rows).toBe(mf.addedRowsCount);
          expect(mf.partitions?.length ?? 0).toBe(local!.meta.partitionType.fields.length);
        }
      }
    });
  }

  const table = (name: string) => {
    const t = tables.find((x) => x.table === name);
    if (!t) throw new Error(`fixture ${name} missing`);
    return t;
  };

  it('lineitem_iceberg: one DELETED entry; old Java names (added_data_files_count) read by field id', () => {
    const t = table('lineitem_iceberg');
    const entries = readTableManifests(t).flatMap((m) => m.entries);
    expect(entries.filter((e) => e.status === ManifestEntryStatus.DELETED)).toHaveLength(1);
    expect(entries.filter((e) => e.status === ManifestEntryStatus.ADDED)).toHaveLength(2);
    const list = readManifestList(readFileSync(join(t.dir, 'snap-2354745328521181395-1-179b4fb1-0366-4f7d-ad35-99ee8da0abf5.avro')), {
      file: 'snap-2354745328521181395',
    });
    expect(list.map((m) => m.addedFilesCount).sort()).toEqual([0, 1]);
    expect(list.find((m) => m.addedFilesCount === 1)!.addedRowsCount).toBe(51793n);
    expect(list.find((m) => m.deletedFilesCount === 1)!.deletedRowsCount).toBe(60175n);
    const live = entries.find((e) => e.status === ManifestEntryStatus.ADDED && e.dataFile.recordCount === 51793n)!;
    expect(live.dataFile.columnSizes?.size).toBe(16);
    expect(live.dataFile.valueCounts?.get(1)).toBe(51793n);
    expect(live.dataFile.lowerBounds?.get(11)).toBeInstanceOf(Uint8Array);
  });

  it('equality_deletes: delete manifests with content 1 and equality_ids', () => {
    const t = table('equality_deletes');
    const ms = readTableManifests(t);
    const deletes = ms.filter((m) => m.meta.content === ManifestContent.DELETES);
    expect(deletes).toHaveLength(4);
    const files = deletes.flatMap((m) => m.entries.map((e) => e.dataFile));
    for (const f of files) {
      expect(f.content).toBe(FileContent.EQUALITY_DELETES);
      expect(f.equalityIds!.length).toBeGreaterThan(0);
    }
    expect(files.map((f) => JSON.stringify(f.equalityIds)).sort()).toEqual(['[1,2]', '[1]', '[2]', '[2]']);
    for (const m of ms.filter((x) => x.meta.content === ManifestContent.DATA)) {
      for (const e of m.entries) expect(e.dataFile.equalityIds).toBeUndefined();
    }
    const lists = t.lists.map((f) => readManifestList(readFileSync(join(t.dir, f)), { file: f }));
    const deleteListed = lists.flat().filter((m) => m.content === ManifestContent.DELETES);
    expect(deleteListed.length).toBeGreaterThan(0);
    expect(new Set(deleteListed.map((m) => basename(m.manifestPath)))).toEqual(new Set(deletes.map((m) => m.name)));
    // v2 added entries inherit sequence numbers from the manifest list.
    const eqMf = deleteListed.find((m) => basename(m.manifestPath) === '34f7dec7-90c5-4cd5-b158-5782b73fc010-m0.avro')!;
    const eqEntries = deletes.find((m) => m.name === '34f7dec7-90c5-4cd5-b158-5782b73fc010-m0.avro')!.entries;
    expect(eqEntries[0].sequenceNumber).toBeNull();
    const inherited = inheritManifestMetadata(eqEntries, eqMf);
    expect(inherited[0].sequenceNumber).toBe(eqMf.sequenceNumber);
    expect(inherited[0].fileSequenceNumber).toBe(eqMf.sequenceNumber);
    expect(inherited[0].snapshotId).toBe(7342794868382145167n);
  });

  it('partition_bigint: bigint partition values including INT64 min and max', () => {
    const t = table('partition_bigint');
    const pt: StructType = { type: 'struct', fields: [{ id: 1000, name: 'partition_col', required: false, type: 'long' }] };
    for (const given of [undefined, pt]) {
      const [m] = readTableManifests(t, given);
      expect(m.meta.partitionType).toEqual(pt);
      const values = m.entries.map((e) => e.dataFile.partition[0]);
      for (const v of values) expect(typeof v).toBe('bigint');
      expect(new Set(values)).toEqual(new Set([INT64_MIN, INT64_MAX]));
    }
    const [list] = t.lists.map((f) => readManifestList(readFileSync(join(t.dir, f)), { file: f }));
    const s = list[0].partitions![0];
    expect(s.containsNull).toBe(false);
    expect(s.containsNan).toBe(false);
    expect(Buffer.from(s.lowerBound!).readBigInt64LE()).toBe(INT64_MIN);
    expect(Buffer.from(s.upperBound!).readBigInt64LE()).toBe(INT64_MAX);
  });

  it('partition_integer / partition_bool / partition_double: typed partition values', () => {
    const one = (name: string) => readTableManifests(table(name))[0];
    const ints = one('partition_integer');
    expect(ints.meta.partitionType.fields[0].type).toBe('int');
    expect(ints.entries.map((e) => e.dataFile.partition[0]).sort()).toEqual([1337, 42]);
    const bools = one('partition_bool');
    expect(bools.meta.partitionType.fields[0].type).toBe('boolean');
    expect(bools.entries.map((e) => e.dataFile.partition[0]).sort()).toEqual([false, true]);
    const floats = one('partition_double');
    expect(floats.meta.partitionType.fields[0].type).toBe('float');
    const fv = floats.entries.map((e) => e.dataFile.partition[0] as number);
    expect(fv).toContain(Math.fround(3.1415927));
    for (const v of fv) expect(typeof v).toBe('number');
  });

  it('uuid: 16-byte bounds; v2 referenced_data_file field tolerated', () => {
    const [m] = readTableManifests(table('uuid'));
    expect(m.entries).toHaveLength(2);
    for (const e of m.entries) {
      expect(e.dataFile.lowerBounds!.get(1)!.length).toBe(16);
      expect(e.dataFile.upperBounds!.get(1)!.length).toBe(16);
      expect(e.dataFile.referencedDataFile).toBeUndefined();
    }
  });

  it('null_stats (PyIceberg): manifests without count maps, equality_ids typed long', () => {
    const ms = readTableManifests(table('null_stats'));
    expect(ms).toHaveLength(3);
    for (const m of ms) {
      const f = m.entries[0].dataFile;
      expect(f.nullValueCounts).toBeUndefined();
      expect(f.valueCounts).toBeUndefined();
      expect(f.columnSizes).toBeUndefined();
      expect(f.lowerBounds!.size).toBeGreaterThan(0);
      expect(f.sortOrderId).toBe(0);
      expect(f.splitOffsets).toBeUndefined();
    }
  });
});

// ------------------------------------------------------------------------------------------------
// (b) Round trips
// ------------------------------------------------------------------------------------------------

const PARTITION_TYPES: [string, string][] = [
  ['p_int', 'int'],
  ['p_long', 'long'],
  ['p_date', 'date'],
  ['p_time', 'time'],
  ['p_ts', 'timestamp'],
  ['p_tstz', 'timestamptz'],
  ['p_dec9', 'decimal(9, 2)'],
  ['p_dec38', 'decimal(38, 10)'],
  ['p_str', 'string'],
  ['p_uuid', 'uuid'],
  ['p_fixed', 'fixed[4]'],
  ['p_bin', 'binary'],
  ['p_bool', 'boolean'],
  ['p_float', 'float'],
  ['p_double', 'double'],
  ['p_dec9_again', 'decimal(9, 2)'], // a second named Avro fixed of the same type (by-name reference)
  ['p-needs sanitizing', 'int'],
];

const partitionType: StructType = {
  type: 'struct',
  fields: PARTITION_TYPES.map(([name, type], i) => ({ id: 1000 + i, name, required: false, type })),
};

const tableSchema: Schema = {
  type: 'struct',
  'schema-id': 3,
  fields: PARTITION_TYPES.map(([name, type], i) => ({ id: i + 1, name: `c_${name}`, required: false, type })),
};

const spec: ManifestSpecInput = {
  specId: 7,
  fields: PARTITION_TYPES.map(([name], i) => ({ name, transform: 'identity', 'source-id': i + 1, 'field-id': 1000 + i })),
};

const fullTuple = [
  -2147483648,
  INT64_MIN,
  19000,
  45296000000n,
  1700000000123456n,
  -1700000000123456n,
  -12345678n,
  10n ** 38n - 1n,
  'héllo/wörld',
  'f79c3e09-677c-4d53-a9a1-d2e5e2c1c9a0',
  Uint8Array.of(1, 2, 3, 4),
  Uint8Array.of(0, 255, 7),
  true,
  1.5,
  -0.1,
  99999999n,
  7,
];
const secondTuple = [
  2147483647,
  INT64_MAX,
  -1,
  0n,
  0n,
  INT64_MAX,
  -(10n ** 9n - 1n),
  -(10n ** 38n - 1n),
  '',
  '00000000-0000-0000-0000-000000000000',
  Uint8Array.of(0, 0, 0, 0),
  new Uint8Array(0),
  false,
  Math.fround(3.14),
  Number.MAX_VALUE,
  0n,
  -7,
];
const nullTuple = PARTITION_TYPES.map(() => null);

function dataFile(path: string, partition: DataFile['partition'], extra: Partial<DataFile> = {}): DataFile {
  return {
    content: FileContent.DATA,
    filePath: path,
    fileFormat: 'PARQUET',
    partition,
    recordCount: 1234n,
    fileSizeInBytes: 98765n,
    columnSizes: new Map([[1, 100n], [2, 2n ** 40n]]),
    valueCounts: new Map([[1, 1234n], [2, 1234n]]),
    nullValueCounts: new Map([[1, 0n], [2, 17n]]),
    nanValueCounts: new Map([[14, 3n]]),
    lowerBounds: new Map([[1, Uint8Array.of(0, 0, 0, 128)], [9, new TextEncoder().encode('a')]]),
    upperBounds: new Map([[1, Uint8Array.of(255, 255, 255, 127)], [9, new TextEncoder().encode('zz')]]),
    keyMetadata: Uint8Array.of(9, 8, 7),
    splitOffsets: [4n, 1n << 33n],
    sortOrderId: 1,
    ...extra,
  };
}

const SNAP = 7342794868382145167n;

function v2Entries(): ManifestEntry[] {
  return [
    { status: ManifestEntryStatus.ADDED, snapshotId: SNAP, sequenceNumber: null, fileSequenceNumber: null, dataFile: dataFile('s3://b/t/data/a.parquet', fullTuple) },
    { status: ManifestEntryStatus.EXISTING, snapshotId: 123n, sequenceNumber: 5n, fileSequenceNumber: 6n, dataFile: dataFile('s3://b/t/data/b.parquet', secondTuple) },
    {
      status: ManifestEntryStatus.DELETED,
      snapshotId: SNAP,
      sequenceNumber: 2n,
      fileSequenceNumber: 2n,
      dataFile: dataFile('s3://b/t/data/c.parquet', nullTuple, {
        columnSizes: new Map(),
        valueCounts: undefined,
        nullValueCounts: undefined,
        nanValueCounts: undefined,
        lowerBounds: undefined,
        upperBounds: undefined,
        keyMetadata: undefined,
        splitOffsets: undefined,
        sortOrderId: undefined,
      }),
    },
  ];
}

describe('manifest round trip', () => {
  it('v2 data manifest: every primitive partition type, nulls, all metric maps', () => {
    const entries = v2Entries();
    const bytes = writeManifest({ formatVersion: 2, spec, partitionType, schema: tableSchema, content: 'data', entries });
    for (const given of [partitionType, undefined]) {
      const { entries: back, meta } = readManifest(bytes, { file: 'rt-v2.avro', partitionType: given });
      expect(back).toEqual(entries);
      expect(meta.formatVersion).toBe(2);
      expect(meta.content).toBe(ManifestContent.DATA);
      expect(meta.partitionSpecId).toBe(7);
      expect(meta.schemaId).toBe(3);
      expect(meta.schema).toEqual(tableSchema);
      expect(meta.partitionSpec).toEqual(spec.fields);
      if (given === undefined) {
        // Inferred from the Avro schema: same types, sanitized names.
        expect(meta.partitionType.fields.map((f) => [f.id, f.type])).toEqual(partitionType.fields.map((f) => [f.id, f.type]));
        expect(meta.partitionType.fields.at(-1)!.name).toBe('p_x2Dneeds_x20sanitizing');
      }
    }
    // Value types follow values.ts.
    const [first] = readManifest(bytes, { file: 'rt-v2.avro', partitionType }).entries;
    expect(first.dataFile.partition.map((v) => (v instanceof Uint8Array ? 'bytes' : typeof v))).toEqual([
      'number', 'bigint', 'number', 'bigint', 'bigint', 'bigint', 'bigint', 'bigint', 'string', 'string', 'bytes', 'bytes',
      'boolean', 'number', 'number', 'bigint', 'number',
    ]);
  });

  it('v2 delete manifest: equality ids, referenced data file, position deletes', () => {
    const entries: ManifestEntry[] = [
      {
        status: ManifestEntryStatus.ADDED,
        snapshotId: null,
        sequenceNumber: null,
        fileSequenceNumber: null,
        dataFile: dataFile('s3://b/t/data/eq.parquet', fullTuple, { content: FileContent.EQUALITY_DELETES, equalityIds: [1, 2], sortOrderId: 0 }),
      },
      {
        status: ManifestEntryStatus.ADDED,
        snapshotId: null,
        sequenceNumber: null,
        fileSequenceNumber: null,
        dataFile: dataFile('s3://b/t/data/pos.parquet', nullTuple, {
          content: FileContent.POSITION_DELETES,
          referencedDataFile: 's3://b/t/data/a.parquet',
          sortOrderId: undefined,
        }),
      },
    ];
    const bytes = writeManifest({ formatVersion: 2, spec, partitionType, schema: tableSchema, content: ManifestContent.DELETES, entries });
    const { entries: back, meta } = readManifest(bytes, { file: 'rt-del.avro', partitionType });
    expect(back).toEqual(entries);
    expect(meta.content).toBe(ManifestContent.DELETES);
    expect(readAvroMeta(bytes, 'x').get('content')).toBe('deletes');
  });

  it('v1 manifest: snapshot id required, sequence numbers read as 0, block_size_in_bytes written', () => {
    const entries = v2Entries().map((e, i) => ({ ...e, snapshotId: e.snapshotId ?? BigInt(i) }));
    const bytes = writeManifest({ formatVersion: 1, spec, partitionType, schema: tableSchema, content: 'data', entries });
    const { entries: back, meta } = readManifest(bytes, { file: 'rt-v1.avro', partitionType });
    expect(meta.formatVersion).toBe(1);
    expect(back).toEqual(entries.map((e) => ({ ...e, sequenceNumber: 0n, fileSequenceNumber: 0n })));
    const header = readAvroMeta(bytes, 'x');
    expect(header.has('content')).toBe(false);
    expect(header.get('format-version')).toBe('1');
    const avroSchema = JSON.parse(header.get('avro.schema')!);
    const df = avroSchema.fields.find((f: { name: string }) => f.name === 'data_file').type;
    expect(df.fields.map((f: { name: string }) => f.name)).toContain('block_size_in_bytes');
    expect(df.fields.map((f: { name: string }) => f.name)).not.toContain('content');
    expect(avroSchema.fields.find((f: { name: string }) => f.name === 'snapshot_id').type).toBe('long');
    expect(readAvroFile(bytes, 'x').records.map((r) => (r as { data_file: { block_size_in_bytes: bigint } }).data_file.block_size_in_bytes)).toEqual([
      67108864n, 67108864n, 67108864n,
    ]);
    // Without the header, the format version is inferred from the schema shape.
    const noHeader = writeAvroFile({
      schema: manifestEntryAvroSchema(1, partitionType),
      meta: [...header].filter(([k]) => k !== 'format-version' && !k.startsWith('avro.')),
      records: readAvroFile(bytes, 'x').records,
    });
    expect(readManifest(noHeader, { file: 'old-v1.avro', partitionType }).meta.formatVersion).toBe(1);
  });

  it('unpartitioned manifest and empty manifest', () => {
    const empty: StructType = { type: 'struct', fields: [] };
    const e: ManifestEntry = { status: 1, snapshotId: 1n, sequenceNumber: 1n, fileSequenceNumber: 1n, dataFile: dataFile('f.parquet', []) };
    const spec0 = { 'spec-id': 0, fields: [] };
    const bytes = writeManifest({ formatVersion: 2, spec: spec0, partitionType: empty, schema: tableSchema, content: 'data', entries: [e] });
    expect(readManifest(bytes, { file: 'u.avro' }).entries).toEqual([e]);
    const none = writeManifest({ formatVersion: 2, spec: spec0, partitionType: empty, schema: tableSchema, content: 'data', entries: [] });
    expect(readManifest(none, { file: 'n.avro' }).entries).toEqual([]);
  });

  it('rejects invalid entries with VALIDATION_FAILED', () => {
    const bad = (partition: unknown[], extra: Partial<DataFile> = {}) => () =>
      writeManifest({
        formatVersion: 2,
        spec,
        partitionType,
        schema: tableSchema,
        content: 'data',
        entries: [{ status: 1, snapshotId: 1n, sequenceNumber: null, fileSequenceNumber: null, dataFile: dataFile('x', partition as DataFile['partition'], extra) }],
      });
    const withValue = (i: number, v: unknown) => fullTuple.map((x, j) => (j === i ? v : x));
    for (const [i, v] of [[1, 1.5], [6, 10n ** 10n], [9, 'not-a-uuid'], [10, Uint8Array.of(1)], [0, 2 ** 31], [8, 5]] as const) {
      expect(bad(withValue(i, v)), `field ${i}`).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
    expect(bad(fullTuple.slice(1))).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    expect(bad(fullTuple, { content: FileContent.EQUALITY_DELETES })).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });

  it('inheritManifestMetadata follows the spec rules', () => {
    const mf = listEntry('m.avro', 9n);
    const [added, existing, deleted] = inheritManifestMetadata(
      v2Entries().map((e) => ({ ...e, snapshotId: null, sequenceNumber: e.status === 1 ? null : e.sequenceNumber })),
      mf,
    );
    expect([added.snapshotId, added.sequenceNumber, added.fileSequenceNumber]).toEqual([mf.addedSnapshotId, 9n, 9n]);
    expect([existing.snapshotId, existing.sequenceNumber, existing.fileSequenceNumber]).toEqual([mf.addedSnapshotId, 5n, 6n]);
    expect(deleted.sequenceNumber).toBe(2n);
  });
});

function listEntry(path: string, seq: bigint, extra: Partial<ManifestFile> = {}): ManifestFile {
  return {
    manifestPath: path,
    manifestLength: 7104n,
    partitionSpecId: 7,
    content: ManifestContent.DATA,
    sequenceNumber: seq,
    minSequenceNumber: seq - 1n,
    addedSnapshotId: 9136741709133330043n,
    addedFilesCount: 3,
    existingFilesCount: 0,
    deletedFilesCount: 2147483647,
    addedRowsCount: 2n ** 60n,
    existingRowsCount: 0n,
    deletedRowsCount: 5n,
    partitions: [
      { containsNull: true, containsNan: false, lowerBound: Uint8Array.of(1, 0, 0, 0), upperBound: Uint8Array.of(9, 0, 0, 0) },
      { containsNull: false },
      { containsNull: true, containsNan: true },
    ],
    keyMetadata: Uint8Array.of(1, 2),
    ...extra,
  };
}

describe('manifest list round trip', () => {
  it('v2: content, sequence numbers, summaries, big ids; Java header keys', () => {
    const manifests = [
      listEntry('s3://b/t/metadata/a-m0.avro', 12n),
      listEntry('s3://b/t/metadata/b-m0.avro', 3n, { content: ManifestContent.DELETES, partitions: undefined, keyMetadata: undefined }),
      listEntry('s3://b/t/metadata/c-m0.avro', 1n, { partitions: [] }),
    ];
    const bytes = writeManifestList({ formatVersion: 2, snapshotId: SNAP, parentSnapshotId: INT64_MAX, sequenceNumber: 12n, manifests });
    expect(readManifestList(bytes, { file: 'l2.avro' })).toEqual(manifests);
    const { meta } = readManifestListWithMeta(bytes, { file: 'l2.avro' });
    expect(meta).toEqual({ formatVersion: 2, snapshotId: SNAP, parentSnapshotId: INT64_MAX, sequenceNumber: 12n });
    const header = readAvroMeta(bytes, 'l2.avro');
    expect(header.get('snapshot-id')).toBe(String(SNAP));
    expect(header.get('parent-snapshot-id')).toBe(String(INT64_MAX));
    expect(header.get('sequence-number')).toBe('12');
    expect(header.get('format-version')).toBe('2');
  });

  it('v2: unassigned (-1) sequence numbers take the snapshot sequence number', () => {
    const mine = listEntry('new.avro', UNASSIGNED_SEQUENCE_NUMBER, { addedSnapshotId: SNAP, minSequenceNumber: UNASSIGNED_SEQUENCE_NUMBER });
    const bytes = writeManifestList({ formatVersion: 2, snapshotId: SNAP, parentSnapshotId: null, sequenceNumber: 42n, manifests: [mine] });
    const [back] = readManifestList(bytes, { file: 'l.avro' });
    expect([back.sequenceNumber, back.minSequenceNumber]).toEqual([42n, 42n]);
    expect(readAvroMeta(bytes, 'l.avro').get('parent-snapshot-id')).toBe('null');
    expect(readManifestListWithMeta(bytes, { file: 'l.avro' }).meta.parentSnapshotId).toBeNull();
    const foreign = listEntry('old.avro', UNASSIGNED_SEQUENCE_NUMBER);
    expect(() => writeManifestList({ formatVersion: 2, snapshotId: SNAP, parentSnapshotId: null, sequenceNumber: 42n, manifests: [foreign] })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });

  it('v1: no content/sequence numbers (read as DATA and 0); optional counts; no delete manifests', () => {
    const manifests = [listEntry('a.avro', 5n), listEntry('b.avro', 5n, { partitions: undefined })];
    const bytes = writeManifestList({ formatVersion: 1, snapshotId: SNAP, parentSnapshotId: null, sequenceNumber: 5n, manifests });
    const back = readManifestList(bytes, { file: 'l1.avro' });
    expect(back).toEqual(manifests.map((m) => ({ ...m, sequenceNumber: 0n, minSequenceNumber: 0n })));
    const header = readAvroMeta(bytes, 'l1.avro');
    expect(header.has('sequence-number')).toBe(false);
    expect(header.get('format-version')).toBe('1');
    const names = JSON.parse(header.get('avro.schema')!).fields.map((f: { name: string }) => f.name);
    expect(names).not.toContain('content');
    expect(names).not.toContain('sequence_number');
    // Missing counts (allowed in v1) read back as unknown (null).
    const sparse = { ...manifests[0], addedFilesCount: null, addedRowsCount: null } as unknown as ManifestFile;
    const sparseBack = readManifestList(
      writeManifestList({ formatVersion: 1, snapshotId: 1n, parentSnapshotId: null, sequenceNumber: 0n, manifests: [sparse] }),
      { file: 's.avro' },
    )[0];
    expect(sparseBack.addedFilesCount).toBeNull();
    expect(sparseBack.addedRowsCount).toBeNull();
    expect(() =>
      writeManifestList({
        formatVersion: 1,
        snapshotId: 1n,
        parentSnapshotId: null,
        sequenceNumber: 0n,
        manifests: [listEntry('d.avro', 1n, { content: ManifestContent.DELETES })],
      }),
    ).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });
});

// ------------------------------------------------------------------------------------------------
// (c) Field ids in the written Avro schema; independent decoder
// ------------------------------------------------------------------------------------------------

describe('written Avro schema', () => {
  const manifestBytes = writeManifest({ formatVersion: 2, spec, partitionType, schema: tableSchema, content: 'data', entries: v2Entries() });

  it('manifest header has field-id / element-id attributes and the Java header keys', () => {
    const header = readAvroMeta(manifestBytes, 'm.avro');
    expect([...header.keys()].sort()).toEqual(
      ['avro.codec', 'avro.schema', 'content', 'format-version', 'partition-spec', 'partition-spec-id', 'schema', 'schema-id'].sort(),
    );
    expect(header.get('avro.codec')).toBe('deflate');
    expect(header.get('partition-spec-id')).toBe('7');
    const text = header.get('avro.schema')!;
    for (const id of [0, 1, 2, 3, 4, 100, 101, 102, 103, 104, 108, 109, 110, 117, 118, 125, 126, 127, 131, 132, 134, 135, 137, 140, 143, 1000, 1016]) {
      expect(text).toContain(`"field-id":${id}`);
    }
    expect(text).toContain('"element-id":133');
    expect(text).toContain('"element-id":136');
    const s = JSON.parse(text);
    expect(s.name).toBe('manifest_entry');
    const df = s.fields.find((f: { name: string }) => f.name === 'data_file');
    expect(df.type.name).toBe('r2');
    const part = df.type.fields.find((f: { name: string }) => f.name === 'partition');
    expect(part.type.name).toBe('r102');
    // Every field of every record carries a field-id.
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (!node || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if (o.type === 'record') {
        for (const f of o.fields as Record<string, unknown>[]) {
          expect(typeof f['field-id'], `${String(o.name)}.${String(f.name)}`).toBe('number');
          walk(f.type);
        }
      } else if (o.type === 'array') {
        walk(o.items);
      }
    };
    walk(s);
    expect(part.type.fields.find((f: { name: string }) => f.name === 'p_tstz').type[1]).toEqual({
      type: 'long',
      logicalType: 'timestamp-micros',
      'adjust-to-utc': true,
    });
    expect(part.type.fields.find((f: { name: string }) => f.name === 'p_dec38').type[1]).toEqual({
      type: 'fixed',
      name: 'decimal_38_10',
      size: 16,
      logicalType: 'decimal',
      precision: 38,
      scale: 10,
    });
    expect(part.type.fields.find((f: { name: string }) => f.name === 'p_dec9_again').type[1]).toBe('decimal_9_2');
  });

  it('manifest list header has field ids', () => {
    const bytes = writeManifestList({ formatVersion: 2, snapshotId: 1n, parentSnapshotId: null, sequenceNumber: 1n, manifests: [listEntry('a', 1n)] });
    const text = readAvroMeta(bytes, 'l.avro').get('avro.schema')!;
    for (const id of [500, 501, 502, 503, 504, 505, 506, 507, 509, 510, 511, 512, 513, 514, 515, 516, 517, 518, 519]) {
      expect(text).toContain(`"field-id":${id}`);
    }
    expect(text).toContain('"element-id":508');
  });

  it('the container decodes with avsc’s own block decoder', async () => {
    const decoder = new avsc.streams.BlockDecoder({
      parseHook: (schema: avsc.Schema) => avroType(schema as AvroSchema),
    });
    const records: Record<string, unknown>[] = [];
    await new Promise<void>((resolve, reject) => {
      decoder.on('data', (r: Record<string, unknown>) => records.push(r));
      decoder.on('end', resolve);
      decoder.on('error', reject);
      Readable.from([Buffer.from(manifestBytes)]).pipe(decoder);
    });
    expect(records).toHaveLength(3);
    expect((records[0].data_file as Record<string, unknown>).file_path).toBe('s3://b/t/data/a.parquet');
    expect(records[1].sequence_number).toBe(5n);
  });

  it('many entries; null codec works too', () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({ ...v2Entries()[0], dataFile: dataFile(`s3://b/t/data/${i}.parquet`, fullTuple) }));
    for (const codec of ['deflate', 'null'] as const) {
      const bytes = writeManifest({ formatVersion: 2, spec, partitionType, schema: tableSchema, content: 'data', entries: many, codec });
      expect(readManifest(bytes, { file: 'big.avro' }).entries.map((e) => e.dataFile.filePath)).toEqual(many.map((e) => e.dataFile.filePath));
    }
  });
});

describe('Avro container layer', () => {
  const schema = { type: 'record', name: 'r', fields: [{ name: 'id', type: 'long' }, { name: 's', type: ['null', 'string'], default: null }] };

  it('splits blocks, keeps bigint longs exact over the full int64 range', () => {
    const ids = [0n, 1n, -1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, INT64_MIN, INT64_MAX, 1234567890123n];
    const records = Array.from({ length: 400 }, (_, i) => ({ id: ids[i % ids.length], s: i % 3 ? `row ${i}` : null }));
    const sync = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
    for (const codec of ['deflate', 'null'] as const) {
      const bytes = writeAvroFile({ schema, records, codec, syncMarker: sync, blockSize: 256, meta: { k: 'v' } });
      const back = readAvroFile(bytes, 'blocks.avro');
      expect(back.records.map((r) => ({ ...(r as object) }))).toEqual(records);
      expect(back.meta.get('k')).toBe('v');
      expect(back.codec).toBe(codec);
      let syncs = 0;
      for (let i = 0; i + 16 <= bytes.length; i++) if (sync.every((b, j) => bytes[i + j] === b)) syncs++;
      expect(syncs).toBeGreaterThan(3); // header + several blocks
    }
  });

  it('rejects plain numbers for longs (no silent precision loss)', () => {
    expect(() => writeAvroFile({ schema, records: [{ id: 5, s: null }] })).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });

  it('reads snappy blocks (raw snappy + big-endian CRC32)', () => {
    const enc = new TextEncoder();
    const varint = (n: number) => {
      const out: number[] = [];
      let u = n * 2;
      while (u >= 0x80) {
        out.push((u & 0x7f) | 0x80);
        u >>>= 7;
      }
      out.push(u);
      return out;
    };
    const str = (s: string) => [...varint(enc.encode(s).length), ...enc.encode(s)];
    const sync = Array.from({ length: 16 }, (_, i) => i + 1);
    const schemaText = JSON.stringify({ type: 'record', name: 'r', fields: [{ name: 's', type: 'string' }] });
    const plain = Uint8Array.from(str('abcabcabc')); // 0x12 'abcabcabc'
    // literal(4): 0x12 a b c, then copy-1-byte-offset(len 6, offset 3)
    const snappy = [plain.length, 3 << 2, ...plain.subarray(0, 4), 1 | ((6 - 4) << 2), 3];
    const crc = zlib.crc32(plain);
    const block = [...snappy, (crc >>> 24) & 0xff, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff];
    const file = Uint8Array.from([
      0x4f, 0x62, 0x6a, 0x01, ...varint(2), ...str('avro.schema'), ...str(schemaText), ...str('avro.codec'), ...str('snappy'), 0, ...sync,
      ...varint(1), ...varint(block.length), ...block, ...sync,
    ]);
    expect(readAvroFile(file, 'snappy.avro').records.map((r) => ({ ...(r as object) }))).toEqual([{ s: 'abcabcabc' }]);
    const badCrc = new Uint8Array(file);
    badCrc[badCrc.length - 17] ^= 1;
    expectCorrupt(() => readAvroFile(badCrc, 'snappy-bad.avro'), 'snappy-bad.avro');
  });
});

// ------------------------------------------------------------------------------------------------
// (d) Corrupt input
// ------------------------------------------------------------------------------------------------

describe('corrupt input raises CORRUPT_FILE naming the file', () => {
  const good = writeManifest({ formatVersion: 2, spec, partitionType, schema: tableSchema, content: 'data', entries: v2Entries() });
  const goodList = writeManifestList({ formatVersion: 2, snapshotId: 1n, parentSnapshotId: null, sequenceNumber: 1n, manifests: [listEntry('a', 1n)] });
  const fixture = tables.length ? readFileSync(join(tables[0].dir, tables[0].manifests[0])) : good;

  it('truncated files', () => {
    for (const src of [good, fixture]) {
      for (const len of [0, 3, 10, 200, src.length - 200, src.length - 17, src.length - 1]) {
        expectCorrupt(() => readManifest(src.subarray(0, len), { file: 'trunc-m0.avro' }), 'trunc-m0.avro');
      }
    }
    for (const len of [2, 50, goodList.length - 5]) {
      expectCorrupt(() => readManifestList(goodList.subarray(0, len), { file: 'snap-trunc.avro' }), 'snap-trunc.avro');
    }
  });

  it('random bytes', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 20; i++) {
      const junk = Uint8Array.from({ length: 64 + i * 97 }, rand);
      expectCorrupt(() => readManifest(junk, { file: 'junk.avro' }), 'junk.avro');
      // Random data behind a valid magic.
      junk.set([0x4f, 0x62, 0x6a, 0x01]);
      expectCorrupt(() => readManifestList(junk, { file: 'junk-list.avro' }), 'junk-list.avro');
    }
  });

  it('wrong magic', () => {
    const bad = new Uint8Array(good);
    bad[3] = 0x02;
    expectCorrupt(() => readManifest(bad, { file: 'magic.avro' }), 'magic.avro');
    const parquet = new TextEncoder().encode('PAR1 this is not avro PAR1');
    expectCorrupt(() => readManifestList(parquet, { file: 'x.parquet' }), 'x.parquet');
  });

  it('damaged block (sync marker, compressed payload)', () => {
    const badSync = new Uint8Array(good);
    badSync[badSync.length - 1] ^= 0xff;
    expectCorrupt(() => readManifest(badSync, { file: 'sync.avro' }), 'sync.avro');
    const badData = new Uint8Array(good);
    for (let i = good.length - 60; i < good.length - 30; i++) badData[i] ^= 0x5a;
    expectCorrupt(() => readManifest(badData, { file: 'data.avro' }), 'data.avro');
  });

  it('a valid Avro file that is not a manifest', () => {
    const other = writeAvroFile({ schema: { type: 'record', name: 'x', fields: [{ name: 'a', type: 'int' }] }, records: [{ a: 1 }] });
    expectCorrupt(() => readManifest(other, { file: 'other.avro' }), 'other.avro');
    expectCorrupt(() => readManifestList(other, { file: 'other-list.avro' }), 'other-list.avro');
  });
});
