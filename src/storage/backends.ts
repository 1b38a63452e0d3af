/**
 * On-demand loading of the cloud storage back ends. Their SDKs (@aws-sdk/client-s3,
 * @azure/storage-blob, @google-cloud/storage) take about a second to load together, which a
 * `lakehouse scan` of a local folder (and every test that spawns the CLI) should not pay.
 *
 * Each back-end module records its class here when it is evaluated. The registry builds a real
 * instance when the module is loaded already (by the registry or by any direct importer) and a
 * LazyFileIO, which imports the module on its first call, before that.
 */
import type { AzureFileIO, AzureFileIOOptions } from './azure.js';
import type { GcsFileIO, GcsFileIOOptions } from './gcs.js';
import type { S3FileIO, S3FileIOOptions } from './s3.js';

export interface LazyBackends {
  s3: new (options: S3FileIOOptions) => S3FileIO;
  azure: new (options?: AzureFileIOOptions) => AzureFileIO;
  gcs: new (options?: GcsFileIOOptions) => GcsFileIO;
}

export type LazyBackendKind = keyof LazyBackends;

const loaded: Partial<LazyBackends> = {};

/** Called by each back-end module at evaluation. */
export function registerBackend<K extends LazyBackendKind>(kind: K, cls: LazyBackends[K]): void {
  loaded[kind] = cls;
}

/** The back end's class if its module has been loaded, else undefined (no loading happens). */
export function loadedBackend<K extends LazyBackendKind>(kind: K): LazyBackends[K] | undefined {
  return loaded[kind];
}

/** The back end's class, loading its module if needed. */
export async function loadBackend<K extends LazyBackendKind>(kind: K): Promise<LazyBackends[K]> {
  // Literal specifiers, so bundlers and tsc see each dynamic import.
  switch (kind) {
    case 's3':
      loaded.s3 ??= (await import('./s3.js')).S3FileIO;
      break;
    case 'azure':
      loaded.azure ??= (await import('./azure.js')).AzureFileIO;
      break;
    case 'gcs':
      loaded.gcs ??= (await import('./gcs.js')).GcsFileIO;
      break;
  }
  return loaded[kind]!;
}
