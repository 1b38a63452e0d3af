import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import { lakehouseError } from '../../core/errors.js';
import type { Catalog } from '../../catalog/catalog.js';
import { sqlStoreOf } from '../../catalog/sql-store-of.js';
import { NameParam, NamespaceParam, responses } from '../../api/own/common.js';
import type { SecurityRuntime } from '../http.js';
import { isEncryptedTable, ENCRYPTION_PROPERTY } from './parquet-encryption.js';
import { needsReseal, openSecret, sealSecret } from './secrets.js';

/**
 * Key management (/api/v1/security/encryption; MANAGE_GRANTS on the catalog, see ../rules.ts):
 *  - master-key rotation: configure the new key as LAKEHOUSE_MASTER_KEY and the old one in
 *    LAKEHOUSE_MASTER_KEY_PREVIOUS, call rotate-master-key (re-wraps every table key and re-seals
 *    every catalog secret; no data file is touched), then drop the previous key from the config;
 *  - table-key rotation: new files of the table use a new key version, old files keep theirs.
 */
const tags = ['security'];
const KeyVersion = Type.Object({ keyId: Type.String(), version: Type.Integer(), masterKeyId: Type.String(), createdAt: Type.String() });
const TableParams = Type.Object({ namespace: NamespaceParam, table: NameParam });

export async function encryptionRoutes(app: FastifyInstance, rt: SecurityRuntime): Promise<void> {
  const keys = () => {
    // A request this service is not configured for, not a failure of the service (hence not 503).
    if (!rt.tableKeys) throw lakehouseError('UNSUPPORTED_OPERATION', 'no master key is configured (LAKEHOUSE_MASTER_KEY or LAKEHOUSE_MASTER_KEY_FILE): key rotation needs one');
    return rt.tableKeys;
  };
  const tableOf = async (p: { namespace: string; table: string }) => (await (rt.catalog as Catalog).loadTable({ namespace: p.namespace.split('.'), name: p.table })).metadata;

  app.post(
    '/encryption/rotate-master-key',
    {
      schema: {
        tags,
        summary: 'Re-wrap every table data key and re-seal every catalog secret with the current master key (files untouched)',
        response: responses({ 200: Type.Object({ masterKeyId: Type.String(), tableKeys: Type.Integer(), secrets: Type.Integer() }) }),
      },
    },
    async () => {
      const store = keys();
      const tableKeys = await store.rewrapAll();
      const secrets = (await rt.store!.resealSettings()) + (await resealSources(sqlStoreOf(rt.catalog)!.db, store.catalogName));
      return { masterKeyId: store.ring.current.id, tableKeys, secrets };
    },
  );

  app.post(
    '/encryption/tables/:namespace/:table/rotate-key',
    {
      schema: {
        tags,
        summary: "Rotate an encrypted table's data key: new files use a new key version; existing files stay readable with theirs",
        params: TableParams,
        response: responses({ 200: Type.Object({ keyId: Type.String(), version: Type.Integer() }) }),
      },
    },
    async (req) => {
      const md = await tableOf(req.params as { namespace: string; table: string });
      if (!isEncryptedTable(md.properties)) throw lakehouseError('BAD_REQUEST', `table is not encrypted (set the table property ${ENCRYPTION_PROPERTY}=true)`);
      return keys().rotate(md.location);
    },
  );

  app.get(
    '/encryption/tables/:namespace/:table/keys',
    {
      schema: {
        tags,
        summary: "An encrypted table's key versions (ids and wrapping master key; never key material)",
        params: TableParams,
        response: responses({ 200: Type.Object({ encrypted: Type.Boolean(), keys: Type.Array(KeyVersion) }) }),
      },
    },
    async (req) => {
      const md = await tableOf(req.params as { namespace: string; table: string });
      return { encrypted: isEncryptedTable(md.properties), keys: rt.tableKeys ? await rt.tableKeys.versions(md.location) : [] };
    },
  );
}

/**
 * Where catalog secrets live: a JSON object of secrets per row (data sources, external sources)
 * or one secret string per row (webhook signing secrets).
 */
const SEALED_COLUMNS = [
  { table: 'lakehouse_data_sources', key: 'id', column: 'secrets', json: true },
  { table: 'lakehouse_external_sources', key: 'name', column: 'secrets', json: true },
  { table: 'lakehouse_alert_webhooks', key: 'id', column: 'secret', json: false },
] as const;

/** Secrets sealed under an older master key, or stored plain, re-sealed with the current one. */
async function resealSources(db: Kysely<any>, catalogName: string): Promise<number> {
  let n = 0;
  for (const { table, key, column, json } of SEALED_COLUMNS) {
    const rows = (await db.selectFrom(table).select([key, column]).where('catalog_name', '=', catalogName).execute()) as Record<string, string>[];
    for (const r of rows) {
      const stored = r[column];
      if (stored === null || stored === undefined) continue;
      const secrets: Record<string, string> = json ? (JSON.parse(stored) as Record<string, string>) : { value: stored };
      if (!Object.values(secrets).some(needsReseal)) continue;
      const next = Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, sealSecret(openSecret(v))]));
      const value = json ? JSON.stringify(next) : next.value;
      // Compare-and-set: a secret changed meanwhile is already sealed with the current key.
      const res = await db.updateTable(table).set({ [column]: value }).where('catalog_name', '=', catalogName).where(key, '=', r[key]).where(column, '=', stored).executeTakeFirst();
      n += Number(res.numUpdatedRows ?? 0) > 0 ? Object.keys(secrets).length : 0;
    }
  }
  return n;
}
