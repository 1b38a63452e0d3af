import { useState } from 'react';
import { api, ok, qualified, raw, sql, type Snapshot } from '../api/client';
import { ErrorBox, Field, fmtTime, Grid, ObjTable, Progress, useAction, useLoad } from '../components/ui';
import { HealthPanel, SchemaHistory } from './TableInsights';

type Path = { params: { path: { namespace: string; table: string } } };

export function TablePage({ namespace, name }: { namespace: string; name: string }) {
  const path: Path = { params: { path: { namespace, table: name } } };
  const info = useLoad(() => ok(api.GET('/api/v1/tables/{namespace}/{table}', path)), []);
  const snaps = useLoad(() => ok(api.GET('/api/v1/tables/{namespace}/{table}/snapshots', path)).then((r) => r.snapshots), []);
  const [previewKey, setPreviewKey] = useState(0);
  const reloadAll = () => {
    info.reload();
    snaps.reload();
    setPreviewKey((k) => k + 1);
  };
  const t = info.data;
  return (
    <article className="table-page">
      <h1>
        {namespace}.{name}
      </h1>
      {info.loading && !t && <Progress label="Loading table" />}
      <ErrorBox error={info.error} />
      {t && (
        <>
          <p className="stats" data-testid="table-stats">
            {t.stats.rowCount} rows · {t.stats.fileCount} files · {(t.stats.totalSizeBytes / 1024).toFixed(1)} KiB · format v{t.formatVersion} · schema {t.schemaId}
          </p>
          <section>
            <h2>Schema</h2>
            <ObjTable
              caption="columns"
              items={t.columns.map((c) => ({ id: c.id, name: c.name, type: typeof c.type === 'string' ? c.type : JSON.stringify(c.type), required: c.required, doc: c.doc ?? '', tags: c.tags.join(', ') }))}
              keys={['id', 'name', 'type', 'required', 'doc', 'tags']}
            />
          </section>
          <section className="row">
            <div>
              <h2>Partitioning</h2>
              <p>{t.partitioning.length ? t.partitioning.map((p) => <code key={p}>{p} </code>) : <span className="muted">unpartitioned</span>}</p>
            </div>
            <div>
              <h2>Refs</h2>
              <p>
                {t.refs.map((r) => (
                  <code key={r.name}>
                    {r.name} ({r.type}) → {r.snapshotId}{' '}
                  </code>
                ))}
              </p>
            </div>
          </section>
          <details>
            <summary>Properties ({Object.keys(t.properties).length})</summary>
            <ObjTable caption="properties" items={Object.entries(t.properties).map(([key, value]) => ({ key, value }))} keys={['key', 'value']} />
          </details>
        </>
      )}
      <Upload namespace={namespace} name={name} onDone={reloadAll} />
      <section>
        <h2>Snapshots</h2>
        <ErrorBox error={snaps.error} />
        {snaps.data && <Timeline snapshots={snaps.data} current={t?.currentSnapshot?.snapshotId ?? null} namespace={namespace} name={name} onRolledBack={reloadAll} />}
      </section>
      <HealthPanel namespace={namespace} name={name} key={`h${previewKey}`} />
      <SchemaHistory namespace={namespace} name={name} key={`s${previewKey}`} />
      <Preview namespace={namespace} name={name} key={`p${previewKey}`} />
      <MetaTable namespace={namespace} name={name} suffix="$files" title="Files" key={`f${previewKey}`} />
      <MetaTable namespace={namespace} name={name} suffix="$partitions" title="Partitions" key={`q${previewKey}`} />
    </article>
  );
}

