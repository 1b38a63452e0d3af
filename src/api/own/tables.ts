import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Catalog, LoadedTable } from '../../catalog/catalog.js';
import type { TableIdent } from '../../catalog/store.js';
import { isLakehouseError, lakehouseError } from '../../core/errors.js';
import { currentSchema, currentSnapshot, defaultSpec, NAME_MAPPING_PROPERTY, type TableMetadata } from '../../iceberg/metadata.js';
import { parseNameMapping } from '../../iceberg/name-mapping.js';
import { buildPartitionSpec } from '../../iceberg/partition.js';
import type { TableRequirement } from '../../iceberg/requirements.js';
import { findFieldByName, indexById, type Schema } from '../../iceberg/schema.js';
import { assignFreshIds, SchemaUpdate } from '../../iceberg/schema-evolution.js';
import type { Snapshot } from '../../iceberg/snapshot.js';
import { parseTransform } from '../../iceberg/transforms.js';
import { isPrimitive, parseType, type IcebergType, type NestedField } from '../../iceberg/types.js';
import { LAST_ADDED, newTableMetadata, type TableUpdate } from '../../iceberg/updates.js';
import { ancestorIds, createBranch, createTag, removeRef, rollbackTo, updateNameMapping } from '../../table/table-admin.js';
import { NameParam, NamespaceParam, parseNamespace, responses, send, SnapshotId, tableIdent } from './common.js';

/**
 * Tables in plain JSON: create from a column list, describe, evolve the schema, snapshots and
 * history, rollback, branches and tags, drop. Column docs are the Iceberg schema's `doc`; column
 * tags live in table properties as `lakehouse.column-tags.<fieldId>` = JSON array of strings
 * (keyed by field id, so they follow renames). 64-bit snapshot ids are decimal strings.
 */
export const COLUMN_TAGS_PREFIX = 'lakehouse.column-tags.';

const ColumnName = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' });
const ColumnPath = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}(\\.[A-Za-z_][A-Za-z0-9_]{0,127}){0,15}$', description: 'Column, nested ones dotted (address.city)' });
const Tag = Type.String({ pattern: '^[A-Za-z0-9_:.-]{1,64}$' });
const Tags = Type.Array(Tag, { maxItems: 50, uniqueItems: true });
const Doc = Type.String({ maxLength: 4096 });
const PRIMITIVE_PATTERN = '^(boolean|int|long|float|double|date|time|timestamp|timestamptz|timestamp_ns|timestamptz_ns|string|uuid|binary|decimal\\(\\d{1,2}, ?\\d{1,2}\\)|fixed\\[\\d{1,5}\\])$';
const ColumnType = Type.Union(
  [
    Type.String({
      pattern: PRIMITIVE_PATTERN,
      description: 'A primitive: boolean, int, long, float, double, date, time, timestamp, timestamptz, timestamp_ns, timestamptz_ns, string, uuid, binary, decimal(P,S), fixed[N]',
    }),
    Type.Object({ type: Type.Union([Type.Literal('struct'), Type.Literal('list'), Type.Literal('map')]) }, { description: 'A nested type in Iceberg JSON form' }),
  ],
);
const Properties = Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.String({ maxLength: 65536 }));

const CreateTable = Type.Object(
  {
    namespace: NamespaceParam,
    name: NameParam,
    columns: Type.Array(
      Type.Object(
        { name: ColumnName, type: ColumnType, required: Type.Optional(Type.Boolean()), doc: Type.Optional(Doc), tags: Type.Optional(Tags) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 1000 },
    ),
    partitioning: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 32, description: 'Partition expressions: col, day(ts), bucket(16, id), truncate(4, name), …' })),
    properties: Type.Optional(Properties),
  },
  { additionalProperties: false },
);
type CreateTableT = Static<typeof CreateTable>;

const Column: TSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  type: Type.Union([Type.String(), Type.Object({})]),
  required: Type.Boolean(),
  doc: Type.Optional(Type.String()),
  tags: Type.Array(Type.String()),
});

const SnapshotView = Type.Object({
  snapshotId: SnapshotId,
  parentSnapshotId: Type.Union([SnapshotId, Type.Null()]),
  sequenceNumber: Type.Integer(),
  timestampMs: Type.Integer(),
  operation: Type.String(),
  schemaId: Type.Union([Type.Integer(), Type.Null()]),
  summary: Type.Record(Type.String(), Type.String()),
});

const RefView = Type.Object({ name: Type.String(), type: Type.Union([Type.Literal('branch'), Type.Literal('tag')]), snapshotId: SnapshotId });

