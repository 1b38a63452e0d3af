import { FormatRegistry, Kind, Type, TypeRegistry, type TSchema } from '@sinclair/typebox';

/**
 * TypeBox schemas of the Iceberg REST catalog (apache/iceberg open-api/rest-catalog-open-api.yaml),
 * used for request validation and as the route documentation OpenAPI is generated from.
 * Recursive types (Iceberg `Type`, expressions) are documented one level deep: the nested parts
 * are validated by the metadata parsers, which also give better messages.
 *
 * 64-bit integers (snapshot ids, timestamps) arrive as bigint from the lossless JSON parser:
 * `Int64` is `{type: integer, format: int64}` in the docs and accepts number or bigint.
 */
if (!TypeRegistry.Has('Int64')) {
  TypeRegistry.Set('Int64', (_schema, value) => typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value)));
}
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (v) => UUID_RE.test(v));

export const Int64 = (opts: Record<string, unknown> = {}) =>
  Type.Unsafe<number | bigint>({ ...opts, [Kind]: 'Int64', type: 'integer', format: 'int64' });

const StringMap = (description?: string) => Type.Record(Type.String(), Type.String(), description ? { description } : {});
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

// ---------------------------------------------------------------------------------- errors

export const ErrorModel = Type.Object(
  {
    message: Type.String({ description: 'Human-readable error message' }),
    type: Type.String({ description: 'Internal type definition of the error', examples: ['NoSuchNamespaceException'] }),
    code: Type.Integer({ minimum: 400, maximum: 600, description: 'HTTP response code' }),
    stack: Type.Optional(Type.Array(Type.String())),
  },
  { description: 'JSON error payload returned in a response with further details on the error' },
);
export const IcebergErrorResponse = Type.Object({ error: ErrorModel }, { description: 'JSON wrapper for all error responses (non-2xx)' });

// ----------------------------------------------------------------------------- identifiers

export const Namespace = Type.Array(Type.String(), { description: 'Reference to one or more levels of a namespace', examples: [['accounting', 'tax']] });
export const TableIdentifier = Type.Object({ namespace: Namespace, name: Type.String() });
export const PageToken = Nullable(Type.String({ description: 'An opaque token for the next page of a list; null on the last page' }));

// ------------------------------------------------------------------------------------ types

const NestedType = Type.Union([Type.String(), Type.Object({ type: Type.String() }, { additionalProperties: true })], {
  description: 'An Iceberg type: a primitive type name, or a struct / list / map object',
});
export const StructField = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  type: NestedType,
  required: Type.Boolean(),
  doc: Type.Optional(Type.String()),
  'initial-default': Type.Optional(Type.Unknown()),
  'write-default': Type.Optional(Type.Unknown()),
});
export const Schema = Type.Object({
  type: Type.Literal('struct'),
  fields: Type.Array(StructField),
  'schema-id': Type.Optional(Type.Integer()),
  'identifier-field-ids': Type.Optional(Type.Array(Type.Integer())),
});
export const PartitionField = Type.Object({
  'field-id': Type.Optional(Type.Integer()),
  'source-id': Type.Optional(Type.Integer()),
  'source-ids': Type.Optional(Type.Array(Type.Integer())),
  name: Type.String(),
  transform: Type.String({ examples: ['identity', 'year', 'month', 'day', 'hour', 'bucket[256]', 'truncate[16]', 'void'] }),
});
export const PartitionSpec = Type.Object({ 'spec-id': Type.Optional(Type.Integer()), fields: Type.Array(PartitionField) });
export const SortField = Type.Object({
  'source-id': Type.Optional(Type.Integer()),
  'source-ids': Type.Optional(Type.Array(Type.Integer())),
  transform: Type.String(),
  direction: Type.Union([Type.Literal('asc'), Type.Literal('desc')]),
  'null-order': Type.Union([Type.Literal('nulls-first'), Type.Literal('nulls-last')]),
});
export const SortOrder = Type.Object({ 'order-id': Type.Optional(Type.Integer()), fields: Type.Array(SortField) });

