/**
 * Committing a typed batch: dead letters to the dead-letter table first, then the data files to
 * the target table (or, for a batch quality flagged, to the quarantine branch with main still
 * taking the offsets) — each commit carrying the Kafka offsets (commit.ts).
 *
 * The DLQ table's snapshots record their own watermark ("every dead letter below this offset is
 * here", max-merged). Resuming from the data table's offsets is therefore complete for the DLQ
 * too (a data commit implies the DLQ commit of the same batch landed), and on replay dead letters
 * below the DLQ watermark are skipped — so a crash between the two commits duplicates nothing.
 */
import { identToString, type Catalog, type LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import type { Duck } from '../duck/db.js';
import type { DataFile } from '../iceberg/manifest-types.js';
import { quarantineFiles, DEFAULT_QUARANTINE_BRANCH } from '../quality/index.js';
import type { Letter } from './batch.js';
import { appendWithOffsets, OffsetConflictError } from './commit.js';
import { writeLetters } from './dead-letter.js';
import type { KafkaLog } from './kafka-client.js';
import { getOffset, mergeOffsets, setOffset, type TopicOffsets } from './offsets.js';

export interface CommitTarget {
  catalog: Catalog;
  duck: Duck;
  jobId: string;
  table: TableIdent;
  dlqIdent: TableIdent;
  topics: string[];
  stageDir: string;
  quarantineBranch?: string;
  log?: KafkaLog;
}

/** The tables as the job last saw them; updated by each commit. */
export interface TableState {
  target: LoadedTable | undefined;
  dlq: LoadedTable;
  /** Offsets recorded in the data / DLQ table. */
  tableWm: TopicOffsets;
  dlqWm: TopicOffsets;
}

export interface TypedBatch {
  id: string;
  from: TopicOffsets;
  end: TopicOffsets;
  records: number;
  letters: Letter[];
  dataFiles: DataFile[];
  rows: number;
  /** Why the batch goes to the quarantine branch (null: main). */
  suspect: string | null;
}

/**
 * A batch must continue exactly where `recorded` (the table's offsets) end: whatever let the
 * consumer position drift from them (a re-delivery after a rebalance), one starting elsewhere would
 * repeat records (or skip them), so it is refused and the job re-reads from the table. Partitions
 * the table has no offsets for yet may start anywhere.
 */
export function checkBatchStart(from: TopicOffsets, recorded: TopicOffsets): void {
  for (const [topic, m] of from) {
    for (const [p, start] of m) {
      const wm = getOffset(recorded, topic, p);
      if (wm !== undefined && wm !== start) throw new OffsetConflictError(`${topic}/${p}: batch starts at ${start} but the table's offsets end at ${wm}`);
    }
  }
}

export interface BatchOutcome {
  /** False when there is no target table yet (only dead letters were committed). */
  committed: boolean;
  rows: number;
  deadLetters: number;
  quarantined: number;
}

export async function commitTypedBatch(t: CommitTarget, st: TableState, b: TypedBatch, beat: () => Promise<void>): Promise<BatchOutcome> {
  const { catalog } = t;
  // Dead letters first (skipping those a previous run already recorded), then the data.
  const fresh = b.letters.filter((l) => {
    const wm = getOffset(st.dlqWm, l.topic, l.partition);
    return wm === undefined || l.offset >= wm;
  });
  if (fresh.length > 0) {
    const minByTp: TopicOffsets = new Map();
    for (const l of fresh) {
      const cur = getOffset(minByTp, l.topic, l.partition);
      if (cur === undefined || l.offset < cur) setOffset(minByTp, l.topic, l.partition, l.offset);
    }
    const files = await writeLetters(t.duck, st.dlq, fresh, t.jobId, t.stageDir);
    const res = await appendWithOffsets(catalog, t.dlqIdent, files, {
      jobId: t.jobId,
      topics: t.topics,
      resolve: (parent) => {
        for (const [topic, m] of minByTp) {
          for (const [p, min] of m) {
            const wm = getOffset(parent, topic, p);
            if (wm !== undefined && wm > min) throw new OffsetConflictError(`dead letters of ${topic}/${p} from ${min} are already recorded (watermark ${wm})`);
          }
        }
        return mergeOffsets(parent, b.end, true);
      },
    });
    st.dlq = res.table;
    st.dlqWm = res.offsets;
    await beat();
  }
  // Only undecodable records so far, so no table to infer: the DLQ watermark alone keeps them from repeating.
  if (!st.target) return { committed: false, rows: 0, deadLetters: fresh.length, quarantined: 0 };

  const expected = new Map([...b.from].map(([topic, m]) => [topic, new Map([...m].map(([p]) => [p, getOffset(st.tableWm, topic, p)]))]));
  let rows = b.rows;
  let dataFiles = b.dataFiles;
  // A quarantined batch: its files are committed to the quarantine branch, and main gets an
  // append of no files that still carries the batch's offsets (else the batch is replayed after
  // a restart). A crash between the two commits replays it into quarantine again, never into main.
  let quarantined = 0;
  if (b.suspect !== null && dataFiles.length > 0) {
    const q = await quarantineFiles(catalog, t.table, dataFiles, {
      branch: t.quarantineBranch ?? DEFAULT_QUARANTINE_BRANCH,
      reason: b.suspect,
      batchId: b.id,
      summary: { 'kafka.job-id': t.jobId },
    });
    t.log?.warn(`batch ${b.id} quarantined on branch ${q.branch}: ${b.suspect}`, { jobId: t.jobId, table: identToString(t.table), rows: q.rows });
    st.target = q.table;
    quarantined = rows;
    rows = 0;
    dataFiles = [];
    await beat();
  }
  const res = await appendWithOffsets(
    catalog,
    t.table,
    dataFiles,
    {
      jobId: t.jobId,
      topics: t.topics,
      summary: {
        'kafka.batch-records': String(b.records),
        'kafka.batch-dead-letters': String(fresh.length),
        ...(quarantined > 0 ? { 'lakehouse.quarantine.batch-id': b.id, 'lakehouse.quarantine.rows': String(quarantined) } : {}),
      },
      resolve: (parent) => {
        for (const [topic, m] of expected) {
          for (const [p, want] of m) {
            const got = getOffset(parent, topic, p);
            if (got !== want) throw new OffsetConflictError(`${topic}/${p}: table offsets moved to ${got} (batch built on ${want})`);
          }
        }
        checkBatchStart(b.from, parent);
        return mergeOffsets(parent, b.end);
      },
    },
    st.target,
  );
  st.target = res.table;
  st.tableWm = res.offsets;
  return { committed: true, rows, deadLetters: fresh.length, quarantined };
}
