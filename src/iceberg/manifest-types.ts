import type { PartitionTuple } from './values.js';

/** Spec "Manifests": content of a data_file struct. */
export enum FileContent {
  DATA = 0,
  POSITION_DELETES = 1,
  EQUALITY_DELETES = 2,
}

export enum ManifestEntryStatus {
  EXISTING = 0,
  ADDED = 1,
  DELETED = 2,
}

/** Spec "Manifest Lists": content of a manifest file. */
export enum ManifestContent {
  DATA = 0,
  DELETES = 1,
}

export interface DataFile {
  content: FileContent;
  filePath: string;
  fileFormat: 'PARQUET' | 'AVRO' | 'ORC' | 'PUFFIN';
  /** Partition values in partition-spec field order (see values.ts for the JS representation). */
  partition: PartitionTuple;
  recordCount: bigint;
  fileSizeInBytes: bigint;
  /** Per field id. Bounds hold the spec's single-value binary serialization (Appendix D). */
  columnSizes?: Map<number, bigint>;
  valueCounts?: Map<number, bigint>;
  nullValueCounts?: Map<number, bigint>;
  nanValueCounts?: Map<number, bigint>;
  lowerBounds?: Map<number, Uint8Array>;
  upperBounds?: Map<number, Uint8Array>;
  keyMetadata?: Uint8Array | null;
  splitOffsets?: bigint[] | null;
  equalityIds?: number[] | null;
  sortOrderId?: number | null;
  /** v3 fields, read when present. */
  firstRowId?: bigint | null;
  referencedDataFile?: string | null;
  contentOffset?: bigint | null;
  contentSizeInBytes?: bigint | null;
}

export interface ManifestEntry {
  status: ManifestEntryStatus;
  /** Null in a v2 manifest means "inherit from the manifest list entry" (spec "Sequence Number Inheritance"). */
  snapshotId: bigint | null;
  sequenceNumber: bigint | null;
  fileSequenceNumber: bigint | null;
  dataFile: DataFile;
}

export interface PartitionFieldSummary {
  containsNull: boolean;
  containsNan?: boolean | null;
  lowerBound?: Uint8Array | null;
  upperBound?: Uint8Array | null;
}

/** An entry of a manifest list. */
export interface ManifestFile {
  manifestPath: string;
  manifestLength: bigint;
  partitionSpecId: number;
  content: ManifestContent;
  sequenceNumber: bigint;
  minSequenceNumber: bigint;
  addedSnapshotId: bigint;
  addedFilesCount: number;
  existingFilesCount: number;
  deletedFilesCount: number;
  addedRowsCount: bigint;
  existingRowsCount: bigint;
  deletedRowsCount: bigint;
  partitions?: PartitionFieldSummary[] | null;
  keyMetadata?: Uint8Array | null;
  firstRowId?: bigint | null;
}
