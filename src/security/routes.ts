import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { isLakehouseError, lakehouseError } from '../core/errors.js';
import type { Catalog } from '../catalog/catalog.js';
import { Duck } from '../duck/db.js';
import { currentSchema } from '../iceberg/metadata.js';
import { checkRowFilter } from './sql-policy.js';
import { ErrorResponse, NameParam, NamespaceParam, responses } from '../api/own/common.js';
import type { AuditFilter } from './audit.js';
import { auditResource, type SecurityRuntime } from './http.js';
import { encryptionRoutes } from './encryption/routes.js';
import { MASK_KINDS, PRIVILEGES, SECURABLE_TYPES, resourceText, type Grant, type Securable } from './model.js';

/**
 * The security admin API (/api/v1/security): principals, roles, memberships, grants, API keys,
 * column masks, row filters, effective policies and the audit log. Every route here needs
 * MANAGE_GRANTS on the catalog (see ./rules.ts), except `whoami`. Namespaces are dotted, as in
 * the rest of /api/v1.
 */
const tags = ['security'];
const Name = Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}$' });
const Principal = Type.Object({ name: Name, kind: Type.Union([Type.Literal('user'), Type.Literal('service')]), createdAt: Type.String() });
const Role = Type.Object({ name: Name, description: Type.Union([Type.String(), Type.Null()]), createdAt: Type.String() });
const Membership = Type.Object({ role: Name, principal: Name, createdAt: Type.String() });
const SecurableSchema = Type.Object(
  {
    type: Type.Union(SECURABLE_TYPES.map((t) => Type.Literal(t))),
    namespace: Type.Optional(NamespaceParam),
    table: Type.Optional(NameParam),
    column: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  },
  { additionalProperties: false },
);
const PrivilegeSchema = Type.Union(PRIVILEGES.map((p) => Type.Literal(p)));
const Grantee = Type.Object({ type: Type.Union([Type.Literal('role'), Type.Literal('principal')]), name: Name }, { additionalProperties: false });
const GrantInput = Type.Object({ grantee: Grantee, privilege: PrivilegeSchema, securable: SecurableSchema }, { additionalProperties: false });
const GrantOutput = Type.Object({ id: Type.String(), grantee: Grantee, privilege: PrivilegeSchema, securable: SecurableSchema, createdAt: Type.String() });
const ApiKey = Type.Object({
  id: Type.String(),
  principal: Name,
  description: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});