export const Snapshot = Type.Object({
  'snapshot-id': Int64(),
  'parent-snapshot-id': Type.Optional(Int64()),
  'sequence-number': Type.Optional(Int64()),
  'timestamp-ms': Int64(),
  'manifest-list': Type.String({ description: "Location of the snapshot's manifest list file" }),
  summary: Type.Object(
    { operation: Type.Union([Type.Literal('append'), Type.Literal('replace'), Type.Literal('overwrite'), Type.Literal('delete')]) },
    { additionalProperties: Type.String() },
  ),
  'schema-id': Type.Optional(Type.Integer()),
  'first-row-id': Type.Optional(Int64()),
  'added-rows': Type.Optional(Int64()),
});
export const SnapshotReference = Type.Object({
  type: Type.Union([Type.Literal('tag'), Type.Literal('branch')]),
  'snapshot-id': Int64(),
  'max-ref-age-ms': Type.Optional(Int64()),
  'max-snapshot-age-ms': Type.Optional(Int64()),
  'min-snapshots-to-keep': Type.Optional(Type.Integer()),
});
export const BlobMetadata = Type.Object({
  type: Type.String(),
  'snapshot-id': Int64(),
  'sequence-number': Int64(),
  fields: Type.Array(Type.Integer()),
  properties: Type.Optional(StringMap()),
});
export const StatisticsFile = Type.Object({
  'snapshot-id': Int64(),
  'statistics-path': Type.String(),
  'file-size-in-bytes': Int64(),
  'file-footer-size-in-bytes': Int64(),
  'key-metadata': Type.Optional(Type.String()),
  'blob-metadata': Type.Array(BlobMetadata),
});
export const PartitionStatisticsFile = Type.Object({
  'snapshot-id': Int64(),
  'statistics-path': Type.String(),
  'file-size-in-bytes': Int64(),
});

export const TableMetadata = Type.Object({
  'format-version': Type.Integer({ minimum: 1, maximum: 3 }),
  'table-uuid': Type.String(),
  location: Type.Optional(Type.String()),
  'last-updated-ms': Type.Optional(Int64()),
  'next-row-id': Type.Optional(Int64()),
  properties: Type.Optional(StringMap()),
  schemas: Type.Optional(Type.Array(Schema)),
  'current-schema-id': Type.Optional(Type.Integer()),
  'last-column-id': Type.Optional(Type.Integer()),
  'partition-specs': Type.Optional(Type.Array(PartitionSpec)),
  'default-spec-id': Type.Optional(Type.Integer()),
  'last-partition-id': Type.Optional(Type.Integer()),
  'sort-orders': Type.Optional(Type.Array(SortOrder)),
  'default-sort-order-id': Type.Optional(Type.Integer()),
  snapshots: Type.Optional(Type.Array(Snapshot)),
  refs: Type.Optional(Type.Record(Type.String(), SnapshotReference)),
  'current-snapshot-id': Type.Optional(Int64()),
  'last-sequence-number': Type.Optional(Int64()),
  'snapshot-log': Type.Optional(Type.Array(Type.Object({ 'snapshot-id': Int64(), 'timestamp-ms': Int64() }))),
  'metadata-log': Type.Optional(Type.Array(Type.Object({ 'metadata-file': Type.String(), 'timestamp-ms': Int64() }))),
  statistics: Type.Optional(Type.Array(StatisticsFile)),
  'partition-statistics': Type.Optional(Type.Array(PartitionStatisticsFile)),
});

// ------------------------------------------------------------------------------------- views

