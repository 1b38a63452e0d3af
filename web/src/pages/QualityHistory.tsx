import { useState } from 'react';
import { qualified, sql } from '../api/client';
import { Chart } from '../components/chart';
import { ErrorBox, Field, ObjTable, Progress, useAction } from '../components/ui';

/**
 * Check pass/fail counts per evaluated batch over time, read with SQL from the `<table>__quality`
 * Iceberg table the quality module appends to (src/quality/results-table.ts), oldest run first.
 */
type Run = { run: string; passed: number; failed: number };

export function QualityHistory() {
  const [table, setTable] = useState('');
  const [runs, setRuns] = useState<Run[] | null>(null);
  const load = useAction(async () => {
    setRuns(null);
    const dot = table.lastIndexOf('.');
    if (dot <= 0) throw new Error('Name the checked table as namespace.table');
    const target = qualified(table.slice(0, dot), table.slice(dot + 1), '__quality');
    // A batch id when the run had one, else the evaluation second: one bar group per run.
    const r = await sql(
      `SELECT coalesce(batch_id, strftime(evaluated_at, '%Y-%m-%d %H:%M:%S')) AS run, count(*) FILTER (WHERE passed) AS passed, count(*) FILTER (WHERE NOT passed) AS failed ` +
        `FROM ${target} WHERE kind = 'check' GROUP BY run ORDER BY min(evaluated_at), run LIMIT 200`,
      200,
    );
    setRuns(r.rows.map(([run, passed, failed]) => ({ run: String(run), passed: Number(passed), failed: Number(failed) })));
  });
  return (
    <section>
      <h2>Quality results over time</h2>
      <form
        className="row"
        aria-label="Quality history"
        onSubmit={(e) => {
          e.preventDefault();
          void load.run();
        }}
      >
        <Field label="Checked table" hint="namespace.table; results come from its __quality table">
          <input name="qualityTable" value={table} onChange={(e) => setTable(e.target.value)} required />
        </Field>
        <button type="submit" disabled={load.busy}>
          Show quality history
        </button>
      </form>
      {load.busy && <Progress label="Reading quality results" />}
      <ErrorBox error={load.error} />
      {runs && runs.length === 0 && <p className="muted">No check results yet.</p>}
      {runs && runs.length > 0 && (
        <>
          <Chart kind="bar" columns={[{ name: 'run' }, { name: 'passed' }, { name: 'failed' }]} rows={runs.map((r) => [r.run, r.passed, r.failed])} />
          <ObjTable caption="check results per run" items={runs} keys={['run', 'passed', 'failed']} />
        </>
      )}
    </section>
  );
}
