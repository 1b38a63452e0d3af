import { useState } from 'react';
import { api, ok, qualified, sql } from '../api/client';
import { ErrorBox, Field, fmtTime, Grid, ObjTable, Progress, useAction, useInterval, useLoad } from '../components/ui';

/** Ingestion: Kafka sources, job definitions, and a job's live status with per-partition lag. */
export function JobsPage({ jobId }: { jobId?: string }) {
  const jobs = useLoad(() => ok(api.GET('/api/v1/ingestion-jobs')).then((r) => r.jobs), []);
  const sources = useLoad(() => ok(api.GET('/api/v1/sources/kafka')).then((r) => r.sources as { id: string; name: string; bootstrapServers: string[] }[]), []);
  return (
    <div>
      <h1>Ingestion jobs</h1>
      {jobId ? (
        <JobDetail id={jobId} onChanged={jobs.reload} />
      ) : (
        <>
          {jobs.loading && <Progress label="Loading jobs" />}
          <ErrorBox error={jobs.error} />
          {jobs.data && (
            <ObjTable
              caption="jobs"
              items={jobs.data.map((j) => ({ name: j.name, target: `${j.target.namespace}.${j.target.table}`, topics: (j.topics ?? []).join(', ') || (j.topicPattern ?? ''), schedule: j.schedule, enabled: j.enabled, id: j.id }))}
              keys={['name', 'target', 'topics', 'schedule', 'enabled']}
              actions={(j) => <a href={`#/jobs/${j.id}`} aria-label={`open job ${j.name}`}>Open</a>}
            />
          )}
          <div className="row">
            <CreateJob sources={sources.data ?? []} onCreated={jobs.reload} />
            <div>
              <ErrorBox error={sources.error} />
              {sources.data && <ObjTable caption="Kafka sources" items={sources.data.map((s) => ({ name: s.name, servers: s.bootstrapServers.join(', ') }))} keys={['name', 'servers']} />}
              <CreateSource onCreated={sources.reload} />
            </div>
          </div>
        </>
      )}
    </div>
  );
}

