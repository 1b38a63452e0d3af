import type { Privilege, ResourceRef } from './model.js';

/**
 * The route rule table: for every HTTP route (method + URL pattern as registered; the Iceberg
 * REST prefix written `{prefix}`), who may call it. One place decides access for the whole API,
 * checked by the hooks in ./http.ts; a registered route with no rule here is refused (403) and
 * fails the permission-matrix test.
 *
 * Decisions beyond the obvious ones:
 *  - /health and /ready are open (orchestrators probe them without credentials); /metrics is open
 *    unless `auth.metricsPublic` is false; /docs (Swagger UI and the OpenAPI document) is open:
 *    it describes the API, no data.
 *  - Listing or describing a container (namespace, table schema, refs) needs SELECT on it or any
 *    grant inside it (`orBelow`), so a principal granted one table can find it.
 *  - Iceberg loadTable and credential vending hand out raw metadata and file locations; a
 *    principal held to column masks, row filters or a column subset is refused there and reads
 *    through SQL instead.
 *  - An Iceberg commit that only appends (add-snapshot with an `append` summary plus ref moves)
 *    needs INSERT; any other commit MODIFY.
 *  - Data sources, ingestion jobs and schedules are operated with MANAGE on the catalog.
 *  - External sources (federated SQL) too; a table `<source>.<schema>.<table>` is the resource
 *    namespace `[source, schema]`, table `table` for grants, masks and row filters.
 *  - SQL queries only need a caller: the SQL engine checks each table a statement touches
 *    (SELECT through the caller's masks and row filters; INSERT / CREATE / MODIFY for writes).
 */
export interface Check {
  privilege: Privilege;
  resource: ResourceRef;
  /** Also satisfied by a grant of the privilege on anything inside the resource. */
  orBelow?: boolean;
}

export interface RuleRequest {
  params: Record<string, string>;
  body: unknown;
  query: Record<string, unknown>;
}

export interface RouteRule {
  access: 'public' | 'authenticated' | 'checked';
  /** Audit action name. */
  action: string;
  checks?: (r: RuleRequest) => Check[];
  /** The table whose raw metadata the route returns (refused to principals limited by masks/filters). */
  rawTable?: (r: RuleRequest) => ResourceRef;
  /** Metrics: public only when configured so. */
  metrics?: true;
}

const ibNs = (r: RuleRequest): string[] => r.params.namespace.split('\u001f');
const ownNs = (r: RuleRequest): string[] => r.params.namespace.split('.');
const ibTable = (r: RuleRequest): ResourceRef => ({ namespace: ibNs(r), table: r.params.table });
const ibView = (r: RuleRequest): ResourceRef => ({ namespace: ibNs(r), table: r.params.view });
const ownTable = (r: RuleRequest): ResourceRef => ({ namespace: ownNs(r), table: r.params.table });
const CATALOG: ResourceRef = {};