export const SQLViewRepresentation = Type.Object({ type: Type.String({ examples: ['sql'] }), sql: Type.String(), dialect: Type.String() });
export const ViewVersion = Type.Object({
  'version-id': Type.Integer(),
  'timestamp-ms': Int64(),
  'schema-id': Type.Integer({ description: 'Schema ID to set as current, or -1 to set last added schema' }),
  summary: StringMap(),
  representations: Type.Array(SQLViewRepresentation),
  'default-catalog': Type.Optional(Type.String()),
  'default-namespace': Namespace,
});
export const ViewHistoryEntry = Type.Object({ 'version-id': Type.Integer(), 'timestamp-ms': Int64() });
export const ViewMetadata = Type.Object({
  'view-uuid': Type.String(),
  'format-version': Type.Integer({ minimum: 1, maximum: 1 }),
  location: Type.String(),
  'current-version-id': Type.Integer(),
  versions: Type.Array(ViewVersion),
  'version-log': Type.Array(ViewHistoryEntry),
  schemas: Type.Array(Schema),
  properties: Type.Optional(StringMap()),
});

// ----------------------------------------------------------------------- updates/requirements

const U = <A extends string, P extends Record<string, TSchema>>(action: A, props: P, description?: string) =>
  Type.Object({ action: Type.Literal(action), ...props }, description ? { description } : {});

const AssignUUID = U('assign-uuid', { uuid: Type.String() }, 'Assigning a UUID to a table/view should only be done when creating the table/view.');
const UpgradeFormatVersion = U('upgrade-format-version', { 'format-version': Type.Integer() });
const AddSchema = U('add-schema', {
  schema: Schema,
  'last-column-id': Type.Optional(Type.Integer({ deprecated: true, description: 'This optional field is **DEPRECATED for REMOVAL** since it more safe to handle this internally, and shouldn\'t be exposed to the clients.' })),
});
const SetCurrentSchema = U('set-current-schema', { 'schema-id': Type.Integer({ description: 'Schema ID to set as current, or -1 to set last added schema' }) });
const AddPartitionSpec = U('add-spec', { spec: PartitionSpec });
const SetDefaultSpec = U('set-default-spec', { 'spec-id': Type.Integer({ description: 'Partition spec ID to set as the default, or -1 to set last added spec' }) });
const AddSortOrder = U('add-sort-order', { 'sort-order': SortOrder });
const SetDefaultSortOrder = U('set-default-sort-order', { 'sort-order-id': Type.Integer({ description: 'Sort order ID to set as the default, or -1 to set last added sort order' }) });
const AddSnapshot = U('add-snapshot', { snapshot: Snapshot });
const SetSnapshotRef = U('set-snapshot-ref', {
  'ref-name': Type.String(),
  type: Type.Union([Type.Literal('tag'), Type.Literal('branch')]),
  'snapshot-id': Int64(),
  'max-ref-age-ms': Type.Optional(Int64()),
  'max-snapshot-age-ms': Type.Optional(Int64()),
  'min-snapshots-to-keep': Type.Optional(Type.Integer()),
});
const RemoveSnapshots = U('remove-snapshots', { 'snapshot-ids': Type.Array(Int64()) });
const RemoveSnapshotRef = U('remove-snapshot-ref', { 'ref-name': Type.String() });
const SetLocation = U('set-location', { location: Type.String() });
const SetProperties = U('set-properties', { updates: StringMap() });
const RemoveProperties = U('remove-properties', { removals: Type.Array(Type.String()) });
const AddViewVersion = U('add-view-version', { 'view-version': ViewVersion });
const SetCurrentViewVersion = U('set-current-view-version', {
  'view-version-id': Type.Integer({ description: 'The view version id to set as current, or -1 to set last added view version id' }),
});
const SetStatistics = U('set-statistics', { 'snapshot-id': Type.Optional(Int64({ deprecated: true })), statistics: StatisticsFile });
const RemoveStatistics = U('remove-statistics', { 'snapshot-id': Int64() });
const SetPartitionStatistics = U('set-partition-statistics', { 'partition-statistics': PartitionStatisticsFile });
const RemovePartitionStatistics = U('remove-partition-statistics', { 'snapshot-id': Int64() });
const RemovePartitionSpecs = U('remove-partition-specs', { 'spec-ids': Type.Array(Type.Integer()) });
const RemoveSchemas = U('remove-schemas', { 'schema-ids': Type.Array(Type.Integer()) });
const AddEncryptionKey = U('add-encryption-key', { 'encryption-key': Type.Object({}, { additionalProperties: true }) });
const RemoveEncryptionKey = U('remove-encryption-key', { 'key-id': Type.String() });

