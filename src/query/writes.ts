import { tmpdir } from 'node:os';
import { BIGINT } from '@duckdb/node-api';
import { lakehouseError } from '../core/errors.js';
import type { LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { ident as q, type Duck } from '../duck/db.js';
import { icebergTypeOf } from '../duck/iceberg-type-of.js';
import { duckType as duckTypeOfField } from '../duck/types.js';
import { currentSchema, currentSnapshot } from '../iceberg/metadata.js';
import { buildPartitionSpec } from '../iceberg/partition.js';
import type { Schema } from '../iceberg/schema.js';
import { newTableMetadata } from '../iceberg/updates.js';
import { deleteWhere, overwriteWhere, replaceAll } from '../table/row-delta.js';
import { appendSql } from '../table/table-ops.js';
import { enableEncryptedWrites, isEncryptedTable } from '../security/encryption/parquet-encryption.js';
import { lockDown, newStats, touchedColumns, type QueryEngine, type QueryOptions, type QueryResult } from './engine.js';
import type { AstNode } from './sql-ast.js';
import { authorizerFor } from '../security/index.js';
import type { Check } from '../security/rules.js';

/**
 * Write statements, each one Iceberg commit: INSERT INTO … VALUES/SELECT, CREATE TABLE … [WITH
 * (partitioning = ARRAY[…], …)] AS SELECT (Trino's syntax), DELETE FROM … [WHERE …], and
 * UPDATE … SET … [WHERE …] (the matching rows are deleted and re-written, one `overwrite`), and
 * MERGE INTO … USING … ON … WHEN … (DuckDB's MERGE on a copy, committed as one overwrite). The
 * SELECT parts are analysed like queries (catalog tables only, no table functions) and run in a
 * DuckDB locked to the referenced files and the target table's folder.
 */
export type WriteStatement =
  | { kind: 'insert'; table: QName; columns: string[] | null; source: string }
  | { kind: 'ctas'; table: QName; ifNotExists: boolean; properties: string | null; source: string }
  | { kind: 'delete'; table: QName; where: string | null }
  | { kind: 'update'; table: QName; assignments: [string, string][]; where: string | null }
  | { kind: 'merge'; table: QName; alias: string; source: string; rest: string };

export interface QName {
  schema: string;
  table: string;
}

const NAME = String.raw`((?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)){0,2})`;

function splitName(text: string): QName {
  const parts: string[] = [];
  const re = /"((?:[^"]|"")+)"|([A-Za-z_][\w$]*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) parts.push(m[1] !== undefined ? m[1].replaceAll('""', '"') : m[2]);
  const table = parts.pop()!;
  // catalog.namespace.table: the catalog part is checked by the engine's binding rules.
  return { schema: parts.length ? parts[parts.length - 1] : '', table };
}

/** Index of a top-level keyword (outside quotes and parentheses), or -1. */
function topLevelIndex(text: string, keyword: RegExp): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      i = end < 0 ? text.length : end;
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && (i === 0 || /\s/.test(text[i - 1]))) {
      const m = keyword.exec(text.slice(i));
      if (m && m.index === 0) return i;
    }
  }
  return -1;
}

function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      i = end < 0 ? text.length : end;
      continue;
    }
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (depth === 0 && c === sep) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter(Boolean);
}

