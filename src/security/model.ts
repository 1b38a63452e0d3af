/**
 * The grant model. A securable is the catalog, a namespace (levels, nested namespaces included),
 * a table (or view) or one column of a table. A grant on a securable covers everything below it
 * (catalog → namespaces → tables → columns). Privileges do not imply one another, except MANAGE,
 * which implies every data privilege (SELECT, INSERT, MODIFY, CREATE, DROP) on the same securable;
 * MANAGE_GRANTS (administer security) is only ever granted on its own.
 */
export const PRIVILEGES = ['SELECT', 'INSERT', 'MODIFY', 'CREATE', 'DROP', 'MANAGE', 'MANAGE_GRANTS'] as const;
export type Privilege = (typeof PRIVILEGES)[number];

export const SECURABLE_TYPES = ['catalog', 'namespace', 'table', 'column'] as const;
export type SecurableType = (typeof SECURABLE_TYPES)[number];

export interface Securable {
  type: SecurableType;
  namespace?: string[];
  table?: string;
  column?: string;
}

export type GranteeType = 'role' | 'principal';

export interface Grant {
  id: string;
  granteeType: GranteeType;
  grantee: string;
  privilege: Privilege;
  securable: Securable;
  createdAt: string;
}

export const MASK_KINDS = ['null', 'hash', 'redact', 'partial'] as const;
export type MaskKind = (typeof MASK_KINDS)[number];

/**
 * How a column's values are replaced for a role: `null`; `hash` (sha256 hex of the text form);
 * `redact` (a constant, params.replacement, default '****'); `partial` (keep params.keepFirst /
 * params.keepLast characters, the rest replaced by params.maskChar, default '*').
 */
export interface ColumnMask {
  id: string;
  role: string;
  namespace: string[];
  table: string;
  column: string;
  kind: MaskKind;
  params: { replacement?: string; keepFirst?: number; keepLast?: number; maskChar?: string };
  createdAt: string;
}

/** A SQL predicate (DuckDB syntax over the table's columns) rows must satisfy for a role. */
export interface RowFilter {
  id: string;
  role: string;
  namespace: string[];
  table: string;
  predicate: string;
  createdAt: string;
}

export interface Principal {
  name: string;
  kind: 'user' | 'service';
  createdAt: string;
}

export interface Role {
  name: string;
  description: string | null;
  createdAt: string;
}

/** Who is calling: the principal's name, its roles (stored memberships plus IdP claims), how it authenticated. */
export interface AuthContext {
  principal: string;
  roles: string[];
  method: 'api-key' | 'token' | 'oidc' | 'anonymous';
}

/** A resource a request touches, as a securable path (the catalog when both are absent). */
export interface ResourceRef {
  namespace?: string[];
  table?: string;
}

export const NS_SEP = '\u001f';

export function resourceText(r: ResourceRef | Securable): string {
  const parts = [...(r.namespace ?? [])];
  if (r.table !== undefined) parts.push(r.table);
  if ('column' in r && r.column !== undefined) parts.push(r.column);
  return parts.length === 0 ? 'catalog' : parts.join('.');
}

/** Does a grant on `granted` cover the securable `target`? (same path, or an ancestor of it) */
export function covers(granted: Securable, target: Securable): boolean {
  if (granted.type === 'catalog') return true;
  const gns = granted.namespace ?? [];
  const tns = target.namespace ?? [];
  if (target.type === 'catalog') return false;
  if (granted.type === 'namespace') {
    return gns.length <= tns.length && gns.every((l, i) => tns[i] === l);
  }
  if (target.type !== 'table' && target.type !== 'column') return false;
  if (gns.length !== tns.length || !gns.every((l, i) => tns[i] === l) || granted.table !== target.table) return false;
  if (granted.type === 'table') return true;
  return target.type === 'column' && granted.column === target.column;
}

/** Is `granted` strictly below `target` (a grant somewhere inside it)? */
export function below(granted: Securable, target: Securable): boolean {
  if (covers(granted, target)) return false;
  const reversed = covers(target, granted);
  return reversed;
}

export function implies(held: Privilege, wanted: Privilege): boolean {
  if (held === wanted) return true;
  return held === 'MANAGE' && wanted !== 'MANAGE_GRANTS';
}

export function securableOf(r: ResourceRef, column?: string): Securable {
  if (r.table !== undefined) {
    return column !== undefined
      ? { type: 'column', namespace: r.namespace ?? [], table: r.table, column }
      : { type: 'table', namespace: r.namespace ?? [], table: r.table };
  }
  if (r.namespace && r.namespace.length > 0) return { type: 'namespace', namespace: r.namespace };
  return { type: 'catalog' };
}
