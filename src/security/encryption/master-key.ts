import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lakehouseError } from '../../core/errors.js';

/**
 * The master key ring of envelope encryption: one current master key (wraps new data-encryption
 * keys and catalog secrets) and any number of previous ones (only unwrap, until a master-key
 * rotation has re-wrapped everything under the current one). Keys are 32 random bytes given as
 * base64 or hex; each is known by a fingerprint id (`mk-` + 16 hex of a SHA-256 over a label and
 * the key), which is stored beside everything it wraps so a wrong or missing master key is
 * reported as such instead of as a failed GCM tag.
 *
 * Wrapping is AES-256-GCM with a random 96-bit nonce from the OS CSPRNG and the purpose as
 * additional authenticated data, so a wrapped DEK cannot be replayed as a secret or as another
 * table's key: `<id>.<base64(nonce | ciphertext | tag)>`.
 */
export interface MasterKey {
  id: string;
  key: Buffer;
}

export interface MasterKeyConfig {
  /** The current master key (base64 or hex of 32 bytes). */
  masterKey?: string;
  /** A file holding the current master key (same text form). */
  masterKeyFile?: string;
  /** Earlier master keys, comma-separated: they unwrap until rotated away. */
  previousMasterKeys?: string;
}

export function masterKeyId(key: Buffer): string {
  return `mk-${createHash('sha256').update('lakehouse master key id\0').update(key).digest('hex').slice(0, 16)}`;
}

export function parseMasterKey(text: string, what = 'master key'): MasterKey {
  const t = text.trim();
  let key: Buffer | null = null;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length === 32) key = b;
  }
  if (!key) throw lakehouseError('VALIDATION_FAILED', `invalid configuration: the ${what} must be 32 bytes as base64 or 64 hex digits (e.g. \`openssl rand -base64 32\`)`);
  return { id: masterKeyId(key), key };
}

export class MasterKeyRing {
  private readonly byId: Map<string, MasterKey>;

  constructor(
    readonly current: MasterKey,
    previous: MasterKey[] = [],
  ) {
    this.byId = new Map([...previous, current].map((k) => [k.id, k]));
  }

  /** The ring from the config; null when no master key is configured. */
  static fromConfig(c: MasterKeyConfig): MasterKeyRing | null {
    let text = c.masterKey;
    if (!text && c.masterKeyFile) {
      try {
        text = readFileSync(c.masterKeyFile, 'utf8');
      } catch (e) {
        throw lakehouseError('VALIDATION_FAILED', `invalid configuration: cannot read the master key file ${c.masterKeyFile}: ${(e as Error).message}`);
      }
    }
    const previous = (c.previousMasterKeys ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((s) => parseMasterKey(s, 'previous master key'));
    if (!text) {
      if (previous.length) throw lakehouseError('VALIDATION_FAILED', 'invalid configuration: previous master keys are set but no current master key');
      return null;
    }
    return new MasterKeyRing(parseMasterKey(text), previous);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  wrap(plain: Buffer, purpose: string): string {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.current.key, nonce);
    c.setAAD(Buffer.from(purpose));
    const ct = Buffer.concat([c.update(plain), c.final()]);
    return `${this.current.id}.${Buffer.concat([nonce, ct, c.getAuthTag()]).toString('base64')}`;
  }

  /** Unwraps; ENCRYPTION_KEY_MISMATCH when the wrapping master key is not in the ring or the data was altered. */
  unwrap(wrapped: string, purpose: string): Buffer {
    const dot = wrapped.indexOf('.');
    const id = dot > 0 ? wrapped.slice(0, dot) : '';
    const mk = this.byId.get(id);
    if (!mk) {
      throw lakehouseError('ENCRYPTION_KEY_MISMATCH', `${purpose} is wrapped by master key ${id || '(unknown)'}, which is not configured (configured: ${[...this.byId.keys()].join(', ')}); set LAKEHOUSE_MASTER_KEY (or LAKEHOUSE_MASTER_KEY_PREVIOUS) to that key`);
    }
    const raw = Buffer.from(wrapped.slice(dot + 1), 'base64');
    try {
      const d = createDecipheriv('aes-256-gcm', mk.key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(purpose));
      d.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]);
    } catch {
      throw lakehouseError('ENCRYPTION_KEY_MISMATCH', `${purpose} failed authentication under master key ${id}: the stored value was altered`);
    }
  }

  /** The master key id a wrapped value names. */
  static wrappedBy(wrapped: string): string {
    return wrapped.slice(0, Math.max(0, wrapped.indexOf('.')));
  }
}

/** Generates a master key in the accepted text form. */
export function newMasterKeyText(): string {
  return randomBytes(32).toString('base64');
}
