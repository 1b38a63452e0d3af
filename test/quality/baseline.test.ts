import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCatalogStore } from '../../src/catalog/open-store.js';
import { learn, score, type Sample } from '../../src/quality/baseline.js';
import { BaselineStore } from '../../src/quality/baseline-store.js';
import { startPostgres } from '../support/postgres.js';

/** A deterministic wobble in [-1, 1] (no Math.random: the verdicts below must be reproducible). */
const wobble = (i: number) => Math.sin(i * 12.9898) * 0.5 + Math.sin(i * 78.233) * 0.5;

describe('adaptive baseline', () => {
  it('learns the hour of day: a volume normal at 14:00 is an anomaly at 03:00', () => {
    let h: Sample[] = [];
    // 10 days of hourly batches: ~300 rows at night, ~1700 mid-afternoon, ±5 %.
    for (let i = 0; i < 240; i++) {
      const hour = i % 24;
      const level = 1000 + 700 * Math.sin((2 * Math.PI * (hour - 8)) / 24);
      h = learn(h, level * (1 + 0.05 * wobble(i)), hour);
    }
    const peak = 1000 + 700 * Math.sin((2 * Math.PI * 6) / 24);
    expect(score('row_count', h, peak, 14).anomalous).toBe(false);
    const night = score('row_count', h, peak, 2);
    expect(night.anomalous).toBe(true);
    expect(night.expected!).toBeLessThan(500);
    // Without seasonal history (the same values, all in one hour), the 03:00 value looks ordinary.
    const flat = h.map((s) => ({ ...s, h: 0 }));
    expect(score('row_count', flat, peak, 0).anomalous).toBe(false);
  });

  it('warms up before judging, floors the spread of near-constant metrics, and bounds the window', () => {
    let h: Sample[] = [];
    for (let i = 0; i < 23; i++) h = learn(h, 0, 0);
    expect(score('null_ratio:x', h, 0.9, 0)).toMatchObject({ anomalous: false, score: null });
    h = learn(h, 0, 0);
    // A constant 0 history (MAD 0): half a percentage point is noise, 10 points is not.
    expect(score('null_ratio:x', h, 0.005, 0).anomalous).toBe(false);
    expect(score('null_ratio:x', h, 0.1, 0).anomalous).toBe(true);
    for (let i = 0; i < 500; i++) h = learn(h, 0, 0);
    expect(h).toHaveLength(336);
  });

  it('flags min/max only when they move outward', () => {
    let h: Sample[] = [];
    for (let i = 0; i < 50; i++) h = learn(h, 1 + 0.2 * wobble(i), 0);
    expect(score('min:amount', h, 5, 0).anomalous).toBe(false); // a higher minimum narrows the data
    expect(score('min:amount', h, -40, 0).anomalous).toBe(true);
    expect(score('max:amount', h, 0.5, 0).anomalous).toBe(false);
    expect(score('max:amount', h, 40, 0).anomalous).toBe(true);
  });

  for (const backend of ['sqlite', 'postgres'] as const) {
    it(`persists windows in the catalog store (${backend})`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lh-baseline-'));
      const pg = backend === 'postgres' ? await startPostgres() : null;
      const cs = await openCatalogStore(pg ? pg.url : `sqlite:${dir}/c.db`, { migrate: true });
      try {
        const store = new BaselineStore(cs.db, 'lakehouse');
        const other = new BaselineStore(cs.db, 'other-catalog');
        await store.save('db.t', new Map([['row_count', [{ v: 10.5, h: 3 }, { v: 11, h: 4 }]], ['null_ratio:a', [{ v: 0.01, h: 3 }]]]), 1);
        await store.save('db.t', new Map([['row_count', [{ v: 12, h: 5 }]]]), 2);
        const got = await store.load('db.t');
        expect(got.get('row_count')).toEqual([{ v: 12, h: 5 }]);
        expect(got.get('null_ratio:a')).toEqual([{ v: 0.01, h: 3 }]);
        expect((await other.load('db.t')).size).toBe(0);
        await store.reset('db.t');
        expect((await store.load('db.t')).size).toBe(0);
      } finally {
        await cs.close();
        await pg?.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 120_000);
  }
});
