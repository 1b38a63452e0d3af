/**
 * Kysely typing of the catalog tables (created by `../migrations/`).
 *
 * The layout follows PyIceberg's / Iceberg JDBC's sql catalog (`iceberg_tables`,
 * `iceberg_namespace_properties`, both keyed by `catalog_name` so several warehouses share one
 * database) plus one table of our own, `iceberg_namespaces`: a namespace exists iff it has a row
 * there. Having a real row (instead of PyIceberg's `exists` marker property) lets foreign keys
 * make "create a table in a namespace that is being dropped" and "drop a namespace that just got
 * a table/child" race-safe on both dialects, keeps `exists` usable as an ordinary property, and
 * gives `listNamespaces(parent)` an indexed equality lookup on `parent_namespace`.
 *
 * Namespaces are stored as their levels joined with U+001F (unit separator), so dots in names
 * are safe. Top-level namespaces have `parent_namespace = NULL`.
 */
import type { Insertable, Selectable } from 'kysely';

/** Joins namespace levels in the `namespace` / `table_namespace` / `parent_namespace` columns. */
export const NAMESPACE_SEPARATOR = '\x1f';

export interface IcebergNamespacesTable {
  catalog_name: string;
  /** Levels joined with NAMESPACE_SEPARATOR. */
  namespace: string;
  /** The encoded parent namespace; NULL at top level. Foreign key to this table. */
  parent_namespace: string | null;
}

export interface IcebergNamespacePropertiesTable {
  catalog_name: string;
  namespace: string;
  property_key: string;
  property_value: string | null;
}

/** 'TABLE' or 'VIEW' (Iceberg JDBC catalog v1 schema). */
export type IcebergType = 'TABLE' | 'VIEW';

export interface IcebergTablesTable {
  catalog_name: string;
  table_namespace: string;
  table_name: string;
  metadata_location: string;
  previous_metadata_location: string | null;
  iceberg_type: IcebergType;
}

export interface CatalogDatabase {
  iceberg_namespaces: IcebergNamespacesTable;
  iceberg_namespace_properties: IcebergNamespacePropertiesTable;
  iceberg_tables: IcebergTablesTable;
}

export type NamespaceRow = Selectable<IcebergNamespacesTable>;
export type TableRow = Selectable<IcebergTablesTable>;
export type NewTableRow = Insertable<IcebergTablesTable>;