/**
 * Updates and requirements are documented as the spec's `anyOf` of every variant, but validated
 * loosely (an object with an `action` / `type` string): unknown or malformed ones then reach the
 * update parsers, whose 400s name the offending field ("Unknown table update action: …").
 */
const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
if (!TypeRegistry.Has('IcebergUpdate')) TypeRegistry.Set('IcebergUpdate', (_s, v) => isObj(v) && typeof v.action === 'string');
if (!TypeRegistry.Has('IcebergRequirement')) TypeRegistry.Set('IcebergRequirement', (_s, v) => isObj(v) && typeof v.type === 'string');
const looseUnion = (kind: string, variants: TSchema[], description: string) =>
  Type.Unsafe<Record<string, unknown>>({ [Kind]: kind, type: 'object', anyOf: variants, description });

export const TableUpdateVariants = [
  AssignUUID, UpgradeFormatVersion, AddSchema, SetCurrentSchema, AddPartitionSpec, SetDefaultSpec, AddSortOrder, SetDefaultSortOrder,
  AddSnapshot, SetSnapshotRef, RemoveSnapshots, RemoveSnapshotRef, SetLocation, SetProperties, RemoveProperties, SetStatistics,
  RemoveStatistics, SetPartitionStatistics, RemovePartitionStatistics, RemovePartitionSpecs, RemoveSchemas, AddEncryptionKey,
  RemoveEncryptionKey,
];
export const ViewUpdateVariants = [AssignUUID, UpgradeFormatVersion, AddSchema, SetLocation, SetProperties, RemoveProperties, AddViewVersion, SetCurrentViewVersion];

export const TableUpdate = looseUnion('IcebergUpdate', TableUpdateVariants, 'A table metadata update, discriminated by `action`');
export const ViewUpdate = looseUnion('IcebergUpdate', ViewUpdateVariants, 'A view metadata update, discriminated by `action`');

const R = <T extends string, P extends Record<string, TSchema>>(type: T, props: P, description: string) =>
  Type.Object({ type: Type.Literal(type), ...props }, { description });
export const TableRequirementVariants = [
  R('assert-create', {}, 'The table must not already exist; used for create transactions'),
  R('assert-table-uuid', { uuid: Type.String() }, "The table UUID must match the requirement's `uuid`"),
  R('assert-ref-snapshot-id', { ref: Type.String(), 'snapshot-id': Nullable(Int64()) }, "The table branch or tag identified by the requirement's `ref` must reference the requirement's `snapshot-id`; if `snapshot-id` is `null` or missing, the ref must not already exist"),
  R('assert-last-assigned-field-id', { 'last-assigned-field-id': Type.Integer() }, "The table's last assigned column id must match the requirement's `last-assigned-field-id`"),
  R('assert-current-schema-id', { 'current-schema-id': Type.Integer() }, "The table's current schema id must match the requirement's `current-schema-id`"),
  R('assert-last-assigned-partition-id', { 'last-assigned-partition-id': Type.Integer() }, "The table's last assigned partition id must match the requirement's `last-assigned-partition-id`"),
  R('assert-default-spec-id', { 'default-spec-id': Type.Integer() }, "The table's default spec id must match the requirement's `default-spec-id`"),
  R('assert-default-sort-order-id', { 'default-sort-order-id': Type.Integer() }, "The table's default sort order id must match the requirement's `default-sort-order-id`"),
];
export const TableRequirement = looseUnion('IcebergRequirement', TableRequirementVariants, 'A commit requirement, discriminated by `type`');
export const ViewRequirement = R('assert-view-uuid', { uuid: Type.String() }, "The view UUID must match the requirement's `uuid`");

