import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { lakehouseError } from '../../core/errors.js';
import { validateParams, MAINTENANCE_ACTIONS } from '../../scheduler/executors.js';
import { nextSlot, validateSchedule } from '../../scheduler/schedule.js';
import { SchedulerStore, type JobRecord, type JobSpec, type RunRecord, type RunStatus } from '../../scheduler/store.js';
import { Id, responses, send } from './common.js';
import { requestAuth } from '../../security/http.js';
import type { OwnStore } from './store.js';

/**
 * Scheduled jobs (`/api/v1/schedules`): SQL transformations, table maintenance and batch
 * ingestion on a cron expression or an interval, with their run history, "run now" and cancel.
 * The scheduler runners of the service processes execute them (src/scheduler).
 */
const Kind = Type.Union([Type.Literal('sql'), Type.Literal('maintenance'), Type.Literal('batch-ingest')]);
const Status = Type.Union(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped'].map((s) => Type.Literal(s)));

const ScheduleInput = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' }),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    kind: Kind,
    params: Type.Record(Type.String(), Type.Unknown(), {
      description:
        'sql: {sql, defaultNamespace?} (INSERT … SELECT, CREATE TABLE AS, MERGE, or a SELECT). ' +
        `maintenance: {namespace, table, action: ${MAINTENANCE_ACTIONS.join(' | ')}, options?: {targetFileSizeBytes, minInputFiles, olderThanAgeMs, retainLast, targetManifestSizeBytes}} ` +
        "('auto' runs what the table's lakehouse.maintenance.* policy says is due). " +
        'batch-ingest: {namespace, table, path | url, format?, delimiter?, header?, quote?, mapping?, maxFiles?, reingestChanged?} — path is a storage ' +
        'file, folder or glob (`*`, `?`, `**`) under the warehouse or a registered storage source, url an http(s) URL; each run ingests only files ' +
        'the table has not received before (one commit per file).',
    }),
    cron: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Cron expression (5 fields, or 6 with seconds first); exclusive with intervalSeconds' })),
    intervalSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_622_400, description: 'Run every N seconds from startAt; exclusive with cron' })),
    timezone: Type.Optional(Type.String({ default: 'UTC', description: 'IANA time zone the cron expression is read in' })),
    owner: Type.Optional(Type.String({ maxLength: 200 })),
    enabled: Type.Optional(Type.Boolean({ default: true })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 604_800_000, description: 'Abort a run (attempt) after this long' })),
    retry: Type.Optional(
      Type.Object(
        {
          maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 1 })),
          backoffMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000, default: 1000 })),
          multiplier: Type.Optional(Type.Number({ minimum: 1, maximum: 100, default: 2 })),
        },
        { additionalProperties: false },
      ),
    ),
    concurrency: Type.Optional(Type.Union([Type.Literal('skip'), Type.Literal('queue')], { default: 'queue', description: 'When a slot comes due while the previous run is still going' })),
    catchUp: Type.Optional(
      Type.Union([Type.Literal('none'), Type.Literal('one'), Type.Literal('all')], { default: 'one', description: 'Missed slots (service down, job disabled): run none, the latest, or all' }),
    ),
    startAt: Type.Optional(Type.String({ format: 'date-time', description: 'First slot (intervals are anchored here); past slots count as missed' })),
  },
  { additionalProperties: false },
);
type ScheduleIn = Static<typeof ScheduleInput>;

