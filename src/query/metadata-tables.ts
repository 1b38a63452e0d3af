import { stringifyJson } from '../core/json.js';
import { fromBinary, toJsonValue } from '../iceberg/conversions.js';
import type { DataFile } from '../iceberg/manifest-types.js';
import { specById, type TableMetadata } from '../iceberg/metadata.js';
import { partitionType } from '../iceberg/partition.js';
import { indexById } from '../iceberg/schema.js';
import type { Snapshot } from '../iceberg/snapshot.js';
import { isPrimitive, type StructType } from '../iceberg/types.js';
import { str, ident } from '../duck/db.js';
import { listManifests, readLiveFiles } from '../table/scan-planner.js';
import type { TableSource } from '../table/scan-query.js';
import { currentSchema } from '../iceberg/metadata.js';

/**
 * Trino-style metadata tables (`"t$snapshots"`, `$history`, `$refs`, `$manifests`, `$files`,
 * `$partitions`), materialised as SQL VALUES from the table metadata and manifests.
 */
export const METADATA_TABLES = ['snapshots', 'history', 'refs', 'manifests', 'files', 'partitions'];

type Col = [name: string, type: string];

function lit(v: unknown, type: string): string {
  if (v === null || v === undefined) return `CAST(NULL AS ${type})`;
  if (type === 'TIMESTAMPTZ') return `CAST(make_timestamp(CAST(${Number(v)} AS BIGINT) * 1000) AS TIMESTAMPTZ)`;
  if (type === 'BOOLEAN') return v ? 'TRUE' : 'FALSE';
  if (type.startsWith('MAP(')) {
    const entries = v as [unknown, unknown][];
    const [kt, vt] = type.slice(4, -1).split(', ');
    return entries.length === 0
      ? `CAST(MAP {} AS ${type})`
      : `MAP {${entries.map(([k, x]) => `${lit(k, kt)}: ${lit(x, vt)}`).join(', ')}}`;
  }
  return `CAST(${str(String(v))} AS ${type})`;
}

function valuesSql(cols: Col[], rows: unknown[][]): string {
  if (rows.length === 0) return `SELECT ${cols.map(([n, t]) => `CAST(NULL AS ${t}) AS ${ident(n)}`).join(', ')} WHERE FALSE`;
  const body = rows.map((r) => `(${r.map((v, i) => lit(v, cols[i][1])).join(', ')})`).join(',\n');
  return `SELECT * FROM (VALUES ${body}) AS v(${cols.map(([n]) => ident(n)).join(', ')})`;
}

function ancestors(md: TableMetadata, from: bigint | null): Set<bigint> {
  const out = new Set<bigint>();
  let cur = from;
  while (cur !== null && cur !== undefined) {
    out.add(cur);
    const s = md.snapshots.find((x) => x['snapshot-id'] === cur);
    cur = s?.['parent-snapshot-id'] ?? null;
  }
  return out;
}

function partitionJson(file: DataFile, ptype: StructType): string {
  const o: Record<string, unknown> = {};
  ptype.fields.forEach((f, i) => {
    o[f.name] = file.partition[i] === null || file.partition[i] === undefined ? null : toJsonValue(f.type, file.partition[i] as never);
  });
  return stringifyJson(o);
}

