/**
 * Reading numbers out of catalog-database rows: PostgreSQL returns bigint columns as strings
 * (node-postgres keeps 64-bit precision that way), SQLite as numbers; both become numbers here.
 */
export function nullableNumber(v: number | string | bigint | null | undefined): number | null {
  return v === null || v === undefined ? null : Number(v);
}