function CreateSource({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [servers, setServers] = useState('');
  const create = useAction(async () => {
    await ok(api.POST('/api/v1/sources/kafka', { body: { name, bootstrapServers: servers.split(',').map((s) => s.trim()).filter(Boolean) } }));
    setName('');
    setServers('');
    onCreated();
  });
  return (
    <form
      className="card"
      onSubmit={(e) => {
        e.preventDefault();
        void create.run();
      }}
    >
      <h2>New Kafka source</h2>
      <Field label="Source name">
        <input name="sourceName" required value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field label="Bootstrap servers" hint="host:port, comma separated">
        <input name="bootstrap" required value={servers} onChange={(e) => setServers(e.target.value)} />
      </Field>
      <button type="submit" disabled={create.busy}>
        Create source
      </button>
      {create.busy && <Progress label="Creating source" />}
      <ErrorBox error={create.error} />
    </form>
  );
}

function CreateJob({ sources, onCreated }: { sources: { id: string; name: string }[]; onCreated: () => void }) {
  const [f, setF] = useState({ name: '', sourceId: '', topics: '', namespace: '', table: '', mapping: '{\n  "columns": {}\n}', schedule: 'continuous', enabled: true });
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const create = useAction(async () => {
    let mapping: Record<string, unknown>;
    try {
      mapping = JSON.parse(f.mapping) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`mapping is not JSON: ${(e as Error).message}`);
    }
    const job = await ok(
      api.POST('/api/v1/ingestion-jobs', {
        body: {
          name: f.name,
          sourceId: f.sourceId || sources[0]?.id,
          topics: f.topics.split(',').map((t) => t.trim()).filter(Boolean),
          target: { namespace: f.namespace, table: f.table },
          mapping,
          schedule: f.schedule,
          enabled: f.enabled,
        },
      }),
    );
    onCreated();
    location.hash = `#/jobs/${job.id}`;
  });
  return (
    <form
      className="card"
      onSubmit={(e) => {
        e.preventDefault();
        void create.run();
      }}
    >
      <h2>New ingestion job</h2>
      <div className="row">
        <Field label="Job name">
          <input name="jobName" required value={f.name} onChange={set('name')} />
        </Field>
        <Field label="Source">
          <select name="source" value={f.sourceId} onChange={set('sourceId')}>
            {sources.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field label="Topics" hint="comma separated">
        <input name="topics" required value={f.topics} onChange={set('topics')} />
      </Field>
      <div className="row">
        <Field label="Target namespace">
          <input name="targetNamespace" required value={f.namespace} onChange={set('namespace')} />
        </Field>
        <Field label="Target table">
          <input name="targetTable" required value={f.table} onChange={set('table')} />
        </Field>
      </div>
      <Field label="Mapping (JSON)" hint="columns (source field or {from, cast, default, min, max, pattern, enum}), drop, unknownFields, enrich, derived, schemaEvolution, commit, startFrom">
        <textarea name="mapping" rows={5} spellCheck={false} value={f.mapping} onChange={set('mapping')} />
      </Field>
      <div className="row">
        <Field label="Schedule" hint="continuous, manual, @hourly … or cron">
          <input name="schedule" value={f.schedule} onChange={set('schedule')} />
        </Field>
        <label className="check">
          <input type="checkbox" checked={f.enabled} onChange={(e) => setF({ ...f, enabled: e.target.checked })} /> Enabled (start now)
        </label>
      </div>
      <button type="submit" disabled={create.busy || sources.length === 0}>
        Create job
      </button>
      {sources.length === 0 && <small className="muted"> Create a Kafka source first.</small>}
      {create.busy && <Progress label="Creating job" />}
      <ErrorBox error={create.error} />
    </form>
  );
}

function JobDetail({ id, onChanged }: { id: string; onChanged: () => void }) {
  const path = { params: { path: { id } } };
  const job = useLoad(() => ok(api.GET('/api/v1/ingestion-jobs/{id}', path)), [id]);
  const status = useLoad(() => ok(api.GET('/api/v1/ingestion-jobs/{id}/status', path)), [id]);
  const [rates, setRates] = useState<number[]>([]);
  useInterval(() => {
    status.reload();
    if (status.data) setRates((r) => [...r.slice(-59), status.data!.rowsPerSecond]);
  }, 1000);
  const act = useAction(async (what: 'start' | 'stop' | 'pause' | 'resume' | 'reset') => {
    if (what === 'reset' && !confirm('Reset the job? It forgets its consumer position and re-reads from its startFrom.')) return;
    const routes = {
      start: '/api/v1/ingestion-jobs/{id}/start',
      stop: '/api/v1/ingestion-jobs/{id}/stop',
      pause: '/api/v1/ingestion-jobs/{id}/pause',
      resume: '/api/v1/ingestion-jobs/{id}/resume',
      reset: '/api/v1/ingestion-jobs/{id}/reset',
    } as const;
    await ok(api.POST(routes[what], path as never) as Promise<{ data?: unknown; error?: unknown; response: Response }>);
    status.reload();
    onChanged();
  });
  const [dlq, setDlq] = useState<{ columns: { name: string; type: string }[]; rows: unknown[][] } | null>(null);
  const dead = useAction(async () => {
    const t = job.data!.target;
    setDlq(await sql(`SELECT * FROM ${qualified(t.namespace, `${t.table}__dlq`)} LIMIT 100`, 100));
  });
  const s = status.data;
  return (
    <article>
      <p>
        <a href="#/jobs">← all jobs</a>
      </p>
      <ErrorBox error={job.error} />
      {job.data && (
        <h2>
          {job.data.name} → {job.data.target.namespace}.{job.data.target.table}
        </h2>
      )}
      <div className="toolbar">
        {(['start', 'stop', 'pause', 'resume', 'reset'] as const).map((a) => (
          <button type="button" key={a} disabled={act.busy} onClick={() => void act.run(a)}>
            {a[0].toUpperCase() + a.slice(1)}
          </button>
        ))}
      </div>
      {act.busy && <Progress label="Working" />}
      <ErrorBox error={act.error} />
      <ErrorBox error={status.error} />
      {s && (
        <>
          <p className="stats" data-testid="job-status">
            state <strong data-testid="job-state">{s.state}</strong> · total lag <strong data-testid="total-lag">{s.totalLag ?? 'unknown'}</strong> · {s.rowsPerSecond.toFixed(1)} rows/s · {s.rowsCommitted} rows in {s.commits} commits · {s.deadLettersCommitted} dead letters · last commit {fmtTime(s.lastCommitAt)}
          </p>
          <Sparkline values={rates} label="rows per second, last minute" />
          <ObjTable caption="partitions" items={s.partitions} keys={['topic', 'partition', 'committedOffset', 'endOffset', 'lag']} />
          {s.errors.length > 0 && <ObjTable caption="recent errors" items={s.errors} keys={['at', 'message']} />}
        </>
      )}
      <section>
        <h2>Dead letters</h2>
        <button type="button" onClick={() => void dead.run()} disabled={!job.data || dead.busy}>
          Show dead letters
        </button>
        {dead.busy && <Progress label="Reading dead letters" />}
        <ErrorBox error={dead.error} />
        {dlq && <Grid columns={dlq.columns} rows={dlq.rows} caption="dead-letter rows" />}
      </section>
    </article>
  );
}

function Sparkline({ values, label }: { values: number[]; label: string }) {
  if (values.length < 2) return null;
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(i / (values.length - 1)) * 300},${40 - (v / max) * 38}`).join(' ');
  return (
    <svg className="spark" viewBox="0 0 300 40" role="img" aria-label={`${label}: now ${values[values.length - 1].toFixed(1)}, max ${max.toFixed(1)}`}>
      <polyline points={pts} fill="none" stroke="#2563eb" strokeWidth={1.5} />
    </svg>
  );
}
