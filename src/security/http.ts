import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { lakehouseError } from '../core/errors.js';
import { AuditLog, type AuditOutcome } from './audit.js';
import { Authenticator, type OidcOptions } from './authn.js';
import { Authorizer } from './authz.js';
import { resourceText, type AuthContext } from './model.js';
import { ruleFor, type Check, type RouteRule } from './rules.js';
import { SecurityStore } from './store.js';
import { bootstrapSecurity } from './bootstrap.js';
import { registerOAuthRoute } from './oauth.js';
import { sqlStoreOf } from '../catalog/sql-store-of.js';
import type { MasterKeyRing } from './encryption/master-key.js';
import type { Catalog } from '../catalog/catalog.js';
import { enableEncryption } from './encryption/enable.js';
import type { TableKeyStore } from './encryption/key-store.js';

/**
 * Wires security into a Fastify app with three global hooks, so no route file knows about it:
 *  onRequest     authenticate (401 + WWW-Authenticate for missing or bad credentials);
 *  preValidation the route's rule from ./rules.ts (body parsed by then) → 403 when not allowed;
 *  onSend        one audit record per request to /v1/** and /api/v1/** (written before the
 *                response leaves, so a client that saw a response can find its record).
 * Install before any route is registered: `onRoute` collects every route for the rule check.
 */
export interface SecurityOptions {
  /** Requests without credentials act as `anonymousPrincipal` (default `admin`). Off unless set. */
  anonymous?: boolean;
  anonymousPrincipal?: string;
  oidc?: OidcOptions;
  /** Signs our access tokens; default a random secret kept in the catalog store. */
  tokenSecret?: string;
  tokenTtlSeconds?: number;
  /** GET /metrics without credentials (default true). */
  metricsPublic?: boolean;
  /** Where the first start prints the initial admin key (default stderr). */
  bootstrapOut?: { write(text: string): unknown };
  /** Master keys: turn on encrypted tables and encrypted catalog secrets (./encryption). */
  masterKeys?: MasterKeyRing | null;
}

export interface SecurityRuntime {
  store: SecurityStore | null;
  audit: AuditLog | null;
  authn: Authenticator | null;
  authz: Authorizer | null;
  /** Every route registered after installation: `METHOD url`. */
  routes: { method: string; url: string }[];
  prefix: string;
  options: SecurityOptions;
  /** The catalog it protects (row filters are checked against its tables' columns). */
  catalog: unknown;
  /** The principal of a request (after onRequest). */
  authOf(req: FastifyRequest): AuthContext | undefined;
  /** Table data keys (null without a master key or a SQL store). */
  tableKeys: TableKeyStore | null;
}

interface RequestState {
  auth?: AuthContext;
  principal?: string | null;
  action: string;
  resource: string | null;
  columns?: string[] | null;
  outcome?: AuditOutcome;
  detail?: string | null;
}

const states = new WeakMap<FastifyRequest, RequestState>();
const runtimes = new WeakMap<FastifyInstance, SecurityRuntime>();

export function securityOf(app: FastifyInstance): SecurityRuntime | undefined {
  return runtimes.get(app);
}

/** The authenticated caller of a request (undefined when security is not installed or the path is open). */
export function requestAuth(req: FastifyRequest): AuthContext | undefined {
  return states.get(req)?.auth;
}

/** Lets a route name the columns it touched, for its audit record. */
export function auditColumns(req: FastifyRequest, columns: string[]): void {
  const s = states.get(req);
  if (s) s.columns = columns;
}

/** Lets a route name the resource (and a detail) it acted on, for its audit record. */
export function auditResource(req: FastifyRequest, resource: string, detail?: string): void {
  const s = states.get(req);
  if (!s) return;
  s.resource = resource;
  if (detail !== undefined) s.detail = detail;
}

export function setAuditState(req: FastifyRequest, state: RequestState): void {
  states.set(req, state);
}

function isApiPath(url: string): boolean {
  return url.startsWith('/v1/') || url === '/v1' || url.startsWith('/api/v1/') || url === '/api/v1';
}

function unauthenticated(reply: FastifyReply, reason: string, invalid: boolean): never {
  reply.header('www-authenticate', invalid ? `Bearer realm="lakehouse", error="invalid_token"` : `Bearer realm="lakehouse"`);
  throw lakehouseError('UNAUTHENTICATED', reason);
}

function resourcesOf(checks: Check[]): string | null {
  if (checks.length === 0) return null;
  return [...new Set(checks.map((c) => resourceText(c.resource)))].join(',');
}