// ---------------------------------------------------------------------------- request bodies

export const CreateNamespaceRequest = Type.Object({
  namespace: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'Reference to one or more levels of a namespace' }),
  properties: Type.Optional(StringMap('Configured string to string map of properties for the namespace')),
});
export const UpdateNamespacePropertiesRequest = Type.Object({
  removals: Type.Optional(Type.Array(Type.String(), { uniqueItems: true })),
  updates: Type.Optional(StringMap()),
});
// Spark's REST client sends explicit nulls for absent optional fields.
export const CreateTableRequest = Type.Object({
  name: Type.String({ minLength: 1 }),
  location: Type.Optional(Nullable(Type.String())),
  schema: Schema,
  'partition-spec': Type.Optional(Nullable(PartitionSpec)),
  'write-order': Type.Optional(Nullable(SortOrder)),
  'stage-create': Type.Optional(Type.Boolean()),
  properties: Type.Optional(StringMap()),
});
export const RegisterTableRequest = Type.Object({
  name: Type.String({ minLength: 1 }),
  'metadata-location': Type.String({ minLength: 1 }),
  overwrite: Type.Optional(Type.Boolean({ default: false, description: 'Whether to overwrite table metadata if the table already exists' })),
});
export const CommitTableRequest = Type.Object({
  identifier: Type.Optional(TableIdentifier),
  requirements: Type.Array(TableRequirement),
  updates: Type.Array(TableUpdate),
});
export const CommitTransactionRequest = Type.Object({
  'table-changes': Type.Array(
    Type.Object({ identifier: TableIdentifier, requirements: Type.Array(TableRequirement), updates: Type.Array(TableUpdate) }),
    { minItems: 1 },
  ),
});
export const RenameTableRequest = Type.Object({ source: TableIdentifier, destination: TableIdentifier });
export const CreateViewRequest = Type.Object({
  name: Type.String({ minLength: 1 }),
  location: Type.Optional(Type.String()),
  schema: Schema,
  'view-version': ViewVersion,
  properties: StringMap(),
});
export const CommitViewRequest = Type.Object({
  identifier: Type.Optional(TableIdentifier),
  requirements: Type.Optional(Type.Array(ViewRequirement)),
  updates: Type.Array(ViewUpdate),
});
export const RegisterViewRequest = Type.Object({ name: Type.String({ minLength: 1 }), 'metadata-location': Type.String({ minLength: 1 }) });

const CounterResult = Type.Object({ unit: Type.String(), value: Int64() });
const TimerResult = Type.Object({ 'time-unit': Type.String(), count: Int64(), 'total-duration': Int64() });
export const Metrics = Type.Record(Type.String(), Type.Union([CounterResult, TimerResult]));
export const ScanReport = Type.Object({
  'report-type': Type.Literal('scan-report'),
  'table-name': Type.String(),
  'snapshot-id': Int64(),
  filter: Type.Unknown({ description: 'An expression (Predicate)' }),
  'schema-id': Type.Integer(),
  'projected-field-ids': Type.Array(Type.Integer()),
  'projected-field-names': Type.Array(Type.String()),
  metrics: Metrics,
  metadata: Type.Optional(StringMap()),
});
export const CommitReport = Type.Object({
  'report-type': Type.Literal('commit-report'),
  'table-name': Type.String(),
  'snapshot-id': Int64(),
  'sequence-number': Int64(),
  operation: Type.String(),
  metrics: Metrics,
  metadata: Type.Optional(StringMap()),
});
export const ReportMetricsRequest = Type.Union([ScanReport, CommitReport]);

// --------------------------------------------------------------------------- response bodies