const TableView = Type.Object({
  namespace: Type.String(),
  name: Type.String(),
  tableUuid: Type.String(),
  location: Type.String(),
  metadataLocation: Type.String(),
  formatVersion: Type.Integer(),
  schemaId: Type.Integer(),
  columns: Type.Array(Column),
  partitioning: Type.Array(Type.String()),
  properties: Type.Record(Type.String(), Type.String()),
  currentSnapshot: Type.Union([SnapshotView, Type.Null()]),
  stats: Type.Object({ rowCount: Type.Integer(), fileCount: Type.Integer(), totalSizeBytes: Type.Integer() }),
  refs: Type.Array(RefView),
});

// ------------------------------------------------------------------------------------ views

function tagsOf(md: TableMetadata, fieldId: number): string[] {
  const raw = md.properties[`${COLUMN_TAGS_PREFIX}${fieldId}`];
  if (raw === undefined) return [];
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string') : [];
  } catch {
    return [];
  }
}

function columnsOf(md: TableMetadata): object[] {
  const schema = currentSchema(md);
  const out: object[] = [];
  const visit = (fields: NestedField[], prefix: string) => {
    for (const f of fields) {
      const name = prefix + f.name;
      out.push({ id: f.id, name, type: f.type, required: f.required, ...(f.doc !== undefined ? { doc: f.doc } : {}), tags: tagsOf(md, f.id) });
      if (!isPrimitive(f.type) && f.type.type === 'struct') visit(f.type.fields, `${name}.`);
    }
  };
  visit(schema.fields, '');
  return out;
}

function partitionExpressions(md: TableMetadata): string[] {
  const schema = currentSchema(md);
  const index = indexById(schema);
  return defaultSpec(md).fields.map((f) => {
    const col = index.get(f['source-id'])?.path ?? `#${f['source-id']}`;
    const t = parseTransform(f.transform);
    switch (t.kind) {
      case 'identity':
        return col;
      case 'bucket':
        return `bucket(${t.numBuckets}, ${col})`;
      case 'truncate':
        return `truncate(${t.width}, ${col})`;
      case 'unknown':
        return `${f.transform}(${col})`;
      default:
        return `${t.kind}(${col})`;
    }
  });
}

function snapshotView(s: Snapshot): object {
  const { operation, ...rest } = s.summary;
  return {
    snapshotId: String(s['snapshot-id']),
    parentSnapshotId: s['parent-snapshot-id'] == null ? null : String(s['parent-snapshot-id']),
    sequenceNumber: s['sequence-number'] ?? 0,
    timestampMs: s['timestamp-ms'],
    operation: operation ?? 'append',
    schemaId: s['schema-id'] ?? null,
    summary: Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, String(v)])),
  };
}

function count(v: string | undefined): number {
  const n = Number(v ?? 0);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

function tableView(t: LoadedTable): object {
  const md = t.metadata;
  const snap = currentSnapshot(md);
  return {
    namespace: t.ident.namespace.join('.'),
    name: t.ident.name,
    tableUuid: md['table-uuid'],
    location: md.location,
    metadataLocation: t.metadataLocation,
    formatVersion: md['format-version'],
    schemaId: md['current-schema-id'],
    columns: columnsOf(md),
    partitioning: partitionExpressions(md),
    properties: md.properties,
    currentSnapshot: snap ? snapshotView(snap) : null,
    stats: {
      rowCount: count(snap?.summary['total-records']),
      fileCount: count(snap?.summary['total-data-files']),
      totalSizeBytes: count(snap?.summary['total-files-size']),
    },
    refs: refsOf(md),
  };
}

function refsOf(md: TableMetadata): object[] {
  return Object.entries(md.refs)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, r]) => ({ name, type: r.type, snapshotId: String(r['snapshot-id']) }));
}

// ---------------------------------------------------------------------------------- creating

function columnType(t: unknown, where: string): IcebergType {
  return parseType(t, where);
}

async function ensureNamespace(catalog: Catalog, ns: string[]): Promise<void> {
  for (let i = 1; i <= ns.length; i++) {
    const level = ns.slice(0, i);
    try {
      await catalog.loadNamespace(level);
    } catch (e) {
      if (!isLakehouseError(e, 'NO_SUCH_NAMESPACE')) throw e;
      try {
        await catalog.createNamespace(level, {});
      } catch (e2) {
        if (!isLakehouseError(e2, 'ALREADY_EXISTS')) throw e2;
      }
    }
  }
}

