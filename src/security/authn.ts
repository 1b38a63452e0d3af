import { randomBytes } from 'node:crypto';
import { SignJWT, createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import type { AuthContext } from './model.js';
import { API_KEY_PREFIX, parseApiKey, type SecurityStore } from './store.js';

/**
 * Who a bearer credential is. Three kinds arrive in `Authorization: Bearer …`:
 *  - an API key `lhk_<id>_<secret>` (checked against its stored hash);
 *  - an access token this service signed (HS256, issuer `urn:lakehouse:<catalog>`) at the Iceberg
 *    REST OAuth2 token endpoint in exchange for an API key id and secret;
 *  - a JWT from the configured OIDC issuer, checked against its JWKS (found via discovery).
 * A principal's roles are its stored memberships, plus for OIDC the configured claim's values.
 */
export interface OidcOptions {
  issuer: string;
  audience: string;
  /** Claim naming the principal (default `sub`). */
  principalClaim?: string;
  /** Claim listing roles/groups, dotted path allowed (default `groups`). */
  rolesClaim?: string;
  /** Accepted signing algorithms (default RS256, ES256, PS256, EdDSA). */
  algorithms?: string[];
}

export interface AuthnOptions {
  store: SecurityStore;
  /** Secret for our own access tokens; when absent one is generated and kept in the store. */
  tokenSecret?: string;
  tokenTtlSeconds?: number;
  oidc?: OidcOptions;
}

export type AuthResult = { ok: true; auth: AuthContext } | { ok: false; reason: string; principal?: string };

const DEFAULT_OIDC_ALGS = ['RS256', 'ES256', 'PS256', 'EdDSA'];

function claimAt(payload: JWTPayload, path: string): unknown {
  let v: unknown = payload;
  for (const k of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

export class Authenticator {
  readonly issuer: string;
  readonly audience = 'lakehouse';
  readonly ttlSeconds: number;
  #key: Promise<Uint8Array> | null = null;
  #jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | null = null;

  constructor(readonly opts: AuthnOptions) {
    this.issuer = `urn:lakehouse:${opts.store.catalogName}`;
    this.ttlSeconds = opts.tokenTtlSeconds ?? 3600;
  }

  #signingKey(): Promise<Uint8Array> {
    this.#key ??= (async () => {
      const secret = this.opts.tokenSecret ?? (await this.opts.store.settingOrCreate('token-signing-secret', () => randomBytes(48).toString('base64url')));
      return new TextEncoder().encode(secret);
    })();
    this.#key.catch(() => (this.#key = null));
    return this.#key;
  }

  /** The remote JWKS, located by OIDC discovery (retried on the next request after a failure). */
  #oidcKeys(oidc: OidcOptions): Promise<ReturnType<typeof createRemoteJWKSet>> {
    this.#jwks ??= (async () => {
      const url = `${oidc.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`OIDC discovery ${url} answered ${res.status}`);
      const doc = (await res.json()) as { issuer?: string; jwks_uri?: string };
      if (doc.issuer !== oidc.issuer) throw new Error(`OIDC discovery names issuer ${doc.issuer}, expected ${oidc.issuer}`);
      if (!doc.jwks_uri) throw new Error('OIDC discovery document has no jwks_uri');
      return createRemoteJWKSet(new URL(doc.jwks_uri));
    })();
    this.#jwks.catch(() => (this.#jwks = null));
    return this.#jwks;
  }

  /** Signs a short-lived access token for a principal (the OAuth2 client-credentials grant). */
  async issueToken(principal: string, apiKeyId?: string): Promise<{ token: string; expiresIn: number }> {
    // `lhk`: the API key it was issued for; verification refuses the token once that key is revoked.
    const token = await new SignJWT(apiKeyId ? { lhk: apiKeyId } : {})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(principal)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime(`${this.ttlSeconds}s`)
      .setJti(randomBytes(12).toString('base64url'))
      .sign(await this.#signingKey());
    return { token, expiresIn: this.ttlSeconds };
  }

  /** Checks an API key id and secret (the OAuth2 client id and secret). */
  async verifyClient(id: string, secret: string): Promise<AuthResult> {
    if (!/^[0-9a-f]{16}$/.test(id) || secret.length < 20 || secret.length > 200) return { ok: false, reason: 'malformed client credentials' };
    const v = await this.opts.store.verifyApiKey(id, secret);
    if ('reason' in v) return { ok: false, reason: v.reason };
    return this.#known(v.principal, 'api-key', []);
  }

  async #known(principal: string, method: AuthContext['method'], claimRoles: string[]): Promise<AuthResult> {
    const stored = await this.opts.store.rolesOf(principal);
    return { ok: true, auth: { principal, method, roles: [...new Set([...stored, ...claimRoles])] } };
  }

  /** Authenticates an `Authorization` header value. */
  async authenticate(header: string): Promise<AuthResult> {
    const m = /^Bearer +([^\s]+) *$/i.exec(header);
    if (!m) return { ok: false, reason: 'Authorization header is not a Bearer credential' };
    const credential = m[1];
    if (credential.startsWith(API_KEY_PREFIX)) {
      const k = parseApiKey(credential);
      if (!k) return { ok: false, reason: 'malformed API key' };
      return this.verifyClient(k.id, k.secret);
    }
    let claims: JWTPayload;
    try {
      claims = decodeJwt(credential);
    } catch {
      return { ok: false, reason: 'malformed bearer token' };
    }
    try {
      if (claims.iss === this.issuer) {
        const { payload } = await jwtVerify(credential, await this.#signingKey(), {
          issuer: this.issuer,
          audience: this.audience,
          algorithms: ['HS256'],
          requiredClaims: ['sub', 'exp'],
        });
        // A token outlives its key, but not its principal.
        if (!(await this.opts.store.getPrincipal(payload.sub!))) return { ok: false, reason: 'the token names a principal that no longer exists' };
        // Nor the API key it was issued for.
        if (typeof payload.lhk === 'string') {
          const invalid = await this.opts.store.apiKeyInvalid(payload.lhk);
          if (invalid) return { ok: false, reason: `the token was issued for an API key that is no longer valid (${invalid})` };
        }
        return this.#known(payload.sub!, 'token', []);
      }
      const oidc = this.opts.oidc;
      if (oidc && claims.iss === oidc.issuer) {
        const { payload } = await jwtVerify(credential, await this.#oidcKeys(oidc), {
          issuer: oidc.issuer,
          audience: oidc.audience,
          algorithms: oidc.algorithms ?? DEFAULT_OIDC_ALGS,
          requiredClaims: ['exp'],
        });
        const principal = claimAt(payload, oidc.principalClaim ?? 'sub');
        if (typeof principal !== 'string' || principal === '') return { ok: false, reason: `token has no ${oidc.principalClaim ?? 'sub'} claim` };
        const raw = claimAt(payload, oidc.rolesClaim ?? 'groups');
        const roles = Array.isArray(raw) ? raw.filter((r): r is string => typeof r === 'string') : typeof raw === 'string' ? raw.split(/[\s,]+/).filter(Boolean) : [];
        return this.#known(principal, 'oidc', roles);
      }
    } catch (e) {
      return { ok: false, reason: `invalid bearer token: ${(e as Error).message}` };
    }
    return { ok: false, reason: 'bearer token from an unknown issuer' };
  }
}
