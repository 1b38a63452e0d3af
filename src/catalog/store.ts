/**
 * The catalog store: namespaces and the pointer from each table (or view) to its current metadata
 * file. A commit is a compare-and-swap of that pointer (PyIceberg's sql.py:
 * `UPDATE … SET metadata_location = :new WHERE … AND metadata_location = :expected`).
 */
export type Namespace = string[];

export interface TableIdent {
  namespace: Namespace;
  name: string;
}

export type CatalogObjectKind = 'table' | 'view';

export interface TableRecord {
  namespace: Namespace;
  name: string;
  kind: CatalogObjectKind;
  metadataLocation: string;
  previousMetadataLocation: string | null;
}

export interface Page<T> {
  items: T[];
  /** Opaque token for the next page, or null when this is the last one. */
  nextPageToken: string | null;
}

export interface PageRequest {
  pageToken?: string | null;
  pageSize?: number | null;
}

export interface CatalogStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Creates the schema (idempotent migrations). */
  migrate(): Promise<void>;

  createNamespace(namespace: Namespace, properties: Record<string, string>): Promise<void>;
  /** Properties of a namespace; throws NO_SUCH_NAMESPACE. */
  loadNamespace(namespace: Namespace): Promise<Record<string, string>>;
  namespaceExists(namespace: Namespace): Promise<boolean>;
  /** Direct children of `parent` (top level when empty), ordered. */
  listNamespaces(parent: Namespace, page?: PageRequest): Promise<Page<Namespace>>;
  /** Returns which keys were updated, removed, and missing (Iceberg REST semantics). */
  updateNamespaceProperties(
    namespace: Namespace,
    removals: string[],
    updates: Record<string, string>,
  ): Promise<{ updated: string[]; removed: string[]; missing: string[] }>;
  /** Throws NO_SUCH_NAMESPACE, or NAMESPACE_NOT_EMPTY when it holds tables, views or child namespaces. */
  dropNamespace(namespace: Namespace): Promise<void>;

  /** Registers a table/view; throws ALREADY_EXISTS (a table or view of that name) or NO_SUCH_NAMESPACE. */
  createTable(ident: TableIdent, metadataLocation: string, kind?: CatalogObjectKind): Promise<void>;
  getTable(ident: TableIdent, kind?: CatalogObjectKind): Promise<TableRecord | null>;
  listTables(namespace: Namespace, page?: PageRequest, kind?: CatalogObjectKind): Promise<Page<TableIdent>>;
  /**
   * Atomically moves the pointer from `expected` to `next`. Returns false (and changes nothing)
   * when the current pointer is not `expected` — the caller lost a race.
   */
  swapMetadataLocation(ident: TableIdent, expected: string, next: string, kind?: CatalogObjectKind): Promise<boolean>;
  /**
   * Several swaps in one database transaction: all happen or none (multi-table transactions).
   * Returns false when any expected pointer did not match.
   */
  swapMany(swaps: { ident: TableIdent; expected: string; next: string; kind?: CatalogObjectKind }[]): Promise<boolean>;
  /** Throws NO_SUCH_TABLE, ALREADY_EXISTS, NO_SUCH_NAMESPACE (target namespace). */
  renameTable(from: TableIdent, to: TableIdent, kind?: CatalogObjectKind): Promise<void>;
  /** Throws NO_SUCH_TABLE. Returns the record that was removed. */
  dropTable(ident: TableIdent, kind?: CatalogObjectKind): Promise<TableRecord>;

  close(): Promise<void>;
}