function obj(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** An identifier `{namespace: string[], name}` from a body; the catalog when it is not one (validation then rejects the request). */
function identIn(v: unknown): ResourceRef {
  const o = obj(v);
  const ns = Array.isArray(o.namespace) && o.namespace.every((l) => typeof l === 'string') ? (o.namespace as string[]) : null;
  return ns && typeof o.name === 'string' ? { namespace: ns, table: o.name } : CATALOG;
}

function parentOf(t: ResourceRef): ResourceRef {
  return t.table === undefined ? CATALOG : { namespace: t.namespace };
}

/** INSERT for pure appends, MODIFY for anything else. */
export function commitPrivilege(body: unknown): Privilege {
  const updates = obj(body).updates;
  if (!Array.isArray(updates) || updates.length === 0) return 'MODIFY';
  let appended = false;
  for (const u of updates) {
    const o = obj(u);
    if (o.action === 'add-snapshot' && obj(obj(o.snapshot).summary).operation === 'append') appended = true;
    else if (o.action !== 'set-snapshot-ref') return 'MODIFY';
  }
  return appended ? 'INSERT' : 'MODIFY';
}


const data = (action: string, checks: RouteRule['checks'], extra: Partial<RouteRule> = {}): RouteRule => ({ access: 'checked', action, checks, ...extra });
const manage = (action: string): RouteRule => data(action, () => [{ privilege: 'MANAGE', resource: CATALOG }]);
const security = (action: string): RouteRule => data(action, () => [{ privilege: 'MANAGE_GRANTS', resource: CATALOG }]);
const sel = (res: (r: RuleRequest) => ResourceRef, orBelow = false) => (r: RuleRequest): Check[] => [{ privilege: 'SELECT', resource: res(r), orBelow }];
const priv = (p: Privilege, res: (r: RuleRequest) => ResourceRef) => (r: RuleRequest): Check[] => [{ privilege: p, resource: res(r) }];
const nsOf = (r: RuleRequest): ResourceRef => ({ namespace: ibNs(r) });
const ownNsOf = (r: RuleRequest): ResourceRef => ({ namespace: ownNs(r) });

const IB = '/v1/{prefix}';
const OWN = '/api/v1';

export const ROUTE_RULES: Record<string, RouteRule> = {
  // ------------------------------------------------------------------------------- service
  'GET /health': { access: 'public', action: 'service.health' },
  'GET /ready': { access: 'public', action: 'service.ready' },
  'GET /metrics': { access: 'authenticated', action: 'service.metrics', metrics: true },
  'GET /docs': { access: 'public', action: 'docs' },
  'GET /docs/': { access: 'public', action: 'docs' },
  'GET /docs/static/index.html': { access: 'public', action: 'docs' },
  'GET /docs/static/swagger-initializer.js': { access: 'public', action: 'docs' },
  'GET /docs/static/*': { access: 'public', action: 'docs' },
  'HEAD /docs/static/*': { access: 'public', action: 'docs' },
  'GET /docs/json': { access: 'public', action: 'docs' },
  'GET /docs/yaml': { access: 'public', action: 'docs' },
  // The web console's static files (src/api/console.ts): code, no data.
  'GET /': { access: 'public', action: 'console' },
  'GET /assets/*': { access: 'public', action: 'console' },
  'GET /api/v1/console/auth-config': { access: 'public', action: 'console' },

  // ----------------------------------------------------------------------- Iceberg REST
  'POST /v1/oauth/tokens': { access: 'public', action: 'auth.token' },
  'GET /v1/config': { access: 'authenticated', action: 'catalog.config' },
  [`GET ${IB}/namespaces`]: data('namespace.list', (r) => [
    { privilege: 'SELECT', resource: typeof r.query.parent === 'string' ? { namespace: r.query.parent.split('\u001f') } : CATALOG, orBelow: true },
  ]),
  [`POST ${IB}/namespaces`]: data('namespace.create', (r) => {
    const ns = obj(r.body).namespace;
    const levels = Array.isArray(ns) && ns.every((l) => typeof l === 'string') ? (ns as string[]) : [];
    return [{ privilege: 'CREATE', resource: levels.length > 1 ? { namespace: levels.slice(0, -1) } : CATALOG }];
  }),
  [`GET ${IB}/namespaces/:namespace`]: data('namespace.read', sel(nsOf, true)),
  [`HEAD ${IB}/namespaces/:namespace`]: data('namespace.exists', sel(nsOf, true)),
  [`DELETE ${IB}/namespaces/:namespace`]: data('namespace.drop', priv('DROP', nsOf)),
  [`POST ${IB}/namespaces/:namespace/properties`]: data('namespace.modify', priv('MODIFY', nsOf)),
  [`GET ${IB}/namespaces/:namespace/tables`]: data('table.list', sel(nsOf, true)),
  [`POST ${IB}/namespaces/:namespace/tables`]: data('table.create', priv('CREATE', nsOf)),
  [`POST ${IB}/namespaces/:namespace/register`]: data('table.register', priv('CREATE', nsOf)),
  [`POST ${IB}/namespaces/:namespace/register-view`]: data('view.register', priv('CREATE', nsOf)),
  [`GET ${IB}/namespaces/:namespace/tables/:table`]: data('table.load', sel(ibTable), { rawTable: ibTable }),
  [`HEAD ${IB}/namespaces/:namespace/tables/:table`]: data('table.exists', sel(ibTable, true)),
  [`POST ${IB}/namespaces/:namespace/tables/:table`]: data('table.commit', (r) => [{ privilege: commitPrivilege(r.body), resource: ibTable(r) }]),
  [`DELETE ${IB}/namespaces/:namespace/tables/:table`]: data('table.drop', priv('DROP', ibTable)),
  [`POST ${IB}/namespaces/:namespace/tables/:table/unregister`]: data('table.unregister', priv('DROP', ibTable)),
  [`GET ${IB}/namespaces/:namespace/tables/:table/credentials`]: data('table.credentials', sel(ibTable), { rawTable: ibTable }),
  [`POST ${IB}/namespaces/:namespace/tables/:table/metrics`]: data('table.metrics', sel(ibTable, true)),
  [`POST ${IB}/tables/rename`]: data('table.rename', (r) => {
    const src = identIn(obj(r.body).source);
    const dst = identIn(obj(r.body).destination);
    return [
      { privilege: 'MODIFY', resource: src },
      { privilege: 'CREATE', resource: parentOf(dst) },
    ];
  }),
  [`POST ${IB}/transactions/commit`]: data('table.commit', (r) => {
    const changes = obj(r.body)['table-changes'];
    if (!Array.isArray(changes) || changes.length === 0) return [{ privilege: 'MODIFY', resource: CATALOG }];
    return changes.map((c) => ({ privilege: commitPrivilege(c), resource: identIn(obj(c).identifier) }));
  }),
  [`GET ${IB}/namespaces/:namespace/views`]: data('view.list', sel(nsOf, true)),
  [`POST ${IB}/namespaces/:namespace/views`]: data('view.create', priv('CREATE', nsOf)),
  [`GET ${IB}/namespaces/:namespace/views/:view`]: data('view.load', sel(ibView)),
  [`HEAD ${IB}/namespaces/:namespace/views/:view`]: data('view.exists', sel(ibView, true)),
  [`POST ${IB}/namespaces/:namespace/views/:view`]: data('view.replace', priv('MODIFY', ibView)),
  [`DELETE ${IB}/namespaces/:namespace/views/:view`]: data('view.drop', priv('DROP', ibView)),
  [`POST ${IB}/views/rename`]: data('view.rename', (r) => {
    const src = identIn(obj(r.body).source);
    const dst = identIn(obj(r.body).destination);
    return [
      { privilege: 'MODIFY', resource: src },
      { privilege: 'CREATE', resource: parentOf(dst) },
    ];
  }),

  // ------------------------------------------------------------------------------ own API
  [`GET ${OWN}/namespaces/:namespace/tables`]: data('table.list', sel(ownNsOf, true)),
  [`POST ${OWN}/tables`]: data('table.create', (r) => {
    const ns = obj(r.body).namespace;
    return [{ privilege: 'CREATE', resource: typeof ns === 'string' && ns !== '' ? { namespace: ns.split('.') } : CATALOG }];
  }),
  [`GET ${OWN}/tables/:namespace/:table`]: data('table.describe', sel(ownTable, true)),
  [`DELETE ${OWN}/tables/:namespace/:table`]: data('table.drop', priv('DROP', ownTable)),
  [`PATCH ${OWN}/tables/:namespace/:table/schema`]: data('table.alter', priv('MODIFY', ownTable)),
  [`GET ${OWN}/tables/:namespace/:table/snapshots`]: data('table.snapshots', sel(ownTable, true)),
  [`GET ${OWN}/tables/:namespace/:table/history`]: data('table.history', sel(ownTable, true)),
  [`GET ${OWN}/tables/:namespace/:table/health`]: data('table.health', sel(ownTable, true)),
  [`POST ${OWN}/tables/:namespace/:table/rollback`]: data('table.rollback', priv('MODIFY', ownTable)),
  [`GET ${OWN}/tables/:namespace/:table/refs`]: data('table.refs', sel(ownTable, true)),
  [`POST ${OWN}/tables/:namespace/:table/refs`]: data('table.ref.create', priv('MODIFY', ownTable)),
  [`DELETE ${OWN}/tables/:namespace/:table/refs/:ref`]: data('table.ref.drop', priv('MODIFY', ownTable)),
  [`POST ${OWN}/tables/:namespace/:table/ingest`]: data('table.ingest', priv('INSERT', ownTable)),
  [`POST ${OWN}/tables/:namespace/:table/ingest/rows`]: data('table.ingest', priv('INSERT', ownTable)),
  [`POST ${OWN}/tables/:namespace/:table/ingest/from-storage`]: data('table.ingest', (r) => [
    { privilege: 'INSERT', resource: ownTable(r) },
    // Reads from a configured storage location: an operator's resource.
    { privilege: 'MANAGE', resource: CATALOG },
  ]),

  // The SQL engine checks every table a statement reads or writes against the caller's grants,
  // masks and row filters; queries are private to their submitter (or MANAGE on the catalog).
  [`POST ${OWN}/queries`]: { access: 'authenticated', action: 'query.run' },
  [`GET ${OWN}/queries`]: { access: 'authenticated', action: 'query.list' },
  [`GET ${OWN}/queries/:id`]: { access: 'authenticated', action: 'query.read' },
  [`GET ${OWN}/queries/:id/results`]: { access: 'authenticated', action: 'query.results' },
  [`DELETE ${OWN}/queries/:id`]: { access: 'authenticated', action: 'query.cancel' },

  [`GET ${OWN}/ingestion-jobs`]: manage('ingestion-job.list'),
  [`POST ${OWN}/ingestion-jobs`]: manage('ingestion-job.create'),
  [`GET ${OWN}/ingestion-jobs/:id`]: manage('ingestion-job.read'),
  [`PUT ${OWN}/ingestion-jobs/:id`]: manage('ingestion-job.update'),
  [`DELETE ${OWN}/ingestion-jobs/:id`]: manage('ingestion-job.delete'),
  [`POST ${OWN}/ingestion-jobs/:id/start`]: manage('ingestion-job.start'),
  [`POST ${OWN}/ingestion-jobs/:id/stop`]: manage('ingestion-job.stop'),
  [`POST ${OWN}/ingestion-jobs/:id/pause`]: manage('ingestion-job.pause'),
  [`POST ${OWN}/ingestion-jobs/:id/resume`]: manage('ingestion-job.resume'),
  [`POST ${OWN}/ingestion-jobs/:id/reset`]: manage('ingestion-job.reset'),
  [`GET ${OWN}/ingestion-jobs/:id/status`]: manage('ingestion-job.status'),
  [`GET ${OWN}/ingestion-jobs/:id/runs`]: manage('ingestion-job.runs'),

  [`GET ${OWN}/sources/kafka`]: manage('source.list'),
  [`POST ${OWN}/sources/kafka`]: manage('source.create'),
  [`GET ${OWN}/sources/kafka/:id`]: manage('source.read'),
  [`PUT ${OWN}/sources/kafka/:id`]: manage('source.update'),
  [`DELETE ${OWN}/sources/kafka/:id`]: manage('source.delete'),
  [`POST ${OWN}/sources/kafka/:id/test`]: manage('source.test'),
  [`GET ${OWN}/sources/storage`]: manage('source.list'),
  [`POST ${OWN}/sources/storage`]: manage('source.create'),
  [`GET ${OWN}/sources/storage/:id`]: manage('source.read'),
  [`PUT ${OWN}/sources/storage/:id`]: manage('source.update'),
  [`DELETE ${OWN}/sources/storage/:id`]: manage('source.delete'),
  [`POST ${OWN}/sources/storage/:id/test`]: manage('source.test'),
  // Without a SQL store every data-source route answers 406 through this catch-all.
  [`ALL ${OWN}/sources/*`]: manage('source'),

  // External sources of federated SQL; reading their tables is granted on `<source>.<schema>[.<table>]`.
  [`GET ${OWN}/external-sources`]: manage('external-source.list'),
  [`POST ${OWN}/external-sources`]: manage('external-source.create'),
  [`GET ${OWN}/external-sources/:name`]: manage('external-source.read'),
  [`DELETE ${OWN}/external-sources/:name`]: manage('external-source.delete'),
  [`POST ${OWN}/external-sources/:name/test`]: manage('external-source.test'),

  [`GET ${OWN}/schedules`]: manage('schedule.list'),
  [`POST ${OWN}/schedules`]: manage('schedule.create'),
  [`GET ${OWN}/schedules/runs`]: manage('schedule.runs'),
  [`GET ${OWN}/schedules/runs/:runId`]: manage('schedule.run.read'),
  [`POST ${OWN}/schedules/runs/:runId/cancel`]: manage('schedule.run.cancel'),
  [`GET ${OWN}/schedules/:id`]: manage('schedule.read'),
  [`PUT ${OWN}/schedules/:id`]: manage('schedule.update'),
  [`DELETE ${OWN}/schedules/:id`]: manage('schedule.delete'),
  [`POST ${OWN}/schedules/:id/run`]: manage('schedule.run-now'),
  [`GET ${OWN}/schedules/:id/runs`]: manage('schedule.runs'),

  // Alerting (rules, webhooks, silences): operated like schedules.
  [`GET ${OWN}/alerts`]: manage('alert.list'),
  [`GET ${OWN}/alerts/history`]: manage('alert.history'),
  [`POST ${OWN}/alerts/resolve`]: manage('alert.resolve'),
  [`GET ${OWN}/alerts/rules`]: manage('alert.rule.list'),
  [`POST ${OWN}/alerts/rules`]: manage('alert.rule.create'),
  [`GET ${OWN}/alerts/rules/:id`]: manage('alert.rule.read'),
  [`PUT ${OWN}/alerts/rules/:id`]: manage('alert.rule.update'),
  [`DELETE ${OWN}/alerts/rules/:id`]: manage('alert.rule.delete'),
  [`GET ${OWN}/alerts/webhooks`]: manage('alert.webhook.list'),
  [`POST ${OWN}/alerts/webhooks`]: manage('alert.webhook.create'),
  [`GET ${OWN}/alerts/webhooks/:id`]: manage('alert.webhook.read'),
  [`PUT ${OWN}/alerts/webhooks/:id`]: manage('alert.webhook.update'),
  [`DELETE ${OWN}/alerts/webhooks/:id`]: manage('alert.webhook.delete'),
  [`GET ${OWN}/alerts/silences`]: manage('alert.silence.list'),
  [`POST ${OWN}/alerts/silences`]: manage('alert.silence.create'),
  [`DELETE ${OWN}/alerts/silences/:id`]: manage('alert.silence.delete'),

  // Service administration (runtime log levels).
  [`GET ${OWN}/admin/log-levels`]: manage('admin.log-levels.read'),
  [`PUT ${OWN}/admin/log-levels`]: manage('admin.log-levels.update'),

  // ------------------------------------------------------------------------------ security
  [`GET ${OWN}/security/whoami`]: { access: 'authenticated', action: 'security.whoami' },
  [`GET ${OWN}/security/principals`]: security('security.principal.list'),
  [`POST ${OWN}/security/principals`]: security('security.principal.create'),
  [`DELETE ${OWN}/security/principals/:name`]: security('security.principal.delete'),
  [`GET ${OWN}/security/roles`]: security('security.role.list'),
  [`POST ${OWN}/security/roles`]: security('security.role.create'),
  [`DELETE ${OWN}/security/roles/:name`]: security('security.role.delete'),
  [`GET ${OWN}/security/memberships`]: security('security.membership.list'),
  [`POST ${OWN}/security/memberships`]: security('security.membership.add'),
  [`DELETE ${OWN}/security/memberships/:role/:principal`]: security('security.membership.remove'),
  [`GET ${OWN}/security/grants`]: security('security.grant.list'),
  [`POST ${OWN}/security/grants`]: security('security.grant.create'),
  [`DELETE ${OWN}/security/grants/:id`]: security('security.grant.revoke'),
  [`GET ${OWN}/security/api-keys`]: security('security.api-key.list'),
  [`POST ${OWN}/security/api-keys`]: security('security.api-key.create'),
  [`DELETE ${OWN}/security/api-keys/:id`]: security('security.api-key.revoke'),
  [`GET ${OWN}/security/masks`]: security('security.mask.list'),
  [`POST ${OWN}/security/masks`]: security('security.mask.create'),
  [`DELETE ${OWN}/security/masks/:id`]: security('security.mask.delete'),
  [`GET ${OWN}/security/row-filters`]: security('security.row-filter.list'),
  [`POST ${OWN}/security/row-filters`]: security('security.row-filter.create'),
  [`DELETE ${OWN}/security/row-filters/:id`]: security('security.row-filter.delete'),
  [`GET ${OWN}/security/policy/:namespace/:table`]: security('security.policy.read'),
  [`GET ${OWN}/security/audit`]: security('security.audit.read'),
  [`POST ${OWN}/security/audit/verify`]: security('security.audit.verify'),
  [`POST ${OWN}/security/encryption/rotate-master-key`]: security('security.encryption.rotate-master-key'),
  [`POST ${OWN}/security/encryption/tables/:namespace/:table/rotate-key`]: security('security.encryption.rotate-table-key'),
  [`GET ${OWN}/security/encryption/tables/:namespace/:table/keys`]: security('security.encryption.keys'),
};

/** The rule key of a registered route (`/v1/<prefix>/…` → `/v1/{prefix}/…`). */
export function ruleKey(method: string, url: string, prefix: string): string {
  const base = `/v1/${prefix}/`;
  const u = url.startsWith(base) ? `/v1/{prefix}/${url.slice(base.length)}` : url;
  return `${method} ${u}`;
}

/** The rule of a registered route (an `ALL` rule covers a route registered for every method). */
export function ruleFor(method: string, url: string, prefix: string): RouteRule | undefined {
  return ROUTE_RULES[ruleKey(method, url, prefix)] ?? ROUTE_RULES[ruleKey('ALL', url, prefix)];
}
