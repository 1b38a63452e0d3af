import { covers, implies, securableOf, type AuthContext, type ColumnMask, type Grant, type GranteeType, type Privilege, type ResourceRef, type RowFilter } from './model.js';
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
 * One way a principal reaches a table: a grant to the principal itself (never masked or
 * filtered) or the grants of one of its roles, with that role's masks and row filters.
 */
export interface AccessPath {
  /** 'principal' or the role's name. */
  via: string;
  columns: 'all' | string[];
  masks: Pick<ColumnMask, 'column' | 'kind' | 'params' | 'role'>[];
  /** All must hold (AND) on this path; an empty list: every row. */
  filters: string[];
}

/**
 * What a principal may see of one table. Access is the union of its paths (its own grants and
 * each role's): a row is visible when it passes the filters of any path (row filters of
 * different roles are ORed, several filters of one role ANDed), a column is visible when any
 * path grants it, and a column is shown unmasked when any path that grants it has no mask on
 * it (for the rows that path sees). A role without a grant on the table is no path: its masks
 * and filters change nothing. `masks` lists the columns masked on every path that grants them;
 * `rowFilters` is empty when some path sees every row. `columns` is 'all' when some path holds
 * SELECT on the table or above.
 */
export interface EffectivePolicy {
  principal: string;
  roles: string[];
  table: { namespace: string[]; name: string };
  canSelect: boolean;
  columns: 'all' | string[];
  masks: Pick<ColumnMask, 'column' | 'kind' | 'params' | 'role'>[];
  rowFilters: Pick<RowFilter, 'predicate' | 'role'>[];
  paths: AccessPath[];
  /** Any masks, filters or a column subset on every path: raw file access would bypass them. */
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
    const ref: ResourceRef = { namespace: table.namespace, table: table.name };
    const [grants, masks, filters] = await Promise.all([
      this.store.grantsFor(auth.principal, auth.roles),
      this.store.listMasks({ roles: auth.roles, namespace: table.namespace, table: table.name }),
      this.store.listRowFilters({ roles: auth.roles, namespace: table.namespace, table: table.name }),
    ]);
    const paths: AccessPath[] = [];
    const grantees: [GranteeType, string][] = [['principal', auth.principal], ...auth.roles.map((r): [GranteeType, string] => ['role', r])];
    for (const [type, name] of grantees) {
      const own = grants.filter((g) => g.granteeType === type && g.grantee === name);
      const whole = Authorizer.holds(own, { privilege: 'SELECT', resource: ref });
      const cols = own
        .filter((g) => implies(g.privilege, 'SELECT') && g.securable.type === 'column' && covers({ ...g.securable, type: 'table' }, securableOf(ref)))
        .map((g) => g.securable.column!);
      if (!whole && cols.length === 0) continue;
      const isRole = type === 'role';
      paths.push({
        via: isRole ? name : 'principal',
        columns: whole ? 'all' : [...new Set(cols)],
        masks: isRole ? masks.filter((m) => m.role === name).map((m) => ({ column: m.column, kind: m.kind, params: m.params, role: m.role })) : [],
        filters: isRole ? filters.filter((f) => f.role === name).map((f) => f.predicate) : [],
      });
    }
    const grantsColumn = (p: AccessPath, c: string) => p.columns === 'all' || p.columns.includes(c);
    const union = paths.some((p) => p.columns === 'all') ? ('all' as const) : [...new Set(paths.flatMap((p) => p.columns as string[]))];
    const effectiveMasks: EffectivePolicy['masks'] = [];
    for (const column of new Set(paths.flatMap((p) => p.masks.map((m) => m.column)))) {
      const granting = paths.filter((p) => grantsColumn(p, column));
      const onEvery = granting.map((p) => p.masks.find((m) => m.column === column));
      if (granting.length === 0 || onEvery.some((m) => m === undefined)) continue;
      effectiveMasks.push(strictestMask(onEvery as EffectivePolicy['masks']));
    }
    const unfiltered = paths.some((p) => p.filters.length === 0);
    return {
      principal: auth.principal,
      roles: auth.roles,
      table: { namespace: table.namespace, name: table.name },
      canSelect: paths.length > 0,
      columns: union,
      masks: effectiveMasks,
      rowFilters: unfiltered ? [] : filters.filter((f) => paths.some((p) => p.via === f.role)).map((f) => ({ predicate: f.predicate, role: f.role })),
      paths,
      limited: !paths.some((p) => p.columns === 'all' && p.masks.length === 0 && p.filters.length === 0),
    };
  }
}

/** Null reveals least, then a constant, then a hash (equality), then a partial value. */
const MASK_ORDER = ['null', 'redact', 'hash', 'partial'];

export function strictestMask<M extends Pick<ColumnMask, 'kind'>>(masks: M[]): M {
  return [...masks].sort((a, b) => MASK_ORDER.indexOf(a.kind) - MASK_ORDER.indexOf(b.kind))[0];
}