const ScheduleOutput = Type.Object(
  {
    id: Id,
    name: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    kind: Kind,
    params: Type.Record(Type.String(), Type.Unknown()),
    cron: Type.Union([Type.String(), Type.Null()]),
    intervalSeconds: Type.Union([Type.Integer(), Type.Null()]),
    timezone: Type.String(),
    owner: Type.Union([Type.String(), Type.Null()]),
    enabled: Type.Boolean(),
    timeoutMs: Type.Union([Type.Integer(), Type.Null()]),
    retry: Type.Object({ maxAttempts: Type.Integer(), backoffMs: Type.Integer(), multiplier: Type.Number() }),
    concurrency: Type.String(),
    catchUp: Type.String(),
    startAt: Type.String({ format: 'date-time' }),
    nextRunAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const RunOutput = Type.Object(
  {
    id: Id,
    scheduleId: Id,
    scheduledFor: Type.String({ format: 'date-time' }),
    trigger: Type.String({ description: 'schedule, catch-up or manual' }),
    status: Status,
    attempt: Type.Integer(),
    nextAttemptAt: Time,
    startedAt: Time,
    endedAt: Time,
    rowsAffected: Type.Union([Type.Integer(), Type.Null()]),
    filesAffected: Type.Union([Type.Integer(), Type.Null()]),
    error: Type.Union([Type.String(), Type.Null()]),
    runnerId: Type.Union([Type.String(), Type.Null()]),
    cancelRequested: Type.Boolean(),
    logs: Type.Array(Type.Object({ at: Type.String(), level: Type.String(), message: Type.String() })),
  },
  { additionalProperties: false },
);

const RunQuery = Type.Object(
  {
    scheduleId: Type.Optional(Id),
    status: Type.Optional(Type.String({ pattern: '^(queued|running|succeeded|failed|cancelled|skipped)(,(queued|running|succeeded|failed|cancelled|skipped))*$', description: 'Comma-separated statuses' })),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'scheduledFor >= since' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'scheduledFor < until' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);
type RunQ = Static<typeof RunQuery>;

/** ISO time, or null when absent or outside years 0000–9999 (not representable as an RFC 3339 date-time). */
const iso = (ms: number | null): string | null => (ms === null || !Number.isFinite(ms) || ms < -62_167_219_200_000 || ms > 253_402_300_799_999 ? null : new Date(ms).toISOString());

function view(j: JobRecord, now = Date.now()): Record<string, unknown> {
  const next = j.enabled ? nextSlot(j, Math.max(j.cursorMs, now)) : null;
  return {
    id: j.id,
    name: j.name,
    description: j.description,
    kind: j.kind,
    params: j.params,
    cron: j.cron,
    intervalSeconds: j.intervalSeconds,
    timezone: j.timezone,
    owner: j.owner,
    enabled: j.enabled,
    timeoutMs: j.timeoutMs,
    retry: j.retry,
    concurrency: j.concurrency,
    catchUp: j.catchUp,
    startAt: iso(j.startAt) ?? new Date(0).toISOString(),
    nextRunAt: iso(next),
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
  };
}

function runView(r: RunRecord): Record<string, unknown> {
  return {
    id: r.id,
    scheduleId: r.jobId,
    scheduledFor: iso(r.scheduledFor),
    trigger: r.trigger,
    status: r.status,
    attempt: r.attempt,
    nextAttemptAt: r.status === 'queued' ? iso(r.nextAttemptAt) : null,
    startedAt: iso(r.startedAt),
    endedAt: iso(r.endedAt),
    rowsAffected: r.rowsAffected,
    filesAffected: r.filesAffected,
    error: r.error,
    runnerId: r.runnerId,
    cancelRequested: r.cancelRequested,
    logs: r.logs,
  };
}

/** `runAs`: the caller, whose privileges the job's runs check (security/run-as.ts); never from the body. */
function spec(b: ScheduleIn, runAs: string | null = null): JobSpec {
  const tz = b.timezone ?? 'UTC';
  validateSchedule(b.cron, b.intervalSeconds, tz);
  validateParams(b.kind, b.params);
  let startAt: number | null = null;
  if (b.startAt !== undefined) {
    startAt = Date.parse(b.startAt);
    if (!Number.isFinite(startAt) || startAt < 0 || startAt > 253_402_300_799_999) throw lakehouseError('VALIDATION_FAILED', `startAt: not a date-time between 1970 and 9999: ${b.startAt}`);
  }
  return {
    name: b.name,
    kind: b.kind,
    params: b.params,
    cron: b.cron ?? null,
    intervalSeconds: b.intervalSeconds ?? null,
    timezone: tz,
    owner: b.owner ?? null,
    runAs,
    description: b.description ?? null,
    enabled: b.enabled ?? true,
    timeoutMs: b.timeoutMs ?? null,
    retry: b.retry,
    concurrency: b.concurrency ?? 'queue',
    catchUp: b.catchUp ?? 'one',
    startAt,
  };
}

function runFilter(q: RunQ, scheduleId?: string) {
  const time = (s: string | undefined, what: string) => {
    if (s === undefined) return undefined;
    const t = Date.parse(s);
    if (!Number.isFinite(t)) throw lakehouseError('VALIDATION_FAILED', `${what}: not a date-time: ${s}`);
    return t;
  };
  return {
    jobId: scheduleId ?? q.scheduleId,
    status: q.status ? (q.status.split(',') as RunStatus[]) : undefined,
    since: time(q.since, 'since'),
    until: time(q.until, 'until'),
    limit: q.limit ?? 100,
  };
}

export function registerScheduleRoutes(app: FastifyInstance, own: OwnStore): void {
  const store = new SchedulerStore(own.db, own.catalogName);
  const tags = ['schedules'];
  const IdParams = Type.Object({ id: Id });
  const RunParams = Type.Object({ runId: Id });
  const get = async (id: string) => {
    const j = await store.getJob(id);
    if (!j) throw lakehouseError('NOT_FOUND', `no schedule ${id}`);
    return j;
  };

  app.get(
    '/schedules',
    {
      schema: {
        tags,
        summary: 'List scheduled jobs',
        querystring: Type.Object({ owner: Type.Optional(Type.String()) }, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ schedules: Type.Array(ScheduleOutput) }) }),
      },
    },
    async (req, reply) => {
      const { owner } = req.query as { owner?: string };
      const now = Date.now();
      return send(reply, 200, { schedules: (await store.listJobs({ owner })).map((j) => view(j, now)) });
    },
  );
  app.post('/schedules', { schema: { tags, summary: 'Create a scheduled job', body: ScheduleInput, response: responses({ 201: ScheduleOutput }) } }, async (req, reply) =>
    send(reply, 201, view(await store.createJob(spec(req.body as ScheduleIn, requestAuth(req)?.principal ?? null)))),
  );
  app.get('/schedules/runs', { schema: { tags, summary: 'List runs of all scheduled jobs (newest first)', querystring: RunQuery, response: responses({ 200: Type.Object({ runs: Type.Array(RunOutput) }) }) } }, async (req, reply) =>
    send(reply, 200, { runs: (await store.listRuns(runFilter(req.query as RunQ))).map(runView) }),
  );
  app.get('/schedules/runs/:runId', { schema: { tags, summary: 'Describe a run (status, attempts, logs)', params: RunParams, response: responses({ 200: RunOutput }) } }, async (req, reply) => {
    const { runId } = req.params as { runId: string };
    const r = await store.getRun(runId);
    if (!r) throw lakehouseError('NOT_FOUND', `no run ${runId}`);
    return send(reply, 200, runView(r));
  });
  app.post(
    '/schedules/runs/:runId/cancel',
    {
      schema: {
        tags,
        summary: 'Cancel a run',
        description: 'A queued run is cancelled at once; a running one is flagged and stopped by its runner shortly (status becomes cancelled). 409 when it already ended.',
        params: RunParams,
        response: responses({ 202: RunOutput }),
      },
    },
    async (req, reply) => send(reply, 202, runView(await store.cancelRun((req.params as { runId: string }).runId))),
  );
  app.get('/schedules/:id', { schema: { tags, summary: 'Describe a scheduled job', params: IdParams, response: responses({ 200: ScheduleOutput }) } }, async (req, reply) =>
    send(reply, 200, view(await get((req.params as { id: string }).id))),
  );
  app.put(
    '/schedules/:id',
    { schema: { tags, summary: 'Replace a scheduled job', description: 'Changing the schedule restarts it from now (no catch-up of the new schedule).', params: IdParams, body: ScheduleInput, response: responses({ 200: ScheduleOutput }) } },
    async (req, reply) => send(reply, 200, view(await store.replaceJob((req.params as { id: string }).id, spec(req.body as ScheduleIn, requestAuth(req)?.principal ?? null)))),
  );
  app.delete('/schedules/:id', { schema: { tags, summary: 'Delete a scheduled job and its run history', params: IdParams, response: responses({ 204: Type.Null() }) } }, async (req, reply) => {
    await store.deleteJob((req.params as { id: string }).id);
    return reply.code(204).send();
  });
  app.post(
    '/schedules/:id/run',
    { schema: { tags, summary: 'Run a job now', description: 'Queues a manual run; a scheduler runner starts it within a poll interval (concurrency rules apply).', params: IdParams, response: responses({ 202: RunOutput }) } },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      await get(id);
      return send(reply, 202, runView(await store.runNow(id)));
    },
  );
  app.get(
    '/schedules/:id/runs',
    { schema: { tags, summary: "List a job's runs (newest first)", params: IdParams, querystring: Type.Omit(RunQuery, ['scheduleId']), response: responses({ 200: Type.Object({ runs: Type.Array(RunOutput) }) }) } },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      await get(id);
      return send(reply, 200, { runs: (await store.listRuns(runFilter(req.query as RunQ, id))).map(runView) });
    },
  );
}
