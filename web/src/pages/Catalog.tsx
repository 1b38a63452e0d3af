import { useState } from 'react';
import { api, ok, raw } from '../api/client';
import { ErrorBox, Field, Progress, useAction, useLoad } from '../components/ui';
import { TablePage } from './Table';

/** The Iceberg REST prefix (listing namespaces is only in the Iceberg REST API). */
let prefixCache: Promise<string> | null = null;
export function icebergPrefix(): Promise<string> {
  prefixCache ??= raw('/v1/config')
    .then((r) => r.json())
    .then((c: { overrides?: Record<string, string>; defaults?: Record<string, string> }) => c.overrides?.prefix ?? c.defaults?.prefix ?? 'lakehouse')
    .catch((e) => {
      prefixCache = null;
      throw e;
    });
  return prefixCache;
}

async function listNamespaces(parent: string[] | null): Promise<string[][]> {
  const prefix = await icebergPrefix();
  const q = parent ? `?parent=${encodeURIComponent(parent.join('\u001f'))}` : '';
  const out: string[][] = [];
  let token: string | null = null;
  do {
    const sep: string = q ? '&' : '?';
    const r = await raw(`/v1/${encodeURIComponent(prefix)}/namespaces${q}${token ? `${sep}pageToken=${encodeURIComponent(token)}` : ''}`);
    const body = (await r.json()) as { namespaces: string[][]; 'next-page-token'?: string | null };
    out.push(...body.namespaces);
    token = body['next-page-token'] ?? null;
  } while (token);
  return out;
}

export function CatalogPage({ table }: { table: { namespace: string; name: string } | null }) {
  const [version, setVersion] = useState(0);
  return (
    <div className="split">
      <aside className="tree" aria-label="Catalog tree">
        <h2>Catalog</h2>
        <NamespaceList parent={null} key={version} />
        <p>
          <a href="#/catalog">+ New table</a>
        </p>
      </aside>
      <section className="content">
        {table ? <TablePage namespace={table.namespace} name={table.name} key={`${table.namespace}.${table.name}`} /> : <CreateTable onCreated={() => setVersion((v) => v + 1)} />}
      </section>
    </div>
  );
}

function NamespaceList({ parent }: { parent: string[] | null }) {
  const { data, error, loading } = useLoad(() => listNamespaces(parent), [parent?.join('.')]);
  if (loading && !data) return <Progress label="Loading namespaces" />;
  return (
    <>
      <ErrorBox error={error} />
      {data && data.length === 0 && !parent && <p className="muted">No namespaces yet: create a table.</p>}
      <ul aria-label={parent ? `namespaces in ${parent.join('.')}` : 'namespaces'}>
        {data?.map((ns) => (
          <NamespaceNode ns={ns} key={ns.join('.')} />
        ))}
      </ul>
    </>
  );
}

function NamespaceNode({ ns }: { ns: string[] }) {
  const [open, setOpen] = useState(true);
  const name = ns.join('.');
  return (
    <li>
      <button type="button" className="node" aria-label={`namespace ${name}`} aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'} {ns[ns.length - 1]}
      </button>
      {open && (
        <div className="children">
          <NamespaceList parent={ns} />
          <TableList namespace={name} />
        </div>
      )}
    </li>
  );
}

function TableList({ namespace }: { namespace: string }) {
  const { data, error } = useLoad(() => ok(api.GET('/api/v1/namespaces/{namespace}/tables', { params: { path: { namespace } } })), [namespace]);
  return (
    <>
      <ErrorBox error={error} />
      <ul aria-label={`tables in ${namespace}`}>
        {data?.tables.map((t) => (
          <TableNode namespace={namespace} name={t} key={t} />
        ))}
      </ul>
    </>
  );
}

function TableNode({ namespace, name }: { namespace: string; name: string }) {
  const [open, setOpen] = useState(false);
  const cols = useLoad(
    () => (open ? ok(api.GET('/api/v1/tables/{namespace}/{table}', { params: { path: { namespace, table: name } } })).then((t) => t.columns) : Promise.resolve(null)),
    [open],
  );
  return (
    <li>
      <button type="button" className="node toggle" aria-label={`columns of ${namespace}.${name}`} aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'}
      </button>{' '}
      <a href={`#/table/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`}>{name}</a>
      {open && <ErrorBox error={cols.error} />}
      {open && (
        <ul className="columns" aria-label={`columns of ${namespace}.${name}`}>
          {cols.data?.map((c) => (
            <li key={c.id} title={c.doc}>
              {c.name} <code>{typeof c.type === 'string' ? c.type : (c.type as { type: string }).type}</code>
              {c.doc && <small className="muted"> — {c.doc}</small>}
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}

/** `name type [-- doc]` per line, e.g. `email string -- contact address`. */
function parseColumns(text: string): { name: string; type: string; doc?: string }[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [def, doc] = l.split(/\s+--\s+/, 2);
      const m = /^(\S+)\s+(.+)$/.exec(def.trim());
      if (!m) throw new Error(`column line "${l}": expected "name type"`);
      return doc ? { name: m[1], type: m[2].trim(), doc } : { name: m[1], type: m[2].trim() };
    });
}

function CreateTable({ onCreated }: { onCreated: () => void }) {
  const [namespace, setNamespace] = useState('');
  const [name, setName] = useState('');
  const [columns, setColumns] = useState('id long\nname string');
  const [partitioning, setPartitioning] = useState('');
  const create = useAction(async () => {
    // Commas inside a transform's parentheses (bucket(16, id)) do not separate fields.
    const parts = partitioning
      .split(/,(?![^(]*\))/)
      .map((p) => p.trim())
      .filter(Boolean);
    const t = await ok(api.POST('/api/v1/tables', { body: { namespace, name, columns: parseColumns(columns), ...(parts.length ? { partitioning: parts } : {}) } }));
    onCreated();
    location.hash = `#/table/${encodeURIComponent(t.namespace)}/${encodeURIComponent(t.name)}`;
  });
  return (
    <form
      className="card"
      onSubmit={(e) => {
        e.preventDefault();
        void create.run();
      }}
    >
      <h2>New table</h2>
      <div className="row">
        <Field label="Namespace" hint="levels joined by dots, e.g. sales.eu (created when missing)">
          <input name="namespace" required value={namespace} onChange={(e) => setNamespace(e.target.value)} />
        </Field>
        <Field label="Table name">
          <input name="table" required value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
      </div>
      <Field label="Columns" hint="one per line: name type [-- doc]; types: boolean int long float double date timestamp timestamptz string uuid binary decimal(P,S)">
        <textarea name="columns" rows={6} value={columns} onChange={(e) => setColumns(e.target.value)} spellCheck={false} />
      </Field>
      <Field label="Partitioning" hint="comma separated: col, day(ts), bucket(16, id), truncate(4, name)">
        <input name="partitioning" value={partitioning} onChange={(e) => setPartitioning(e.target.value)} />
      </Field>
      <button type="submit" disabled={create.busy}>
        Create table
      </button>
      {create.busy && <Progress label="Creating table" />}
      <ErrorBox error={create.error} />
    </form>
  );
}
