import { needsReseal, openSecret, sealSecret } from './encryption/secrets.js';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { lakehouseError } from '../core/errors.js';
import { classifyConstraintError } from '../catalog/sql/sql-store.js';
import {
  NS_SEP,
  type ColumnMask,
  type Grant,
  type GranteeType,
  type MaskKind,
  type Principal,
  type Privilege,
  type Role,
  type RowFilter,
  type Securable,
} from './model.js';

/**
 * Persistence of the security model (migration 0005-security) in the catalog database, SQLite or
 * PostgreSQL, scoped by catalog name. API key secrets are 32 random bytes, so a plain sha256 of
 * them is as strong as a slow hash of a password would be; only that hash is stored.
 */
/** Which masks or row filters to list: of one role, of any of several, of one table. */
export interface PolicyFilter {
  role?: string;
  roles?: string[];
  namespace?: string[];
  table?: string;
}

export interface ApiKeyRecord {
  id: string;
  principal: string;
  description: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

/** A freshly created key: the secret is in here and nowhere else, ever. */
export interface NewApiKey extends ApiKeyRecord {
  secret: string;
  /** `Authorization: Bearer <key>` */
  key: string;
  /** `credential=<id>:<secret>` for the Iceberg REST OAuth2 token endpoint. */
  credential: string;
}

export const API_KEY_PREFIX = 'lhk_';

/** The built-in role made at first start: it keeps every privilege on the catalog (its grants cannot be revoked, nor the role deleted). */
export const ADMIN_ROLE = 'admin';

export function formatApiKey(id: string, secret: string): string {
  return `${API_KEY_PREFIX}${id}_${secret}`;
}

/** `lhk_<id>_<secret>` → parts (the id is hex, so the first `_` after it ends it). */
export function parseApiKey(key: string): { id: string; secret: string } | null {
  const m = /^lhk_([0-9a-f]{16})_([A-Za-z0-9_-]{20,200})$/.exec(key);
  return m ? { id: m[1], secret: m[2] } : null;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const now = () => new Date().toISOString();
const enc = (ns: string[] | undefined) => (ns ?? []).join(NS_SEP);
const dec = (s: string) => (s === '' ? [] : s.split(NS_SEP));

export class SecurityStore {
  readonly db: Kysely<any>;

  constructor(db: Kysely<any>, readonly catalogName: string) {
    this.db = db;
  }

  async #guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const kind = classifyConstraintError(e);
      if (kind === 'unique') throw lakehouseError('ALREADY_EXISTS', `${what} already exists`);
      if (kind === 'foreignKey') throw lakehouseError('NOT_FOUND', `${what}: the principal or role it refers to does not exist`);
      throw e;
    }
  }

