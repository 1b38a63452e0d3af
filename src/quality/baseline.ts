/**
 * Adaptive baseline of one profile metric: a rolling window of past values with the hour of day
 * each was seen at, scored with a robust z-score (median / MAD, insensitive to the outliers it is
 * meant to find).
 *
 * Seasonality: once an hour of day has `minSeasonal` samples, values in that hour are compared
 * with that hour's median instead of the overall one, and the spread is the MAD of the residuals
 * (value minus its hour's median) over all such hours — pooled, so a sparsely filled hour does
 * not get a noisy spread of its own. Until then, the overall median and MAD are used.
 *
 * Spread floors per kind of metric keep a near-constant history (MAD 0) from flagging tiny
 * wobbles: a 2-in-1000 change in a null ratio is not an anomaly. min/max are extremes whose
 * distribution has a long tail, so instead of a z-score they are flagged only when they move
 * outward — a min below, a max above the window's range widened by `rangeSlack` of its width
 * (at least a tenth of the values' magnitude). A min that rises or a max that falls narrows the
 * data and is not flagged: small batches simply reach the extremes less often.
 */
export interface Sample {
  v: number;
  /** Hour of day (UTC) the batch was seen. */
  h: number;
}

export interface BaselineOptions {
  /** Samples kept (default 336: two weeks of hourly batches). */
  window?: number;
  /** No verdict before this many samples (default 24). */
  minHistory?: number;
  /** Samples an hour of day needs before it gets its own centre (default 4). */
  minSeasonal?: number;
  /** |robust z| above this is an anomaly (default 6). */
  threshold?: number;
  /** min/max: allowed excursion beyond the window's range, as a fraction of its width (default 0.5). */
  rangeSlack?: number;
}

export interface Verdict {
  anomalous: boolean;
  /** Robust z-score (z-score metrics) or excursion in range widths (min/max); null while warming up. */
  score: number | null;
  expected: number | null;
  /** The band the value was expected in. */
  low: number | null;
  high: number | null;
}

export const DEFAULT_BASELINE: Required<BaselineOptions> = { window: 336, minHistory: 24, minSeasonal: 4, threshold: 6, rangeSlack: 0.5 };

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Smallest spread accepted for a metric (so a constant history does not flag noise). */
function spreadFloor(metric: string, center: number): number {
  const kind = metric.split(':')[0];
  switch (kind) {
    case 'row_count':
      return Math.max(1, 0.05 * Math.abs(center));
    case 'null_ratio':
      return 0.01;
    case 'distinct_ratio':
      return 0.05;
    default:
      return Math.max(1e-9, 1e-3 * Math.abs(center));
  }
}

export function isRangeMetric(metric: string): boolean {
  return metric.startsWith('min:') || metric.startsWith('max:');
}

export function score(metric: string, history: Sample[], value: number, hour: number, opts: BaselineOptions = {}): Verdict {
  const o = { ...DEFAULT_BASELINE, ...opts };
  if (history.length < o.minHistory) return { anomalous: false, score: null, expected: null, low: null, high: null };
  if (isRangeMetric(metric)) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of history) {
      lo = Math.min(lo, s.v);
      hi = Math.max(hi, s.v);
    }
    const width = Math.max(hi - lo, 0.1 * Math.max(Math.abs(lo), Math.abs(hi)), 1e-9);
    const isMin = metric.startsWith('min:');
    const low = isMin ? lo - o.rangeSlack * width : -Infinity;
    const high = isMin ? Infinity : hi + o.rangeSlack * width;
    const excursion = isMin ? Math.max(0, (lo - value) / width) : Math.max(0, (value - hi) / width);
    return { anomalous: value < low || value > high, score: excursion, expected: median(history.map((s) => s.v)), low: isMin ? low : null, high: isMin ? null : high };
  }
  const byHour = new Map<number, number[]>();
  for (const s of history) {
    const list = byHour.get(s.h);
    if (list) list.push(s.v);
    else byHour.set(s.h, [s.v]);
  }
  const own = byHour.get(hour);
  let expected: number;
  let mad: number;
  if (own && own.length >= o.minSeasonal) {
    // Seasonal model: centre = this hour's median; spread from the residuals of every sample whose
    // hour is also seasonal (mixing in hours still measured against the overall median would
    // inflate or deflate the spread depending on where in the day they fall).
    const centers = new Map<number, number>();
    for (const [h, vs] of byHour) if (vs.length >= o.minSeasonal) centers.set(h, median(vs));
    const residuals = history.filter((s) => centers.has(s.h)).map((s) => s.v - centers.get(s.h)!);
    const rMed = median(residuals);
    expected = centers.get(hour)! + rMed;
    mad = median(residuals.map((r) => Math.abs(r - rMed)));
  } else {
    const values = history.map((s) => s.v);
    expected = median(values);
    mad = median(values.map((v) => Math.abs(v - expected)));
  }
  const spread = Math.max(1.4826 * mad, spreadFloor(metric, expected));
  const z = (value - expected) / spread;
  return { anomalous: Math.abs(z) > o.threshold, score: z, expected, low: expected - o.threshold * spread, high: expected + o.threshold * spread };
}

/** The window after adding a sample (oldest dropped beyond the window size). */
export function learn(history: Sample[], value: number, hour: number, opts: BaselineOptions = {}): Sample[] {
  const size = opts.window ?? DEFAULT_BASELINE.window;
  const next = [...history, { v: value, h: hour }];
  return next.length > size ? next.slice(next.length - size) : next;
}
