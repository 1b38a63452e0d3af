import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { classifyConstraintError } from '../catalog/sql/sql-store.js';

/**
 * The audit log: append-only rows in the catalog store, each carrying the sha256 of the previous
 * record (`prev_hash`) and of itself over every field (`hash`), numbered 1, 2, 3, … per catalog.
 * Editing a record breaks its own hash; removing one leaves a gap in `seq` and breaks the next
 * record's `prev_hash`. (Cutting records off the end leaves a valid shorter chain: `verify`
 * returns the head so it can be anchored elsewhere.)
 */
export type AuditOutcome = 'allowed' | 'denied' | 'auth-failed' | 'error';

export interface AuditEntry {
  principal: string | null;
  action: string;
  resource: string | null;
  columns?: string[] | null;
  outcome: AuditOutcome;
  status?: number | null;
  requestId?: string | null;
  detail?: string | null;
}

export interface AuditRecord extends Required<AuditEntry> {
  seq: number;
  at: string;
  prevHash: string;
  hash: string;
}

export interface AuditFilter {
  principal?: string;
  action?: string;
  resource?: string;
  outcome?: AuditOutcome;
  since?: string;
  until?: string;
  afterSeq?: number;
  limit?: number;
}

export interface AuditVerifyResult {
  ok: boolean;
  records: number;
  head: { seq: number; hash: string } | null;
  /** The first broken record and why. */
  problem?: { seq: number; reason: string };
}

const GENESIS = '0'.repeat(64);

function recordHash(r: Omit<AuditRecord, 'hash'>): string {
  const canonical = JSON.stringify([r.seq, r.at, r.principal, r.action, r.resource, r.columns, r.outcome, r.status, r.requestId, r.detail, r.prevHash]);
  return createHash('sha256').update(canonical).digest('hex');
}

function toRecord(r: any): AuditRecord {
  return {
    seq: Number(r.seq),
    at: r.at,
    principal: r.principal ?? null,
    action: r.action,
    resource: r.resource ?? null,
    columns: r.columns ? (JSON.parse(r.columns) as string[]) : null,
    outcome: r.outcome,
    status: r.status === null || r.status === undefined ? null : Number(r.status),
    requestId: r.request_id ?? null,
    detail: r.detail ?? null,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export class AuditLog {
  // Appends from this process go one at a time: racing ourselves for the next seq only wastes retries.
  #tail: Promise<unknown> = Promise.resolve();

  constructor(readonly db: Kysely<any>, readonly catalogName: string) {}

  append(entry: AuditEntry): Promise<AuditRecord> {
    const p = this.#tail.then(() => this.#append(entry));
    this.#tail = p.catch(() => {});
    return p;
  }

  async #append(entry: AuditEntry): Promise<AuditRecord> {
    for (let attempt = 0; ; attempt++) {
      const last = await this.db
        .selectFrom('lakehouse_sec_audit')
        .select(['seq', 'hash'])
        .where('catalog_name', '=', this.catalogName)
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      const base: Omit<AuditRecord, 'hash'> = {
        seq: last ? Number(last.seq) + 1 : 1,
        at: new Date().toISOString(),
        principal: entry.principal,
        action: entry.action,
        resource: entry.resource,
        columns: entry.columns ?? null,
        outcome: entry.outcome,
        status: entry.status ?? null,
        requestId: entry.requestId ?? null,
        detail: entry.detail ?? null,
        prevHash: last?.hash ?? GENESIS,
      };
      const rec: AuditRecord = { ...base, hash: recordHash(base) };
      try {
        await this.db
          .insertInto('lakehouse_sec_audit')
          .values({
            catalog_name: this.catalogName,
            seq: rec.seq,
            at: rec.at,
            principal: rec.principal,
            action: rec.action,
            resource: rec.resource,
            columns: rec.columns ? JSON.stringify(rec.columns) : null,
            outcome: rec.outcome,
            status: rec.status,
            request_id: rec.requestId,
            detail: rec.detail,
            prev_hash: rec.prevHash,
            hash: rec.hash,
          })
          .execute();
        return rec;
      } catch (e) {
        // Another process took this seq: chain onto its record instead.
        if (classifyConstraintError(e) !== 'unique' || attempt > 50) throw e;
      }
    }
  }

  async list(f: AuditFilter = {}): Promise<AuditRecord[]> {
    let q = this.db.selectFrom('lakehouse_sec_audit').selectAll().where('catalog_name', '=', this.catalogName);
    if (f.principal !== undefined) q = q.where('principal', '=', f.principal);
    if (f.action !== undefined) q = q.where('action', '=', f.action);
    if (f.resource !== undefined) q = q.where('resource', '=', f.resource);
    if (f.outcome !== undefined) q = q.where('outcome', '=', f.outcome);
    if (f.since !== undefined) q = q.where('at', '>=', new Date(f.since).toISOString());
    if (f.until !== undefined) q = q.where('at', '<', new Date(f.until).toISOString());
    if (f.afterSeq !== undefined) q = q.where('seq', '>', f.afterSeq);
    const rows = await q.orderBy('seq').limit(f.limit ?? 1000).execute();
    return rows.map(toRecord);
  }

  /** Walks the whole chain in seq order, page by page. */
  async verify(): Promise<AuditVerifyResult> {
    let expectedSeq = 1;
    let prev = GENESIS;
    let records = 0;
    let head: AuditVerifyResult['head'] = null;
    for (;;) {
      const page = await this.list({ afterSeq: expectedSeq - 1, limit: 5000 });
      if (page.length === 0) break;
      for (const r of page) {
        if (r.seq !== expectedSeq) return { ok: false, records, head, problem: { seq: expectedSeq, reason: `record ${expectedSeq} is missing (next is ${r.seq})` } };
        if (r.prevHash !== prev) return { ok: false, records, head, problem: { seq: r.seq, reason: 'prev_hash does not match the previous record' } };
        const { hash, ...rest } = r;
        if (recordHash(rest) !== hash) return { ok: false, records, head, problem: { seq: r.seq, reason: 'record content does not match its hash (edited)' } };
        prev = hash;
        head = { seq: r.seq, hash };
        expectedSeq++;
        records++;
      }
    }
    return { ok: true, records, head };
  }
}