export async function installSecurity(
  app: FastifyInstance,
  opts: { catalog: unknown; prefix: string; security: SecurityOptions },
): Promise<SecurityRuntime> {
  const options = opts.security;
  const sqlStore = sqlStoreOf(opts.catalog);
  const store = sqlStore ? new SecurityStore(sqlStore.db as never, sqlStore.catalogName) : null;
  if (!store && !options.anonymous) {
    throw lakehouseError('VALIDATION_FAILED', 'authentication needs the SQL catalog store (or set auth.anonymous for a catalog without one)');
  }
  const runtime: SecurityRuntime = {
    store,
    audit: store ? new AuditLog(store.db, store.catalogName) : null,
    authn: store ? new Authenticator({ store, oidc: options.oidc, tokenSecret: options.tokenSecret, tokenTtlSeconds: options.tokenTtlSeconds }) : null,
    authz: store ? new Authorizer(store) : null,
    routes: [],
    prefix: opts.prefix,
    options,
    catalog: opts.catalog,
    authOf: (req) => states.get(req)?.auth,
    tableKeys: null,
  };
  runtimes.set(app, runtime);
  // Before bootstrap: the token signing secret it may create is itself sealed.
  const ring = options.masterKeys ?? null;
  if (ring) {
    const encryption = enableEncryption(opts.catalog as Catalog, ring);
    runtime.tableKeys = encryption.tableKeys;
    app.addHook('onClose', async () => encryption.disable());
  } else if (sqlStore) {
    app.log.warn('no master key configured (LAKEHOUSE_MASTER_KEY): catalog secrets are stored unencrypted and encrypted tables cannot be read or written');
  }
  if (store) await bootstrapSecurity(store, options.bootstrapOut ?? process.stderr, app.log);
  const anonymousPrincipal = options.anonymousPrincipal ?? 'admin';
  const metricsPublic = options.metricsPublic ?? true;

  app.addHook('onRoute', (route) => {
    for (const m of Array.isArray(route.method) ? route.method : [route.method]) runtime.routes.push({ method: m, url: route.url ?? route.path });
  });

  const ruleOf = (req: FastifyRequest): RouteRule | undefined =>
    req.routeOptions.url === undefined ? undefined : ruleFor(req.method, req.routeOptions.url, opts.prefix);

  app.addHook('onRequest', async (req, reply) => {
    const rule = ruleOf(req);
    if (rule?.access === 'public' || (rule?.metrics && metricsPublic)) return;
    // Outside the APIs, with no rule (docs assets, unknown paths): nothing to protect.
    if (!rule && !isApiPath(req.url)) return;
    const state: RequestState = { action: rule?.action ?? 'unknown-route', resource: rule ? null : req.url.split('?')[0] };
    states.set(req, state);
    if (!store || !runtime.authn) {
      state.auth = { principal: anonymousPrincipal, roles: [], method: 'anonymous' };
      state.principal = anonymousPrincipal;
      return;
    }
    const header = req.headers.authorization;
    // PyIceberg without a credential sends `Bearer None`: that is no credential, not a bad one.
    if (header === undefined || /^\s*(Bearer\s*(None|null|undefined)?\s*)?$/i.test(header)) {
      if (options.anonymous) {
        state.auth = { principal: anonymousPrincipal, roles: await store.rolesOf(anonymousPrincipal), method: 'anonymous' };
        state.principal = anonymousPrincipal;
        return;
      }
      state.outcome = 'auth-failed';
      state.detail = 'no credentials';
      unauthenticated(reply, 'authentication required: send Authorization: Bearer <API key or access token>', false);
    }
    const result = await runtime.authn.authenticate(header!);
    if (!result.ok) {
      state.outcome = 'auth-failed';
      state.detail = result.reason;
      unauthenticated(reply, `authentication failed: ${result.reason}`, true);
    }
    state.auth = result.auth;
    state.principal = result.auth.principal;
  });
  // Observability: every later log line of the request names its principal.
  app.addHook('onRequest', async (req, reply) => {
    const principal = states.get(req)?.principal;
    if (principal) reply.log = req.log = req.log.child({ principal });
  });

  app.addHook('preValidation', async (req) => {
    const state = states.get(req);
    if (!state?.auth || !store || !runtime.authz) return;
    if (req.routeOptions.url === undefined) return; // 404: authenticated is enough to learn that
    const rule = ruleOf(req);
    if (!rule) {
      state.outcome = 'denied';
      state.detail = 'route has no access rule';
      throw lakehouseError('FORBIDDEN', `no access rule for ${req.method} ${req.routeOptions.url}; refused`);
    }
    if (rule.access !== 'checked' || !rule.checks) return;
    const checks = rule.checks({ params: (req.params ?? {}) as Record<string, string>, body: req.body, query: (req.query ?? {}) as Record<string, unknown> });
    state.resource = resourcesOf(checks);
    const denied = await runtime.authz.firstDenied(state.auth, checks);
    if (denied) {
      state.outcome = 'denied';
      state.detail = `lacks ${denied.privilege} on ${resourceText(denied.resource)}`;
      throw lakehouseError('FORBIDDEN', `principal '${state.auth.principal}' lacks ${denied.privilege} on ${resourceText(denied.resource)}`);
    }
    if (rule.rawTable) {
      const t = rule.rawTable({ params: (req.params ?? {}) as Record<string, string>, body: req.body, query: {} });
      const policy = await runtime.authz.effectivePolicy(state.auth, { namespace: t.namespace ?? [], name: t.table! });
      if (policy.limited) {
        state.outcome = 'denied';
        state.detail = 'limited by column masks, row filters or column grants';
        throw lakehouseError(
          'FORBIDDEN',
          `table ${resourceText(t)} is limited for principal '${state.auth.principal}' by column masks, row filters or column grants; ` +
            'raw table metadata would bypass them: read it through SQL (POST /api/v1/queries)',
        );
      }
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const state = states.get(req);
    if (!state || !runtime.audit) return payload;
    const status = reply.statusCode;
    const outcome: AuditOutcome = state.outcome ?? (status === 401 ? 'auth-failed' : status === 403 ? 'denied' : status >= 400 ? 'error' : 'allowed');
    await runtime.audit.append({
      principal: state.principal ?? null,
      action: state.action,
      resource: state.resource,
      columns: state.columns ?? null,
      outcome,
      status,
      requestId: String(req.id),
      detail: state.detail ?? null,
    });
    return payload;
  });

  registerOAuthRoute(app, runtime);
  return runtime;
}
