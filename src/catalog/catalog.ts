import type { TableMetadata } from '../iceberg/metadata.js';
import type { TableRequirement } from '../iceberg/requirements.js';
import type { TableUpdate } from '../iceberg/updates.js';
import type { ViewMetadata, ViewRequirement, ViewUpdate } from '../iceberg/view-metadata.js';
import type { FileIO } from '../storage/fileio.js';
import type { Namespace, Page, PageRequest, TableIdent } from './store.js';

/** A table as loaded from a catalog: its current metadata and where that metadata lives. */
export interface LoadedTable {
  ident: TableIdent;
  metadataLocation: string;
  metadata: TableMetadata;
  io: FileIO;
}

export interface CommitRequest {
  requirements: TableRequirement[];
  updates: TableUpdate[];
}

/** One table's part of a multi-table transaction. */
export interface TableChange extends CommitRequest {
  ident: TableIdent;
}

/** A view as loaded from a catalog. */
export interface LoadedView {
  ident: TableIdent;
  metadataLocation: string;
  metadata: ViewMetadata;
}

export interface ViewCommitRequest {
  requirements: ViewRequirement[];
  updates: ViewUpdate[];
}

/**
 * The Iceberg catalog contract every writer commits through. `commitTable` checks the
 * requirements against the current metadata, applies the updates, writes the new metadata file
 * and swaps the pointer atomically; a lost race or failed requirement throws COMMIT_FAILED and
 * changes nothing, an unknown outcome throws COMMIT_STATE_UNKNOWN.
 */
export interface Catalog {
  readonly name: string;
  createNamespace(namespace: Namespace, properties?: Record<string, string>): Promise<void>;
  listNamespaces(parent?: Namespace, page?: PageRequest): Promise<Page<Namespace>>;
  loadNamespace(namespace: Namespace): Promise<Record<string, string>>;
  dropNamespace(namespace: Namespace): Promise<void>;

  listTables(namespace: Namespace, page?: PageRequest): Promise<Page<TableIdent>>;
  /** Creates a table from fully-formed initial metadata (see newTableMetadata). */
  createTable(ident: TableIdent, metadata: TableMetadata): Promise<LoadedTable>;
  loadTable(ident: TableIdent): Promise<LoadedTable>;
  tableExists(ident: TableIdent): Promise<boolean>;
  commitTable(ident: TableIdent, request: CommitRequest): Promise<LoadedTable>;
  dropTable(ident: TableIdent, purge?: boolean): Promise<void>;
  renameTable(from: TableIdent, to: TableIdent): Promise<void>;
  /** Default location for a new table. */
  defaultTableLocation(ident: TableIdent): string;
  /** Where a namespace's tables go by default (its `location` property overrides it). */
  defaultNamespaceLocation?(namespace: Namespace): string;
  close(): Promise<void>;

  // Optional capabilities: the REST API answers 406 (UnsupportedOperationException) without them.

  /** Sets and removes namespace properties (Iceberg REST semantics for the result). */
  updateNamespaceProperties?(
    namespace: Namespace,
    removals: string[],
    updates: Record<string, string>,
  ): Promise<{ updated: string[]; removed: string[]; missing: string[] }>;
  /** Registers an existing metadata file as a table (replacing the pointer when `overwrite`). */
  registerTable?(ident: TableIdent, metadataLocation: string, overwrite?: boolean): Promise<LoadedTable>;
  /**
   * Commits changes to several tables atomically: every requirement is checked and every new
   * metadata file written before one swap of all pointers; any failure changes no table.
   */
  commitTransaction?(changes: TableChange[]): Promise<LoadedTable[]>;

  listViews?(namespace: Namespace, page?: PageRequest): Promise<Page<TableIdent>>;
  createView?(ident: TableIdent, metadata: ViewMetadata): Promise<LoadedView>;
  loadView?(ident: TableIdent): Promise<LoadedView>;
  viewExists?(ident: TableIdent): Promise<boolean>;
  commitView?(ident: TableIdent, request: ViewCommitRequest): Promise<LoadedView>;
  dropView?(ident: TableIdent): Promise<void>;
  renameView?(from: TableIdent, to: TableIdent): Promise<void>;
  registerView?(ident: TableIdent, metadataLocation: string): Promise<LoadedView>;
}

export function identToString(ident: TableIdent): string {
  return [...ident.namespace, ident.name].join('.');
}
