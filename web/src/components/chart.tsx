import { cell } from './ui';

/**
 * A line or bar chart of a result drawn as SVG by hand (no chart library: a few hundred bytes
 * instead of tens of KiB). x: the first column; y: every numeric column after it (up to 4).
 */
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea'];

export function Chart({ kind, columns, rows }: { kind: 'line' | 'bar'; columns: { name: string }[]; rows: unknown[][] }) {
  const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : null);
  const ys = columns.map((_, i) => i).filter((i) => i > 0 && rows.some((r) => num(r[i]) !== null)).slice(0, 4);
  if (rows.length === 0 || ys.length === 0) return <p className="muted">Nothing to chart: the result needs a numeric column after the first.</p>;
  const W = 640;
  const H = 260;
  const P = { l: 56, r: 12, t: 12, b: 40 };
  const vals = rows.flatMap((r) => ys.map((i) => num(r[i]) ?? 0));
  const max = Math.max(0, ...vals);
  const min = Math.min(0, ...vals);
  const span = max - min || 1;
  const y = (v: number) => P.t + (H - P.t - P.b) * (1 - (v - min) / span);
  const step = (W - P.l - P.r) / rows.length;
  const x = (i: number) => P.l + step * (i + 0.5);
  const labelEvery = Math.ceil(rows.length / 10);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${kind} chart of ${ys.map((i) => columns[i].name).join(', ')} by ${columns[0].name}`}>
        <line x1={P.l} x2={W - P.r} y1={y(0)} y2={y(0)} stroke="#999" />
        <text x={P.l - 6} y={y(max) + 4} textAnchor="end" fontSize="11">
          {max.toPrecision(4)}
        </text>
        <text x={P.l - 6} y={y(min) + 4} textAnchor="end" fontSize="11">
          {min.toPrecision(4)}
        </text>
        {rows.map((r, i) =>
          i % labelEvery === 0 ? (
            <text key={i} x={x(i)} y={H - P.b + 14} textAnchor="middle" fontSize="10">
              {cell(r[0]).slice(0, 12)}
            </text>
          ) : null,
        )}
        {ys.map((col, k) =>
          kind === 'bar' ? (
            rows.map((r, i) => {
              const v = num(r[col]) ?? 0;
              const bw = (step * 0.8) / ys.length;
              return <rect key={`${k}-${i}`} x={x(i) - step * 0.4 + k * bw} width={bw} y={Math.min(y(v), y(0))} height={Math.abs(y(0) - y(v))} fill={COLORS[k]} />;
            })
          ) : (
            <polyline key={k} fill="none" stroke={COLORS[k]} strokeWidth={2} points={rows.map((r, i) => `${x(i)},${y(num(r[col]) ?? 0)}`).join(' ')} />
          ),
        )}
      </svg>
      <figcaption>
        {ys.map((i, k) => (
          <span key={i} className="legend">
            <i style={{ background: COLORS[k] }} /> {columns[i].name}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
