import { lakehouseError } from '../core/errors.js';
import { toBigInt } from '../core/json.js';

/** Spec "Snapshots". Ids are bigint: they are random 63-bit numbers. */
export interface Snapshot {
  'snapshot-id': bigint;
  'parent-snapshot-id'?: bigint | null;
  /** 0 for v1 tables (spec "Sequence Numbers"). */
  'sequence-number': number;
  'timestamp-ms': number;
  'manifest-list'?: string;
  /** v1 only: manifests listed inline instead of a manifest list. */
  manifests?: string[];
  summary: SnapshotSummary;
  'schema-id'?: number;
}

export interface SnapshotSummary {
  operation: 'append' | 'replace' | 'overwrite' | 'delete';
  [key: string]: string;
}

/** Spec "Snapshot References". */
export interface SnapshotRef {
  'snapshot-id': bigint;
  type: 'branch' | 'tag';
  'min-snapshots-to-keep'?: number;
  'max-snapshot-age-ms'?: number;
  'max-ref-age-ms'?: number;
}

export const MAIN_BRANCH = 'main';

export function parseSnapshot(json: unknown, where: string): Snapshot {
  if (json === null || typeof json !== 'object') throw lakehouseError('INVALID_METADATA', `${where}: expected a snapshot object`);
  const o = json as Record<string, unknown>;
  try {
    const summary = (o.summary ?? { operation: 'append' }) as Record<string, unknown>;
    const snap: Snapshot = {
      'snapshot-id': toBigInt(o['snapshot-id'], 'snapshot-id'),
      'sequence-number': o['sequence-number'] === undefined ? 0 : Number(o['sequence-number']),
      'timestamp-ms': Number(o['timestamp-ms']),
      summary: { ...(summary as object), operation: String(summary.operation ?? 'append') } as SnapshotSummary,
    };
    if (o['parent-snapshot-id'] !== undefined && o['parent-snapshot-id'] !== null) {
      snap['parent-snapshot-id'] = toBigInt(o['parent-snapshot-id'], 'parent-snapshot-id');
    }
    if (typeof o['manifest-list'] === 'string') snap['manifest-list'] = o['manifest-list'];
    else if (Array.isArray(o.manifests)) snap.manifests = o.manifests.map(String);
    else throw new Error('snapshot has neither manifest-list nor manifests');
    if (typeof o['schema-id'] === 'number') snap['schema-id'] = o['schema-id'];
    if (!Number.isFinite(snap['timestamp-ms'])) throw new Error('timestamp-ms missing');
    return snap;
  } catch (e) {
    throw lakehouseError('INVALID_METADATA', `${where}: ${(e as Error).message}`);
  }
}

export function parseRef(json: unknown, where: string): SnapshotRef {
  const o = (json ?? {}) as Record<string, unknown>;
  if (o.type !== 'branch' && o.type !== 'tag') throw lakehouseError('INVALID_METADATA', `${where}: ref type must be branch or tag`);
  const ref: SnapshotRef = { 'snapshot-id': toBigInt(o['snapshot-id'], `${where}.snapshot-id`), type: o.type };
  for (const k of ['min-snapshots-to-keep', 'max-snapshot-age-ms', 'max-ref-age-ms'] as const) {
    if (typeof o[k] === 'number') ref[k] = o[k] as number;
  }
  return ref;
}
