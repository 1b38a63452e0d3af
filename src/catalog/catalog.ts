import type { TableMetadata } from '../iceberg/metadata.js';
import type { TableRequirement } from '../iceberg/requirements.js';
import type { TableUpdate } from '../iceberg/updates.js';
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
  close(): Promise<void>;
}

export function identToString(ident: TableIdent): string {
  return [...ident.namespace, ident.name].join('.');
}
