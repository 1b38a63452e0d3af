import { ident as q, str } from '../duck/db.js';
import { walk, type AstNode, type TableRef } from '../query/sql-ast.js';

/**
 * What of one external table a query needs, read from DuckDB's own parse of the query:
 *  - the columns it can reach (projection pushdown), over-approximated: any column reference
 *    whose parts name a column of the table counts, a `*` or the bare table alias means all;
 *  - the conjuncts of the WHERE clause that filter this table alone and that the source can
 *    evaluate exactly as DuckDB would (filter pushdown).
 * Pushing a conjunct only ever removes rows the WHERE clause would remove anyway: the user's
 * query still runs whole over what was fetched, so a conjunct pushed is a speed-up, never a
 * change of meaning. Hence the conditions: the table is read once in the query; it sits on an
 * inner or preserved side of the joins of its SELECT (a predicate on the nullable side of an
 * outer join is not a filter of that table); and each pushed comparison has the same semantics
 * in the source (types, collation, LIKE escapes) — anything else stays in DuckDB.
 */

/** Column classes with pushable comparisons; 'other' columns only get IS [NOT] NULL. */
export type ColumnKind = 'int' | 'num' | 'text' | 'bool' | 'date' | 'timestamp' | 'timestamptz' | 'uuid' | 'other';

export interface ColumnInfo {
  name: string;
  /** DuckDB type of the column as bound. */
  duckType: string;
  kind: ColumnKind;
}

/** A constant as text plus the type it is compared as (PostgreSQL spelling). */
export interface Param {
  text: string;
  type: 'bigint' | 'numeric' | 'float8' | 'text' | 'boolean' | 'date' | 'timestamp' | 'timestamptz' | 'uuid';
}

export type Cmp = '=' | '<>' | '<' | '<=' | '>' | '>=';

export type Pred =
  | { op: 'cmp'; col: ColumnInfo; cmp: Cmp; value: Param }
  | { op: 'in'; col: ColumnInfo; not: boolean; values: Param[] }
  | { op: 'null'; col: ColumnInfo; not: boolean }
  | { op: 'like'; col: ColumnInfo; not: boolean; pattern: string }
  | { op: 'between'; col: ColumnInfo; lo: Param; hi: Param }
  | { op: 'and' | 'or'; children: Pred[] }
  | { op: 'not'; child: Pred };