function buildCreate(catalog: Catalog, b: CreateTableT): { ident: TableIdent; metadata: TableMetadata } {
  const ident: TableIdent = { namespace: parseNamespace(b.namespace), name: b.name };
  let nextId = 0;
  const top = b.columns.map(() => ++nextId);
  const fields: NestedField[] = b.columns.map((c, i) => {
    const type = assignFreshIds(columnType(c.type, `columns[${i}].type`), () => ++nextId);
    const f: NestedField = { id: top[i], name: c.name, required: c.required === true, type };
    if (c.doc !== undefined) f.doc = c.doc;
    return f;
  });
  const names = new Set<string>();
  for (const f of fields) {
    if (names.has(f.name)) throw lakehouseError('VALIDATION_FAILED', `duplicate column name: ${f.name}`);
    names.add(f.name);
  }
  const schema: Schema = { type: 'struct', 'schema-id': 0, fields };
  const spec = buildPartitionSpec(schema, b.partitioning ?? []);
  const base = { schema, spec: { 'spec-id': 0, fields: spec.fields.map((f) => ({ 'source-id': f['source-id'], name: f.name, transform: f.transform })) }, location: catalog.defaultTableLocation(ident) };
  const userProps = { ...(b.properties ?? {}) };
  let md = newTableMetadata({ ...base, properties: userProps });
  const tagProps: Record<string, string> = {};
  b.columns.forEach((c) => {
    if (c.tags && c.tags.length > 0) tagProps[`${COLUMN_TAGS_PREFIX}${findFieldByName(currentSchema(md), c.name)!.id}`] = JSON.stringify(c.tags);
  });
  if (Object.keys(tagProps).length > 0) md = newTableMetadata({ ...base, properties: { ...userProps, ...tagProps }, tableUuid: md['table-uuid'] });
  return { ident, metadata: md };
}

// ------------------------------------------------------------------------------ schema changes

const Change = Type.Union([
  Type.Object({
    op: Type.Literal('add'),
    name: ColumnName,
    type: ColumnType,
    parent: Type.Optional(ColumnPath),
    required: Type.Optional(Type.Boolean()),
    default: Type.Optional(Type.Unknown({ description: 'Initial/write default (JSON single-value form); required columns need one' })),
    doc: Type.Optional(Doc),
    tags: Type.Optional(Tags),
  }),
  Type.Object({ op: Type.Literal('rename'), column: ColumnPath, newName: ColumnName }),
  Type.Object({ op: Type.Literal('drop'), column: ColumnPath }),
  Type.Object({ op: Type.Literal('widen'), column: ColumnPath, type: Type.String({ pattern: PRIMITIVE_PATTERN, description: 'int→long, float→double, decimal(P,S)→decimal(P2,S) with P2>P' }) }),
  Type.Object({ op: Type.Literal('doc'), column: ColumnPath, doc: Type.Union([Doc, Type.Null()]) }),
  Type.Object({ op: Type.Literal('optional'), column: ColumnPath }),
  Type.Object({ op: Type.Literal('tags'), column: ColumnPath, tags: Tags }),
]);
type ChangeT = Static<typeof Change>;

const SchemaPatch = Type.Object(
  {
    expectedSchemaId: Type.Optional(Type.Integer({ minimum: 0, description: 'Fail with 409 unless this is still the current schema id' })),
    changes: Type.Array(Change, { minItems: 1, maxItems: 200 }),
  },
  { additionalProperties: false },
);

