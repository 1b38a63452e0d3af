/**
 * Storage abstraction chosen by URI scheme (local paths and file://, s3://, s3a://, webhdfs://,
 * hdfs:// through WebHDFS). Everything above storage speaks only this interface.
 */
export interface FileInfo {
  /** Full location (same scheme/form as passed to list). */
  location: string;
  size: number;
  /** Last modification time, ms since epoch. */
  lastModified: number;
}

export interface FileIO {
  /** Reads a whole file. Throws LakehouseError FILE_NOT_FOUND when it does not exist. */
  read(location: string): Promise<Uint8Array>;
  /** Reads `length` bytes at `offset` (ranged GET on object stores). */
  readRange(location: string, offset: number, length: number): Promise<Uint8Array>;
  /** File size and mtime, or null when missing. */
  stat(location: string): Promise<FileInfo | null>;
  exists(location: string): Promise<boolean>;
  /** Writes (replaces) a file; the file appears whole or not at all. */
  write(location: string, data: Uint8Array): Promise<void>;
  /**
   * Writes a file only if none exists at that location, atomically. Throws LakehouseError
   * ALREADY_EXISTS when it does. The basis of the Hadoop catalog's commit.
   */
  writeIfAbsent(location: string, data: Uint8Array): Promise<void>;
  /** Deletes a file; missing files are not an error. */
  delete(location: string): Promise<void>;
  /** Lists files (recursively) under a prefix/directory. */
  list(prefix: string): Promise<FileInfo[]>;
  /**
   * A local filesystem path holding the file's bytes, for engines (DuckDB) that read files
   * directly. Local storage returns the path itself; remote storage downloads to a cache.
   */
  localPath(location: string): Promise<string>;
  /** Uploads a local file to the location (local storage: copy or rename). */
  putLocalFile(localPath: string, location: string): Promise<void>;
}
