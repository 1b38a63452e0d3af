import { describe, expect, it } from 'vitest';
import { planSlots, slotsBetween, nextSlot } from '../../src/scheduler/schedule.js';

describe('scheduler slots', () => {
  const H = 3600_000;
  it('interval slots are anchored at startAt and capped to the latest', () => {
    const job = { cron: null, intervalSeconds: 10, timezone: 'UTC', startAt: 1000 };
    expect(slotsBetween(job, 999, 31_000)).toEqual({ slots: [1000, 11_000, 21_000, 31_000], dropped: 0 });
    expect(slotsBetween(job, 1000, 30_999)).toEqual({ slots: [11_000, 21_000], dropped: 0 });
    expect(slotsBetween(job, 0, 1000 + 10_000 * 1e6, 3)).toEqual({ slots: [1000 + 10_000 * 999_998, 1000 + 10_000 * 999_999, 1000 + 10_000 * 1e6], dropped: 1e6 + 1 - 3 });
    expect(nextSlot(job, 11_000)).toBe(21_000);
  });

  it('cron slots honour the time zone and stay cheap over long ranges', () => {
    const job = { cron: '30 2 * * *', intervalSeconds: null, timezone: 'Europe/Berlin', startAt: 0 };
    const jan = Date.parse('2026-01-10T00:00:00Z');
    expect(slotsBetween(job, jan, jan + 48 * H).slots.map((t) => new Date(t).toISOString())).toEqual(['2026-01-10T01:30:00.000Z', '2026-01-11T01:30:00.000Z']);
    const everySecond = { ...job, cron: '* * * * * *' };
    const t0 = performance.now();
    const r = slotsBetween(everySecond, jan - 400 * 24 * H, jan, 100);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.slots).toHaveLength(100);
    expect(r.slots.at(-1)).toBe(jan);
    expect(r.dropped).toBeGreaterThan(0);
  });

  it('catch-up policy and skip decide the runs of due slots', () => {
    const due = { slots: [1000, 2000, 3000, 9500], dropped: 0 };
    const now = 10_000;
    const o = { graceMs: 1000, maxCatchUp: 2, running: false };
    const plan = (catchUp: 'none' | 'one' | 'all', concurrency: 'skip' | 'queue' = 'queue', running = false) =>
      planSlots({ id: 'j', catchUp, concurrency }, due, now, { ...o, running }).runs.map((r) => `${r.scheduledFor}:${r.trigger}:${r.status}`);
    expect(plan('none')).toEqual(['9500:schedule:queued']);
    expect(plan('one')).toEqual(['3000:catch-up:queued', '9500:schedule:queued']);
    expect(plan('all')).toEqual(['2000:catch-up:queued', '3000:catch-up:queued', '9500:schedule:queued']);
    expect(plan('none', 'skip', true)).toEqual(['9500:schedule:skipped']);
  });
});