export async function metadataTableSql(kind: string, table: TableSource, snapshot: Snapshot | null): Promise<string> {
  const md = table.metadata;
  switch (kind) {
    case 'snapshots':
      return valuesSql(
        [['committed_at', 'TIMESTAMPTZ'], ['snapshot_id', 'BIGINT'], ['parent_id', 'BIGINT'], ['operation', 'VARCHAR'], ['manifest_list', 'VARCHAR'], ['summary', 'MAP(VARCHAR, VARCHAR)']],
        md.snapshots.map((s) => [
          s['timestamp-ms'], s['snapshot-id'], s['parent-snapshot-id'] ?? null, s.summary.operation, s['manifest-list'] ?? null,
          Object.entries(s.summary).filter(([k]) => k !== 'operation'),
        ]),
      );
    case 'history': {
      const current = ancestors(md, md['current-snapshot-id']);
      return valuesSql(
        [['made_current_at', 'TIMESTAMPTZ'], ['snapshot_id', 'BIGINT'], ['parent_id', 'BIGINT'], ['is_current_ancestor', 'BOOLEAN']],
        md['snapshot-log'].map((e) => {
          const s = md.snapshots.find((x) => x['snapshot-id'] === e['snapshot-id']);
          return [e['timestamp-ms'], e['snapshot-id'], s?.['parent-snapshot-id'] ?? null, current.has(e['snapshot-id'])];
        }),
      );
    }
    case 'refs':
      return valuesSql(
        [['name', 'VARCHAR'], ['type', 'VARCHAR'], ['snapshot_id', 'BIGINT'], ['max_reference_age_in_ms', 'BIGINT'], ['min_snapshots_to_keep', 'INTEGER'], ['max_snapshot_age_in_ms', 'BIGINT']],
        Object.entries(md.refs).map(([name, r]) => [name, r.type.toUpperCase(), r['snapshot-id'], r['max-ref-age-ms'] ?? null, r['min-snapshots-to-keep'] ?? null, r['max-snapshot-age-ms'] ?? null]),
      );
    case 'manifests': {
      const manifests = snapshot ? await listManifests(md, snapshot, table.io, table.resolve) : [];
      // As Trino and PyIceberg: the file counts of a manifest go to the data or the delete columns
      // by its content, the other pair is 0.
      return valuesSql(
        [['content', 'INTEGER'], ['path', 'VARCHAR'], ['length', 'BIGINT'], ['partition_spec_id', 'INTEGER'], ['added_snapshot_id', 'BIGINT'],
          ['added_data_files_count', 'INTEGER'], ['existing_data_files_count', 'INTEGER'], ['deleted_data_files_count', 'INTEGER'],
          ['added_delete_files_count', 'INTEGER'], ['existing_delete_files_count', 'INTEGER'], ['deleted_delete_files_count', 'INTEGER'],
          ['added_rows_count', 'BIGINT'], ['existing_rows_count', 'BIGINT'], ['deleted_rows_count', 'BIGINT']],
        manifests.map((m) => {
          const counts = [m.addedFilesCount, m.existingFilesCount, m.deletedFilesCount];
          const zero = [0, 0, 0];
          return [m.content, m.manifestPath, m.manifestLength, m.partitionSpecId, m.addedSnapshotId,
            ...(m.content === 0 ? counts : zero), ...(m.content === 0 ? zero : counts), m.addedRowsCount, m.existingRowsCount, m.deletedRowsCount];
        }),
      );
    }
    case 'files':
    case 'partitions': {
      const manifests = snapshot ? await listManifests(md, snapshot, table.io, table.resolve) : [];
      const { files } = snapshot ? await readLiveFiles(md, manifests, { io: table.io, resolve: table.resolve }) : { files: [] };
      const schema = currentSchema(md);
      const byId = indexById(schema);
      const ptypes = new Map<number, StructType>();
      const ptypeOf = (specId: number) => {
        if (!ptypes.has(specId)) ptypes.set(specId, partitionType(specById(md, specId), schema));
        return ptypes.get(specId)!;
      };
      if (kind === 'files') {
        const bound = (m: Map<number, Uint8Array> | undefined) =>
          [...(m ?? new Map<number, Uint8Array>())].map(([id, b]) => {
            const f = byId.get(id)?.field;
            let text: string;
            try {
              text = f && isPrimitive(f.type) ? String(toJsonValue(f.type, fromBinary(f.type, b) as never)) : Buffer.from(b).toString('hex');
            } catch {
              text = Buffer.from(b).toString('hex');
            }
            return [id, text] as [number, string];
          });
        const counts = (m: Map<number, bigint> | undefined) => [...(m ?? new Map<number, bigint>())];
        return valuesSql(
          [['content', 'INTEGER'], ['file_path', 'VARCHAR'], ['file_format', 'VARCHAR'], ['spec_id', 'INTEGER'], ['partition', 'VARCHAR'],
            ['record_count', 'BIGINT'], ['file_size_in_bytes', 'BIGINT'], ['data_sequence_number', 'BIGINT'],
            ['column_sizes', 'MAP(INTEGER, BIGINT)'], ['value_counts', 'MAP(INTEGER, BIGINT)'], ['null_value_counts', 'MAP(INTEGER, BIGINT)'],
            ['lower_bounds', 'MAP(INTEGER, VARCHAR)'], ['upper_bounds', 'MAP(INTEGER, VARCHAR)'], ['equality_ids', 'VARCHAR']],
          files.map((f) => [f.file.content, f.file.filePath, f.file.fileFormat, f.specId, partitionJson(f.file, ptypeOf(f.specId)),
            f.file.recordCount, f.file.fileSizeInBytes, f.dataSequenceNumber, counts(f.file.columnSizes), counts(f.file.valueCounts),
            counts(f.file.nullValueCounts), bound(f.file.lowerBounds), bound(f.file.upperBounds),
            f.file.equalityIds ? JSON.stringify(f.file.equalityIds) : null]),
        );
      }
      const groups = new Map<string, { partition: string; specId: number; records: bigint; files: number; size: bigint }>();
      for (const f of files) {
        if (f.file.content !== 0) continue;
        const p = partitionJson(f.file, ptypeOf(f.specId));
        const key = `${f.specId}|${p}`;
        const g = groups.get(key) ?? { partition: p, specId: f.specId, records: 0n, files: 0, size: 0n };
        g.records += f.file.recordCount;
        g.files += 1;
        g.size += f.file.fileSizeInBytes;
        groups.set(key, g);
      }
      return valuesSql(
        [['partition', 'VARCHAR'], ['spec_id', 'INTEGER'], ['record_count', 'BIGINT'], ['file_count', 'INTEGER'], ['total_size', 'BIGINT']],
        [...groups.values()].map((g) => [g.partition, g.specId, g.records, g.files, g.size]),
      );
    }
    default:
      return valuesSql([['none', 'INTEGER']], []);
  }
}

