import { api, ApiError, ok } from './api/client';
import type { paths } from './api/schema';

/**
 * "Sign in with OIDC": OAuth 2.0 authorization code with PKCE (S256) against the service's OIDC
 * issuer, as a public client — the browser holds no client secret, the code verifier proves the
 * code exchange comes from the tab that started the login. The service discovers the provider's
 * endpoints and names the console's client id (GET /api/v1/console/auth-config); the provider
 * redirects back to `<origin>/?code=…&state=…`, this module exchanges the code at the token
 * endpoint and the console then uses the token as `Authorization: Bearer`, like a pasted one.
 *
 * Which token: the access token when it is a JWT (it is meant for APIs; the service checks its
 * `aud` against auth.oidc.audience), else the ID token (whose `aud` is the client id, so the
 * audience must then be the console's client id).
 */
/** The service's answer (typed from openapi.json, like every other call of the console). */
type AuthConfig = paths['/api/v1/console/auth-config']['get']['responses'][200]['content']['application/json'];
export type ConsoleOidc = NonNullable<AuthConfig['oidc']>;

// What the redirect round trip must remember; sessionStorage is per tab, as the login is.
const PENDING = 'lakehouse.oidc.pending';
interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  clientId: string;
  tokenEndpoint: string;
  redirectUri: string;
}

export async function fetchAuthConfig(): Promise<ConsoleOidc | null> {
  return (await ok(api.GET('/api/v1/console/auth-config'))).oidc ?? null;
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

const random = (n = 32) => base64url(crypto.getRandomValues(new Uint8Array(n)));

/** Leaves for the provider's login page; the promise only settles on failure. */
export async function startLogin(cfg: ConsoleOidc): Promise<void> {
  if (!crypto.subtle) throw new ApiError(0, 'insecure_context', 'Signing in with OIDC needs the console over HTTPS (or on localhost): the browser offers no SHA-256 here.');
  const verifier = random();
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  const pending: Pending = { state: random(), nonce: random(), verifier, clientId: cfg.clientId, tokenEndpoint: cfg.tokenEndpoint, redirectUri: `${location.origin}/` };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(cfg.authorizationEndpoint);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: cfg.clientId,
    redirect_uri: pending.redirectUri,
    scope: cfg.scopes.join(' '),
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }))
    url.searchParams.set(k, v);
  location.assign(url.toString());
  await new Promise(() => {});
}

const isJwt = (t: unknown): t is string => typeof t === 'string' && /^[\w-]+\.[\w-]+\.[\w-]*$/.test(t);

function claimsOf(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '='))) as Record<string, unknown>;
}

/**
 * The provider's answer when this page load is one: the bearer token, or an ApiError carrying the
 * provider's error code (access_denied, invalid_grant, …) and description. null on ordinary loads.
 * The code and state leave the address bar either way (a reload must not replay them).
 */
export async function completeLogin(): Promise<string | null> {
  const q = new URLSearchParams(location.search);
  if (!q.has('state') || !(q.has('code') || q.has('error'))) return null;
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  const raw = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  const pending = raw ? (JSON.parse(raw) as Pending) : null;
  // A state we did not send (another tab, an old link, a forged redirect) is not our login.
  if (!pending || q.get('state') !== pending.state) throw new ApiError(0, 'invalid_state', 'The sign-in response does not belong to a sign-in started in this tab. Start again.');
  if (q.has('error')) throw new ApiError(0, q.get('error')!, q.get('error_description') || 'The identity provider refused the sign-in.');
  let res: Response;
  try {
    res = await fetch(pending.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: q.get('code')!,
        redirect_uri: pending.redirectUri,
        client_id: pending.clientId,
        code_verifier: pending.verifier,
      }),
    });
  } catch (e) {
    throw new ApiError(0, 'token_endpoint_unreachable', `The identity provider's token endpoint could not be reached (${(e as Error).message}).`);
  }
  const body = (await res.json().catch(() => ({}))) as { access_token?: string; id_token?: string; error?: string; error_description?: string };
  if (!res.ok || body.error) throw new ApiError(res.status, body.error ?? 'token_request_failed', body.error_description ?? 'The identity provider did not issue a token.');
  if (isJwt(body.id_token) && claimsOf(body.id_token).nonce !== pending.nonce) {
    throw new ApiError(0, 'invalid_nonce', 'The ID token does not answer this sign-in (nonce mismatch). Start again.');
  }
  const token = isJwt(body.access_token) ? body.access_token : body.id_token;
  if (!token) throw new ApiError(0, 'no_jwt', 'The identity provider returned neither a JWT access token nor an ID token.');
  return token;
}
