import { lakehouseError } from '../../core/errors.js';
import { MasterKeyRing } from './master-key.js';

/**
 * Catalog secrets (Kafka SASL passwords, storage-source S3 keys, external-source PostgreSQL
 * passwords, webhook signing secrets) encrypted with the master key before they reach the catalog
 * store: `lhenc:v1:<wrapped>` (AES-256-GCM, see
 * master-key.ts). Values without the prefix are plaintext rows written before a master key was
 * configured (or by an older version) and are read as they are; a master-key rotation re-seals
 * them. Without a master key, secrets are stored as given (the service warns at start).
 */
const PREFIX = 'lhenc:v1:';
const PURPOSE = 'catalog secret';

let ring: MasterKeyRing | null = null;

/** Sets the process's master keys for secrets (null: store secrets as given). */
export function setSecretKeys(r: MasterKeyRing | null): void {
  ring = r;
}

export function secretKeys(): MasterKeyRing | null {
  return ring;
}

export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

/** What to store for a secret. */
export function sealSecret(plain: string): string;
export function sealSecret(plain: string | null | undefined): string | null | undefined;
export function sealSecret(plain: string | null | undefined): string | null | undefined {
  if (plain === null || plain === undefined || !ring || isSealed(plain)) return plain;
  return PREFIX + ring.wrap(Buffer.from(plain, 'utf8'), PURPOSE);
}

/** The secret a stored value holds (legacy plaintext passes through). */
export function openSecret(stored: string): string;
export function openSecret(stored: string | null | undefined): string | null | undefined;
export function openSecret(stored: string | null | undefined): string | null | undefined {
  if (stored === null || stored === undefined || !isSealed(stored)) return stored;
  if (!ring) throw lakehouseError('ENCRYPTION_NOT_CONFIGURED', 'a catalog secret is encrypted but no master key is configured: set LAKEHOUSE_MASTER_KEY or LAKEHOUSE_MASTER_KEY_FILE');
  return ring.unwrap(stored.slice(PREFIX.length), PURPOSE).toString('utf8');
}

/** Whether a stored value must be re-sealed by a master-key rotation. */
export function needsReseal(stored: string | null | undefined): boolean {
  if (!stored || !ring) return false;
  return !isSealed(stored) || MasterKeyRing.wrappedBy(stored.slice(PREFIX.length)) !== ring.current.id;
}
