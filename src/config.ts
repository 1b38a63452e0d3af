import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { lakehouseError } from './core/errors.js';
import type { StorageConfig } from './storage/registry.js';
import type { CredentialVendingOptions } from './api/iceberg/credentials.js';
import { MasterKeyRing } from './security/encryption/master-key.js';

/**
 * Service configuration: one JSON file (path in `LAKEHOUSE_CONFIG`, optional) with environment
 * variables overriding it field by field, validated at start against a TypeBox schema. Every bad
 * field is reported at once (`error [VALIDATION_FAILED]: invalid configuration: …`, exit 1).
 *
 * | file key                        | environment variable                 | default                     |
 * | ------------------------------- | ------------------------------------ | --------------------------- |
 * | host                            | LAKEHOUSE_HOST                       | 127.0.0.1                   |
 * | port                            | LAKEHOUSE_PORT (or PORT)             | 8181                        |
 * | warehouse                       | LAKEHOUSE_WAREHOUSE                  | ./warehouse                 |
 * | catalogUrl                      | LAKEHOUSE_CATALOG_URL                | sqlite:<warehouse>/catalog.db (local warehouse) |
 * | catalogName                     | LAKEHOUSE_CATALOG_NAME               | lakehouse                   |
 * | logLevel                        | LAKEHOUSE_LOG_LEVEL                  | info                        |
 * | shutdownTimeoutMs               | LAKEHOUSE_SHUTDOWN_TIMEOUT_MS        | 30000                       |
 * | storage.s3.endpoint             | LAKEHOUSE_S3_ENDPOINT                | (AWS)                       |
 * | storage.s3.region               | LAKEHOUSE_S3_REGION                  | $AWS_REGION or us-east-1    |
 * | storage.s3.accessKeyId          | LAKEHOUSE_S3_ACCESS_KEY_ID           | (SDK default chain)         |
 * | storage.s3.secretAccessKey      | LAKEHOUSE_S3_SECRET_ACCESS_KEY       | (SDK default chain)         |
 * | storage.s3.sessionToken         | LAKEHOUSE_S3_SESSION_TOKEN           |                             |
 * | storage.s3.pathStyle            | LAKEHOUSE_S3_PATH_STYLE (true/false) | false                       |
 * | storage.s3.vendRoleArn          | LAKEHOUSE_S3_VEND_ROLE_ARN           | (off: no vended credentials) |
 * | storage.s3.stsEndpoint          | LAKEHOUSE_S3_STS_ENDPOINT            | (AWS)                       |
 * | storage.s3.vendDurationSeconds  | LAKEHOUSE_S3_VEND_DURATION_SECONDS   | 3600                        |
 * | storage.webhdfs.address         | LAKEHOUSE_WEBHDFS_ADDRESS            | (http://nn:9870 style)      |
 * | storage.webhdfs.user            | LAKEHOUSE_WEBHDFS_USER               | $HADOOP_USER_NAME / OS user |
 * | auth.anonymous                  | LAKEHOUSE_AUTH_ANONYMOUS (true/false) | false (credentials required) |
 * | auth.anonymousPrincipal         | LAKEHOUSE_AUTH_ANONYMOUS_PRINCIPAL   | admin                       |
 * | auth.tokenSecret                | LAKEHOUSE_AUTH_TOKEN_SECRET          | (random, kept in the catalog store) |
 * | auth.tokenTtlSeconds            | LAKEHOUSE_AUTH_TOKEN_TTL_SECONDS     | 3600                        |
 * | auth.metricsPublic              | LAKEHOUSE_AUTH_METRICS_PUBLIC (true/false) | true                  |
 * | auth.oidc.issuer                | LAKEHOUSE_OIDC_ISSUER                | (OIDC off)                  |
 * | auth.oidc.audience              | LAKEHOUSE_OIDC_AUDIENCE              | (required with issuer)      |
 * | auth.oidc.principalClaim        | LAKEHOUSE_OIDC_PRINCIPAL_CLAIM       | sub                         |
 * | auth.oidc.rolesClaim            | LAKEHOUSE_OIDC_ROLES_CLAIM           | groups                      |
 * | auth.oidc.algorithms            | LAKEHOUSE_OIDC_ALGORITHMS (comma list) | RS256,ES256,PS256,EdDSA   |
 * | auth.oidc.consoleClientId       | LAKEHOUSE_OIDC_CONSOLE_CLIENT_ID     | (no console redirect sign-in) |
 * | auth.oidc.consoleScopes         | LAKEHOUSE_OIDC_CONSOLE_SCOPES        | openid profile              |
 * | tls.cert                        | LAKEHOUSE_TLS_CERT                   | (plain HTTP)                |
 * | tls.key                         | LAKEHOUSE_TLS_KEY                    | (plain HTTP)                |
 * | encryption.masterKey            | LAKEHOUSE_MASTER_KEY                 | (none: no encrypted tables) |
 * | encryption.masterKeyFile        | LAKEHOUSE_MASTER_KEY_FILE            |                             |
 * | encryption.previousMasterKeys   | LAKEHOUSE_MASTER_KEY_PREVIOUS (comma list) |                       |
 *
 * Security: without `auth.anonymous` every /v1 and /api/v1 request needs credentials (the first
 * start prints an admin API key once). TLS: `tls.cert` and `tls.key` (PEM file paths) together turn
 * on HTTPS; without them the service speaks plain HTTP (put it behind a TLS-terminating proxy).
 *
 * Secrets (S3 keys, session token, passwords in a PostgreSQL URL) are never logged: use
 * `redactConfig` before printing a config.
 */