export function parseWrite(sql: string): WriteStatement | null {
  const text = sql.trim().replace(/;\s*$/, '');
  let m = new RegExp(String.raw`^INSERT\s+INTO\s+${NAME}\s*(\(([^)]*)\))?\s*([\s\S]*)$`, 'i').exec(text);
  if (m) {
    return { kind: 'insert', table: splitName(m[1]), columns: m[3] ? splitTopLevel(m[3], ',').map((c) => splitName(c).table) : null, source: m[4] };
  }
  m = new RegExp(String.raw`^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?${NAME}\s*([\s\S]*)$`, 'i').exec(text);
  if (m) {
    let rest = m[3].trim();
    let properties: string | null = null;
    if (/^WITH\s*\(/i.test(rest)) {
      const open = rest.indexOf('(');
      let depth = 0;
      let close = -1;
      for (let i = open; i < rest.length; i++) {
        if (rest[i] === '(') depth++;
        else if (rest[i] === ')' && --depth === 0) {
          close = i;
          break;
        }
      }
      if (close < 0) throw lakehouseError('BAD_REQUEST', 'unbalanced WITH (…) in CREATE TABLE');
      properties = rest.slice(open + 1, close);
      rest = rest.slice(close + 1).trim();
    }
    const as = /^AS\s+([\s\S]+)$/i.exec(rest);
    if (!as) throw lakehouseError('UNSUPPORTED_OPERATION', 'CREATE TABLE needs AS SELECT …: columns and types come from the query');
    return { kind: 'ctas', table: splitName(m[2]), ifNotExists: Boolean(m[1]), properties, source: as[1] };
  }
  m = new RegExp(String.raw`^DELETE\s+FROM\s+${NAME}\s*([\s\S]*)$`, 'i').exec(text);
  if (m) {
    const rest = m[2].trim();
    if (rest && !/^WHERE\s/i.test(rest)) throw lakehouseError('BAD_REQUEST', 'DELETE FROM <table> [WHERE <condition>]');
    return { kind: 'delete', table: splitName(m[1]), where: rest ? rest.replace(/^WHERE\s+/i, '') : null };
  }
  m = new RegExp(String.raw`^UPDATE\s+${NAME}\s+SET\s+([\s\S]*)$`, 'i').exec(text);
  if (m) {
    const rest = m[2];
    const w = topLevelIndex(rest, /^WHERE\s/i);
    const setPart = w >= 0 ? rest.slice(0, w) : rest;
    const assignments = splitTopLevel(setPart, ',').map((a) => {
      const eq = a.indexOf('=');
      if (eq < 0) throw lakehouseError('BAD_REQUEST', `invalid assignment in UPDATE: ${a}`);
      return [splitName(a.slice(0, eq)).table, a.slice(eq + 1).trim()] as [string, string];
    });
    return { kind: 'update', table: splitName(m[1]), assignments, where: w >= 0 ? rest.slice(w).replace(/^WHERE\s+/i, '') : null };
  }
  m = new RegExp(String.raw`^MERGE\s+INTO\s+${NAME}(?:\s+(?:AS\s+)?(?!USING\b)([A-Za-z_]\w*))?\s+USING\s+([\s\S]*)$`, 'i').exec(text);
  if (m) {
    const table = splitName(m[1]);
    const rest = m[3];
    const on = topLevelIndex(rest, /^ON\s/i);
    if (on < 0) throw lakehouseError('BAD_REQUEST', 'MERGE INTO <table> USING <source> ON <condition> WHEN …');
    return { kind: 'merge', table, alias: m[2] ?? table.table, source: rest.slice(0, on).trim(), rest: rest.slice(on) };
  }
  if (/^(MERGE|ALTER|DROP|TRUNCATE|CREATE|COPY|ATTACH|DETACH|INSTALL|LOAD|SET|RESET|PRAGMA|EXPORT|IMPORT|CALL|USE|CHECKPOINT|VACUUM|BEGIN|COMMIT|ROLLBACK)\b/i.test(text)) {
    throw lakehouseError('UNSUPPORTED_OPERATION', `statement not allowed: ${text.split(/\s+/)[0].toUpperCase()}; supported: SELECT, INSERT, CREATE TABLE AS, DELETE, UPDATE`);
  }
  return null;
}

function localDir(location: string): string | null {
  if (location.startsWith('file://')) return location.slice(7);
  if (location.startsWith('file:')) return location.slice(5);
  return location.startsWith('/') ? location : null;
}

/** Trino-style CTAS properties: partitioning = ARRAY['day(ts)', …], format_version = 2, 'k' = 'v'. */
function parseProperties(text: string | null): { partitioning: string[]; formatVersion?: 1 | 2; location?: string; properties: Record<string, string> } {
  const out = { partitioning: [] as string[], properties: {} as Record<string, string>, formatVersion: undefined as 1 | 2 | undefined, location: undefined as string | undefined };
  if (!text) return out;
  for (const item of splitTopLevel(text, ',')) {
    const eq = item.indexOf('=');
    if (eq < 0) throw lakehouseError('BAD_REQUEST', `invalid table property: ${item}`);
    const key = item.slice(0, eq).trim().replace(/^['"]|['"]$/g, '');
    const value = item.slice(eq + 1).trim();
    const strings = [...value.matchAll(/'((?:[^']|'')*)'/g)].map((x) => x[1].replaceAll("''", "'"));
    if (key.toLowerCase() === 'partitioning') out.partitioning = strings;
    else if (key.toLowerCase() === 'format_version') out.formatVersion = Number(value) === 1 ? 1 : 2;
    else if (key.toLowerCase() === 'location') out.location = strings[0];
    else out.properties[key] = strings[0] ?? value;
  }
  return out;
}

function affected(before: LoadedTable | null, after: LoadedTable): number {
  if (before && before.metadataLocation === after.metadataLocation) return 0;
  const s = currentSnapshot(after.metadata)?.summary ?? ({} as Record<string, string>);
  return Number(s['added-records'] ?? 0) + Number(s['deleted-records'] ?? 0) + Number(s['added-position-deletes'] ?? 0);
}

export async function executeWrite(engine: QueryEngine, duck: Duck, w: WriteStatement, opts: QueryOptions, t0: number): Promise<QueryResult> {
  const stats = newStats();
  const catalog = engine.catalog;
  const target: TableIdent = engine.resolveIdent(w.table, opts);
  const selectForAnalysis = (() => {
    switch (w.kind) {
      case 'insert': case 'ctas': return w.source;
      case 'delete': return `SELECT 1 FROM ${tableRef(w.table)}${w.where ? ` WHERE ${w.where}` : ''}`;
      case 'update': return `SELECT ${w.assignments.map(([, e]) => e).join(', ')} FROM ${tableRef(w.table)}${w.where ? ` WHERE ${w.where}` : ''}`;
      case 'merge': return `SELECT * FROM ${tableRef(w.table)}, ${w.source}`;
    }
  })();

  await checkWriteAccess(engine, w, target, opts);
  let table: LoadedTable | null = null;
  if (w.kind === 'ctas') {
    if (await catalog.tableExists(target)) {
      if (w.ifNotExists) return result([], 0, stats, t0);
      throw lakehouseError('ALREADY_EXISTS', `table already exists: ${[...target.namespace, target.name].join('.')}`);
    }
  } else {
    table = await catalog.loadTable(target);
  }
  const visible = new Map<string, string[]>();
  const parsed: { statements?: AstNode[] } = {};
  const allowed = await engine.bindTables(duck, selectForAnalysis, opts, stats, visible, parsed);
  const touched = touchedColumns(parsed.statements ?? [], visible);
  const targetName = [...target.namespace, target.name].join('.');
  if (!stats.tables.includes(targetName)) stats.tables.push(targetName);
  const dirs = [tmpdir()];
  const location = table?.metadata.location ?? catalog.defaultTableLocation(target);
  const dir = localDir(location);
  if (dir) dirs.push(dir);
  // Encrypted tables are written after the lock below, which freezes the settings.
  if (w.kind === 'ctas' || isEncryptedTable(table!.metadata.properties)) await enableEncryptedWrites(duck);
  await lockDown(duck, allowed, dirs);
  const view = tableRef(w.table);

  switch (w.kind) {
    case 'insert': {
      const schema = currentSchema(table!.metadata);
      const cols = w.columns ?? schema.fields.map((f) => f.name);
      const unknown = cols.filter((c) => !schema.fields.some((f) => f.name === c));
      if (unknown.length) throw lakehouseError('BAD_REQUEST', `unknown columns in INSERT: ${unknown.join(', ')}`);
      const src = `SELECT * FROM (${w.source}) AS __in(${cols.map(q).join(', ')})`;
      const sourceSql = `SELECT ${schema.fields.map((f) => (cols.includes(f.name) ? q(f.name) : `NULL AS ${q(f.name)}`)).join(', ')} FROM (${src})`;
      const after = await appendSql(catalog, target, duck, sourceSql);
      return result(touched, affected(table, after), stats, t0);
    }
    case 'ctas': {
      const props = parseProperties(w.properties);
      const probe = await duck.conn.runAndReadAll(`SELECT * FROM (${w.source}) LIMIT 0`);
      let id = 0;
      const nextId = () => ++id;
      const fields = probe.columnNames().map((name, i) => {
        const fid = nextId();
        return { id: fid, name, required: false, type: icebergTypeOf(probe.columnTypes()[i], nextId) };
      });
      const schema: Schema = { type: 'struct', 'schema-id': 0, fields };
      const spec = props.partitioning.length ? buildPartitionSpec(schema, props.partitioning) : undefined;
      const md = newTableMetadata({ schema, spec, location: props.location ?? location, properties: props.properties, formatVersion: props.formatVersion });
      await catalog.createTable(target, md);
      const after = await appendSql(catalog, target, duck, w.source);
      return result(touched, affected(null, after), stats, t0);
    }
    case 'delete': {
      const after = await deleteWhere(catalog, target, duck, w.where ?? 'TRUE');
      return result(touched, affected(table, after), stats, t0);
    }
    case 'update': {
      const schema = currentSchema(table!.metadata);
      for (const [c] of w.assignments) {
        if (!schema.fields.some((f) => f.name === c)) throw lakehouseError('BAD_REQUEST', `unknown column in UPDATE: ${c}`);
      }
      const pred = w.where ?? 'TRUE';
      const replaced = w.assignments.map(([c, e]) => `CAST((${e}) AS ${duckTypeOf(schema, c)}) AS ${q(c)}`).join(', ');
      const sourceSql = `SELECT * REPLACE (${replaced}) FROM ${view} WHERE coalesce((${pred}), false)`;
      // Materialise the new rows first: the delete below changes what the view would read.
      await duck.run(`CREATE TEMP TABLE __updated AS ${sourceSql}`);
      const after = await overwriteWhere(catalog, target, duck, pred, 'SELECT * FROM __updated');
      const s = currentSnapshot(after.metadata)?.summary ?? ({} as Record<string, string>);
      return result(touched, after.metadataLocation === table!.metadataLocation ? 0 : Number(s['added-records'] ?? 0), stats, t0);
    }
    case 'merge': {
      // DuckDB's MERGE runs on a materialised copy of the target; the result replaces the table in
      // one `overwrite` commit (copy-on-write of the whole table).
      await duck.run(`CREATE TEMP TABLE __merge_target AS SELECT * FROM ${view}`);
      let changed: number;
      try {
        const r = await duck.conn.runAndReadAll(`MERGE INTO __merge_target AS ${q(w.alias)} USING ${w.source} ${w.rest}`);
        changed = Number((r.getRows()[0]?.[0] as bigint | number | undefined) ?? 0);
      } catch (e) {
        throw lakehouseError('BAD_REQUEST', `MERGE failed: ${(e as Error).message.split('\n')[0]}`);
      }
      if (changed === 0) return result(touched, 0, stats, t0);
      await replaceAll(catalog, target, duck, 'SELECT * FROM __merge_target');
      return result(touched, changed, stats, t0);
    }
  }
}

/**
 * A caller's right to write: INSERT on the target for INSERT, CREATE on the namespace for CTAS,
 * MODIFY for DELETE/UPDATE/MERGE — which also read the target (their conditions and counts would
 * reveal it), so they need SELECT on it unlimited by masks, row filters or a column subset.
 * Sources are read through the caller's policy when they are bound.
 */
async function checkWriteAccess(engine: QueryEngine, w: WriteStatement, target: TableIdent, opts: QueryOptions): Promise<void> {
  const authz = opts.principal ? authorizerFor(engine.catalog) : null;
  if (!authz || !opts.principal) return;
  const name = [...target.namespace, target.name].join('.');
  const tableRes = { namespace: target.namespace, table: target.name };
  const check: Check =
    w.kind === 'insert' ? { privilege: 'INSERT', resource: tableRes }
      : w.kind === 'ctas' ? { privilege: 'CREATE', resource: { namespace: target.namespace } }
        : { privilege: 'MODIFY', resource: tableRes };
  if (await authz.firstDenied(opts.principal, [check])) {
    throw lakehouseError('FORBIDDEN', `principal '${opts.principal.principal}' lacks ${check.privilege} on ${w.kind === 'ctas' ? target.namespace.join('.') : name}`);
  }
  if (w.kind === 'delete' || w.kind === 'update' || w.kind === 'merge') {
    const policy = await authz.effectivePolicy(opts.principal, target);
    if (!policy.canSelect) throw lakehouseError('FORBIDDEN', `principal '${policy.principal}' lacks SELECT on ${name}`);
    if (policy.limited) {
      throw lakehouseError('FORBIDDEN', `${w.kind.toUpperCase()} on ${name} refused: principal '${policy.principal}' is limited on it by column masks, row filters or column grants`);
    }
  }
}

function duckTypeOf(schema: Schema, column: string): string {
  const f = schema.fields.find((x) => x.name === column)!;
  return duckTypeOfField(f.type);
}


function tableRef(n: QName): string {
  return n.schema ? `${q(n.schema)}.${q(n.table)}` : q(n.table);
}

function result(touched: string[], rows: number, stats: ReturnType<typeof newStats>, t0: number): QueryResult {
  stats.executionMs = Math.round(performance.now() - t0);
  return { columns: [{ name: 'rows', type: 'BIGINT' }], duckTypes: [BIGINT], rows: [[rows]], truncated: false, stats, touched };
}
