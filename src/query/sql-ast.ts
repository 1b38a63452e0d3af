import { lakehouseError } from '../core/errors.js';
import { str, type Duck } from '../duck/db.js';
import { parseJsonLossless } from '../core/json.js';

/**
 * SQL analysis with DuckDB's own parser (`json_serialize_sql`): the statement is parsed exactly as
 * it will run, so table references and table functions cannot hide from us behind syntax we failed
 * to anticipate. Only SELECT statements serialise; writes are recognised separately.
 */
export type AstNode = Record<string, unknown> & { type?: string; class?: string };

export interface TableRef {
  catalog: string;
  schema: string;
  table: string;
  /** `AT (VERSION => …)` / `AT (TIMESTAMP => …)` clause, when present. */
  at: { unit: string; value: unknown } | null;
  alias: string;
}

export interface SelectAnalysis {
  statements: AstNode[];
  tables: TableRef[];
  tableFunctions: string[];
}

export async function parseSelect(duck: Duck, sql: string): Promise<AstNode[]> {
  const rows = await duck.rows(`SELECT json_serialize_sql(${str(sql)}) AS j`);
  // Lossless: BIGINT literals beyond 2^53 must keep every digit.
  const parsed = parseJsonLossless(String(rows[0].j)) as { error: boolean; error_message?: string; error_type?: string; statements?: { node: AstNode }[] };
  if (parsed.error) {
    if (parsed.error_message?.startsWith('Only SELECT statements')) {
      throw lakehouseError('UNSUPPORTED_OPERATION', 'statement not allowed: only SELECT queries and the supported write statements (INSERT, DELETE, UPDATE, MERGE, CREATE TABLE AS) can run');
    }
    throw lakehouseError('BAD_REQUEST', `SQL syntax error: ${parsed.error_message ?? 'cannot parse'}`);
  }
  return (parsed.statements ?? []).map((s) => s.node);
}

/** Constant value of an expression node: a literal, or a literal CAST to a type. */
export function constantOf(node: unknown): { type: string; value: unknown; castTo?: string } | undefined {
  const n = node as AstNode | undefined;
  if (!n) return undefined;
  if (n.class === 'CONSTANT') {
    const v = n.value as { type: { id: string }; is_null: boolean; value: unknown };
    return { type: v.type.id, value: v.is_null ? null : v.value };
  }
  if (n.class === 'CAST' && !(n as { try_cast?: boolean }).try_cast) {
    const inner = constantOf(n.child);
    const castType = (n.cast_type as { id: string } | undefined)?.id;
    if (inner && castType) return { ...inner, castTo: castType };
  }
  return undefined;
}

/** Walks every object in the AST (expressions, subqueries, CTEs, joins). */
export function walk(node: unknown, visit: (n: AstNode) => void): void {
  if (Array.isArray(node)) {
    for (const x of node) walk(x, visit);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  visit(node as AstNode);
  for (const v of Object.values(node)) walk(v, visit);
}

export function analyzeSelect(statements: AstNode[]): SelectAnalysis {
  const tables: TableRef[] = [];
  const tableFunctions: string[] = [];
  walk(statements, (n) => {
    if (n.type === 'BASE_TABLE' && typeof n.table_name === 'string') {
      const at = n.at_clause as { unit: string; expr: unknown } | null;
      tables.push({
        catalog: String(n.catalog_name ?? ''),
        schema: String(n.schema_name ?? ''),
        table: n.table_name,
        at: at ? { unit: at.unit, value: constantOf(at.expr)?.value } : null,
        alias: String(n.alias ?? ''),
      });
    }
    if (n.type === 'TABLE_FUNCTION') {
      const f = n.function as { function_name?: string } | undefined;
      tableFunctions.push(f?.function_name ?? '?');
    }
  });
  return { statements, tables, tableFunctions };
}

/** Names bound by WITH clauses anywhere in the statements (they shadow catalog tables). */
export function cteNames(statements: AstNode[]): Set<string> {
  const names = new Set<string>();
  walk(statements, (n) => {
    const map = (n.cte_map as { map?: { key: string }[] } | undefined)?.map;
    if (Array.isArray(map)) for (const e of map) names.add(e.key);
  });
  return names;
}