const LogLevel = Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)));

export const ConfigSchema = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    warehouse: Type.String({ minLength: 1, description: 'Warehouse root: a local path, file://, s3://, s3a://, webhdfs:// or hdfs:// URI' }),
    catalogUrl: Type.String({ pattern: '^(sqlite:.+|postgres(ql)?://.+|.+\\.(db|sqlite|sqlite3))$', description: 'sqlite:<path> or postgres://…' }),
    catalogName: Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*$' }),
    logLevel: LogLevel,
    shutdownTimeoutMs: Type.Integer({ minimum: 0 }),
    storage: Type.Object(
      {
        s3: Type.Optional(
          Type.Object(
            {
              endpoint: Type.Optional(Type.String({ pattern: '^https?://' })),
              region: Type.Optional(Type.String({ minLength: 1 })),
              accessKeyId: Type.Optional(Type.String({ minLength: 1 })),
              secretAccessKey: Type.Optional(Type.String({ minLength: 1 })),
              sessionToken: Type.Optional(Type.String({ minLength: 1 })),
              pathStyle: Type.Optional(Type.Boolean()),
              vendRoleArn: Type.Optional(
                Type.String({ pattern: '^arn:', description: 'Role assumed (STS AssumeRole, session policy scoped to the table) to vend short-lived credentials on Iceberg loadTable/createTable' }),
              ),
              stsEndpoint: Type.Optional(Type.String({ pattern: '^https?://', description: 'STS endpoint for credential vending' })),
              vendDurationSeconds: Type.Optional(Type.Integer({ minimum: 900, maximum: 43200, description: 'Lifetime of vended credentials' })),
            },
            { additionalProperties: false },
          ),
        ),
        webhdfs: Type.Optional(
          Type.Object(
            {
              address: Type.Optional(Type.String({ pattern: '^https?://' })),
              user: Type.Optional(Type.String({ minLength: 1 })),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    auth: Type.Object(
      {
        anonymous: Type.Boolean({ description: 'Requests without credentials act as anonymousPrincipal (off: credentials required)' }),
        anonymousPrincipal: Type.Optional(Type.String({ minLength: 1 })),
        tokenSecret: Type.Optional(Type.String({ minLength: 32, description: 'HS256 secret for access tokens from /v1/oauth/tokens' })),
        tokenTtlSeconds: Type.Optional(Type.Integer({ minimum: 60 })),
        metricsPublic: Type.Optional(Type.Boolean({ description: 'GET /metrics without credentials' })),
        oidc: Type.Optional(
          Type.Object(
            {
              issuer: Type.String({ pattern: '^https?://', description: 'OIDC issuer; discovery at <issuer>/.well-known/openid-configuration' }),
              audience: Type.String({ minLength: 1 }),
              principalClaim: Type.Optional(Type.String({ minLength: 1 })),
              rolesClaim: Type.Optional(Type.String({ minLength: 1, description: 'Claim (dotted path) whose values are role names' })),
              algorithms: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]+(,[A-Za-z0-9]+)*$', description: 'Accepted JWS algorithms, comma-separated' })),
              consoleClientId: Type.Optional(
                Type.String({ minLength: 1, description: "The web console's public client id at the issuer (authorization code + PKCE, no secret); enables 'Sign in with OIDC'" }),
              ),
              consoleScopes: Type.Optional(Type.String({ minLength: 1, description: 'Scopes the console requests, space-separated (openid is always added)' })),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    tls: Type.Optional(
      Type.Object(
        {
          cert: Type.String({ minLength: 1, description: 'PEM certificate (chain) file' }),
          key: Type.String({ minLength: 1, description: 'PEM private key file' }),
        },
        { additionalProperties: false },
      ),
    ),
    encryption: Type.Optional(
      Type.Object(
        {
          masterKey: Type.Optional(Type.String({ minLength: 1, description: 'Master key (32 bytes, base64 or hex): wraps table data keys and catalog secrets (docs/security.md)' })),
          masterKeyFile: Type.Optional(Type.String({ minLength: 1, description: 'File holding the master key' })),
          previousMasterKeys: Type.Optional(Type.String({ minLength: 1, description: 'Earlier master keys, comma-separated: unwrap only, until a master-key rotation' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

/** Environment variable → config path, in table order. */
export const ENV_VARS: Record<string, { path: string[]; kind: 'string' | 'int' | 'bool' }> = {
  LAKEHOUSE_HOST: { path: ['host'], kind: 'string' },
  LAKEHOUSE_PORT: { path: ['port'], kind: 'int' },
  LAKEHOUSE_WAREHOUSE: { path: ['warehouse'], kind: 'string' },
  LAKEHOUSE_CATALOG_URL: { path: ['catalogUrl'], kind: 'string' },
  LAKEHOUSE_CATALOG_NAME: { path: ['catalogName'], kind: 'string' },
  LAKEHOUSE_LOG_LEVEL: { path: ['logLevel'], kind: 'string' },
  LAKEHOUSE_SHUTDOWN_TIMEOUT_MS: { path: ['shutdownTimeoutMs'], kind: 'int' },
  LAKEHOUSE_S3_ENDPOINT: { path: ['storage', 's3', 'endpoint'], kind: 'string' },
  LAKEHOUSE_S3_REGION: { path: ['storage', 's3', 'region'], kind: 'string' },
  LAKEHOUSE_S3_ACCESS_KEY_ID: { path: ['storage', 's3', 'accessKeyId'], kind: 'string' },
  LAKEHOUSE_S3_SECRET_ACCESS_KEY: { path: ['storage', 's3', 'secretAccessKey'], kind: 'string' },
  LAKEHOUSE_S3_SESSION_TOKEN: { path: ['storage', 's3', 'sessionToken'], kind: 'string' },
  LAKEHOUSE_S3_PATH_STYLE: { path: ['storage', 's3', 'pathStyle'], kind: 'bool' },
  LAKEHOUSE_S3_VEND_ROLE_ARN: { path: ['storage', 's3', 'vendRoleArn'], kind: 'string' },
  LAKEHOUSE_S3_STS_ENDPOINT: { path: ['storage', 's3', 'stsEndpoint'], kind: 'string' },
  LAKEHOUSE_S3_VEND_DURATION_SECONDS: { path: ['storage', 's3', 'vendDurationSeconds'], kind: 'int' },
  LAKEHOUSE_WEBHDFS_ADDRESS: { path: ['storage', 'webhdfs', 'address'], kind: 'string' },
  LAKEHOUSE_WEBHDFS_USER: { path: ['storage', 'webhdfs', 'user'], kind: 'string' },
  LAKEHOUSE_AUTH_ANONYMOUS: { path: ['auth', 'anonymous'], kind: 'bool' },
  LAKEHOUSE_AUTH_ANONYMOUS_PRINCIPAL: { path: ['auth', 'anonymousPrincipal'], kind: 'string' },
  LAKEHOUSE_AUTH_TOKEN_SECRET: { path: ['auth', 'tokenSecret'], kind: 'string' },
  LAKEHOUSE_AUTH_TOKEN_TTL_SECONDS: { path: ['auth', 'tokenTtlSeconds'], kind: 'int' },
  LAKEHOUSE_AUTH_METRICS_PUBLIC: { path: ['auth', 'metricsPublic'], kind: 'bool' },
  LAKEHOUSE_OIDC_ISSUER: { path: ['auth', 'oidc', 'issuer'], kind: 'string' },
  LAKEHOUSE_OIDC_AUDIENCE: { path: ['auth', 'oidc', 'audience'], kind: 'string' },
  LAKEHOUSE_OIDC_PRINCIPAL_CLAIM: { path: ['auth', 'oidc', 'principalClaim'], kind: 'string' },
  LAKEHOUSE_OIDC_ROLES_CLAIM: { path: ['auth', 'oidc', 'rolesClaim'], kind: 'string' },
  LAKEHOUSE_OIDC_ALGORITHMS: { path: ['auth', 'oidc', 'algorithms'], kind: 'string' },
  LAKEHOUSE_OIDC_CONSOLE_CLIENT_ID: { path: ['auth', 'oidc', 'consoleClientId'], kind: 'string' },
  LAKEHOUSE_OIDC_CONSOLE_SCOPES: { path: ['auth', 'oidc', 'consoleScopes'], kind: 'string' },
  LAKEHOUSE_TLS_CERT: { path: ['tls', 'cert'], kind: 'string' },
  LAKEHOUSE_TLS_KEY: { path: ['tls', 'key'], kind: 'string' },
  LAKEHOUSE_MASTER_KEY: { path: ['encryption', 'masterKey'], kind: 'string' },
  LAKEHOUSE_MASTER_KEY_FILE: { path: ['encryption', 'masterKeyFile'], kind: 'string' },
  LAKEHOUSE_MASTER_KEY_PREVIOUS: { path: ['encryption', 'previousMasterKeys'], kind: 'string' },
};

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj;
  for (const k of path.slice(0, -1)) {
    if (o[k] === null || typeof o[k] !== 'object' || Array.isArray(o[k])) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[path[path.length - 1]] = value;
}

function envValue(raw: string, kind: 'string' | 'int' | 'bool'): unknown {
  if (kind === 'int') return /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw;
  if (kind === 'bool') {
    const v = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off', ''].includes(v)) return false;
    return raw;
  }
  return raw;
}

function isRemote(uri: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(uri) && !/^file:/i.test(uri);
}

export interface LoadConfigOptions {
  /** Base directory for relative paths (default: the working directory). */
  cwd?: string;
}

/**
 * Loads and validates the configuration (file from `env.LAKEHOUSE_CONFIG`, then env overrides,
 * then defaults). Throws VALIDATION_FAILED listing every bad field.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: LoadConfigOptions = {}): Config {
  const cwd = opts.cwd ?? process.cwd();
  let raw: Record<string, unknown> = {};
  const file = env.LAKEHOUSE_CONFIG;
  if (file) {
    let text: string;
    try {
      text = readFileSync(resolve(cwd, file), 'utf8');
    } catch (e) {
      throw lakehouseError('VALIDATION_FAILED', `invalid configuration: cannot read LAKEHOUSE_CONFIG file ${file}: ${(e as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw lakehouseError('VALIDATION_FAILED', `invalid configuration: ${file} is not valid JSON: ${(e as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw lakehouseError('VALIDATION_FAILED', `invalid configuration: ${file} must hold a JSON object`);
    }
    raw = parsed as Record<string, unknown>;
  }
  const sources: Record<string, string> = {};
  for (const [name, { path, kind }] of Object.entries(ENV_VARS)) {
    const v = env[name] ?? (name === 'LAKEHOUSE_PORT' ? env.PORT : undefined);
    if (v === undefined) continue;
    setPath(raw, path, envValue(v, kind));
    sources[path.join('.')] = name;
  }

  // Defaults.
  const c: Record<string, unknown> = { ...raw };
  c.host ??= '127.0.0.1';
  c.port ??= 8181;
  c.warehouse ??= 'warehouse';
  c.catalogName ??= 'lakehouse';
  c.logLevel ??= 'info';
  c.shutdownTimeoutMs ??= 30_000;
  c.storage ??= {};
  c.auth ??= {};
  if (c.auth !== null && typeof c.auth === 'object' && !Array.isArray(c.auth)) (c.auth as Record<string, unknown>).anonymous ??= false;
  if (c.tls && typeof c.tls === 'object') {
    for (const k of ['cert', 'key'] as const) {
      const t = c.tls as Record<string, unknown>;
      if (typeof t[k] === 'string' && t[k] !== '') t[k] = resolve(cwd, t[k] as string);
    }
  }
  if (c.encryption && typeof c.encryption === 'object') {
    const e = c.encryption as Record<string, unknown>;
    if (typeof e.masterKeyFile === 'string' && e.masterKeyFile !== '') e.masterKeyFile = resolve(cwd, e.masterKeyFile);
  }
  if (typeof c.warehouse === 'string' && c.warehouse !== '' && !isRemote(c.warehouse)) {
    const local = resolve(cwd, c.warehouse.replace(/^file:(\/\/)?/i, ''));
    // A file: URI stays one, so table locations carry the scheme: engines such as Trino refuse
    // schemeless locations. A plain path stays a plain path.
    c.warehouse = /^file:/i.test(c.warehouse) ? `file://${local}` : local;
    c.catalogUrl ??= `sqlite:${resolve(local, 'catalog.db')}`;
  }
  if (typeof c.catalogUrl === 'string' && /^sqlite:(?!\/|:memory:)/i.test(c.catalogUrl)) {
    c.catalogUrl = `sqlite:${resolve(cwd, c.catalogUrl.slice('sqlite:'.length).replace(/^\/\//, ''))}`;
  }

  const problems: string[] = [];
  if (c.catalogUrl === undefined) {
    problems.push(`catalogUrl (LAKEHOUSE_CATALOG_URL): required when the warehouse is not local (${String(c.warehouse)})`);
  } else {
    for (const err of Value.Errors(ConfigSchema, c)) {
      const key = err.path.replace(/^\//, '').replace(/\//g, '.') || '(root)';
      const via = sources[key] ? ` (${sources[key]})` : '';
      const shown = /secret|token|password|key/i.test(key) ? '' : `, got ${JSON.stringify(err.value)}`;
      problems.push(`${key}${via}: ${err.message}${shown}`);
    }
  }
  if (problems.length === 0) {
    try {
      // A malformed master key fails the start, not the first encrypted write.
      MasterKeyRing.fromConfig((c.encryption ?? {}) as Config['encryption'] & object);
    } catch (e) {
      problems.push(`encryption: ${(e as Error).message.replace(/^invalid configuration: /, '')}`);
    }
  }
  if (problems.length > 0) {
    const unique = [...new Set(problems)];
    throw lakehouseError('VALIDATION_FAILED', `invalid configuration:\n  - ${unique.join('\n  - ')}`);
  }
  return c as Config;
}

/** Credential vending (src/api/iceberg/credentials.ts) when storage.s3.vendRoleArn is set; STS is called with the S3 keys. */
export function credentialVendingOf(config: Config): CredentialVendingOptions | undefined {
  const s3 = config.storage.s3;
  if (!s3?.vendRoleArn) return undefined;
  return {
    roleArn: s3.vendRoleArn,
    stsEndpoint: s3.stsEndpoint,
    region: s3.region,
    durationSeconds: s3.vendDurationSeconds,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    sessionToken: s3.sessionToken,
    s3Endpoint: s3.endpoint,
    s3PathStyle: s3.pathStyle,
  };
}

/** The FileIO configuration for the registry (storage.s3/webhdfs → S3FileIO/WebHdfsFileIO options). */
export function storageConfigOf(config: Config): StorageConfig {
  const out: StorageConfig = {};
  const s3 = config.storage.s3;
  if (s3) {
    out.s3 = {
      endpoint: s3.endpoint,
      region: s3.region,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      sessionToken: s3.sessionToken,
      forcePathStyle: s3.pathStyle,
    };
    for (const k of Object.keys(out.s3) as (keyof typeof out.s3)[]) if (out.s3[k] === undefined) delete out.s3[k];
  }
  const hdfs = config.storage.webhdfs;
  if (hdfs) out.webhdfs = { httpAddress: hdfs.address, user: hdfs.user };
  return out;
}

/** The service's security options (src/security/http.ts SecurityOptions) from the config. */
export function securityConfigOf(config: Config): {
  anonymous: boolean;
  anonymousPrincipal?: string;
  tokenSecret?: string;
  tokenTtlSeconds?: number;
  metricsPublic?: boolean;
  oidc?: { issuer: string; audience: string; principalClaim?: string; rolesClaim?: string; algorithms?: string[] };
  masterKeys: MasterKeyRing | null;
} {
  const a = config.auth;
  return {
    anonymous: a.anonymous,
    anonymousPrincipal: a.anonymousPrincipal,
    tokenSecret: a.tokenSecret,
    tokenTtlSeconds: a.tokenTtlSeconds,
    metricsPublic: a.metricsPublic,
    oidc: a.oidc ? { ...a.oidc, algorithms: a.oidc.algorithms?.split(',') } : undefined,
    masterKeys: MasterKeyRing.fromConfig(config.encryption ?? {}),
  };
}

export const REDACTED = '[REDACTED]';

/** Masks a URL's password (postgres://user:pass@host → postgres://user:[REDACTED]@host). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, `$1${REDACTED}@`);
}

/** A copy of the config safe to print or log: secrets masked. */
export function redactConfig(config: Config): Config {
  const c = structuredClone(config);
  c.catalogUrl = redactUrl(c.catalogUrl);
  if (c.storage.s3) {
    for (const k of ['accessKeyId', 'secretAccessKey', 'sessionToken'] as const) if (c.storage.s3[k]) c.storage.s3[k] = REDACTED;
  }
  if (c.auth.tokenSecret) c.auth.tokenSecret = REDACTED;
  if (c.encryption?.masterKey) c.encryption.masterKey = REDACTED;
  if (c.encryption?.previousMasterKeys) c.encryption.previousMasterKeys = REDACTED;
  return c;
}
