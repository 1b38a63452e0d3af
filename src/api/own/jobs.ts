import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { lakehouseError } from '../../core/errors.js';
import { DerivedExpressionError, validateDerived } from '../../ingest/derived.js';
import { ENRICHMENT_COLUMNS } from '../../ingest/mapping.js';
import { validateCheckSpecs } from '../../quality/checks.js';
import { Id, NameParam, NamespaceParam, responses, send } from './common.js';
import type { JobRecord, OwnStore } from './store.js';
import { requestAuth } from '../../security/http.js';

/**
 * Ingestion job definitions: which Kafka source and topics (a list and/or a pattern) feed which
 * table, with a mapping and a schedule. Running them: ingest.ts and src/ingest/job-manager.ts.
 * The mapping's parts the runner interprets are checked here, so that a bad definition is a 400
 * now rather than a failing job later — derived SQL expressions are parsed and bound by DuckDB.
 */
const JobInput = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' }),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    sourceId: Type.String({ format: 'uuid', description: 'A Kafka source (/api/v1/sources/kafka)' }),
    topics: Type.Array(Type.String({ pattern: '^[A-Za-z0-9._-]{1,249}$' }), { maxItems: 100, description: 'Topics to consume (may be empty when topicPattern is given)' }),
    topicPattern: Type.Optional(
      Type.String({ minLength: 1, maxLength: 1000, description: 'Regular expression (JavaScript syntax, whole name): every matching topic is consumed, also ones created later' }),
    ),
    target: Type.Object({ namespace: NamespaceParam, table: NameParam }, { additionalProperties: false }),
    mapping: Type.Record(Type.String(), Type.Unknown(), {
      description:
        'How records become rows: columns (per column a source field or {from, cast, default, min, max, pattern, enum}), drop, unknownFields, ' +
        'enrich (topic, partition, offset, key, timestamp, ingested_at, headers), headerColumns ({column: header}), derived ({column: SQL expression}), ' +
        'schemaEvolution (boolean), commit ({maxRecords, maxBytes, intervalMs}), startFrom (earliest, latest or {timestampMs})',
    }),
    schedule: Type.String({
      pattern: '^(manual|continuous|@(hourly|daily|weekly|monthly)|[0-9*/,-]+ [0-9*/,-]+ [0-9*/,-]+ [0-9*/,-]+ [0-9*/,-]+)$',
      description: 'manual, continuous, @hourly/@daily/@weekly/@monthly, or a 5-field cron expression',
    }),
    enabled: Type.Optional(Type.Boolean({ default: false })),
    format: Type.Optional(
      Type.Union([Type.Literal('json'), Type.Literal('avro'), Type.Literal('json-schema')], {
        description: 'Record value format (default json); avro and json-schema are Confluent schema-registry framed and need schemaRegistry',
      }),
    ),
    schemaRegistry: Type.Optional(
      Type.Object(
        {
          url: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2000, description: 'Confluent-compatible registry API base, e.g. http://registry:8081' }),
          username: Type.Optional(Type.String({ maxLength: 1024 })),
          password: Type.Optional(Type.String({ maxLength: 4096, description: 'Write-only: reads show "********"; on replace, omitted or "********" keeps the stored one' })),
        },
        { additionalProperties: false, description: 'Where avro / json-schema records find their schemas (HTTP basic auth optional)' },
      ),
    ),
    quality: Type.Optional(
      Type.Object(
        {
          checks: Type.Optional(
            Type.Array(Type.Record(Type.String(), Type.Unknown()), {
              maxItems: 100,
              description:
                'Checks run on every batch (default: the table property lakehouse.quality.checks): {kind: not_null|unique|range|accepted_values|regex|freshness|row_count|sql, ' +
                'column / columns / min / max / values / pattern / maxAgeSeconds / expression, name?, severity?: warning|critical}',
            }),
          ),
          anomalyDetection: Type.Optional(Type.Boolean({ default: true, description: "Score each batch's profile (row count, null ratios, distinct ratios, min/max/mean) against the table's adaptive baseline" })),
          quarantine: Type.Optional(Type.Boolean({ default: false, description: 'Commit a suspect batch (anomaly or failed critical check) to the quarantine branch instead of main; its offsets still advance' })),
          branch: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$', description: 'Quarantine branch (default quarantine; not main)' })),
        },
        { additionalProperties: false, description: 'Data quality per batch; failed checks and anomalies raise alerts' },
      ),
    ),
  },
  { additionalProperties: false },
);
type JobIn = Static<typeof JobInput>;

const JobOutput = Type.Composite(
  [
    Type.Object({ id: Id, createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }) }),
    Type.Object({ ...JobInput.properties, enabled: Type.Boolean() }),
  ],
  { additionalProperties: false },
);

function view(rec: JobRecord): Record<string, unknown> {
  // The schema registry password is write-only, like data source secrets.
  const reg = rec.definition.schemaRegistry as JobIn['schemaRegistry'];
  const masked = reg?.password ? { schemaRegistry: { ...reg, password: '********' } } : {};
  return { id: rec.id, name: rec.name, sourceId: rec.sourceId, ...rec.definition, ...masked, createdAt: rec.createdAt, updatedAt: rec.updatedAt };
}

/** On replace, an omitted or masked registry password keeps the stored one (same registry URL only). */
function keepRegistryPassword(b: JobIn, prev: JobRecord): JobIn {
  const old = prev.definition.schemaRegistry as JobIn['schemaRegistry'];
  const reg = b.schemaRegistry;
  if (!reg || !old?.password || old.url !== reg.url || (reg.password !== undefined && reg.password !== '********')) return b;
  return { ...b, schemaRegistry: { ...reg, password: old.password } };
}

