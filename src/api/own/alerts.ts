import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { lakehouseError } from '../../core/errors.js';
import { AlertManager } from '../../observability/alerts/manager.js';
import { AlertStore } from '../../observability/alerts/store.js';
import { validateMatchers, type AlertState, type HistoryEntry, type HistoryEvent, type Matcher, type Rule, type RuleSpec, type Silence, type Webhook } from '../../observability/alerts/types.js';
import { Id, responses, send } from './common.js';

/**
 * Alerting (`/api/v1/alerts`): threshold rules over the service's Prometheus metrics, webhook
 * receivers (secret write-only: accepted on create/replace, never returned), silences, the current
 * state of every alert (rule alerts and data-quality alerts) and the history of transitions and
 * deliveries. Rules are evaluated by the service's alert manager (src/observability/alerts).
 */
const tags = ['alerts'];
const Severity = Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')]);
const MatcherSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'Label name' }),
    op: Type.Union([Type.Literal('='), Type.Literal('!='), Type.Literal('=~'), Type.Literal('!~')], { description: 'Prometheus matcher; regexes are fully anchored' }),
    value: Type.String({ maxLength: 1000 }),
  },
  { additionalProperties: false },
);
const Matchers = Type.Array(MatcherSchema, { maxItems: 50 });
const Labels = Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.String({ maxLength: 1000 }), { additionalProperties: false });
const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

const RuleInput = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' }),
    description: Type.Optional(Type.String({ maxLength: 1000 })),
    metric: Type.String({ pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]*$', description: 'Metric name as exposed on /metrics (a histogram series such as …_count or …_sum included)' }),
    matchers: Type.Optional(Matchers),
    aggregation: Type.Optional(Type.Union(['sum', 'avg', 'min', 'max', 'count'].map((a) => Type.Literal(a)), { default: 'sum', description: 'Reduces the matching series to one value; count of no series is 0, other aggregations of no series never fire' })),
    fn: Type.Optional(
      Type.Union(['value', 'rate', 'age'].map((f) => Type.Literal(f)), {
        default: 'value',
        description: 'value: the aggregate; rate: its per-second increase since the previous evaluation (counters); age: now minus the aggregate read as Unix seconds (freshness)',
      }),
    ),
    denominator: Type.Optional(
      Type.Object(
        {
          metric: Type.String({ pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]*$' }),
          matchers: Type.Optional(Matchers),
          aggregation: Type.Optional(Type.Union(['sum', 'avg', 'min', 'max', 'count'].map((a) => Type.Literal(a)), { default: 'sum' })),
        },
        { additionalProperties: false, description: 'The value becomes fn(numerator) / fn(denominator), e.g. an error ratio; no value while the denominator is 0' },
      ),
    ),
    comparison: Type.Union(['>', '>=', '<', '<=', '==', '!='].map((c) => Type.Literal(c))),
    threshold: Type.Number(),
    forSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 604_800, default: 0, description: 'The condition must hold this long before the alert fires (pending until then)' })),
    severity: Type.Optional(Severity),
    labels: Type.Optional(Labels),
    enabled: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);
type RuleIn = Static<typeof RuleInput>;

const RuleOutput = Type.Object(
  {
    id: Id,
    name: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    metric: Type.String(),
    matchers: Matchers,
    aggregation: Type.String(),
    fn: Type.String(),
    denominator: Type.Union([Type.Object({ metric: Type.String(), matchers: Type.Optional(Matchers), aggregation: Type.Optional(Type.String()) }), Type.Null()]),
    comparison: Type.String(),
    threshold: Type.Number(),
    forSeconds: Type.Integer(),
    severity: Severity,
    labels: Labels,
    enabled: Type.Boolean(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

const WebhookInput = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' }),
    url: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2000 }),
    secret: Type.Optional(Type.String({ minLength: 16, maxLength: 1000, description: 'HMAC-SHA256 key of the X-Lakehouse-Signature header (sha256=<hex> over the body). Write-only; required on create, omitted on replace keeps the stored one' })),
    minSeverity: Type.Optional(Severity),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, default: 5, description: 'Attempts (first included) with exponential backoff before the delivery is recorded as failed' })),
    enabled: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);