export const CatalogConfig = Type.Object({
  overrides: StringMap('Properties that should be used to override client configuration; applied after defaults and client configuration.'),
  defaults: StringMap('Properties that should be used as default configuration; applied before client configuration.'),
  endpoints: Type.Optional(Type.Array(Type.String(), { description: 'A list of endpoints that the server supports ("<HTTP verb> <resource path>")' })),
  'idempotency-key-lifetime': Type.Optional(Type.String({ description: 'Client reuse window for an Idempotency-Key (ISO-8601 duration)' })),
});
export const ListNamespacesResponse = Type.Object({ 'next-page-token': Type.Optional(PageToken), namespaces: Type.Array(Namespace, { uniqueItems: true }) });
export const CreateNamespaceResponse = Type.Object({ namespace: Namespace, properties: Type.Optional(StringMap()) });
export const GetNamespaceResponse = Type.Object({ namespace: Namespace, properties: Nullable(StringMap()) });
export const UpdateNamespacePropertiesResponse = Type.Object({
  updated: Type.Array(Type.String(), { uniqueItems: true, description: 'List of property keys that were added or updated' }),
  removed: Type.Array(Type.String(), { uniqueItems: true, description: 'List of properties that were removed' }),
  missing: Nullable(Type.Array(Type.String(), { uniqueItems: true, description: "List of properties requested for removal that were not found in the namespace's properties." })),
});
export const ListTablesResponse = Type.Object({ 'next-page-token': Type.Optional(PageToken), identifiers: Type.Array(TableIdentifier, { uniqueItems: true }) });
export const LoadTableResult = Type.Object({
  'metadata-location': Type.Optional(Nullable(Type.String({ description: 'May be null if the table is staged as part of a transaction' }))),
  metadata: TableMetadata,
  config: Type.Optional(StringMap()),
  'storage-credentials': Type.Optional(Type.Array(Type.Object({ prefix: Type.String(), config: StringMap() }))),
});
export const CommitTableResponse = Type.Object({ 'metadata-location': Type.String(), metadata: TableMetadata });
export const LoadViewResult = Type.Object({ 'metadata-location': Type.String(), metadata: ViewMetadata, config: Type.Optional(StringMap()) });

// ------------------------------------------------------------------------------- parameters

export const PrefixParam = Type.String({ description: 'An optional prefix in the path' });
export const NamespaceParam = Type.String({
  description: 'A namespace identifier as a single string. Multipart namespace parts are separated by the unit separator `0x1F` (url encoded `%1F`).',
  examples: ['accounting', 'accounting%1Ftax'],
});
export const PageQuery = {
  pageToken: Type.Optional(Type.String({ description: 'An opaque token from a previous response\'s `next-page-token`; send it empty to start paging. Without it, all results are returned in one response.' })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, description: 'Upper bound of the number of results in one page (with pageToken).' })),
};
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ format: 'uuid', minLength: 36, maxLength: 36, description: 'Optional client-provided idempotency key for safe request retries (a UUID, ideally v7).' }),
  ),
});
export const DataAccessHeader = Type.Optional(
  Type.String({ description: 'X-Iceberg-Access-Delegation: comma-separated delegated access mechanisms (vended-credentials, remote-signing). With vended-credentials, tables on S3 come with short-lived credentials scoped to their location when the service has credential vending configured; remote-signing is not supported.' }),
);

/** Standard error responses of the spec, by status. */
export function errors(...codes: number[]): Record<number, TSchema> {
  const descriptions: Record<number, string> = {
    400: 'Indicates a bad request error (BadRequestException), e.g. a malformed request or failed validation',
    404: 'Not Found: the namespace, table or view does not exist',
    406: 'Not Acceptable / Unsupported Operation (UnsupportedOperationException)',
    409: 'Conflict: already exists, not empty, or a commit requirement failed (CommitFailedException)',
    422: 'Unprocessable Entity: a property key was included in both removals and updates',
    500: 'A server-side problem (e.g. CommitStateUnknownException: the commit outcome is unknown)',
    503: 'The service is not ready to handle the request',
  };
  const out: Record<number, TSchema> = {};
  for (const c of [400, ...codes, 503, 500]) out[c] = Type.Object(IcebergErrorResponse.properties, { description: descriptions[c] });
  return out;
}

export const NoContent = Type.Null({ description: 'Success, no content' });