const isStringRecord = (v: unknown): v is Record<string, string> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');

async function validateRunnerOptions(b: JobIn): Promise<void> {
  const bad = (msg: string) => lakehouseError('VALIDATION_FAILED', msg);
  if (b.topics.length === 0 && !b.topicPattern) throw bad('give topics, a topicPattern, or both');
  if ((b.format === 'avro' || b.format === 'json-schema') && !b.schemaRegistry) throw bad(`format ${b.format} needs a schemaRegistry`);
  if (b.topicPattern) {
    try {
      new RegExp(b.topicPattern);
    } catch (e) {
      throw bad(`topicPattern: ${(e as Error).message}`);
    }
  }
  if (b.quality?.checks !== undefined) validateCheckSpecs(b.quality.checks, 'quality.checks');
  if (b.quality?.branch === 'main') throw bad('quality.branch: the quarantine branch cannot be main');
  const m = b.mapping;
  if (m.enrich !== undefined && (!Array.isArray(m.enrich) || m.enrich.some((e) => typeof e !== 'string' || !Object.hasOwn(ENRICHMENT_COLUMNS, e)))) {
    throw bad(`mapping.enrich: a list of ${Object.keys(ENRICHMENT_COLUMNS).join(', ')}`);
  }
  if (m.headerColumns !== undefined && !isStringRecord(m.headerColumns)) throw bad('mapping.headerColumns: an object of column → header name');
  if (m.schemaEvolution !== undefined && typeof m.schemaEvolution !== 'boolean') throw bad('mapping.schemaEvolution: true or false');
  // The runner reads anything else as earliest: a typo would silently re-read the whole topic.
  const from = m.startFrom as { timestampMs?: unknown } | string | undefined;
  const isTimestamp = typeof from === 'object' && from !== null && !Array.isArray(from) && Object.keys(from).length === 1 && Number.isSafeInteger(from.timestampMs) && (from.timestampMs as number) >= 0;
  if (from !== undefined && from !== 'earliest' && from !== 'latest' && !isTimestamp) throw bad('mapping.startFrom: earliest, latest or {timestampMs} (milliseconds since the epoch)');
  if (m.derived !== undefined) {
    if (!isStringRecord(m.derived)) throw bad('mapping.derived: an object of column → SQL expression');
    try {
      await validateDerived(m.derived, null);
    } catch (e) {
      if (e instanceof DerivedExpressionError) throw bad(`mapping.${e.message}`);
      throw e;
    }
  }
}

export function registerJobRoutes(app: FastifyInstance, store: OwnStore): void {
  const tags = ['ingestion'];
  const IdParams = Type.Object({ id: Id });
  const validate = async (b: JobIn) => {
    const src = await store.getSource(null, b.sourceId);
    if (!src) throw lakehouseError('VALIDATION_FAILED', `sourceId ${b.sourceId}: no such data source`);
    if (src.kind !== 'kafka') throw lakehouseError('VALIDATION_FAILED', `sourceId ${b.sourceId}: not a Kafka source`);
    await validateRunnerOptions(b);
  };
  const definition = (b: JobIn): Record<string, unknown> => {
    const { name: _n, sourceId: _s, ...rest } = b;
    return { ...rest, enabled: b.enabled ?? false };
  };

  app.get('/ingestion-jobs', { schema: { tags, summary: 'List ingestion job definitions', response: responses({ 200: Type.Object({ jobs: Type.Array(JobOutput) }) }) } }, async (_req, reply) =>
    send(reply, 200, { jobs: (await store.listJobs()).map(view) }),
  );
  app.post('/ingestion-jobs', { schema: { tags, summary: 'Define an ingestion job', body: JobInput, response: responses({ 201: JobOutput }) } }, async (req, reply) => {
    const b = req.body as JobIn;
    await validate(b);
    return send(reply, 201, view(await store.createJob(b.name, b.sourceId, definition(b), requestAuth(req)?.principal ?? null)));
  });
  app.get('/ingestion-jobs/:id', { schema: { tags, summary: 'Describe an ingestion job', params: IdParams, response: responses({ 200: JobOutput }) } }, async (req, reply) => {
    const rec = await store.getJob((req.params as { id: string }).id);
    if (!rec) throw lakehouseError('NOT_FOUND', `no ingestion job ${(req.params as { id: string }).id}`);
    return send(reply, 200, view(rec));
  });
  app.put(
    '/ingestion-jobs/:id',
    { schema: { tags, summary: 'Replace an ingestion job definition', params: IdParams, body: JobInput, response: responses({ 200: JobOutput }) } },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const prev = await store.getJob(id);
      if (!prev) throw lakehouseError('NOT_FOUND', `no ingestion job ${id}`);
      const b = keepRegistryPassword(req.body as JobIn, prev);
      await validate(b);
      return send(reply, 200, view(await store.updateJob(id, b.name, b.sourceId, definition(b), requestAuth(req)?.principal ?? null)));
    },
  );
  app.delete('/ingestion-jobs/:id', { schema: { tags, summary: 'Delete an ingestion job definition', params: IdParams, response: responses({ 204: Type.Null() }) } }, async (req, reply) => {
    await store.deleteJob((req.params as { id: string }).id);
    return reply.code(204).send();
  });
}
