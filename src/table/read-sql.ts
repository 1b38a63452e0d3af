import { FileContent } from '../iceberg/manifest-types.js';
import { fromJsonValue } from '../iceberg/conversions.js';
import type { TableMetadata } from '../iceberg/metadata.js';
import { parseNameMapping, nameMappingFromSchema, type NameMapping } from '../iceberg/name-mapping.js';
import { NAME_MAPPING_PROPERTY } from '../iceberg/metadata.js';
import { indexById, type Schema } from '../iceberg/schema.js';
import { isPrimitive, type IcebergType, type NestedField } from '../iceberg/types.js';
import type { FileIO } from '../storage/fileio.js';
import { ident, str, type Duck } from '../duck/db.js';
import { readParquetSchemas, type ParquetFileSchema } from '../duck/parquet-schema.js';
import { projectFile } from '../duck/projection.js';
import { duckType, sqlLiteral } from '../duck/types.js';
import type { DataTask, LiveFile } from './scan-planner.js';
import { lakehouseError } from '../core/errors.js';
import { FileKeys, encryptedFileSchema } from '../security/encryption/parquet-encryption.js';

/**
 * Turns a scan plan into one DuckDB query whose columns are the schema's fields by name: files
 * are projected by field id (duck/projection.ts), delete files are applied as anti-joins, and
 * files that project identically share one read_parquet() call.
 */
export interface ReadSqlOptions {
  duck: Duck;
  io: FileIO;
  metadata: TableMetadata;
  /** Schema to read with (current schema, or a snapshot's schema for time travel). */
  schema: Schema;
  tasks: DataTask[];
}

const col = (id: number) => ident(`_f${id}`);

