import type { FileIO } from '../storage/fileio.js';
import { fileIOFor } from '../storage/registry.js';
import { readTableMetadata, type TableMetadata } from '../iceberg/metadata.js';
import { findMetadataFile } from './locate.js';
import { makePathResolver, type PathResolver } from './paths.js';

/** A table opened straight from its folder (no catalog), as `lakehouse scan` does. */
export interface FolderTable {
  io: FileIO;
  folder: string;
  metadataLocation: string;
  metadata: TableMetadata;
  resolve: PathResolver;
}

export async function openFolderTable(folder: string, metadataFile?: string, io: FileIO = fileIOFor(folder)): Promise<FolderTable> {
  const root = folder.replace(/\/+$/, '');
  const metadataLocation = await findMetadataFile(io, root, metadataFile);
  const metadata = readTableMetadata(await io.read(metadataLocation), metadataLocation);
  return { io, folder: root, metadataLocation, metadata, resolve: makePathResolver(metadata.location, root) };
}