  #scope(table: string) {
    return this.db.selectFrom(table).where('catalog_name', '=', this.catalogName);
  }

  /** Masks or row filters of the catalog narrowed by role(s) and table (null: no role can match). */
  #policies(table: 'lakehouse_sec_column_masks' | 'lakehouse_sec_row_filters', filter: PolicyFilter) {
    let q = this.#scope(table).selectAll();
    if (filter.role) q = q.where('role', '=', filter.role);
    if (filter.roles) {
      if (filter.roles.length === 0) return null;
      q = q.where('role', 'in', filter.roles);
    }
    if (filter.namespace) q = q.where('namespace', '=', enc(filter.namespace));
    if (filter.table) q = q.where('table_name', '=', filter.table);
    return q;
  }

  /**
   * Refuses a change after which no stored principal could administer security (MANAGE_GRANTS on
   * the catalog, directly or through a role): the service would be locked for good.
   */
  async #keepAnAdministrator(without: { grantId?: string; role?: string; principal?: string; membership?: [string, string] }): Promise<void> {
    const grants = (await this.listGrants()).filter(
      (g) =>
        g.privilege === 'MANAGE_GRANTS' &&
        g.securable.type === 'catalog' &&
        g.id !== without.grantId &&
        !(g.granteeType === 'role' && g.grantee === without.role) &&
        !(g.granteeType === 'principal' && g.grantee === without.principal),
    );
    const members = await this.listMemberships();
    const principals = new Set((await this.listPrincipals()).map((p) => p.name));
    const left = new Set<string>();
    for (const g of grants) {
      if (g.granteeType === 'principal') left.add(g.grantee);
      else for (const m of members) if (m.role === g.grantee && !(without.membership && m.role === without.membership[0] && m.principal === without.membership[1])) left.add(m.principal);
    }
    if (without.principal) left.delete(without.principal);
    if (![...left].some((p) => principals.has(p))) {
      throw lakehouseError('RESOURCE_IN_USE', 'refused: afterwards no principal could administer security (MANAGE_GRANTS on the catalog)');
    }
  }

  // ---------------------------------------------------------------------------- principals, roles

  async countPrincipals(): Promise<number> {
    const r = await this.#scope('lakehouse_sec_principals').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async createPrincipal(name: string, kind: Principal['kind'] = 'user'): Promise<Principal> {
    const p = { name, kind, createdAt: now() };
    await this.#guard(`principal '${name}'`, () =>
      this.db.insertInto('lakehouse_sec_principals').values({ catalog_name: this.catalogName, name, kind, created_at: p.createdAt }).execute(),
    );
    return p;
  }

  async getPrincipal(name: string): Promise<Principal | null> {
    const r = await this.#scope('lakehouse_sec_principals').selectAll().where('name', '=', name).executeTakeFirst();
    return r ? { name: r.name, kind: r.kind, createdAt: r.created_at } : null;
  }

  async listPrincipals(): Promise<Principal[]> {
    const rows = await this.#scope('lakehouse_sec_principals').selectAll().orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, kind: r.kind, createdAt: r.created_at }));
  }

  async deletePrincipal(name: string): Promise<void> {
    await this.#keepAnAdministrator({ principal: name });
    await this.db.deleteFrom('lakehouse_sec_grants').where('catalog_name', '=', this.catalogName).where('grantee_type', '=', 'principal').where('grantee', '=', name).execute();
    const r = await this.db.deleteFrom('lakehouse_sec_principals').where('catalog_name', '=', this.catalogName).where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw lakehouseError('NOT_FOUND', `principal '${name}' does not exist`);
  }

  async createRole(name: string, description: string | null = null): Promise<Role> {
    const r = { name, description, createdAt: now() };
    await this.#guard(`role '${name}'`, () =>
      this.db.insertInto('lakehouse_sec_roles').values({ catalog_name: this.catalogName, name, description, created_at: r.createdAt }).execute(),
    );
    return r;
  }

  async listRoles(): Promise<Role[]> {
    const rows = await this.#scope('lakehouse_sec_roles').selectAll().orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, description: r.description ?? null, createdAt: r.created_at }));
  }

  async deleteRole(name: string): Promise<void> {
    if (name === ADMIN_ROLE) throw lakehouseError('RESOURCE_IN_USE', `role '${ADMIN_ROLE}' is built in and cannot be deleted`);
    await this.#keepAnAdministrator({ role: name });
    await this.db.deleteFrom('lakehouse_sec_grants').where('catalog_name', '=', this.catalogName).where('grantee_type', '=', 'role').where('grantee', '=', name).execute();
    const r = await this.db.deleteFrom('lakehouse_sec_roles').where('catalog_name', '=', this.catalogName).where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw lakehouseError('NOT_FOUND', `role '${name}' does not exist`);
  }

  async addMember(role: string, principal: string): Promise<void> {
    await this.#guard(`membership of '${principal}' in '${role}'`, () =>
      this.db.insertInto('lakehouse_sec_memberships').values({ catalog_name: this.catalogName, role, principal, created_at: now() }).execute(),
    );
  }

  async removeMember(role: string, principal: string): Promise<void> {
    await this.#keepAnAdministrator({ membership: [role, principal] });
    const r = await this.db
      .deleteFrom('lakehouse_sec_memberships')
      .where('catalog_name', '=', this.catalogName)
      .where('role', '=', role)
      .where('principal', '=', principal)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw lakehouseError('NOT_FOUND', `'${principal}' is not a member of '${role}'`);
  }

  async listMemberships(filter: { role?: string; principal?: string } = {}): Promise<{ role: string; principal: string; createdAt: string }[]> {
    let q = this.#scope('lakehouse_sec_memberships').selectAll();
    if (filter.role) q = q.where('role', '=', filter.role);
    if (filter.principal) q = q.where('principal', '=', filter.principal);
    const rows = await q.orderBy('role').orderBy('principal').execute();
    return rows.map((r) => ({ role: r.role, principal: r.principal, createdAt: r.created_at }));
  }

  async rolesOf(principal: string): Promise<string[]> {
    return (await this.listMemberships({ principal })).map((m) => m.role);
  }

  // ------------------------------------------------------------------------------------- grants

  async createGrant(g: { granteeType: GranteeType; grantee: string; privilege: Privilege; securable: Securable }): Promise<Grant> {
    const { securable: s } = g;
    if (g.granteeType === 'role' && !(await this.#scope('lakehouse_sec_roles').select('name').where('name', '=', g.grantee).executeTakeFirst())) {
      throw lakehouseError('NOT_FOUND', `role '${g.grantee}' does not exist`);
    }
    if (g.granteeType === 'principal' && !(await this.getPrincipal(g.grantee))) {
      throw lakehouseError('NOT_FOUND', `principal '${g.grantee}' does not exist`);
    }
    const grant: Grant = { id: randomUUID(), ...g, createdAt: now() };
    await this.#guard('this grant', () =>
      this.db
        .insertInto('lakehouse_sec_grants')
        .values({
          catalog_name: this.catalogName,
          id: grant.id,
          grantee_type: g.granteeType,
          grantee: g.grantee,
          privilege: g.privilege,
          securable_type: s.type,
          namespace: enc(s.namespace),
          table_name: s.table ?? '',
          column_name: s.column ?? '',
          created_at: grant.createdAt,
        })
        .execute(),
    );
    return grant;
  }

  static #toGrant(r: any): Grant {
    const securable: Securable = { type: r.securable_type };
    if (r.securable_type !== 'catalog') securable.namespace = dec(r.namespace);
    if (r.securable_type === 'table' || r.securable_type === 'column') securable.table = r.table_name;
    if (r.securable_type === 'column') securable.column = r.column_name;
    return { id: r.id, granteeType: r.grantee_type, grantee: r.grantee, privilege: r.privilege, securable, createdAt: r.created_at };
  }

  async listGrants(filter: { granteeType?: GranteeType; grantee?: string } = {}): Promise<Grant[]> {
    let q = this.#scope('lakehouse_sec_grants').selectAll();
    if (filter.granteeType) q = q.where('grantee_type', '=', filter.granteeType);
    if (filter.grantee) q = q.where('grantee', '=', filter.grantee);
    return (await q.orderBy('created_at').orderBy('id').execute()).map(SecurityStore.#toGrant);
  }

  /** Grants that apply to a principal: its own and those of the given roles. */
  async grantsFor(principal: string, roles: string[]): Promise<Grant[]> {
    const rows = await this.#scope('lakehouse_sec_grants')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb.and([eb('grantee_type', '=', 'principal'), eb('grantee', '=', principal)]),
          ...(roles.length > 0 ? [eb.and([eb('grantee_type', '=', 'role'), eb('grantee', 'in', roles)])] : []),
        ]),
      )
      .execute();
    return rows.map(SecurityStore.#toGrant);
  }

  async getGrant(id: string): Promise<Grant | null> {
    const r = await this.#scope('lakehouse_sec_grants').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? SecurityStore.#toGrant(r) : null;
  }

  async deleteGrant(id: string): Promise<void> {
    const g = await this.getGrant(id);
    if (g?.granteeType === 'role' && g.grantee === ADMIN_ROLE) throw lakehouseError('RESOURCE_IN_USE', `the grants of the built-in role '${ADMIN_ROLE}' cannot be revoked`);
    await this.#keepAnAdministrator({ grantId: id });
    const r = await this.db.deleteFrom('lakehouse_sec_grants').where('catalog_name', '=', this.catalogName).where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw lakehouseError('NOT_FOUND', `grant '${id}' does not exist`);
  }

  // ----------------------------------------------------------------------------------- API keys

  async createApiKey(principal: string, opts: { description?: string | null; expiresAt?: string | null } = {}): Promise<NewApiKey> {
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const rec: ApiKeyRecord = { id, principal, description: opts.description ?? null, createdAt: now(), expiresAt: opts.expiresAt ?? null, revokedAt: null };
    await this.#guard(`API key for '${principal}'`, () =>
      this.db
        .insertInto('lakehouse_sec_api_keys')
        .values({
          catalog_name: this.catalogName,
          id,
          principal,
          secret_sha256: sha256(secret),
          description: rec.description,
          created_at: rec.createdAt,
          expires_at: rec.expiresAt,
          revoked_at: null,
        })
        .execute(),
    );
    return { ...rec, secret, key: formatApiKey(id, secret), credential: `${id}:${secret}` };
  }

  static #toKey(r: any): ApiKeyRecord {
    return { id: r.id, principal: r.principal, description: r.description ?? null, createdAt: r.created_at, expiresAt: r.expires_at ?? null, revokedAt: r.revoked_at ?? null };
  }

  async listApiKeys(principal?: string): Promise<ApiKeyRecord[]> {
    let q = this.#scope('lakehouse_sec_api_keys').selectAll();
    if (principal) q = q.where('principal', '=', principal);
    return (await q.orderBy('created_at').execute()).map(SecurityStore.#toKey);
  }

  async revokeApiKey(id: string): Promise<ApiKeyRecord> {
    const r = await this.db
      .updateTable('lakehouse_sec_api_keys')
      .set({ revoked_at: now() })
      .where('catalog_name', '=', this.catalogName)
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    const row = await this.#scope('lakehouse_sec_api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw lakehouseError('NOT_FOUND', `API key '${id}' does not exist`);
    if (Number(r.numUpdatedRows) === 0) throw lakehouseError('NOT_FOUND', `API key '${id}' is already revoked`);
    return SecurityStore.#toKey(row);
  }

  /** The principal a key id + secret belongs to, or the reason it does not authenticate. */
  async verifyApiKey(id: string, secret: string): Promise<{ principal: string } | { reason: string }> {
    const row = await this.#scope('lakehouse_sec_api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    // Hash even when the key is unknown, so an unknown id costs the same as a wrong secret.
    const given = Buffer.from(sha256(secret), 'hex');
    const stored = Buffer.from(row?.secret_sha256 ?? '0'.repeat(64), 'hex');
    const match = timingSafeEqual(given, stored);
    if (!row || !match) return { reason: 'unknown API key or wrong secret' };
    if (row.revoked_at) return { reason: 'API key revoked' };
    if (row.expires_at && Date.parse(row.expires_at) <= Date.now()) return { reason: 'API key expired' };
    return { principal: row.principal };
  }

  /** Why an API key no longer authenticates (revoked, expired, deleted), or null while it does. */
  async apiKeyInvalid(id: string): Promise<string | null> {
    const row = await this.#scope('lakehouse_sec_api_keys').select(['revoked_at', 'expires_at']).where('id', '=', id).executeTakeFirst();
    if (!row) return 'API key deleted';
    if (row.revoked_at) return 'API key revoked';
    if (row.expires_at && Date.parse(row.expires_at) <= Date.now()) return 'API key expired';
    return null;
  }

  // ------------------------------------------------------------------------ masks, row filters

  async createMask(m: Omit<ColumnMask, 'id' | 'createdAt'>): Promise<ColumnMask> {
    const mask: ColumnMask = { id: randomUUID(), ...m, createdAt: now() };
    await this.#guard(`a mask on ${m.column} for role '${m.role}'`, () =>
      this.db
        .insertInto('lakehouse_sec_column_masks')
        .values({
          catalog_name: this.catalogName,
          id: mask.id,
          role: m.role,
          namespace: enc(m.namespace),
          table_name: m.table,
          column_name: m.column,
          kind: m.kind,
          params: JSON.stringify(m.params ?? {}),
          created_at: mask.createdAt,
        })
        .execute(),
    );
    return mask;
  }

  async listMasks(filter: PolicyFilter = {}): Promise<ColumnMask[]> {
    const q = this.#policies('lakehouse_sec_column_masks', filter);
    if (!q) return [];
    const rows = await q.orderBy('namespace').orderBy('table_name').orderBy('column_name').orderBy('role').execute();
    return rows.map((r) => ({
      id: r.id,
      role: r.role,
      namespace: dec(r.namespace),
      table: r.table_name,
      column: r.column_name,
      kind: r.kind as MaskKind,
      params: JSON.parse(r.params),
      createdAt: r.created_at,
    }));
  }

  async deleteMask(id: string): Promise<void> {
    const r = await this.db.deleteFrom('lakehouse_sec_column_masks').where('catalog_name', '=', this.catalogName).where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw lakehouseError('NOT_FOUND', `column mask '${id}' does not exist`);
  }

  async createRowFilter(f: Omit<RowFilter, 'id' | 'createdAt'>): Promise<RowFilter> {
    const filter: RowFilter = { id: randomUUID(), ...f, createdAt: now() };
    await this.#guard(`row filter`, () =>
      this.db
        .insertInto('lakehouse_sec_row_filters')
        .values({
          catalog_name: this.catalogName,
          id: filter.id,
          role: f.role,
          namespace: enc(f.namespace),
          table_name: f.table,
          predicate: f.predicate,
          created_at: filter.createdAt,
        })
        .execute(),
    );
    return filter;
  }

  async listRowFilters(filter: PolicyFilter = {}): Promise<RowFilter[]> {
    const q = this.#policies('lakehouse_sec_row_filters', filter);
    if (!q) return [];
    const rows = await q.orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, role: r.role, namespace: dec(r.namespace), table: r.table_name, predicate: r.predicate, createdAt: r.created_at }));
  }

  async deleteRowFilter(id: string): Promise<void> {
    const r = await this.db.deleteFrom('lakehouse_sec_row_filters').where('catalog_name', '=', this.catalogName).where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw lakehouseError('NOT_FOUND', `row filter '${id}' does not exist`);
  }

  // ----------------------------------------------------------------------------------- settings

  /**
   * The stored value, or `make()`'s stored if none was (first writer wins across processes).
   * Settings are secrets (the token signing secret): sealed with the master key when one is set.
   */
  async settingOrCreate(name: string, make: () => string): Promise<string> {
    const get = async () => {
      const v = (await this.#scope('lakehouse_sec_settings').select('value').where('name', '=', name).executeTakeFirst())?.value as string | undefined;
      return v === undefined ? undefined : openSecret(v);
    };
    const existing = await get();
    if (existing !== undefined) return existing;
    try {
      await this.db.insertInto('lakehouse_sec_settings').values({ catalog_name: this.catalogName, name, value: sealSecret(make()) }).execute();
    } catch (e) {
      if (classifyConstraintError(e) !== 'unique') throw e;
    }
    return (await get())!;
  }

  /** Master-key rotation: re-seals settings sealed under an older master key (or stored plain). */
  async resealSettings(): Promise<number> {
    const rows = (await this.#scope('lakehouse_sec_settings').select(['name', 'value']).execute()) as { name: string; value: string }[];
    let n = 0;
    for (const r of rows) {
      if (!needsReseal(r.value)) continue;
      const res = await this.db
        .updateTable('lakehouse_sec_settings')
        .set({ value: sealSecret(openSecret(r.value)) })
        .where('catalog_name', '=', this.catalogName)
        .where('name', '=', r.name)
        .where('value', '=', r.value)
        .executeTakeFirst();
      n += Number(res.numUpdatedRows ?? 0);
    }
    return n;
  }
}
