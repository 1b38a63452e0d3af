import type { Registry } from 'prom-client';
import type { Aggregation, Comparison, Matcher } from './types.js';
import { matchesAll } from './types.js';

/**
 * Reads a rule's value from a prom-client registry: the series of the named metric (a family, or a
 * histogram's `_bucket`/`_sum`/`_count` series) whose labels pass the matchers, reduced by the
 * aggregation. No matching series gives `null` (the condition does not hold), except for `count`,
 * which is 0 — so "no series" can itself be alerted on.
 */
export interface Series {
  name: string;
  labels: Record<string, string | number>;
  value: number;
  /** The family's type: counter, gauge, histogram, summary. */
  type: string;
}

/** True for series that only go up between resets (counters, histogram/summary counts and sums). */
export function isMonotonic(series: Series[], metric: string): boolean {
  const s = series.find((x) => x.name === metric);
  return s === undefined || s.type !== 'gauge';
}

export async function collectSeries(registry: Registry): Promise<Series[]> {
  const families = await registry.getMetricsAsJSON();
  const out: Series[] = [];
  for (const f of families) {
    for (const v of f.values as { value: number; labels: Record<string, string | number>; metricName?: string }[]) {
      out.push({ name: v.metricName ?? f.name, labels: v.labels ?? {}, value: Number(v.value), type: String(f.type) });
    }
  }
  return out;
}

export function aggregate(series: Series[], metric: string, matchers: Matcher[], aggregation: Aggregation): number | null {
  const values = series.filter((s) => s.name === metric && matchesAll(matchers, s.labels)).map((s) => s.value).filter((v) => !Number.isNaN(v));
  if (aggregation === 'count') return values.length;
  if (values.length === 0) return null;
  switch (aggregation) {
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'avg':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
  }
}

export function compare(value: number, op: Comparison, threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}
