import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { isLakehouseError } from '../../core/errors.js';
import { MasterKeyRing } from './master-key.js';

/**
 * Table data-encryption keys (DEKs) in the catalog store (migration 0010), wrapped by the master
 * key. A table's newest version encrypts new files; every version stays readable. Unwrapped keys
 * are cached by key id (a key id's bytes never change; only their wrapping does).
 */
export interface TableKey {
  keyId: string;
  version: number;
  dek: Buffer;
}

interface Row {
  key_id: string;
  catalog_name: string;
  table_location: string;
  version: number | string;
  wrapped_key: string;
  master_key_id: string;
  created_at: number | string;
}

const TABLE = 'lakehouse_table_keys';
const purpose = (keyId: string) => `table data key ${keyId}`;

export function normalizeLocation(location: string): string {
  return location.replace(/\/+$/, '');
}

export class TableKeyStore {
  private readonly cache = new Map<string, Buffer>();

  constructor(
    private readonly db: Kysely<any>,
    readonly catalogName: string,
    readonly ring: MasterKeyRing,
  ) {}

  /** The key new files of the table at `location` use; creates version 1 on first use. */
  async currentKey(location: string): Promise<TableKey> {
    const loc = normalizeLocation(location);
    for (let attempt = 0; ; attempt++) {
      const row = (await this.db
        .selectFrom(TABLE)
        .selectAll()
        .where('catalog_name', '=', this.catalogName)
        .where('table_location', '=', loc)
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst()) as Row | undefined;
      if (row) return this.toKey(row);
      try {
        return await this.addVersion(loc, 1);
      } catch (e) {
        // Another writer created version 1 first (unique constraint): read theirs.
        if (attempt >= 2 || isLakehouseError(e)) throw e;
      }
    }
  }

  /** Table-key rotation: a new version for new files; old files keep theirs. */
  async rotate(location: string): Promise<{ keyId: string; version: number }> {
    const loc = normalizeLocation(location);
    const top = (await this.db
      .selectFrom(TABLE)
      .select('version')
      .where('catalog_name', '=', this.catalogName)
      .where('table_location', '=', loc)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst()) as { version: number | string } | undefined;
    const k = await this.addVersion(loc, Number(top?.version ?? 0) + 1);
    return { keyId: k.keyId, version: k.version };
  }

  async key(keyId: string): Promise<TableKey | null> {
    const row = (await this.db.selectFrom(TABLE).selectAll().where('key_id', '=', keyId).executeTakeFirst()) as Row | undefined;
    return row ? this.toKey(row) : null;
  }

  async versions(location: string): Promise<{ keyId: string; version: number; masterKeyId: string; createdAt: string }[]> {
    const rows = (await this.db
      .selectFrom(TABLE)
      .selectAll()
      .where('catalog_name', '=', this.catalogName)
      .where('table_location', '=', normalizeLocation(location))
      .orderBy('version')
      .execute()) as Row[];
    return rows.map((r) => ({ keyId: r.key_id, version: Number(r.version), masterKeyId: r.master_key_id, createdAt: new Date(Number(r.created_at)).toISOString() }));
  }

  /**
   * Master-key rotation: re-wraps every key not wrapped by the current master key. Files are
   * untouched (their keys' bytes do not change). Each row is updated only if still wrapped as read.
   */
  async rewrapAll(): Promise<number> {
    const rows = (await this.db
      .selectFrom(TABLE)
      .selectAll()
      .where('catalog_name', '=', this.catalogName)
      .where('master_key_id', '!=', this.ring.current.id)
      .execute()) as Row[];
    let n = 0;
    for (const r of rows) {
      const dek = this.ring.unwrap(r.wrapped_key, purpose(r.key_id));
      const res = await this.db
        .updateTable(TABLE)
        .set({ wrapped_key: this.ring.wrap(dek, purpose(r.key_id)), master_key_id: this.ring.current.id })
        .where('key_id', '=', r.key_id)
        .where('wrapped_key', '=', r.wrapped_key)
        .executeTakeFirst();
      n += Number(res.numUpdatedRows ?? 0);
    }
    return n;
  }

  private async addVersion(loc: string, version: number): Promise<TableKey> {
    const keyId = randomUUID();
    const dek = randomBytes(32);
    await this.db
      .insertInto(TABLE)
      .values({
        key_id: keyId,
        catalog_name: this.catalogName,
        table_location: loc,
        version,
        wrapped_key: this.ring.wrap(dek, purpose(keyId)),
        master_key_id: this.ring.current.id,
        created_at: Date.now(),
      })
      .execute();
    this.cache.set(keyId, dek);
    return { keyId, version, dek };
  }

  private toKey(r: Row): TableKey {
    let dek = this.cache.get(r.key_id);
    if (!dek) {
      dek = this.ring.unwrap(r.wrapped_key, purpose(r.key_id));
      this.cache.set(r.key_id, dek);
    }
    return { keyId: r.key_id, version: Number(r.version), dek };
  }
}