type WebhookIn = Static<typeof WebhookInput>;

const WebhookOutput = Type.Object(
  {
    id: Id,
    name: Type.String(),
    url: Type.String(),
    secretSet: Type.Boolean({ description: 'A secret is stored (it is never returned)' }),
    minSeverity: Severity,
    maxAttempts: Type.Integer(),
    enabled: Type.Boolean(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

const SilenceInput = Type.Object(
  {
    matchers: Type.Array(MatcherSchema, { minItems: 1, maxItems: 50, description: 'Alerts whose labels (alertname, severity, table, metric, … ) pass every matcher are not notified' }),
    until: Type.String({ format: 'date-time' }),
    comment: Type.Optional(Type.String({ maxLength: 1000 })),
    createdBy: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
type SilenceIn = Static<typeof SilenceInput>;

const SilenceOutput = Type.Object(
  {
    id: Id,
    matchers: Matchers,
    until: Type.String({ format: 'date-time' }),
    active: Type.Boolean(),
    comment: Type.Union([Type.String(), Type.Null()]),
    createdBy: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

const StateName = Type.Union([Type.Literal('inactive'), Type.Literal('pending'), Type.Literal('firing')]);
const AlertOutput = Type.Object(
  {
    key: Type.String({ description: 'rule:<id>, anomaly:<table>:<metric> or check:<table>:<check>' }),
    ruleId: Type.Union([Id, Type.Null()]),
    name: Type.String(),
    state: StateName,
    severity: Severity,
    labels: Labels,
    value: Type.Union([Type.Number(), Type.Null()]),
    message: Type.Union([Type.String(), Type.Null()]),
    activeSince: Time,
    firedAt: Time,
    resolvedAt: Time,
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

const EVENTS = ['pending', 'firing', 'resolved', 'silenced', 'delivered', 'delivery-failed'];
const HistoryOutput = Type.Object(
  {
    id: Id,
    key: Type.String(),
    ruleId: Type.Union([Id, Type.Null()]),
    name: Type.String(),
    event: Type.Union(EVENTS.map((e) => Type.Literal(e))),
    severity: Severity,
    labels: Labels,
    value: Type.Union([Type.Number(), Type.Null()]),
    message: Type.Union([Type.String(), Type.Null()]),
    detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
const HistoryQuery = Type.Object(
  {
    key: Type.Optional(Type.String({ maxLength: 1000 })),
    ruleId: Type.Optional(Id),
    event: Type.Optional(Type.String({ pattern: `^(${EVENTS.join('|')})(,(${EVENTS.join('|')}))*$`, description: 'Comma-separated events' })),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);
type HistoryQ = Static<typeof HistoryQuery>;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function ruleView(r: Rule) {
  const { forMs, ...rest } = r;
  return { ...rest, forSeconds: Math.round(forMs / 1000) };
}
function webhookView(w: Webhook) {
  return { id: w.id, name: w.name, url: w.url, secretSet: w.secret !== '', minSeverity: w.minSeverity, maxAttempts: w.maxAttempts, enabled: w.enabled, createdAt: w.createdAt, updatedAt: w.updatedAt };
}
function silenceView(s: Silence, now: number) {
  return { id: s.id, matchers: s.matchers, until: iso(s.until), active: s.until > now, comment: s.comment, createdBy: s.createdBy, createdAt: s.createdAt };
}
function alertView(a: AlertState) {
  return { ...a, activeSince: iso(a.activeSince), firedAt: iso(a.firedAt), resolvedAt: iso(a.resolvedAt), updatedAt: iso(a.updatedAt) };
}
function historyView(h: HistoryEntry) {
  return { ...h, at: iso(h.at) };
}

function checkMatchers(m: Matcher[] | undefined): Matcher[] {
  try {
    validateMatchers(m ?? []);
  } catch (e) {
    throw lakehouseError('VALIDATION_FAILED', `bad matcher regex: ${(e as Error).message}`);
  }
  return m ?? [];
}

function ruleSpec(b: RuleIn): RuleSpec {
  return {
    name: b.name,
    description: b.description ?? null,
    metric: b.metric,
    matchers: checkMatchers(b.matchers as Matcher[] | undefined),
    aggregation: (b.aggregation ?? 'sum') as RuleSpec['aggregation'],
    fn: (b.fn ?? 'value') as RuleSpec['fn'],
    denominator: b.denominator ? { metric: b.denominator.metric, matchers: checkMatchers(b.denominator.matchers as Matcher[] | undefined), aggregation: (b.denominator.aggregation ?? 'sum') as RuleSpec['aggregation'] } : null,
    comparison: b.comparison as RuleSpec['comparison'],
    threshold: b.threshold,
    forMs: (b.forSeconds ?? 0) * 1000,
    severity: b.severity ?? 'warning',
    labels: b.labels ?? {},
    enabled: b.enabled ?? true,
  };
}

export function registerAlertRoutes(app: FastifyInstance, store: AlertStore): void {
  const IdParams = Type.Object({ id: Id });
  const idOf = (req: { params: unknown }) => (req.params as { id: string }).id;

  app.get(
    '/alerts',
    {
      schema: {
        tags,
        summary: 'Current state of every alert',
        querystring: Type.Object({ state: Type.Optional(StateName) }, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ alerts: Type.Array(AlertOutput) }) }),
      },
    },
    async (req, reply) => {
      const { state } = req.query as { state?: string };
      const all = await store.listStates();
      return send(reply, 200, { alerts: all.filter((a) => !state || a.state === state).map(alertView) });
    },
  );
  app.get('/alerts/history', { schema: { tags, summary: 'Alert transitions and deliveries, newest first', querystring: HistoryQuery, response: responses({ 200: Type.Object({ history: Type.Array(HistoryOutput) }) }) } }, async (req, reply) => {
    const q = req.query as HistoryQ;
    const since = q.since === undefined ? undefined : Date.parse(q.since);
    if (since !== undefined && !Number.isFinite(since)) throw lakehouseError('VALIDATION_FAILED', `since: not a date-time: ${q.since}`);
    const h = await store.listHistory({ key: q.key, ruleId: q.ruleId, events: q.event?.split(',') as HistoryEvent[] | undefined, since, limit: q.limit ?? 100 });
    return send(reply, 200, { history: h.map(historyView) });
  });
  app.post(
    '/alerts/resolve',
    {
      schema: {
        tags,
        summary: 'Resolve a firing alert by hand',
        description: 'Meant for data-quality alerts (they otherwise resolve on the next good batch). A rule alert whose condition still holds fires again at the next evaluation.',
        body: Type.Object({ key: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false }),
        response: responses({ 200: AlertOutput }),
      },
    },
    async (req, reply) => {
      const { key } = req.body as { key: string };
      const before = await store.getState(key);
      if (!before) throw lakehouseError('NOT_FOUND', `no alert ${key}`);
      const manager = new AlertManager({ store, logger: req.log });
      await manager.resolve(key);
      return send(reply, 200, alertView((await store.getState(key))!));
    },
  );

  // ------------------------------------------------------------------------------------ rules
  app.get('/alerts/rules', { schema: { tags, summary: 'List alert rules', response: responses({ 200: Type.Object({ rules: Type.Array(RuleOutput) }) }) } }, async (_req, reply) =>
    send(reply, 200, { rules: (await store.listRules()).map(ruleView) }),
  );
  app.post('/alerts/rules', { schema: { tags, summary: 'Create an alert rule', body: RuleInput, response: responses({ 201: RuleOutput }) } }, async (req, reply) =>
    send(reply, 201, ruleView(await store.createRule(ruleSpec(req.body as RuleIn)))),
  );
  app.get('/alerts/rules/:id', { schema: { tags, summary: 'Describe an alert rule', params: IdParams, response: responses({ 200: RuleOutput }) } }, async (req, reply) => {
    const r = await store.getRule(idOf(req));
    if (!r) throw lakehouseError('NOT_FOUND', `no alert rule ${idOf(req)}`);
    return send(reply, 200, ruleView(r));
  });
  app.put('/alerts/rules/:id', { schema: { tags, summary: 'Replace an alert rule', params: IdParams, body: RuleInput, response: responses({ 200: RuleOutput }) } }, async (req, reply) =>
    send(reply, 200, ruleView(await store.replaceRule(idOf(req), ruleSpec(req.body as RuleIn)))),
  );
  app.delete('/alerts/rules/:id', { schema: { tags, summary: 'Delete an alert rule (its history stays)', params: IdParams, response: responses({ 204: Type.Null() }) } }, async (req, reply) => {
    await store.deleteRule(idOf(req));
    return reply.code(204).send();
  });

  // --------------------------------------------------------------------------------- webhooks
  app.get('/alerts/webhooks', { schema: { tags, summary: 'List webhook receivers', response: responses({ 200: Type.Object({ webhooks: Type.Array(WebhookOutput) }) }) } }, async (_req, reply) =>
    send(reply, 200, { webhooks: (await store.listWebhooks()).map(webhookView) }),
  );
  app.post('/alerts/webhooks', { schema: { tags, summary: 'Create a webhook receiver', body: WebhookInput, response: responses({ 201: WebhookOutput }) } }, async (req, reply) => {
    const b = req.body as WebhookIn;
    if (!b.secret) throw lakehouseError('VALIDATION_FAILED', 'secret is required when creating a webhook');
    return send(reply, 201, webhookView(await store.createWebhook({ ...b, secret: b.secret })));
  });
  app.get('/alerts/webhooks/:id', { schema: { tags, summary: 'Describe a webhook receiver', params: IdParams, response: responses({ 200: WebhookOutput }) } }, async (req, reply) => {
    const w = await store.getWebhook(idOf(req));
    if (!w) throw lakehouseError('NOT_FOUND', `no webhook ${idOf(req)}`);
    return send(reply, 200, webhookView(w));
  });
  app.put('/alerts/webhooks/:id', { schema: { tags, summary: 'Replace a webhook receiver (an omitted secret keeps the stored one)', params: IdParams, body: WebhookInput, response: responses({ 200: WebhookOutput }) } }, async (req, reply) =>
    send(reply, 200, webhookView(await store.replaceWebhook(idOf(req), req.body as WebhookIn))),
  );
  app.delete('/alerts/webhooks/:id', { schema: { tags, summary: 'Delete a webhook receiver', params: IdParams, response: responses({ 204: Type.Null() }) } }, async (req, reply) => {
    await store.deleteWebhook(idOf(req));
    return reply.code(204).send();
  });

  // --------------------------------------------------------------------------------- silences
  app.get(
    '/alerts/silences',
    {
      schema: {
        tags,
        summary: 'List silences',
        querystring: Type.Object({ all: Type.Optional(Type.Boolean({ default: false, description: 'Include expired silences' })) }, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ silences: Type.Array(SilenceOutput) }) }),
      },
    },
    async (req, reply) => {
      const now = Date.now();
      const { all } = req.query as { all?: boolean };
      return send(reply, 200, { silences: (await store.listSilences(all ? undefined : now)).map((s) => silenceView(s, now)) });
    },
  );
  app.post('/alerts/silences', { schema: { tags, summary: 'Silence matching alerts until a time', body: SilenceInput, response: responses({ 201: SilenceOutput }) } }, async (req, reply) => {
    const b = req.body as SilenceIn;
    const until = Date.parse(b.until);
    if (!Number.isFinite(until) || until <= Date.now()) throw lakehouseError('VALIDATION_FAILED', `until must be a future date-time: ${b.until}`);
    const s = await store.createSilence({ matchers: checkMatchers(b.matchers as Matcher[]), until, comment: b.comment ?? null, createdBy: b.createdBy ?? null });
    return send(reply, 201, silenceView(s, Date.now()));
  });
  app.delete('/alerts/silences/:id', { schema: { tags, summary: 'Remove a silence', params: IdParams, response: responses({ 204: Type.Null() }) } }, async (req, reply) => {
    await store.deleteSilence(idOf(req));
    return reply.code(204).send();
  });
}

/** The alert store over the own API's catalog database. */
export function alertStoreOf(own: { db: unknown; catalogName: string }): AlertStore {
  return new AlertStore(own.db as never, own.catalogName);
}
