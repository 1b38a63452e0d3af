import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { lakehouseError } from '../../core/errors.js';
import { Id, NameParam, NamespaceParam, responses, send } from './common.js';
import type { JobRecord, OwnStore } from './store.js';

/**
 * Ingestion job definitions: which Kafka source and topics feed which table, with a column
 * mapping and a schedule. Only the definitions are managed here; running them comes later.
 */
const JobInput = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' }),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    sourceId: Type.String({ format: 'uuid', description: 'A Kafka source (/api/v1/sources/kafka)' }),
    topics: Type.Array(Type.String({ pattern: '^[A-Za-z0-9._-]{1,249}$' }), { minItems: 1, maxItems: 100 }),
    target: Type.Object({ namespace: NamespaceParam, table: NameParam }, { additionalProperties: false }),
    mapping: Type.Record(Type.String(), Type.Unknown(), {
      description: 'How message fields map to table columns (free-form JSON; interpreted by the ingestion runner)',
    }),
    schedule: Type.String({
      pattern: '^(manual|continuous|@(hourly|daily|weekly|monthly)|[0-9*/,-]+ [0-9*/,-]+ [0-9*/,-]+ [0-9*/,-]+ [0-9*/,-]+)$',
      description: 'manual, continuous, @hourly/@daily/@weekly/@monthly, or a 5-field cron expression',
    }),
    enabled: Type.Optional(Type.Boolean({ default: false })),
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
  return { id: rec.id, name: rec.name, sourceId: rec.sourceId, ...rec.definition, createdAt: rec.createdAt, updatedAt: rec.updatedAt };
}

export function registerJobRoutes(app: FastifyInstance, store: OwnStore): void {
  const tags = ['ingestion'];
  const IdParams = Type.Object({ id: Id });
  const validate = async (b: JobIn) => {
    const src = await store.getSource(null, b.sourceId);
    if (!src) throw lakehouseError('VALIDATION_FAILED', `sourceId ${b.sourceId}: no such data source`);
    if (src.kind !== 'kafka') throw lakehouseError('VALIDATION_FAILED', `sourceId ${b.sourceId}: not a Kafka source`);
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
    return send(reply, 201, view(await store.createJob(b.name, b.sourceId, definition(b))));
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
      if (!(await store.getJob(id))) throw lakehouseError('NOT_FOUND', `no ingestion job ${id}`);
      const b = req.body as JobIn;
      await validate(b);
      return send(reply, 200, view(await store.updateJob(id, b.name, b.sourceId, definition(b))));
    },
  );
  app.delete('/ingestion-jobs/:id', { schema: { tags, summary: 'Delete an ingestion job definition', params: IdParams, response: responses({ 204: Type.Null() }) } }, async (req, reply) => {
    await store.deleteJob((req.params as { id: string }).id);
    return reply.code(204).send();
  });
}
