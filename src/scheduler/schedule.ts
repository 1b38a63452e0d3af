import { Cron } from 'croner';
import { lakehouseError } from '../core/errors.js';
import type { CatchUp, JobRecord, NewRun } from './store.js';

/**
 * Slot arithmetic: when a job is due. A slot is a scheduled time (ms); a job's cursor is the
 * latest time up to which slots have been decided. Intervals are anchored at the job's start
 * (`startAt + k·interval`); cron expressions (5 fields, or 6 with seconds) are evaluated by croner
 * in the job's time zone.
 */

/** Cursor of a new job: just before an explicit start (so the start itself is a slot), else now. */
export function firstSlotCursor(startAt: number, explicitStart: boolean, now: number): number {
  return explicitStart ? startAt - 1 : now;
}

export function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Throws VALIDATION_FAILED when the cron expression or time zone is invalid. */
export function validateSchedule(cron: string | null | undefined, intervalSeconds: number | null | undefined, tz: string): void {
  if ((cron == null) === (intervalSeconds == null)) throw lakehouseError('VALIDATION_FAILED', 'give exactly one of cron and intervalSeconds');
  if (!validTimezone(tz)) throw lakehouseError('VALIDATION_FAILED', `unknown time zone ${JSON.stringify(tz)}`);
  if (cron != null) {
    try {
      const c = new Cron(cron, { timezone: tz, paused: true });
      if (c.nextRun(new Date()) === null) throw new Error('it never fires');
    } catch (e) {
      throw lakehouseError('VALIDATION_FAILED', `invalid cron expression ${JSON.stringify(cron)}: ${(e as Error).message}`);
    }
  } else if (!(Number.isInteger(intervalSeconds) && intervalSeconds! >= 1 && intervalSeconds! <= 31_622_400)) {
    throw lakehouseError('VALIDATION_FAILED', 'intervalSeconds must be an integer from 1 to 31622400 (366 days)');
  }
}

export interface DueSlots {
  /** Ascending slots in (cursor, now]; at most `cap` of the latest. */
  slots: number[];
  /** Slots in the range left out because of the cap (oldest first; for long cron ranges a lower bound). */
  dropped: number;
}

/** The slots in (after, until] (the last `cap` of them). */
export function slotsBetween(job: Pick<JobRecord, 'cron' | 'intervalSeconds' | 'timezone' | 'startAt'>, after: number, until: number, cap = 1000): DueSlots {
  if (until <= after) return { slots: [], dropped: 0 };
  if (job.intervalSeconds != null) {
    const step = job.intervalSeconds * 1000;
    const first = after < job.startAt ? 0 : Math.floor((after - job.startAt) / step) + 1;
    const last = until < job.startAt ? -1 : Math.floor((until - job.startAt) / step);
    if (last < first) return { slots: [], dropped: 0 };
    const count = last - first + 1;
    const from = Math.max(first, last - cap + 1);
    const slots: number[] = [];
    for (let k = from; k <= last; k++) slots.push(job.startAt + k * step);
    return { slots, dropped: count - slots.length };
  }
  // Cron slots can only be walked forwards: walk windows back from `until`, each sized from the
  // slot rate seen so far, until one holds `cap` slots or reaches `after` — a long downtime costs
  // O(cap) croner steps, not O(range).
  const cron = new Cron(job.cron!, { timezone: job.timezone, paused: true });
  let w = 60_000;
  for (;;) {
    const from = Math.max(after, until - w);
    const slots: number[] = [];
    let dropped = 0;
    let prev = new Date(from);
    for (;;) {
      const next = cron.nextRun(prev);
      if (!next || next.getTime() > until) break;
      slots.push(next.getTime());
      if (slots.length > cap) {
        slots.shift();
        dropped++;
      }
      prev = next;
    }
    if (from === after) return { slots, dropped };
    // Slots before the window are dropped as well; counted as one here ("at least").
    if (slots.length + dropped >= cap) return { slots, dropped: dropped + 1 };
    const seen = slots.length + dropped;
    w = seen === 0 ? w * 32 : Math.max(w * 2, Math.ceil((w / seen) * cap * 1.2));
  }
}

/** The next slot after `after` (for display), or null. */
export function nextSlot(job: Pick<JobRecord, 'cron' | 'intervalSeconds' | 'timezone' | 'startAt'>, after: number): number | null {
  if (job.intervalSeconds != null) {
    const step = job.intervalSeconds * 1000;
    const k = after < job.startAt ? 0 : Math.floor((after - job.startAt) / step) + 1;
    return job.startAt + k * step;
  }
  return new Cron(job.cron!, { timezone: job.timezone, paused: true }).nextRun(new Date(after))?.getTime() ?? null;
}

export interface SlotPlan {
  runs: NewRun[];
  /** Missed slots that the catch-up policy leaves out (no run row). */
  missedDropped: number;
}

/**
 * Decides the runs for a job's due slots. A slot is *missed* when it is older than `graceMs` at
 * decision time (the service was down, the job disabled, or every runner busy); missed slots
 * follow the catch-up policy: `none` drops them, `one` runs only the latest, `all` runs each (up
 * to `maxCatchUp`, the latest). Slots that are not missed run — or, with concurrency `skip` while a
 * run of the job is still going, are recorded as `skipped`.
 */
export function planSlots(
  job: Pick<JobRecord, 'id' | 'catchUp' | 'concurrency'>,
  due: DueSlots,
  now: number,
  opts: { graceMs: number; maxCatchUp: number; running: boolean },
): SlotPlan {
  const missed = due.slots.filter((s) => s < now - opts.graceMs);
  const current = due.slots.filter((s) => s >= now - opts.graceMs);
  const runs: NewRun[] = [];
  const totalMissed = missed.length + due.dropped;
  let keep: number[] = [];
  const policy: CatchUp = job.catchUp;
  if (policy === 'one' && missed.length > 0) keep = missed.slice(-1);
  else if (policy === 'all') keep = missed.slice(-opts.maxCatchUp);
  for (const s of keep) runs.push({ jobId: job.id, scheduledFor: s, trigger: 'catch-up', status: 'queued' });
  for (const s of current) {
    if (job.concurrency === 'skip' && opts.running) {
      runs.push({ jobId: job.id, scheduledFor: s, trigger: 'schedule', status: 'skipped', error: 'skipped: the previous run was still running (concurrency skip)' });
    } else runs.push({ jobId: job.id, scheduledFor: s, trigger: 'schedule', status: 'queued' });
  }
  return { runs, missedDropped: totalMissed - keep.length };
}
