import { AssumeRoleCommand, STSClient } from '@aws-sdk/nested-clients/sts';
import { lakehouseError } from '../../core/errors.js';

/**
 * Vended credentials for the Iceberg REST catalog (`X-Iceberg-Access-Delegation:
 * vended-credentials` on loadTable/createTable, and `GET …/tables/{table}/credentials`): for a table
 * on S3 the service calls STS AssumeRole on a configured role with a session policy that narrows
 * the role to the table's location — read-only (Get/List) for a caller with SELECT, read-write
 * (plus Put/Delete) for one that may also write — and hands the short-lived keys to the client in
 * the response's `config` and `storage-credentials` (the spec's names, which Iceberg's S3FileIO
 * and PyIceberg read). Tables elsewhere (local, HDFS) get none: the client uses its own access.
 *
 * The STS client is the one the AWS SDK's credential providers use (@aws-sdk/nested-clients,
 * declared at the version client-s3 resolves, since @aws-sdk/client-sts is published at other
 * version numbers); STS runs wherever `stsEndpoint` points (AWS, or moto in tests).
 */
export interface CredentialVendingOptions {
  /** The role assumed for every vended session; its own policy bounds what any session can do. */
  roleArn: string;
  /** STS endpoint (default: AWS's for the region). */
  stsEndpoint?: string;
  region?: string;
  /** Session length: 900–43200 s, capped by the role's maximum (default 3600). */
  durationSeconds?: number;
  /** Credentials that call STS (default: the S3 storage credentials, else the SDK's default chain). */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Passed on to clients with the keys: the S3 endpoint and addressing style they must use. */
  s3Endpoint?: string;
  s3PathStyle?: boolean;
}

export type VendedAccess = 'read' | 'write';

export interface StorageCredential {
  prefix: string;
  config: Record<string, string>;
}

/** `s3://bucket/key/prefix` (also s3a/s3n) → bucket and key prefix without slashes at the ends. */
export function s3LocationOf(location: string): { scheme: string; bucket: string; prefix: string } | null {
  const m = /^(s3[an]?):\/\/([^/]+)\/?(.*)$/i.exec(location);
  if (!m) return null;
  return { scheme: m[1].toLowerCase(), bucket: m[2], prefix: m[3].replace(/\/+$/, '') };
}

/** The session policy: the role's rights intersected with this table's objects (read or read-write). */
export function sessionPolicy(bucket: string, prefix: string, access: VendedAccess): string {
  const objects = prefix ? `arn:aws:s3:::${bucket}/${prefix}/*` : `arn:aws:s3:::${bucket}/*`;
  const actions = ['s3:GetObject', 's3:GetObjectVersion'];
  if (access === 'write') actions.push('s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts');
  const listing: Record<string, unknown> = { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}` };
  if (prefix) listing.Condition = { StringLike: { 's3:prefix': [prefix, `${prefix}/*`] } };
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: actions, Resource: [objects] },
      listing,
      { Effect: 'Allow', Action: 's3:GetBucketLocation', Resource: `arn:aws:s3:::${bucket}` },
    ],
  });
}

/** STS role session names: 2–64 characters of [\w+=,.@-]. */
function sessionName(principal: string): string {
  return `lakehouse-${principal.replace(/[^\w+=,.@-]/g, '_')}`.slice(0, 64);
}

export class CredentialVendor {
  readonly #sts: STSClient;
  readonly #cache = new Map<string, { credential: StorageCredential; expiresAt: number }>();

  constructor(readonly opts: CredentialVendingOptions) {
    const keys = opts.accessKeyId && opts.secretAccessKey
      ? { credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey, sessionToken: opts.sessionToken } }
      : {};
    this.#sts = new STSClient({ region: opts.region ?? process.env.AWS_REGION ?? 'us-east-1', endpoint: opts.stsEndpoint, ...keys });
  }

  /**
   * Credentials for a table location, or null when the location is not on S3. Sessions are reused
   * per (location, access, principal) while more than half their life is left, so a client that
   * reloads a table often does not call STS each time.
   */
  async vend(location: string, access: VendedAccess, principal: string): Promise<StorageCredential | null> {
    const loc = s3LocationOf(location);
    if (!loc) return null;
    const key = `${access}\u0000${principal}\u0000${location}`;
    const hit = this.#cache.get(key);
    const duration = this.opts.durationSeconds ?? 3600;
    if (hit && hit.expiresAt - Date.now() > (duration * 1000) / 2) return hit.credential;
    let out;
    try {
      out = await this.#sts.send(
        new AssumeRoleCommand({
          RoleArn: this.opts.roleArn,
          RoleSessionName: sessionName(principal),
          DurationSeconds: duration,
          Policy: sessionPolicy(loc.bucket, loc.prefix, access),
        }),
      );
    } catch (e) {
      throw lakehouseError('STORAGE_ERROR', `could not vend credentials for ${location}: STS AssumeRole failed: ${(e as Error).message}`);
    }
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw lakehouseError('STORAGE_ERROR', `could not vend credentials for ${location}: STS returned no credentials`);
    }
    const expiresAt = c.Expiration.getTime();
    const config: Record<string, string> = {
      's3.access-key-id': c.AccessKeyId,
      's3.secret-access-key': c.SecretAccessKey,
      's3.session-token': c.SessionToken,
      's3.session-token-expires-at-ms': String(expiresAt),
    };
    if (this.opts.region) config['client.region'] = config['s3.region'] = this.opts.region;
    if (this.opts.s3Endpoint) config['s3.endpoint'] = this.opts.s3Endpoint;
    if (this.opts.s3PathStyle) config['s3.path-style-access'] = 'true';
    const credential = { prefix: location.replace(/\/+$/, ''), config };
    this.#cache.set(key, { credential, expiresAt });
    if (this.#cache.size > 10_000) this.#cache.delete(this.#cache.keys().next().value!);
    return credential;
  }

  close(): void {
    this.#sts.destroy();
  }
}

/** `X-Iceberg-Access-Delegation` asks for vended credentials (a comma-separated list of mechanisms). */
export function wantsVendedCredentials(header: unknown): boolean {
  return typeof header === 'string' && header.split(',').some((m) => m.trim().toLowerCase() === 'vended-credentials');
}