function schemaCommit(md: TableMetadata, changes: ChangeT[]): { requirements: TableRequirement[]; updates: TableUpdate[] } | null {
  const upd = SchemaUpdate.forTable(md);
  let evolve = false;
  const dropped: string[] = [];
  const tagChanges: { column: string; tags: string[] }[] = [];
  const before = currentSchema(md);
  for (const [i, c] of changes.entries()) {
    switch (c.op) {
      case 'add':
        upd.addColumn(c.parent ?? null, c.name, columnType(c.type, `changes[${i}].type`), {
          doc: c.doc,
          required: c.required,
          ...(c.default !== undefined ? { initialDefault: c.default } : {}),
        });
        if (c.tags) tagChanges.push({ column: c.parent ? `${c.parent}.${c.name}` : c.name, tags: c.tags });
        evolve = true;
        break;
      case 'rename':
        upd.renameColumn(c.column, c.newName);
        evolve = true;
        break;
      case 'drop': {
        const f = findFieldByName(before, c.column);
        upd.deleteColumn(c.column);
        if (f) dropped.push(`${COLUMN_TAGS_PREFIX}${f.id}`);
        evolve = true;
        break;
      }
      case 'widen':
        upd.updateColumnType(c.column, c.type);
        evolve = true;
        break;
      case 'doc':
        upd.updateDoc(c.column, c.doc ?? undefined);
        evolve = true;
        break;
      case 'optional':
        upd.makeOptional(c.column);
        evolve = true;
        break;
      case 'tags':
        tagChanges.push({ column: c.column, tags: c.tags });
        break;
    }
  }
  const updates: TableUpdate[] = [];
  let after: Schema = before;
  if (evolve) {
    const { schema, lastColumnId } = upd.apply();
    after = schema;
    updates.push({ action: 'add-schema', schema, 'last-column-id': lastColumnId }, { action: 'set-current-schema', 'schema-id': LAST_ADDED });
    const mappingJson = md.properties[NAME_MAPPING_PROPERTY];
    if (mappingJson !== undefined) {
      const updated = JSON.stringify(updateNameMapping(parseNameMapping(mappingJson), schema));
      if (updated !== mappingJson) updates.push({ action: 'set-properties', updates: { [NAME_MAPPING_PROPERTY]: updated } });
    }
  }
  const setTags: Record<string, string> = {};
  const removeTags = dropped.filter((k) => md.properties[k] !== undefined);
  for (const t of tagChanges) {
    // Names resolve against the schema after the change (added / renamed columns), then before.
    const f = findFieldByName(after, t.column) ?? findFieldByName(before, t.column);
    if (!f) throw lakehouseError('VALIDATION_FAILED', `Cannot tag missing column: ${t.column}`);
    const key = `${COLUMN_TAGS_PREFIX}${f.id}`;
    if (t.tags.length === 0) {
      if (md.properties[key] !== undefined) removeTags.push(key);
      delete setTags[key];
    } else {
      setTags[key] = JSON.stringify(t.tags);
    }
  }
  if (Object.keys(setTags).length > 0) updates.push({ action: 'set-properties', updates: setTags });
  const removals = removeTags.filter((k) => setTags[k] === undefined);
  if (removals.length > 0) updates.push({ action: 'remove-properties', removals });
  if (updates.length === 0) return null;
  return {
    requirements: [
      { type: 'assert-table-uuid', uuid: md['table-uuid'] },
      { type: 'assert-current-schema-id', 'current-schema-id': md['current-schema-id'] },
      { type: 'assert-last-assigned-field-id', 'last-assigned-field-id': md['last-column-id'] },
    ],
    updates,
  };
}

// ------------------------------------------------------------------------------------- routes

