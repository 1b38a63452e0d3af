import { covers, implies, securableOf, type AuthContext, type ColumnMask, type Grant, type Privilege, type ResourceRef, type RowFilter } from './model.js';
import type { Check } from './rules.js';
import type { SecurityStore } from './store.js';

/**
 * Privilege decisions over the stored grants, and the per-table policy (column subset, masks,
 * row filters) that the SQL engine applies inside its plans.
 */
export interface TableIdentLike {
  namespace: string[];
  name: string;
}

/**
 * What a principal may see of one table. `columns` is 'all' when SELECT is held on the table or
 * above, else the columns granted one by one (empty: no access). Masks of all the principal's
 * roles apply (a column masked for any of its roles is masked); row filters of all its roles
 * apply together (AND): membership in a role can only narrow, never widen, what is visible.
 */
export interface EffectivePolicy {
  principal: string;
  roles: string[];
  table: { namespace: string[]; name: string };
  canSelect: boolean;
  columns: 'all' | string[];
  masks: Pick<ColumnMask, 'column' | 'kind' | 'params' | 'role'>[];
  rowFilters: Pick<RowFilter, 'predicate' | 'role'>[];
  /** Any masks, filters or a column subset: raw file access would bypass them. */
  limited: boolean;
}

export class Authorizer {
  constructor(readonly store: SecurityStore) {}

  async #context(principal: string | AuthContext): Promise<AuthContext> {
    return typeof principal === 'string' ? { principal, roles: await this.store.rolesOf(principal), method: 'token' } : principal;
  }

  static holds(grants: Grant[], check: Check): boolean {
    const target = securableOf(check.resource);
    for (const g of grants) {
      if (!implies(g.privilege, check.privilege)) continue;
      if (covers(g.securable, target)) return true;
      if (check.orBelow && covers(target, g.securable)) return true;
    }
    return false;
  }

  /** The first check not satisfied, or null when all are. */
  async firstDenied(auth: AuthContext, checks: Check[]): Promise<Check | null> {
    if (checks.length === 0) return null;
    const grants = await this.store.grantsFor(auth.principal, auth.roles);
    return checks.find((c) => !Authorizer.holds(grants, c)) ?? null;
  }

  async allowed(auth: AuthContext, privilege: Privilege, resource: ResourceRef, orBelow = false): Promise<boolean> {
    return (await this.firstDenied(auth, [{ privilege, resource, orBelow }])) === null;
  }

  /** The policy the SQL engine applies to `table` for `principal` (a name, or an authenticated context). */
  async effectivePolicy(principal: string | AuthContext, table: TableIdentLike): Promise<EffectivePolicy> {
    const auth = await this.#context(principal);
    const grants = await this.store.grantsFor(auth.principal, auth.roles);
    const ref: ResourceRef = { namespace: table.namespace, table: table.name };
    const whole = Authorizer.holds(grants, { privilege: 'SELECT', resource: ref });
    const columns = whole
      ? ('all' as const)
      : grants
          .filter((g) => implies(g.privilege, 'SELECT') && g.securable.type === 'column' && covers({ ...g.securable, type: 'table' }, securableOf(ref)))
          .map((g) => g.securable.column!);
    const [masks, filters] = await Promise.all([
      this.store.listMasks({ roles: auth.roles, namespace: table.namespace, table: table.name }),
      this.store.listRowFilters({ roles: auth.roles, namespace: table.namespace, table: table.name }),
    ]);
    const cols = columns === 'all' ? columns : [...new Set(columns)];
    return {
      principal: auth.principal,
      roles: auth.roles,
      table: { namespace: table.namespace, name: table.name },
      canSelect: whole || cols.length > 0,
      columns: cols,
      masks: masks.map((m) => ({ column: m.column, kind: m.kind, params: m.params, role: m.role })),
      rowFilters: filters.map((f) => ({ predicate: f.predicate, role: f.role })),
      limited: masks.length > 0 || filters.length > 0 || cols !== 'all',
    };
  }
}