const NewApiKey = Type.Intersect([
  ApiKey,
  Type.Object({
    key: Type.String({ description: 'Send as `Authorization: Bearer <key>`. Shown only in this response.' }),
    credential: Type.String({ description: '`<id>:<secret>` for the Iceberg REST OAuth2 token endpoint (Spark/PyIceberg `credential`).' }),
  }),
]);
const ApiKeyInput = Type.Object(
  {
    principal: Name,
    description: Type.Optional(Type.String({ maxLength: 500 })),
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
const MaskParams = Type.Object(
  {
    replacement: Type.Optional(Type.String()),
    keepFirst: Type.Optional(Type.Integer({ minimum: 0 })),
    keepLast: Type.Optional(Type.Integer({ minimum: 0 })),
    maskChar: Type.Optional(Type.String({ minLength: 1, maxLength: 1 })),
  },
  { additionalProperties: false },
);
const MaskInput = Type.Object(
  { role: Name, namespace: NamespaceParam, table: NameParam, column: Type.String({ minLength: 1 }), kind: Type.Union(MASK_KINDS.map((k) => Type.Literal(k))), params: Type.Optional(MaskParams) },
  { additionalProperties: false },
);
const Mask = Type.Object({ id: Type.String(), role: Name, namespace: Type.String(), table: Type.String(), column: Type.String(), kind: Type.String(), params: MaskParams, createdAt: Type.String() });
const RowFilterInput = Type.Object(
  { role: Name, namespace: NamespaceParam, table: NameParam, predicate: Type.String({ minLength: 1, maxLength: 10_000, description: 'SQL predicate over the table columns' }) },
  { additionalProperties: false },
);
const RowFilter = Type.Object({ id: Type.String(), role: Name, namespace: Type.String(), table: Type.String(), predicate: Type.String(), createdAt: Type.String() });
const Policy = Type.Object({
  principal: Type.String(),
  roles: Type.Array(Type.String()),
  table: Type.Object({ namespace: Type.String(), name: Type.String() }),
  canSelect: Type.Boolean(),
  columns: Type.Union([Type.Literal('all'), Type.Array(Type.String())]),
  masks: Type.Array(Type.Object({ column: Type.String(), kind: Type.String(), params: MaskParams, role: Type.String() })),
  rowFilters: Type.Array(Type.Object({ predicate: Type.String(), role: Type.String() })),
  paths: Type.Array(
    Type.Object({
      via: Type.String({ description: "'principal' (its own grants) or a role" }),
      columns: Type.Union([Type.Literal('all'), Type.Array(Type.String())]),
      masks: Type.Array(Type.Object({ column: Type.String(), kind: Type.String(), params: MaskParams, role: Type.String() })),
      filters: Type.Array(Type.String(), { description: 'All hold on this path (AND); paths combine with OR' }),
    }),
    { description: 'Each way the principal reaches the table' },
  ),
  limited: Type.Boolean(),
});
const Outcome = Type.Union(['allowed', 'denied', 'auth-failed', 'error'].map((o) => Type.Literal(o)));
const AuditRecord = Type.Object({
  seq: Type.Integer(),
  at: Type.String(),
  principal: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  resource: Type.Union([Type.String(), Type.Null()]),
  columns: Type.Union([Type.Array(Type.String()), Type.Null()]),
  outcome: Outcome,
  status: Type.Union([Type.Integer(), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
  prevHash: Type.String(),
  hash: Type.String(),
});
const AuditQuery = Type.Object(
  {
    principal: Type.Optional(Type.String()),
    action: Type.Optional(Type.String()),
    resource: Type.Optional(Type.String()),
    outcome: Type.Optional(Outcome),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    until: Type.Optional(Type.String({ format: 'date-time' })),
    afterSeq: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('ndjson')])),
  },
  { additionalProperties: false },
);
const Verify = Type.Object({
  ok: Type.Boolean(),
  records: Type.Integer(),
  head: Type.Union([Type.Object({ seq: Type.Integer(), hash: Type.String() }), Type.Null()]),
  problem: Type.Optional(Type.Object({ seq: Type.Integer(), reason: Type.String() })),
});
const NameParams = Type.Object({ name: Name });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

const dotted = (ns: string[] | undefined) => (ns ?? []).join('.');
const undot = (ns: string | undefined) => (ns === undefined || ns === '' ? [] : ns.split('.'));

function securableIn(s: Static<typeof SecurableSchema>): Securable {
  const need = { catalog: [], namespace: ['namespace'], table: ['namespace', 'table'], column: ['namespace', 'table', 'column'] }[s.type] as string[];
  for (const k of ['namespace', 'table', 'column']) {
    const has = (s as Record<string, unknown>)[k] !== undefined;
    if (need.includes(k) !== has) throw lakehouseError('BAD_REQUEST', `a ${s.type} securable ${has ? 'takes no' : 'needs a'} ${k}`);
  }
  return { type: s.type, namespace: s.namespace === undefined ? undefined : undot(s.namespace), table: s.table, column: s.column };
}

function grantOut(g: Grant) {
  const s = g.securable;
  return {
    id: g.id,
    grantee: { type: g.granteeType, name: g.grantee },
    privilege: g.privilege,
    securable: {
      type: s.type,
      ...(s.namespace ? { namespace: dotted(s.namespace) } : {}),
      ...(s.table !== undefined ? { table: s.table } : {}),
      ...(s.column !== undefined ? { column: s.column } : {}),
    },
    createdAt: g.createdAt,
  };
}

/** The top-level columns of a table's current schema; null when the table does not exist (yet). */
async function tableColumns(catalog: Catalog, namespace: string[], table: string): Promise<string[] | null> {
  try {
    return currentSchema((await catalog.loadTable({ namespace, name: table })).metadata).fields.map((f) => f.name);
  } catch (e) {
    if (isLakehouseError(e, 'NO_SUCH_TABLE') || isLakehouseError(e, 'NO_SUCH_NAMESPACE')) return null;
    throw e;
  }
}

/**
 * A row filter must be one expression over the table's columns (checked against its current
 * schema when the table exists; the SQL engine checks again against the schema it reads).
 */
async function validateRowFilter(catalog: Catalog, namespace: string[], table: string, predicate: string): Promise<void> {
  const columns = await tableColumns(catalog, namespace, table);
  const duck = await Duck.open({ threads: 1 });
  try {
    await checkRowFilter(duck, predicate, columns);
  } finally {
    duck.close();
  }
}

export async function securityApi(app: FastifyInstance, opts: { runtime: SecurityRuntime }): Promise<void> {
  const rt = opts.runtime;
  const store = () => {
    if (!rt.store || !rt.authz || !rt.audit) throw lakehouseError('UNSUPPORTED_OPERATION', 'security needs the SQL catalog store');
    return { store: rt.store, authz: rt.authz, audit: rt.audit };
  };
  const body = <T>(req: FastifyRequest) => req.body as T;

  app.get('/whoami', { schema: { tags, summary: 'The calling principal, its roles and how it authenticated', response: responses({ 200: Type.Object({ principal: Type.String(), roles: Type.Array(Type.String()), method: Type.String() }) }) } }, async (req) => {
    const auth = rt.authOf(req);
    if (!auth) throw lakehouseError('UNAUTHENTICATED', 'not authenticated');
    return auth;
  });

  // ------------------------------------------------------------------------------ principals
  app.get('/principals', { schema: { tags, summary: 'List principals', response: responses({ 200: Type.Object({ principals: Type.Array(Principal) }) }) } }, async () => ({
    principals: await store().store.listPrincipals(),
  }));
  app.post(
    '/principals',
    { schema: { tags, summary: 'Create a principal (a user or a service)', body: Type.Object({ name: Name, kind: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('service')])) }, { additionalProperties: false }), response: responses({ 201: Principal }) } },
    async (req, reply) => {
      const b = body<{ name: string; kind?: 'user' | 'service' }>(req);
      auditResource(req, `principal:${b.name}`);
      return reply.code(201).send(await store().store.createPrincipal(b.name, b.kind ?? 'user'));
    },
  );
  app.delete('/principals/:name', { schema: { tags, summary: 'Delete a principal (its keys, memberships and grants go with it)', params: NameParams, response: responses({ 204: Type.Null() }) } }, async (req, reply) => {
    const { name } = req.params as { name: string };
    auditResource(req, `principal:${name}`);
    await store().store.deletePrincipal(name);
    return reply.code(204).send();
  });

  // ----------------------------------------------------------------------------------- roles
  app.get('/roles', { schema: { tags, summary: 'List roles', response: responses({ 200: Type.Object({ roles: Type.Array(Role) }) }) } }, async () => ({ roles: await store().store.listRoles() }));
  app.post(
    '/roles',
    { schema: { tags, summary: 'Create a role', body: Type.Object({ name: Name, description: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }), response: responses({ 201: Role }) } },
    async (req, reply) => {
      const b = body<{ name: string; description?: string }>(req);
      auditResource(req, `role:${b.name}`);
      return reply.code(201).send(await store().store.createRole(b.name, b.description ?? null));
    },
  );
  app.delete('/roles/:name', { schema: { tags, summary: 'Delete a role (its memberships, grants, masks and row filters go with it)', params: NameParams, response: responses({ 204: Type.Null() }) } }, async (req, reply) => {
    const { name } = req.params as { name: string };
    auditResource(req, `role:${name}`);
    await store().store.deleteRole(name);
    return reply.code(204).send();
  });

  // ----------------------------------------------------------------------------- memberships
  app.get(
    '/memberships',
    { schema: { tags, summary: 'List role memberships', querystring: Type.Object({ role: Type.Optional(Name), principal: Type.Optional(Name) }, { additionalProperties: false }), response: responses({ 200: Type.Object({ memberships: Type.Array(Membership) }) }) } },
    async (req) => ({ memberships: await store().store.listMemberships(req.query as { role?: string; principal?: string }) }),
  );
  app.post('/memberships', { schema: { tags, summary: 'Add a principal to a role', body: Type.Object({ role: Name, principal: Name }, { additionalProperties: false }), response: responses({ 201: Membership }) } }, async (req, reply) => {
    const b = body<{ role: string; principal: string }>(req);
    auditResource(req, `role:${b.role}`, `add member ${b.principal}`);
    await store().store.addMember(b.role, b.principal);
    return reply.code(201).send({ ...b, createdAt: new Date().toISOString() });
  });
  app.delete(
    '/memberships/:role/:principal',
    { schema: { tags, summary: 'Remove a principal from a role', params: Type.Object({ role: Name, principal: Name }), response: responses({ 204: Type.Null() }) } },
    async (req, reply) => {
      const p = req.params as { role: string; principal: string };
      auditResource(req, `role:${p.role}`, `remove member ${p.principal}`);
      await store().store.removeMember(p.role, p.principal);
      return reply.code(204).send();
    },
  );

  // ---------------------------------------------------------------------------------- grants
  app.get(
    '/grants',
    {
      schema: {
        tags,
        summary: 'List grants',
        querystring: Type.Object({ granteeType: Type.Optional(Type.Union([Type.Literal('role'), Type.Literal('principal')])), grantee: Type.Optional(Name) }, { additionalProperties: false }),
        response: responses({ 200: Type.Object({ grants: Type.Array(GrantOutput) }) }),
      },
    },
    async (req) => ({ grants: (await store().store.listGrants(req.query as { granteeType?: 'role'; grantee?: string })).map(grantOut) }),
  );
  app.post('/grants', { schema: { tags, summary: 'Grant a privilege on the catalog, a namespace, a table or a column (inherited downward)', body: GrantInput, response: responses({ 201: GrantOutput }) } }, async (req, reply) => {
    const b = body<Static<typeof GrantInput>>(req);
    const securable = securableIn(b.securable);
    auditResource(req, resourceText(securable), `grant ${b.privilege} to ${b.grantee.type} ${b.grantee.name}`);
    const g = await store().store.createGrant({ granteeType: b.grantee.type, grantee: b.grantee.name, privilege: b.privilege, securable });
    return reply.code(201).send(grantOut(g));
  });
  app.delete('/grants/:id', { schema: { tags, summary: 'Revoke a grant', params: IdParams, response: responses({ 204: Type.Null() }) } }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const g = await store().store.getGrant(id);
    if (g) auditResource(req, resourceText(g.securable), `revoke ${g.privilege} from ${g.granteeType} ${g.grantee}`);
    await store().store.deleteGrant(id);
    return reply.code(204).send();
  });

  // -------------------------------------------------------------------------------- API keys
  app.get(
    '/api-keys',
    { schema: { tags, summary: 'List API keys (never their secrets)', querystring: Type.Object({ principal: Type.Optional(Name) }, { additionalProperties: false }), response: responses({ 200: Type.Object({ apiKeys: Type.Array(ApiKey) }) }) } },
    async (req) => ({ apiKeys: await store().store.listApiKeys((req.query as { principal?: string }).principal) }),
  );
  app.post('/api-keys', { schema: { tags, summary: 'Create an API key for a principal; the key is shown only in this response', body: ApiKeyInput, response: responses({ 201: NewApiKey }) } }, async (req, reply) => {
    const b = body<Static<typeof ApiKeyInput>>(req);
    if (b.expiresAt && b.ttlSeconds) throw lakehouseError('BAD_REQUEST', 'give expiresAt or ttlSeconds, not both');
    const expiresMs = b.expiresAt ? Date.parse(b.expiresAt) : b.ttlSeconds ? Date.now() + b.ttlSeconds * 1000 : null;
    if (expiresMs !== null && !(Number.isFinite(expiresMs) && Math.abs(expiresMs) < 8.64e15)) throw lakehouseError('BAD_REQUEST', 'invalid expiry');
    const expiresAt = expiresMs === null ? null : new Date(expiresMs).toISOString();
    const k = await store().store.createApiKey(b.principal, { description: b.description ?? null, expiresAt });
    auditResource(req, `principal:${b.principal}`, `api key ${k.id}`);
    const { secret: _secret, ...shown } = k;
    return reply.code(201).header('cache-control', 'no-store').send(shown);
  });
  app.delete('/api-keys/:id', { schema: { tags, summary: 'Revoke an API key', params: IdParams, response: responses({ 200: ApiKey }) } }, async (req) => {
    const { id } = req.params as { id: string };
    const k = await store().store.revokeApiKey(id);
    auditResource(req, `principal:${k.principal}`, `revoke api key ${id}`);
    return k;
  });

  // --------------------------------------------------------------------- masks and row filters
  app.get(
    '/masks',
    { schema: { tags, summary: 'List column masks', querystring: Type.Object({ role: Type.Optional(Name), namespace: Type.Optional(NamespaceParam), table: Type.Optional(NameParam) }, { additionalProperties: false }), response: responses({ 200: Type.Object({ masks: Type.Array(Mask) }) }) } },
    async (req) => {
      const q = req.query as { role?: string; namespace?: string; table?: string };
      const masks = await store().store.listMasks({ role: q.role, namespace: q.namespace === undefined ? undefined : undot(q.namespace), table: q.table });
      return { masks: masks.map((m) => ({ ...m, namespace: dotted(m.namespace) })) };
    },
  );
  app.post('/masks', { schema: { tags, summary: 'Mask a column of a table for a role (null, hash, redact, partial)', body: MaskInput, response: responses({ 201: Mask }) } }, async (req, reply) => {
    const b = body<Static<typeof MaskInput>>(req);
    auditResource(req, `${b.namespace}.${b.table}.${b.column}`, `mask ${b.kind} for role ${b.role}`);
    const columns = await tableColumns(rt.catalog as Catalog, undot(b.namespace), b.table);
    if (columns && !columns.some((c) => c.toLowerCase() === b.column.toLowerCase())) {
      throw lakehouseError('BAD_REQUEST', `table ${b.namespace}.${b.table} has no top-level column ${b.column} (masks apply to top-level columns)`);
    }
    const m = await store().store.createMask({ role: b.role, namespace: undot(b.namespace), table: b.table, column: b.column, kind: b.kind, params: b.params ?? {} });
    return reply.code(201).send({ ...m, namespace: dotted(m.namespace) });
  });
  app.delete('/masks/:id', { schema: { tags, summary: 'Delete a column mask', params: IdParams, response: responses({ 204: Type.Null() }) } }, async (req, reply) => {
    auditResource(req, `mask:${(req.params as { id: string }).id}`);
    await store().store.deleteMask((req.params as { id: string }).id);
    return reply.code(204).send();
  });
  app.get(
    '/row-filters',
    { schema: { tags, summary: 'List row filters', querystring: Type.Object({ role: Type.Optional(Name), namespace: Type.Optional(NamespaceParam), table: Type.Optional(NameParam) }, { additionalProperties: false }), response: responses({ 200: Type.Object({ rowFilters: Type.Array(RowFilter) }) }) } },
    async (req) => {
      const q = req.query as { role?: string; namespace?: string; table?: string };
      const filters = await store().store.listRowFilters({ role: q.role, namespace: q.namespace === undefined ? undefined : undot(q.namespace), table: q.table });
      return { rowFilters: filters.map((f) => ({ ...f, namespace: dotted(f.namespace) })) };
    },
  );
  app.post('/row-filters', { schema: { tags, summary: 'Restrict the rows of a table a role sees to those matching a SQL predicate', body: RowFilterInput, response: responses({ 201: RowFilter }) } }, async (req, reply) => {
    const b = body<Static<typeof RowFilterInput>>(req);
    auditResource(req, `${b.namespace}.${b.table}`, `row filter for role ${b.role}`);
    await validateRowFilter(rt.catalog as Catalog, undot(b.namespace), b.table, b.predicate);
    const f = await store().store.createRowFilter({ role: b.role, namespace: undot(b.namespace), table: b.table, predicate: b.predicate });
    return reply.code(201).send({ ...f, namespace: dotted(f.namespace) });
  });
  app.delete('/row-filters/:id', { schema: { tags, summary: 'Delete a row filter', params: IdParams, response: responses({ 204: Type.Null() }) } }, async (req, reply) => {
    auditResource(req, `row-filter:${(req.params as { id: string }).id}`);
    await store().store.deleteRowFilter((req.params as { id: string }).id);
    return reply.code(204).send();
  });
  app.get(
    '/policy/:namespace/:table',
    {
      schema: {
        tags,
        summary: "A principal's effective policy on a table: visible columns, masks, row filters (what SQL applies)",
        params: Type.Object({ namespace: NamespaceParam, table: NameParam }),
        querystring: Type.Object({ principal: Name }, { additionalProperties: false }),
        response: responses({ 200: Policy }),
      },
    },
    async (req) => {
      const p = req.params as { namespace: string; table: string };
      const policy = await store().authz.effectivePolicy((req.query as { principal: string }).principal, { namespace: undot(p.namespace), name: p.table });
      return { ...policy, table: { namespace: p.namespace, name: p.table } };
    },
  );

  // ----------------------------------------------------------------------------------- audit
  app.get(
    '/audit',
    {
      schema: {
        tags,
        summary: 'Audit records, oldest first (filters; `format=ndjson` or Accept: application/x-ndjson exports one JSON record a line)',
        querystring: AuditQuery,
        response: {
          200: { description: 'Records', content: { 'application/json': { schema: Type.Object({ records: Type.Array(AuditRecord) }) }, 'application/x-ndjson': { schema: Type.String() } } },
          default: ErrorResponse,
        },
      },
    },
    async (req, reply) => {
      const q = req.query as Static<typeof AuditQuery>;
      for (const k of ['since', 'until'] as const) if (q[k] !== undefined && !Number.isFinite(Date.parse(q[k]!))) throw lakehouseError('BAD_REQUEST', `invalid ${k} timestamp`);
      const filter: AuditFilter = { principal: q.principal, action: q.action, resource: q.resource, outcome: q.outcome as AuditFilter['outcome'], since: q.since, until: q.until, afterSeq: q.afterSeq, limit: q.limit };
      const ndjson = q.format === 'ndjson' || (q.format === undefined && /application\/x-ndjson/.test(req.headers.accept ?? ''));
      const records = await store().audit.list(filter);
      if (ndjson) return reply.type('application/x-ndjson').send(records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''));
      return reply.type('application/json').send(JSON.stringify({ records }));
    },
  );
  await encryptionRoutes(app, rt);
  app.post('/audit/verify', { schema: { tags, summary: 'Walk the audit hash chain; reports the first edited or missing record', response: responses({ 200: Verify }) } }, async () => store().audit.verify());
}
