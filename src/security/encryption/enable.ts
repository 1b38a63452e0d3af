import type { Catalog } from '../../catalog/catalog.js';
import { sqlStoreOf } from '../../catalog/sql-store-of.js';
import { TableKeyStore } from './key-store.js';
import type { MasterKeyRing } from './master-key.js';
import { installTableEncryption } from './parquet-encryption.js';
import { secretKeys, setSecretKeys } from './secrets.js';

/**
 * Turns on encryption at rest for one catalog in this process: catalog secrets sealed with the
 * master keys, and the table data keys (kept in the catalog's SQL store) used by the Parquet
 * writers and readers of encrypted tables. The service does this at start; so does the local
 * `lakehouse sql`, which reads the same tables without a service. Returns the table key store
 * (null without a SQL store) and the undo.
 */
export function enableEncryption(catalog: Catalog, ring: MasterKeyRing): { tableKeys: TableKeyStore | null; disable(): void } {
  setSecretKeys(ring);
  const sqlStore = sqlStoreOf(catalog);
  let uninstall = () => {};
  let tableKeys: TableKeyStore | null = null;
  if (sqlStore) {
    tableKeys = new TableKeyStore(sqlStore.db, sqlStore.catalogName, ring);
    const warehouse = (catalog as { warehouse?: unknown }).warehouse;
    uninstall = installTableEncryption(tableKeys, typeof warehouse === 'string' ? warehouse : null);
  }
  return {
    tableKeys,
    disable() {
      uninstall();
      if (secretKeys() === ring) setSecretKeys(null);
    },
  };
}
