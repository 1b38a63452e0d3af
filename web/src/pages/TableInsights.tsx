import { api, ok, raw, type Snapshot } from '../api/client';
import { ErrorBox, fmtTime, ObjTable, Progress, useLoad } from '../components/ui';
import { icebergPrefix } from './Catalog';

/**
 * Schema history and file-layout health of one table. The schema list comes from the Iceberg REST
 * loadTable metadata (the own API shows only the current schema); health and the maintenance due
 * come from the service's health route, the figures its scheduled maintenance decides on.
 */

interface IcebergField {
  id: number;
  name: string;
  type: unknown;
}
interface IcebergMetadata {
  'current-schema-id': number;
  schemas: { 'schema-id': number; fields: IcebergField[] }[];
  snapshots?: { 'snapshot-id': number | string; 'timestamp-ms': number; 'sequence-number'?: number; 'schema-id'?: number }[];
  properties?: Record<string, string>;
}

export async function loadIcebergMetadata(namespace: string, name: string): Promise<IcebergMetadata> {
  const prefix = await icebergPrefix();
  const ns = encodeURIComponent(namespace.split('.').join('\u001f'));
  const r = await raw(`/v1/${encodeURIComponent(prefix)}/namespaces/${ns}/tables/${encodeURIComponent(name)}`);
  return ((await r.json()) as { metadata: IcebergMetadata }).metadata;
}

const typeText = (t: unknown) => (typeof t === 'string' ? t : ((t as { type?: string }).type ?? JSON.stringify(t)));

/**
 * One row per schema, oldest first: its columns, what changed from the one before, and the first
 * snapshot written with it. Snapshots come from the own API: its ids are strings, while the
 * Iceberg REST JSON carries 64-bit ids as numbers that JSON.parse rounds.
 */
export function schemaHistory(md: IcebergMetadata, snapshots: Snapshot[]) {
  const snaps = [...snapshots].sort((a, b) => a.sequenceNumber - b.sequenceNumber || a.timestampMs - b.timestampMs);
  const schemas = [...md.schemas].sort((a, b) => a['schema-id'] - b['schema-id']);
  return schemas.map((s, i) => {
    const prev = new Map((schemas[i - 1]?.fields ?? []).map((f) => [f.id, f]));
    const ids = new Set(s.fields.map((f) => f.id));
    const changes = i === 0 ? [] : [
      ...s.fields.filter((f) => !prev.has(f.id)).map((f) => `+${f.name}`),
      ...[...prev.values()].filter((f) => !ids.has(f.id)).map((f) => `-${f.name}`),
      ...s.fields.filter((f) => prev.has(f.id) && prev.get(f.id)!.name !== f.name).map((f) => `${prev.get(f.id)!.name}→${f.name}`),
      ...s.fields.filter((f) => prev.has(f.id) && typeText(prev.get(f.id)!.type) !== typeText(f.type)).map((f) => `${f.name}: ${typeText(prev.get(f.id)!.type)}→${typeText(f.type)}`),
    ];
    // Snapshots record the schema they were written with (format v2); older writers may omit it.
    const first = snaps.find((sn) => sn.schemaId === s['schema-id']);
    return {
      schema: s['schema-id'] === md['current-schema-id'] ? `${s['schema-id']} (current)` : String(s['schema-id']),
      columns: s.fields.map((f) => `${f.name} ${typeText(f.type)}`).join(', '),
      changes: changes.join(', '),
      firstSnapshot: first?.snapshotId ?? '',
      since: first ? fmtTime(first.timestampMs) : 'no snapshot yet',
    };
  });
}

export function SchemaHistory({ namespace, name }: { namespace: string; name: string }) {
  const q = useLoad(async () => {
    const path = { params: { path: { namespace, table: name } } };
    const [md, snaps] = await Promise.all([loadIcebergMetadata(namespace, name), ok(api.GET('/api/v1/tables/{namespace}/{table}/snapshots', path))]);
    return schemaHistory(md, snaps.snapshots);
  }, []);
  return (
    <section>
      <h2>Schema history</h2>
      {q.loading && !q.data && <Progress label="Loading schemas" />}
      <ErrorBox error={q.error} />
      {q.data && <ObjTable caption="schema history" items={q.data} keys={['schema', 'columns', 'changes', 'firstSnapshot', 'since']} />}
    </section>
  );
}

export function HealthPanel({ namespace, name }: { namespace: string; name: string }) {
  const q = useLoad(() => ok(api.GET('/api/v1/tables/{namespace}/{table}/health', { params: { path: { namespace, table: name } } })), []);
  const d = q.data;
  const h = d?.health;
  return (
    <section>
      <h2>Health</h2>
      {q.loading && !d && <Progress label="Checking table health" />}
      <ErrorBox error={q.error} />
      {d && h && (
        <>
          <dl className="health" data-testid="table-health">
            <dt>Data files</dt>
            <dd>{h.dataFiles}</dd>
            <dt>Small files</dt>
            <dd>{h.smallFiles}</dd>
            <dt>Delete files</dt>
            <dd>{h.deleteFiles}</dd>
            <dt>Delete/data ratio</dt>
            <dd>{h.deleteFileRatio.toFixed(2)}</dd>
            <dt>Snapshots</dt>
            <dd>{h.snapshots}</dd>
            <dt>Manifests</dt>
            <dd>{h.manifests}</dd>
            <dt>Size</dt>
            <dd>
              {(h.totalBytes / 1024).toFixed(1)} KiB in {h.records} rows (target file {(h.targetFileSizeBytes / 1048576).toFixed(0)} MiB)
            </dd>
          </dl>
          <p data-testid="maintenance-due">
            {!d.policy.enabled ? (
              <span className="muted">Automatic maintenance disabled.</span>
            ) : d.due.actions.length ? (
              <>
                Maintenance due: {d.due.actions.join(', ')}
                {d.due.reasons.length > 0 && <> ({d.due.reasons.join('; ')})</>}
              </>
            ) : (
              <span className="muted">No maintenance due.</span>
            )}
          </p>
        </>
      )}
    </section>
  );
}