export function registerTableRoutes(app: FastifyInstance, catalog: Catalog): void {
  const tags = ['tables'];
  const TableParams = Type.Object({ namespace: NamespaceParam, table: NameParam });
  type P = Static<typeof TableParams>;
  const base = '/tables/:namespace/:table';

  app.get(
    '/namespaces/:namespace/tables',
    {
      schema: {
        tags,
        summary: 'List the tables of a namespace',
        params: Type.Object({ namespace: NamespaceParam }),
        response: responses({ 200: Type.Object({ namespace: Type.String(), tables: Type.Array(Type.String()) }) }),
      },
    },
    async (req, reply) => {
      const { namespace } = req.params as { namespace: string };
      const ns = parseNamespace(namespace);
      const names: string[] = [];
      let token: string | null = null;
      do {
        const page = await catalog.listTables(ns, { pageToken: token, pageSize: 1000 });
        names.push(...page.items.map((i) => i.name));
        token = page.nextPageToken;
      } while (token);
      return send(reply, 200, { namespace, tables: names });
    },
  );

  app.post('/tables', { schema: { tags, summary: 'Create a table from a column list', body: CreateTable, response: responses({ 201: TableView }) } }, async (req, reply) => {
    const b = req.body as CreateTableT;
    const { ident, metadata } = buildCreate(catalog, b);
    await ensureNamespace(catalog, ident.namespace);
    const t = await catalog.createTable(ident, metadata);
    req.log.info({ table: `${b.namespace}.${b.name}` }, 'table created');
    return send(reply, 201, tableView(t));
  });

  app.get(base, { schema: { tags, summary: 'Describe a table', params: TableParams, response: responses({ 200: TableView }) } }, async (req, reply) =>
    send(reply, 200, tableView(await catalog.loadTable(tableIdent(req.params as P)))),
  );

  app.delete(
    base,
    {
      schema: {
        tags,
        summary: 'Drop a table',
        params: TableParams,
        querystring: Type.Object({ purge: Type.Optional(Type.Boolean({ description: 'Also delete its files' })) }),
        response: responses({ 204: Type.Null() }),
      },
    },
    async (req, reply) => {
      await catalog.dropTable(tableIdent(req.params as P), (req.query as { purge?: boolean }).purge === true);
      return reply.code(204).send();
    },
  );

  app.patch(
    `${base}/schema`,
    {
      schema: {
        tags,
        summary: 'Evolve the schema: add, rename, drop, widen, doc, optional, tags',
        params: TableParams,
        body: SchemaPatch,
        response: responses({ 200: TableView }),
      },
    },
    async (req, reply) => {
      const ident = tableIdent(req.params as P);
      const b = req.body as Static<typeof SchemaPatch>;
      const t = await catalog.loadTable(ident);
      if (b.expectedSchemaId !== undefined && b.expectedSchemaId !== t.metadata['current-schema-id']) {
        throw lakehouseError('COMMIT_FAILED', `schema changed: current schema id is ${t.metadata['current-schema-id']}, expected ${b.expectedSchemaId}`);
      }
      const commit = schemaCommit(t.metadata, b.changes);
      return send(reply, 200, tableView(commit ? await catalog.commitTable(ident, commit) : t));
    },
  );

  app.get(
    `${base}/snapshots`,
    { schema: { tags, summary: 'Snapshots of a table', params: TableParams, response: responses({ 200: Type.Object({ snapshots: Type.Array(SnapshotView) }) }) } },
    async (req, reply) => {
      const t = await catalog.loadTable(tableIdent(req.params as P));
      const snaps = [...t.metadata.snapshots].sort((a, b) => a['timestamp-ms'] - b['timestamp-ms']);
      return send(reply, 200, { snapshots: snaps.map(snapshotView) });
    },
  );

  app.get(
    `${base}/history`,
    {
      schema: {
        tags,
        summary: 'When each snapshot became current (the snapshot log)',
        params: TableParams,
        response: responses({
          200: Type.Object({ history: Type.Array(Type.Object({ snapshotId: SnapshotId, timestampMs: Type.Integer(), isCurrentAncestor: Type.Boolean() })) }),
        }),
      },
    },
    async (req, reply) => {
      const md = (await catalog.loadTable(tableIdent(req.params as P))).metadata;
      const current = md['current-snapshot-id'];
      const ancestors = new Set(current === null ? [] : ancestorIds(md, current).map(String));
      return send(reply, 200, {
        history: md['snapshot-log'].map((e) => ({ snapshotId: String(e['snapshot-id']), timestampMs: e['timestamp-ms'], isCurrentAncestor: ancestors.has(String(e['snapshot-id'])) })),
      });
    },
  );

  app.post(
    `${base}/rollback`,
    {
      schema: {
        tags,
        summary: 'Roll main back to an ancestor snapshot',
        params: TableParams,
        body: Type.Object({ snapshotId: SnapshotId }, { additionalProperties: false }),
        response: responses({ 200: TableView }),
      },
    },
    async (req, reply) => {
      const t = await rollbackTo(catalog, tableIdent(req.params as P), (req.body as { snapshotId: string }).snapshotId);
      return send(reply, 200, tableView(t));
    },
  );

  app.get(`${base}/refs`, { schema: { tags, summary: 'Branches and tags', params: TableParams, response: responses({ 200: Type.Object({ refs: Type.Array(RefView) }) }) } }, async (req, reply) =>
    send(reply, 200, { refs: refsOf((await catalog.loadTable(tableIdent(req.params as P))).metadata) }),
  );

  app.post(
    `${base}/refs`,
    {
      schema: {
        tags,
        summary: 'Create a branch or tag (default: at the current snapshot)',
        params: TableParams,
        body: Type.Object(
          {
            name: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' }),
            type: Type.Union([Type.Literal('branch'), Type.Literal('tag')]),
            snapshotId: Type.Optional(SnapshotId),
          },
          { additionalProperties: false },
        ),
        response: responses({ 201: Type.Object({ refs: Type.Array(RefView) }) }),
      },
    },
    async (req, reply) => {
      const b = req.body as { name: string; type: 'branch' | 'tag'; snapshotId?: string };
      const ident = tableIdent(req.params as P);
      const t = b.type === 'branch' ? await createBranch(catalog, ident, b.name, b.snapshotId) : await createTag(catalog, ident, b.name, b.snapshotId);
      return send(reply, 201, { refs: refsOf(t.metadata) });
    },
  );

  app.delete(
    `${base}/refs/:ref`,
    {
      schema: {
        tags,
        summary: 'Delete a branch or tag (not main)',
        params: Type.Object({ namespace: NamespaceParam, table: NameParam, ref: Type.String({ minLength: 1, maxLength: 128 }) }),
        response: responses({ 204: Type.Null() }),
      },
    },
    async (req, reply) => {
      const p = req.params as P & { ref: string };
      await removeRef(catalog, tableIdent(p), p.ref);
      return reply.code(204).send();
    },
  );
}
