/**
 * Tiny profiling aids for the benchmark: wall-clock timing and per-method time accounting by
 * wrapping an object's async methods (no core code changes needed).
 */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Best (lowest) time of `runs` runs; the value of the last run. */
export async function bestOf<T>(runs: number, fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  let best = Infinity;
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const r = await timed(fn);
    best = Math.min(best, r.ms);
    value = r.value;
  }
  return { ms: best, value };
}

/** Accumulated time and calls per label. Nested wrapped calls count in both labels. */
export class Profile {
  readonly totals = new Map<string, { ms: number; calls: number }>();
  readonly #restore: (() => void)[] = [];

  add(label: string, ms: number): void {
    const t = this.totals.get(label) ?? { ms: 0, calls: 0 };
    t.ms += ms;
    t.calls++;
    this.totals.set(label, t);
  }

  /** Wraps `obj[method]` (an async method) in place so its time accrues to `label`. */
  wrap<T extends object>(obj: T, method: keyof T & string, label: string = method): void {
    const orig = (obj as Record<string, unknown>)[method] as (...a: unknown[]) => Promise<unknown>;
    if (typeof orig !== 'function') return;
    const bound = orig.bind(obj);
    const own = Object.prototype.hasOwnProperty.call(obj, method);
    this.#restore.push(() => {
      if (own) (obj as Record<string, unknown>)[method] = orig;
      else delete (obj as Record<string, unknown>)[method];
    });
    (obj as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      const t0 = performance.now();
      try {
        return await bound(...args);
      } finally {
        this.add(label, performance.now() - t0);
      }
    };
  }

  /** Puts the original methods back (FileIO instances are shared through a cache). */
  unwrapAll(): void {
    for (const r of this.#restore.reverse()) r();
    this.#restore.length = 0;
  }

  reset(): void {
    this.totals.clear();
  }

  /** "label: total ms (calls, ms/call)" lines, largest first. */
  report(perOp?: number): string[] {
    return [...this.totals.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([k, v]) => {
        const per = perOp ? `, ${(v.ms / perOp).toFixed(2)} ms/op` : '';
        return `${k.padEnd(28)} ${v.ms.toFixed(0).padStart(7)} ms  ${String(v.calls).padStart(6)} calls${per}`;
      });
  }
}
