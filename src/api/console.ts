import { readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { lakehouseError } from '../core/errors.js';
import { securityOf } from '../security/http.js';
import { responses } from './own/common.js';

/**
 * The web console (web/, built by `npm run build:web` into web/dist) served at `/`.
 *
 * Three routes, all public (the console holds no data; every API call it makes carries the
 * user's API key or token): `GET /` (index.html) and `GET /assets/*` (Vite's content-hashed bundle
 * files, cacheable forever), hidden from the OpenAPI document (not API), and
 * `GET /api/v1/console/auth-config`, what the sign-in page needs for "Sign in with OIDC". The
 * console routes by URL hash, so no catch-all is needed and unknown paths keep answering the API's
 * JSON 404; the provider's redirect back lands on `/?code=…&state=…`.
 */
export const CONSOLE_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

// The bundle loads only its own files and talks only to this origin — and, when the console signs
// in by redirect, to the identity provider's token endpoint (the code exchange runs in the browser).
const csp = (connect: string[]) =>
  `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src ${["'self'", ...connect].join(' ')}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;

/** The console's OIDC sign-in settings: the service's issuer, with the console's public client. */
export interface ConsoleOidc {
  issuer: string;
  clientId: string;
  scopes: string[];
  authorizationEndpoint: string;
  tokenEndpoint: string;
}

const ConsoleOidcSchema = Type.Object({
  issuer: Type.String(),
  clientId: Type.String({ description: 'Public client: authorization code + PKCE (S256), no secret' }),
  scopes: Type.Array(Type.String()),
  authorizationEndpoint: Type.String(),
  tokenEndpoint: Type.String(),
});

/**
 * The settings, discovered here rather than in the browser: the page's CSP can then name the token
 * endpoint's origin, and a provider that is down shows as an error code instead of a CORS failure.
 * A successful discovery is reused for five minutes; a failed one is retried on the next call.
 */
function consoleOidcSource(app: FastifyInstance): () => Promise<ConsoleOidc | null> {
  let cached: { at: number; value: ConsoleOidc } | null = null;
  return async () => {
    // auth.oidc reaches the security options whole (src/config.ts securityConfigOf), console keys included.
    const oidc = securityOf(app)?.options.oidc as { issuer: string; consoleClientId?: string; consoleScopes?: string } | undefined;
    if (!oidc?.consoleClientId) return null;
    if (cached && Date.now() - cached.at < 300_000) return cached.value;
    const url = `${oidc.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let doc: { issuer?: string; authorization_endpoint?: string; token_endpoint?: string };
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = (await res.json()) as typeof doc;
    } catch (e) {
      throw lakehouseError('SERVICE_UNAVAILABLE', `OIDC discovery at ${url} failed: ${(e as Error).message}`);
    }
    const endpoint = (u: unknown) => typeof u === 'string' && URL.canParse(u) && /^https?:$/.test(new URL(u).protocol);
    if (doc.issuer !== oidc.issuer || !endpoint(doc.authorization_endpoint) || !endpoint(doc.token_endpoint)) {
      throw lakehouseError('SERVICE_UNAVAILABLE', `OIDC discovery at ${url} names issuer ${doc.issuer} (expected ${oidc.issuer}) or lacks an http(s) authorization or token endpoint`);
    }
    const scopes = ['openid', ...(oidc.consoleScopes ?? 'profile').split(/\s+/).filter((s) => s && s !== 'openid')];
    const value = { issuer: oidc.issuer, clientId: oidc.consoleClientId, scopes, authorizationEndpoint: doc.authorization_endpoint!, tokenEndpoint: doc.token_endpoint! };
    cached = { at: Date.now(), value };
    return value;
  };
}

const NOT_BUILT =
  '<!doctype html><meta charset="utf-8"><title>lakehouse</title><h1>lakehouse</h1>' +
  '<p>The web console is not built. Run <code>npm run build:web</code> (or <code>npm start</code>, which builds it). ' +
  'The API is at <a href="/docs">/docs</a>.</p>';

export interface ConsoleOptions {
  /** The built console (default: web/dist of this checkout). */
  dir?: string;
}

export function registerConsole(app: FastifyInstance, opts: ConsoleOptions = {}): void {
  const dir = opts.dir ?? CONSOLE_DIST;
  const consoleOidc = consoleOidcSource(app);
  app.get('/', { schema: { hide: true } }, async (_req, reply) => {
    const html = await readFile(join(dir, 'index.html'), 'utf8').catch(() => null);
    // A provider that cannot be reached leaves the page working for API keys and token paste.
    const oidc = await consoleOidc().catch(() => null);
    reply
      .header('content-security-policy', csp(oidc ? [new URL(oidc.tokenEndpoint).origin] : []))
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8');
    return reply.send(html ?? NOT_BUILT);
  });
  app.get('/assets/*', { schema: { hide: true } }, async (req, reply) => {
    const name = (req.params as { '*': string })['*'];
    // Vite emits flat, content-hashed names; anything else (subdirectories, dot segments) is not ours.
    if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(name) || name.includes('..')) throw lakehouseError('NOT_FOUND', `no console asset ${name}`);
    const path = join(dir, 'assets', name);
    const st = await stat(path).catch(() => null);
    if (!st?.isFile()) throw lakehouseError('NOT_FOUND', `no console asset ${name}`);
    reply
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('x-content-type-options', 'nosniff')
      .type(TYPES[extname(name)] ?? 'application/octet-stream');
    return reply.send(await readFile(path));
  });
  app.get(
    '/api/v1/console/auth-config',
    {
      schema: {
        tags: ['service'],
        operationId: 'getConsoleAuthConfig',
        summary: "The web console's sign-in options (public)",
        description:
          'oidc is null unless auth.oidc.consoleClientId is set; then the console offers "Sign in with OIDC" (authorization code + PKCE against the issuer) and sends the access token it obtains (or the ID token when the access token is not a JWT) as its bearer token. 503 when the issuer\'s discovery document cannot be read.',
        response: responses({ 200: Type.Object({ oidc: Type.Union([ConsoleOidcSchema, Type.Null()]) }) }),
      },
    },
    async (_req, reply) => {
      reply.header('cache-control', 'no-store');
      return { oidc: await consoleOidc() };
    },
  );
}