export async function buildReadSql(opts: ReadSqlOptions): Promise<string> {
  const { duck, io, metadata, schema, tasks } = opts;
  const fields = schema.fields;
  if (tasks.length === 0) {
    return `SELECT ${fields.map((f) => `CAST(NULL AS ${duckType(f.type)}) AS ${ident(f.name)}`).join(', ') || '1 AS "_empty"'} WHERE FALSE`;
  }

  const deleteFiles = new Map<string, LiveFile>();
  for (const t of tasks) for (const d of t.deletes) deleteFiles.set(d.file.filePath, d);
  const allFiles = [...tasks, ...deleteFiles.values()];
  const local = new Map<string, string>();
  await Promise.all(allFiles.map(async (f) => local.set(f.location, await io.localPath(f.location))));
  // Encrypted files (key_metadata set): their keys are registered, their footers cannot be read
  // without them, so their schema comes from the table (security/encryption/parquet-encryption.ts).
  const keys = await FileKeys.register(duck, allFiles);
  const plain = keys.any ? allFiles.filter((f) => !keys.has(f.location)).map((f) => local.get(f.location)!) : [...local.values()];
  const parquet = await readParquetSchemas(duck, [...new Set(plain)]);
  const schemaOf = (f: LiveFile): ParquetFileSchema => {
    const s = keys.has(f.location) ? encryptedFileSchema(metadata, keys.schemaIdOf(f.location), f.location) : parquet.get(local.get(f.location)!);
    if (!s) throw lakehouseError('CORRUPT_FILE', 'no Parquet schema read', { file: f.location });
    return s;
  };

  const nameMapping = readNameMapping(metadata, schema);
  const defaults = initialDefaults(schema);
  const specs = new Map(metadata['partition-specs'].map((s) => [s['spec-id'], s]));
  const byId = indexById(schema);

  // Equality-delete fields dropped from the read schema must still be projected to compare.
  const extra = new Map<number, NestedField>();
  for (const d of deleteFiles.values()) {
    for (const id of d.file.equalityIds ?? []) {
      if (!fields.some((f) => f.id === id)) {
        const f = findAnyField(metadata, id);
        if (f) extra.set(id, f);
      }
    }
  }
  const innerFields = [...fields, ...extra.values()];

  // Files that project alike and share a footer key (none for plain files) share one read_parquet.
  const groups = new Map<string, { select: string; location: string; paths: string[] }>();
  const parts: string[] = [];
  for (const task of tasks) {
    const constants = new Map<number, string>();
    const spec = specs.get(task.specId);
    spec?.fields.forEach((pf, i) => {
      const target = byId.get(pf['source-id']);
      if (pf.transform === 'identity' && target && target.parentId === null) {
        constants.set(pf['source-id'], sqlLiteral(target.field.type, task.file.partition[i] ?? null));
      }
    });
    const proj = projectFile(innerFields, schemaOf(task).root, 'src', { constants, defaults, nameMapping });
    const select = proj.map((p) => `${p.sql} AS ${col(p.field.id)}`).join(', ');
    const path = local.get(task.location)!;
    if (task.deletes.length === 0) {
      const group = `${keys.keyOf(task.location)}\u0000${select}`;
      const g = groups.get(group);
      if (g) g.paths.push(path);
      else groups.set(group, { select, location: task.location, paths: [path] });
      continue;
    }
    const pos = task.deletes.filter((d) => d.file.content === FileContent.POSITION_DELETES);
    const eq = task.deletes.filter((d) => d.file.content === FileContent.EQUALITY_DELETES);
    const conds: string[] = [];
    if (pos.length > 0) {
      const files = keys.readAll(pos.map((d) => ({ location: d.location, local: local.get(d.location)! })));
      conds.push(`NOT EXISTS (SELECT 1 FROM ${files} p WHERE p.file_path = ${str(task.file.filePath)} AND p.pos = d._pos)`);
    }
    for (const e of eq) {
      const ids = e.file.equalityIds ?? [];
      const eqFields = ids.map((id) => innerFields.find((f) => f.id === id)).filter((f): f is NestedField => !!f);
      if (eqFields.length === 0) continue;
      const eproj = projectFile(eqFields, schemaOf(e).root, 'src', { nameMapping });
      const inner = `SELECT ${eproj.map((p) => `${p.sql} AS ${col(p.field.id)}`).join(', ')} FROM read_parquet(${str(local.get(e.location)!)}${keys.option(e.location)}) src`;
      conds.push(`NOT EXISTS (SELECT 1 FROM (${inner}) e WHERE ${eqFields.map((f) => `e.${col(f.id)} IS NOT DISTINCT FROM d.${col(f.id)}`).join(' AND ')})`);
    }
    parts.push(
      `SELECT * EXCLUDE (_pos) FROM (SELECT ${select}, src.file_row_number AS _pos FROM read_parquet(${str(path)}, file_row_number = true${keys.option(task.location)}) src) d` +
        (conds.length ? ` WHERE ${conds.join(' AND ')}` : ''),
    );
  }
  for (const { select, location, paths } of groups.values()) {
    parts.push(`SELECT ${select} FROM read_parquet([${paths.map(str).join(', ')}]${keys.option(location)}) src`);
  }
  const outer = fields.map((f) => `${col(f.id)} AS ${ident(f.name)}`).join(', ');
  return `SELECT ${outer} FROM (${parts.join('\nUNION ALL\n')})`;
}

export function readNameMapping(md: TableMetadata, schema: Schema): NameMapping {
  const json = md.properties[NAME_MAPPING_PROPERTY];
  if (json) {
    try {
      return parseNameMapping(json);
    } catch (e) {
      throw lakehouseError('INVALID_METADATA', `invalid ${NAME_MAPPING_PROPERTY}: ${(e as Error).message}`);
    }
  }
  // Without a mapping, files lacking ids match the schema's current names (as PyIceberg does).
  return nameMappingFromSchema(schema);
}

export function initialDefaults(schema: Schema): Map<number, string> {
  const out = new Map<number, string>();
  for (const { field } of indexById(schema).values()) {
    if (field['initial-default'] !== undefined && field['initial-default'] !== null && isPrimitive(field.type)) {
      out.set(field.id, sqlLiteral(field.type, fromJsonValue(field.type as IcebergType, field['initial-default']) as never));
    }
  }
  return out;
}

export function findAnyField(md: TableMetadata, id: number): NestedField | undefined {
  for (let i = md.schemas.length - 1; i >= 0; i--) {
    const f = indexById(md.schemas[i]).get(id);
    if (f) return f.field;
  }
  return undefined;
}