function Timeline({ snapshots, current, namespace, name, onRolledBack }: { snapshots: Snapshot[]; current: string | null; namespace: string; name: string; onRolledBack: () => void }) {
  const rollback = useAction(async (id: string) => {
    if (!confirm(`Roll ${namespace}.${name} back to snapshot ${id}?`)) return;
    await ok(api.POST('/api/v1/tables/{namespace}/{table}/rollback', { params: { path: { namespace, table: name } }, body: { snapshotId: id } }));
    onRolledBack();
  });
  const sorted = [...snapshots].sort((a, b) => b.sequenceNumber - a.sequenceNumber || b.timestampMs - a.timestampMs);
  if (sorted.length === 0) return <p className="muted">No snapshots yet: ingest a file.</p>;
  return (
    <>
      {rollback.busy && <Progress label="Rolling back" />}
      <ErrorBox error={rollback.error} />
      <ol className="timeline" aria-label="snapshots, newest first">
        {sorted.map((s) => (
          <li key={s.snapshotId} className={s.snapshotId === current ? 'current' : undefined} data-snapshot={s.snapshotId}>
            <span className="dot" aria-hidden="true" />
            <div>
              <strong>{s.operation}</strong> <code>{s.snapshotId}</code> {s.snapshotId === current && <span className="badge">current</span>}
              <br />
              <small>
                {fmtTime(s.timestampMs)} · +{s.summary['added-records'] ?? 0} rows · total {s.summary['total-records'] ?? '?'} rows · {s.summary['total-data-files'] ?? '?'} files
              </small>
            </div>
            {s.snapshotId !== current && (
              <button type="button" disabled={rollback.busy} onClick={() => void rollback.run(s.snapshotId)} aria-label={`Roll back to snapshot ${s.snapshotId}`}>
                Roll back here
              </button>
            )}
          </li>
        ))}
      </ol>
    </>
  );
}

function Upload({ namespace, name, onDone }: { namespace: string; name: string; onDone: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [format, setFormat] = useState('');
  const [result, setResult] = useState<string | null>(null);
  const upload = useAction(async () => {
    if (!file) return;
    setResult(null);
    const form = new FormData();
    if (format) form.append('format', format);
    form.append('file', file, file.name);
    const r = await raw(`/api/v1/tables/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/ingest`, { method: 'POST', body: form });
    const body = (await r.json()) as { rowsCommitted: number; rowsDeadLettered: number; snapshotId: string | null; ms: number };
    setResult(`Ingested ${body.rowsCommitted} rows (${body.rowsDeadLettered} dead-lettered) in ${body.ms} ms; snapshot ${body.snapshotId ?? 'none'}`);
    onDone();
  });
  return (
    <form
      className="card"
      onSubmit={(e) => {
        e.preventDefault();
        void upload.run();
      }}
    >
      <h2>Ingest a file</h2>
      <div className="row">
        <Field label="File" hint="CSV, JSON, NDJSON or Parquet; one atomic commit">
          <input type="file" name="file" required onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </Field>
        <Field label="Format">
          <select value={format} onChange={(e) => setFormat(e.target.value)} name="format">
            <option value="">from the file name</option>
            <option>csv</option>
            <option>json</option>
            <option>ndjson</option>
            <option>parquet</option>
          </select>
        </Field>
      </div>
      <button type="submit" disabled={!file || upload.busy}>
        Upload and ingest
      </button>
      {upload.busy && <Progress label="Uploading and committing" />}
      <ErrorBox error={upload.error} />
      {result && (
        <p className="ok" role="status">
          {result}
        </p>
      )}
    </form>
  );
}

function Preview({ namespace, name }: { namespace: string; name: string }) {
  const q = useLoad(() => sql(`SELECT * FROM ${qualified(namespace, name)} LIMIT 50`, 50), []);
  return (
    <section>
      <h2>Data preview</h2>
      {q.loading && <Progress label="Reading rows" />}
      <ErrorBox error={q.error} />
      {q.data && <Grid columns={q.data.columns} rows={q.data.rows} caption={`first ${q.data.rows.length} rows`} />}
    </section>
  );
}

function MetaTable({ namespace, name, suffix, title }: { namespace: string; name: string; suffix: string; title: string }) {
  const [open, setOpen] = useState(false);
  const q = useLoad(() => (open ? sql(`SELECT * FROM ${qualified(namespace, name, suffix)}`, 500) : Promise.resolve(null)), [open]);
  return (
    <details onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary>{title}</summary>
      {q.loading && open && <Progress label={`Loading ${title.toLowerCase()}`} />}
      <ErrorBox error={q.error} />
      {q.data && <Grid columns={q.data.columns} rows={q.data.rows} caption={title.toLowerCase()} />}
    </details>
  );
}