const CMP: Record<string, Cmp> = {
  COMPARE_EQUAL: '=',
  COMPARE_NOTEQUAL: '<>',
  COMPARE_LESSTHAN: '<',
  COMPARE_LESSTHANOREQUALTO: '<=',
  COMPARE_GREATERTHAN: '>',
  COMPARE_GREATERTHANOREQUALTO: '>=',
};
const FLIP: Record<Cmp, Cmp> = { '=': '=', '<>': '<>', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

const INT_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT']);
const NUMERIC_TEXT = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

/** A reference to the same table (DuckDB resolves names case-insensitively; the binder refuses two spellings in one query). */
function isRef(node: AstNode, ref: TableRef): boolean {
  const same = (a: unknown, b: string) => String(a ?? '').toLowerCase() === b.toLowerCase();
  return node.type === 'BASE_TABLE' && same(node.table_name, ref.table) && same(node.schema_name, ref.schema) && same(node.catalog_name, ref.catalog);
}

/** Names a column reference may use to qualify this table: its alias, else its name. */
function qualifiersOf(node: AstNode): Set<string> {
  const alias = String(node.alias ?? '');
  return new Set([(alias || String(node.table_name)).toLowerCase()]);
}

/** Columns of `columns` the statements can reach through this table ('all' for `*` and the like). */
export function referencedColumns(statements: AstNode[], ref: TableRef, columns: ColumnInfo[]): Set<string> {
  const byName = new Map(columns.map((c) => [c.name.toLowerCase(), c.name]));
  const qualifiers = new Set<string>();
  walk(statements, (n) => {
    if (isRef(n, ref)) for (const x of qualifiersOf(n)) qualifiers.add(x);
  });
  const out = new Set<string>();
  let all = false;
  walk(statements, (n) => {
    if (n.class === 'STAR') {
      const rel = String(n.relation_name ?? '').toLowerCase();
      if (!rel || qualifiers.has(rel) || n.columns) all = true;
    }
    if (n.class === 'COLUMN_REF') {
      const parts = (n.column_names as string[]).map((p) => p.toLowerCase());
      // A bare table alias is the whole row as a struct.
      if (parts.length === 1 && qualifiers.has(parts[0])) all = true;
      for (const p of parts) {
        const c = byName.get(p);
        if (c) out.add(c);
      }
    }
  });
  return all ? new Set(columns.map((c) => c.name)) : out;
}

/** The table's BASE_TABLE nodes reachable through a FROM tree, with whether WHERE filters them. */
function fromTables(node: AstNode | undefined, filtered: boolean, out: { node: AstNode; filtered: boolean }[]): void {
  if (!node) return;
  if (node.type === 'BASE_TABLE') out.push({ node, filtered });
  if (node.type !== 'JOIN') return;
  const jt = String(node.join_type);
  const plain = ['REGULAR', 'CROSS', 'NATURAL'].includes(String(node.ref_type));
  const leftFiltered = filtered && plain && ['INNER', 'LEFT', 'SEMI', 'ANTI'].includes(jt);
  const rightFiltered = filtered && plain && ['INNER', 'RIGHT'].includes(jt);
  fromTables(node.left as AstNode, leftFiltered, out);
  fromTables(node.right as AstNode, rightFiltered, out);
}

function conjuncts(node: AstNode | null | undefined): AstNode[] {
  if (!node) return [];
  if (node.type === 'CONJUNCTION_AND') return (node.children as AstNode[]).flatMap(conjuncts);
  return [node];
}

/**
 * The pushable part of the WHERE clause for this table (null: nothing pushable). `usable` names
 * the columns a predicate may test (a caller's masked columns are not: filtering on their stored
 * values would reveal what the mask hides).
 */
export function pushableFilter(statements: AstNode[], ref: TableRef, columns: ColumnInfo[], usable: Set<string>): Pred | null {
  let occurrences = 0;
  walk(statements, (n) => {
    if (isRef(n, ref)) occurrences++;
  });
  if (occurrences !== 1) return null;
  let found: { select: AstNode; node: AstNode; filtered: boolean; alone: boolean } | null = null;
  walk(statements, (n) => {
    if (n.type !== 'SELECT_NODE') return;
    const uses: { node: AstNode; filtered: boolean }[] = [];
    fromTables(n.from_table as AstNode | undefined, true, uses);
    const mine = uses.find((u) => isRef(u.node, ref));
    if (mine) found = { select: n, node: mine.node, filtered: mine.filtered, alone: (n.from_table as AstNode).type === 'BASE_TABLE' };
  });
  if (!found) return null;
  const use = found as { select: AstNode; node: AstNode; filtered: boolean; alone: boolean };
  if (!use.filtered) return null;
  const byName = new Map(columns.filter((c) => usable.has(c.name.toLowerCase())).map((c) => [c.name.toLowerCase(), c]));
  const qualifiers = qualifiersOf(use.node);
  const column = (n: unknown): ColumnInfo | undefined => {
    const x = n as AstNode;
    if (x?.class !== 'COLUMN_REF') return undefined;
    const parts = (x.column_names as string[]).map((p) => p.toLowerCase());
    // Unqualified names are this table's only when it is the whole FROM clause.
    if (parts.length === 1 && use.alone) return byName.get(parts[0]);
    if (parts.length === 2 && qualifiers.has(parts[0])) return byName.get(parts[1]);
    return undefined;
  };
  const preds = conjuncts(use.select.where_clause as AstNode | null)
    .map((c) => translate(c, column))
    .filter((p): p is Pred => p !== undefined);
  if (preds.length === 0) return null;
  return preds.length === 1 ? preds[0] : { op: 'and', children: preds };
}

/** A constant node as text and DuckDB type name, or undefined. DECIMAL literals carry a scale. */
function constant(node: unknown): { t: string; text: string } | undefined {
  const n = node as AstNode | undefined;
  if (!n) return undefined;
  if (n.class === 'CONSTANT') {
    const v = n.value as { type: { id: string; type_info: { scale?: number } | null }; is_null: boolean; value: unknown };
    if (v.is_null) return undefined;
    const t = v.type.id.toUpperCase();
    let text = String(v.value);
    if (t === 'DECIMAL') {
      const scale = v.type.type_info?.scale ?? 0;
      if (!/^-?\d+$/.test(text)) return undefined;
      const neg = text.startsWith('-');
      const digits = (neg ? text.slice(1) : text).padStart(scale + 1, '0');
      text = `${neg ? '-' : ''}${scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits}`;
    }
    return { t, text };
  }
  if (n.class === 'CAST' && !n.try_cast) {
    const inner = constant(n.child);
    const to = (n.cast_type as { id?: string } | undefined)?.id?.toUpperCase();
    // Only casts of string literals (DATE '…', TIMESTAMP '…', TRUE/FALSE spelled 't'/'f').
    if (inner && to && inner.t === 'VARCHAR') return { t: to, text: inner.text };
  }
  return undefined;
}

/** The constant as a parameter compared with `col`, when both sides agree on its meaning. */
function paramFor(col: ColumnInfo, node: unknown, cmp: Cmp | 'in'): Param | undefined {
  const c = constant(node);
  if (!c) return undefined;
  const numeric = INT_TYPES.has(c.t) || c.t === 'DECIMAL' || c.t === 'DOUBLE' || c.t === 'FLOAT';
  if (numeric && !NUMERIC_TEXT.test(c.text)) return undefined;
  switch (col.kind) {
    case 'int':
    case 'num':
      if (INT_TYPES.has(c.t)) return { text: c.text, type: col.kind === 'int' ? 'bigint' : 'numeric' };
      if (c.t === 'DECIMAL') return { text: c.text, type: 'numeric' };
      if (c.t === 'DOUBLE' || c.t === 'FLOAT') return { text: c.text, type: 'float8' };
      return undefined;
    case 'text':
      return c.t === 'VARCHAR' ? { text: c.text, type: 'text' } : undefined;
    case 'bool': {
      if (c.t !== 'BOOLEAN') return undefined;
      const v = c.text.toLowerCase();
      return v === 't' || v === 'true' ? { text: 'true', type: 'boolean' } : v === 'f' || v === 'false' ? { text: 'false', type: 'boolean' } : undefined;
    }
    case 'date':
      if (c.t === 'VARCHAR' || c.t === 'DATE') return { text: c.text, type: 'date' };
      return c.t === 'TIMESTAMP' ? { text: c.text, type: 'timestamp' } : undefined;
    case 'timestamp':
      return ['VARCHAR', 'DATE', 'TIMESTAMP'].includes(c.t) ? { text: c.text, type: 'timestamp' } : undefined;
    case 'timestamptz':
      // Both sides run in UTC (DuckDB connections and the PostgreSQL session).
      return ['VARCHAR', 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ'].includes(c.t) ? { text: c.text, type: 'timestamptz' } : undefined;
    case 'uuid':
      return (cmp === '=' || cmp === '<>' || cmp === 'in') && (c.t === 'VARCHAR' || c.t === 'UUID') ? { text: c.text, type: 'uuid' } : undefined;
    default:
      return undefined;
  }
}

function translate(node: AstNode, column: (n: unknown) => ColumnInfo | undefined): Pred | undefined {
  if (node.class === 'CONJUNCTION') {
    const children = (node.children as AstNode[]).map((c) => translate(c, column));
    if (children.some((c) => c === undefined)) return undefined;
    return { op: node.type === 'CONJUNCTION_AND' ? 'and' : 'or', children: children as Pred[] };
  }
  if (node.class === 'COMPARISON' && CMP[String(node.type)]) {
    const cmp = CMP[String(node.type)];
    const left = column(node.left);
    const right = column(node.right);
    if (left && !right) {
      const value = paramFor(left, node.right, cmp);
      return value ? { op: 'cmp', col: left, cmp, value } : undefined;
    }
    if (right && !left) {
      const value = paramFor(right, node.left, FLIP[cmp]);
      return value ? { op: 'cmp', col: right, cmp: FLIP[cmp], value } : undefined;
    }
    return undefined;
  }
  if (node.class === 'OPERATOR') {
    const children = node.children as AstNode[];
    if (node.type === 'OPERATOR_IS_NULL' || node.type === 'OPERATOR_IS_NOT_NULL') {
      const col = column(children[0]);
      return col ? { op: 'null', col, not: node.type === 'OPERATOR_IS_NOT_NULL' } : undefined;
    }
    if (node.type === 'COMPARE_IN' || node.type === 'COMPARE_NOT_IN') {
      const col = column(children[0]);
      if (!col || children.length < 2) return undefined;
      const values = children.slice(1).map((c) => paramFor(col, c, 'in'));
      if (values.some((v) => v === undefined)) return undefined;
      return { op: 'in', col, not: node.type === 'COMPARE_NOT_IN', values: values as Param[] };
    }
    if (node.type === 'OPERATOR_NOT') {
      const child = translate(children[0], column);
      return child ? { op: 'not', child } : undefined;
    }
    return undefined;
  }
  if (node.class === 'BETWEEN') {
    const col = column(node.input);
    if (!col) return undefined;
    const lo = paramFor(col, node.lower, '<');
    const hi = paramFor(col, node.upper, '<');
    return lo && hi ? { op: 'between', col, lo, hi } : undefined;
  }
  if (node.class === 'FUNCTION' && (node.function_name === '~~' || node.function_name === '!~~')) {
    const children = node.children as AstNode[];
    const col = column(children[0]);
    const pattern = constant(children[1]);
    if (!col || col.kind !== 'text' || !pattern || pattern.t !== 'VARCHAR' || children.length !== 2) return undefined;
    return { op: 'like', col, not: node.function_name === '!~~', pattern: pattern.text };
  }
  return undefined;
}

/** Columns a predicate tests. */
export function predColumns(p: Pred, out = new Set<string>()): Set<string> {
  if ('children' in p) for (const c of p.children) predColumns(c, out);
  else if ('child' in p) predColumns(p.child, out);
  else out.add(p.col.name);
  return out;
}

export function pgIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * PostgreSQL text of a predicate with `$n` parameters (values appended to `params`). Text order
 * comparisons use COLLATE "C" (byte order, as DuckDB compares); LIKE gets `ESCAPE ''` because
 * PostgreSQL's default escape character (backslash) is an ordinary character in DuckDB.
 */
export function renderPg(p: Pred, params: string[]): string {
  const param = (v: Param) => {
    params.push(v.text);
    return `$${params.length}::${v.type}`;
  };
  const col = (c: ColumnInfo, ordered: boolean) => (ordered && c.kind === 'text' ? `${pgIdent(c.name)} COLLATE "C"` : pgIdent(c.name));
  switch (p.op) {
    case 'and':
    case 'or':
      return `(${p.children.map((c) => renderPg(c, params)).join(p.op === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `(NOT ${renderPg(p.child, params)})`;
    case 'cmp':
      return `${col(p.col, p.cmp !== '=' && p.cmp !== '<>')} ${p.cmp} ${param(p.value)}`;
    case 'in':
      return `${pgIdent(p.col.name)} ${p.not ? 'NOT IN' : 'IN'} (${p.values.map(param).join(', ')})`;
    case 'null':
      return `${pgIdent(p.col.name)} IS ${p.not ? 'NOT ' : ''}NULL`;
    case 'like':
      return `${pgIdent(p.col.name)} ${p.not ? 'NOT LIKE' : 'LIKE'} ${param({ text: p.pattern, type: 'text' })} ESCAPE ''`;
    case 'between':
      return `${col(p.col, true)} BETWEEN ${param(p.lo)} AND ${param(p.hi)}`;
  }
}

const DUCK_TYPE: Record<Param['type'], string> = {
  bigint: 'BIGINT',
  numeric: 'DECIMAL',
  float8: 'DOUBLE',
  text: 'VARCHAR',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
  timestamptz: 'TIMESTAMPTZ',
  uuid: 'UUID',
};

/** DuckDB text of a predicate with inlined literals (file sources load through DuckDB itself). */
export function renderDuck(p: Pred): string {
  // Numbers are inlined as written (checked to be plain numerals), so DuckDB types them as the user's query does.
  const lit = (v: Param) => (v.type === 'bigint' || v.type === 'numeric' || v.type === 'float8' ? v.text : v.type === 'text' ? str(v.text) : `CAST(${str(v.text)} AS ${DUCK_TYPE[v.type]})`);
  switch (p.op) {
    case 'and':
    case 'or':
      return `(${p.children.map(renderDuck).join(p.op === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `(NOT ${renderDuck(p.child)})`;
    case 'cmp':
      return `${q(p.col.name)} ${p.cmp} ${lit(p.value)}`;
    case 'in':
      return `${q(p.col.name)} ${p.not ? 'NOT IN' : 'IN'} (${p.values.map(lit).join(', ')})`;
    case 'null':
      return `${q(p.col.name)} IS ${p.not ? 'NOT ' : ''}NULL`;
    case 'like':
      return `${q(p.col.name)} ${p.not ? 'NOT LIKE' : 'LIKE'} ${str(p.pattern)}`;
    case 'between':
      return `${q(p.col.name)} BETWEEN ${lit(p.lo)} AND ${lit(p.hi)}`;
  }
}

export function myIdent(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

const MY_DATE = /^\d{4}-\d{2}-\d{2}$/;
const MY_TIMESTAMP = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?$/;

/** Whether MySQL reads the constant as DuckDB does (MySQL turns a malformed date into NULL with a warning; DuckDB fails). */
function myParamOk(v: Param): boolean {
  switch (v.type) {
    case 'date':
      return MY_DATE.test(v.text);
    case 'timestamp':
      return MY_TIMESTAMP.test(v.text);
    case 'bigint':
    case 'numeric':
    case 'float8':
    case 'text':
      return true;
    default:
      return false;
  }
}

/**
 * The part of `p` a MySQL/MariaDB server evaluates exactly as DuckDB would (null: none). AND
 * keeps the children it can push; OR and NOT push only whole.
 */
export function mysqlPushable(p: Pred): Pred | null {
  switch (p.op) {
    case 'and': {
      const kids = p.children.map(mysqlPushable).filter((c): c is Pred => c !== null);
      return kids.length === 0 ? null : kids.length === 1 ? kids[0] : { op: 'and', children: kids };
    }
    case 'or': {
      const kids = p.children.map(mysqlPushable);
      return kids.every((c) => c !== null) ? { op: 'or', children: kids as Pred[] } : null;
    }
    case 'not': {
      const child = mysqlPushable(p.child);
      return child ? { op: 'not', child } : null;
    }
    case 'cmp':
      return myParamOk(p.value) ? p : null;
    case 'in':
      return p.values.every(myParamOk) ? p : null;
    case 'between':
      return myParamOk(p.lo) && myParamOk(p.hi) ? p : null;
    case 'null':
      return p;
    case 'like':
      return likeEscape(p.pattern) === undefined ? null : p;
  }
}

/** An escape character absent from the pattern, so that no character of it escapes another. */
function likeEscape(pattern: string): string | undefined {
  return [...'!#~^|@&$;:'].find((ch) => !pattern.includes(ch));
}

/**
 * MySQL/MariaDB text of a predicate (from mysqlPushable) with `?` parameters (values appended to
 * `params`). MySQL's default collations ignore case and trailing blanks, so every text
 * comparison is made under `binCollation`, a binary NO PAD collation of utf8mb4 (code-point
 * order, as DuckDB compares). Numbers are inlined as written (checked numerals): comparing a
 * number with a string parameter would go through DOUBLE. LIKE gets an ESCAPE character that does
 * not occur in the pattern, since MySQL's default escape (backslash) is ordinary in DuckDB.
 */
export function renderMy(p: Pred, params: string[], binCollation: string): string {
  const value = (v: Param): string => {
    switch (v.type) {
      case 'bigint':
      case 'numeric':
        return v.text;
      case 'float8':
        // An exponent makes a MySQL DOUBLE literal (1.5 alone is an exact DECIMAL).
        return /[eE]/.test(v.text) ? v.text : `${v.text}E0`;
      case 'date':
        params.push(v.text);
        return 'CAST(? AS DATE)';
      case 'timestamp':
        params.push(v.text);
        return 'CAST(? AS DATETIME(6))';
      default:
        params.push(v.text);
        return `? COLLATE ${binCollation}`;
    }
  };
  const col = (c: ColumnInfo) => (c.kind === 'text' ? `${myIdent(c.name)} COLLATE ${binCollation}` : myIdent(c.name));
  switch (p.op) {
    case 'and':
    case 'or':
      return `(${p.children.map((c) => renderMy(c, params, binCollation)).join(p.op === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `(NOT ${renderMy(p.child, params, binCollation)})`;
    case 'cmp':
      return `${col(p.col)} ${p.cmp} ${value(p.value)}`;
    case 'in':
      return `${col(p.col)} ${p.not ? 'NOT IN' : 'IN'} (${p.values.map(value).join(', ')})`;
    case 'null':
      return `${myIdent(p.col.name)} IS ${p.not ? 'NOT ' : ''}NULL`;
    case 'like': {
      const esc = likeEscape(p.pattern);
      if (esc === undefined) throw new Error('renderMy: LIKE pattern without a free escape character (not from mysqlPushable)');
      params.push(p.pattern);
      return `${col(p.col)} ${p.not ? 'NOT LIKE' : 'LIKE'} ? ESCAPE '${esc}'`;
    }
    case 'between':
      return `${col(p.col)} BETWEEN ${value(p.lo)} AND ${value(p.hi)}`;
  }
}
