import { useState, type ReactNode } from 'react';
import { api, ok } from '../api/client';
import { ErrorBox, Field, fmtTime, ObjTable, Progress, useAction, useLoad } from '../components/ui';

/** Security administration (needs MANAGE_GRANTS): principals, roles, grants, masks, API keys, audit. */
export function AdminPage() {
  const principals = useLoad(() => ok(api.GET('/api/v1/security/principals')).then((r) => r.principals), []);
  const roles = useLoad(() => ok(api.GET('/api/v1/security/roles')).then((r) => r.roles), []);
  const members = useLoad(() => ok(api.GET('/api/v1/security/memberships')).then((r) => r.memberships), []);
  const grants = useLoad(() => ok(api.GET('/api/v1/security/grants')).then((r) => r.grants), []);
  const masks = useLoad(() => ok(api.GET('/api/v1/security/masks')).then((r) => r.masks), []);
  const keys = useLoad(() => ok(api.GET('/api/v1/security/api-keys')).then((r) => r.apiKeys), []);
  const revoke = useAction(async (what: 'grant' | 'mask' | 'key', id: string) => {
    if (what === 'grant') await ok(api.DELETE('/api/v1/security/grants/{id}', { params: { path: { id } } }));
    if (what === 'mask') await ok(api.DELETE('/api/v1/security/masks/{id}', { params: { path: { id } } }));
    if (what === 'key') await ok(api.DELETE('/api/v1/security/api-keys/{id}', { params: { path: { id } } }));
    grants.reload();
    masks.reload();
    keys.reload();
  });
  return (
    <div className="admin">
      <h1>Admin</h1>
      <ErrorBox error={principals.error} />
      <ErrorBox error={revoke.error} />
      <div className="row">
        <section>
          <h2>Principals</h2>
          {principals.data && <ObjTable caption="principals" items={principals.data} keys={['name', 'kind', 'createdAt']} />}
          <QuickForm
            title="New principal"
            fields={[['name', 'Principal name']]}
            submit="Create principal"
            onSubmit={async (v) => {
              await ok(api.POST('/api/v1/security/principals', { body: { name: v.name } }));
              principals.reload();
            }}
          />
        </section>
        <section>
          <h2>Roles</h2>
          {roles.data && <ObjTable caption="roles" items={roles.data.map((r) => ({ ...r, members: (members.data ?? []).filter((m) => m.role === r.name).map((m) => m.principal).join(', ') }))} keys={['name', 'description', 'members']} />}
          <QuickForm
            title="New role"
            fields={[['name', 'Role name']]}
            submit="Create role"
            onSubmit={async (v) => {
              await ok(api.POST('/api/v1/security/roles', { body: { name: v.name } }));
              roles.reload();
            }}
          />
          <QuickForm
            title="Add member"
            fields={[
              ['role', 'Role'],
              ['principal', 'Member principal'],
            ]}
            submit="Add to role"
            onSubmit={async (v) => {
              await ok(api.POST('/api/v1/security/memberships', { body: { role: v.role, principal: v.principal } }));
              members.reload();
              roles.reload();
            }}
          />
        </section>
      </div>
      <section>
        <h2>Grants</h2>
        <ErrorBox error={grants.error} />
        {grants.data && (
          <ObjTable
            caption="grants"
            items={grants.data.map((g) => ({ id: g.id, grantee: `${g.grantee.type} ${g.grantee.name}`, privilege: g.privilege, on: [g.securable.type, g.securable.namespace, g.securable.table, g.securable.column].filter(Boolean).join(' ') }))}
            keys={['grantee', 'privilege', 'on']}
            actions={(g) => (
              <button type="button" onClick={() => void revoke.run('grant', g.id)} aria-label={`revoke ${g.privilege} from ${g.grantee} on ${g.on}`}>
                Revoke
              </button>
            )}
          />
        )}
        <GrantForm onDone={grants.reload} />
      </section>
      <section>
        <h2>Column masks</h2>
        <ErrorBox error={masks.error} />
        {masks.data && (
          <ObjTable
            caption="masks"
            items={masks.data.map((m) => ({ id: m.id, role: m.role, column: `${m.namespace}.${m.table}.${m.column}`, kind: m.kind, params: JSON.stringify(m.params) }))}
            keys={['role', 'column', 'kind', 'params']}
            actions={(m) => (
              <button type="button" onClick={() => void revoke.run('mask', m.id)} aria-label={`delete mask on ${m.column}`}>
                Delete
              </button>
            )}
          />
        )}
        <MaskForm onDone={masks.reload} />
      </section>
      <section>
        <h2>API keys</h2>
        <ErrorBox error={keys.error} />
        {keys.data && (
          <ObjTable
            caption="API keys"
            items={keys.data.map((k) => ({ id: k.id, principal: k.principal, description: k.description ?? '', created: fmtTime(k.createdAt), expires: fmtTime(k.expiresAt), revoked: fmtTime(k.revokedAt) }))}
            keys={['id', 'principal', 'description', 'created', 'expires', 'revoked']}
            actions={(k) =>
              k.revoked ? null : (
                <button type="button" onClick={() => void revoke.run('key', k.id)} aria-label={`revoke key ${k.id}`}>
                  Revoke
                </button>
              )
            }
          />
        )}
        <KeyForm onDone={keys.reload} />
      </section>
      <Audit />
    </div>
  );
}

/** A small form of text fields. */
function QuickForm({ title, fields, submit, onSubmit, children }: { title: string; fields: [string, string][]; submit: string; onSubmit: (v: Record<string, string>) => Promise<void>; children?: ReactNode }) {
  const [v, setV] = useState<Record<string, string>>({});
  const act = useAction(async () => {
    await onSubmit(v);
    setV({});
  });
  return (
    <form
      className="card"
      aria-label={title}
      onSubmit={(e) => {
        e.preventDefault();
        void act.run();
      }}
    >
      <h3>{title}</h3>
      <div className="row">
        {fields.map(([k, label]) => (
          <Field key={k} label={label}>
            <input name={k} required value={v[k] ?? ''} onChange={(e) => setV({ ...v, [k]: e.target.value })} />
          </Field>
        ))}
        {children}
      </div>
      <button type="submit" disabled={act.busy}>
        {submit}
      </button>
      {act.busy && <Progress label="Saving" />}
      <ErrorBox error={act.error} />
    </form>
  );
}

const PRIVS = ['SELECT', 'INSERT', 'MODIFY', 'CREATE', 'DROP', 'MANAGE', 'MANAGE_GRANTS'] as const;

function GrantForm({ onDone }: { onDone: () => void }) {
  const [f, setF] = useState({ granteeType: 'role', grantee: '', privilege: 'SELECT', type: 'table', namespace: '', table: '', column: '' });
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const act = useAction(async () => {
    const securable =
      f.type === 'catalog'
        ? { type: 'catalog' as const }
        : f.type === 'namespace'
          ? { type: 'namespace' as const, namespace: f.namespace }
          : f.type === 'table'
            ? { type: 'table' as const, namespace: f.namespace, table: f.table }
            : { type: 'column' as const, namespace: f.namespace, table: f.table, column: f.column };
    await ok(api.POST('/api/v1/security/grants', { body: { grantee: { type: f.granteeType as 'role' | 'principal', name: f.grantee }, privilege: f.privilege as (typeof PRIVS)[number], securable } }));
    onDone();
  });
  return (
    <form
      className="card"
      aria-label="New grant"
      onSubmit={(e) => {
        e.preventDefault();
        void act.run();
      }}
    >
      <h3>New grant</h3>
      <div className="row">
        <Field label="Grantee type">
          <select name="granteeType" value={f.granteeType} onChange={set('granteeType')}>
            <option>role</option>
            <option>principal</option>
          </select>
        </Field>
        <Field label="Grantee">
          <input name="grantee" required value={f.grantee} onChange={set('grantee')} />
        </Field>
        <Field label="Privilege">
          <select name="privilege" value={f.privilege} onChange={set('privilege')}>
            {PRIVS.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </Field>
        <Field label="On">
          <select name="securableType" value={f.type} onChange={set('type')}>
            <option>catalog</option>
            <option>namespace</option>
            <option>table</option>
            <option>column</option>
          </select>
        </Field>
        {f.type !== 'catalog' && (
          <Field label="Namespace">
            <input name="grantNamespace" required value={f.namespace} onChange={set('namespace')} />
          </Field>
        )}
        {(f.type === 'table' || f.type === 'column') && (
          <Field label="Table">
            <input name="grantTable" required value={f.table} onChange={set('table')} />
          </Field>
        )}
        {f.type === 'column' && (
          <Field label="Column">
            <input name="grantColumn" required value={f.column} onChange={set('column')} />
          </Field>
        )}
      </div>
      <button type="submit" disabled={act.busy}>
        Grant
      </button>
      {act.busy && <Progress label="Granting" />}
      <ErrorBox error={act.error} />
    </form>
  );
}

function MaskForm({ onDone }: { onDone: () => void }) {
  const [f, setF] = useState({ role: '', namespace: '', table: '', column: '', kind: 'redact', keepLast: '4' });
  const set = (k: keyof typeof f) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });
  const act = useAction(async () => {
    await ok(
      api.POST('/api/v1/security/masks', {
        body: { role: f.role, namespace: f.namespace, table: f.table, column: f.column, kind: f.kind as 'null' | 'hash' | 'redact' | 'partial', ...(f.kind === 'partial' ? { params: { keepLast: Number(f.keepLast) } } : {}) },
      }),
    );
    onDone();
  });
  return (
    <form
      className="card"
      aria-label="New column mask"
      onSubmit={(e) => {
        e.preventDefault();
        void act.run();
      }}
    >
      <h3>New column mask</h3>
      <div className="row">
        <Field label="Mask role">
          <input name="maskRole" required value={f.role} onChange={set('role')} />
        </Field>
        <Field label="Mask namespace">
          <input name="maskNamespace" required value={f.namespace} onChange={set('namespace')} />
        </Field>
        <Field label="Mask table">
          <input name="maskTable" required value={f.table} onChange={set('table')} />
        </Field>
        <Field label="Mask column">
          <input name="maskColumn" required value={f.column} onChange={set('column')} />
        </Field>
        <Field label="Mask kind">
          <select name="maskKind" value={f.kind} onChange={set('kind')}>
            <option>redact</option>
            <option>partial</option>
            <option>hash</option>
            <option>null</option>
          </select>
        </Field>
        {f.kind === 'partial' && (
          <Field label="Keep last characters">
            <input name="keepLast" type="number" min={0} value={f.keepLast} onChange={set('keepLast')} />
          </Field>
        )}
      </div>
      <button type="submit" disabled={act.busy}>
        Add mask
      </button>
      {act.busy && <Progress label="Adding mask" />}
      <ErrorBox error={act.error} />
    </form>
  );
}

function KeyForm({ onDone }: { onDone: () => void }) {
  const [principal, setPrincipal] = useState('');
  const [ttl, setTtl] = useState('');
  const [created, setCreated] = useState<{ key: string; principal: string } | null>(null);
  const act = useAction(async () => {
    const k = await ok(api.POST('/api/v1/security/api-keys', { body: { principal, ...(ttl ? { ttlSeconds: Number(ttl) * 86400 } : {}), description: 'created in the console' } }));
    setCreated({ key: (k as { key: string }).key, principal });
    onDone();
  });
  return (
    <form
      className="card"
      aria-label="New API key"
      onSubmit={(e) => {
        e.preventDefault();
        void act.run();
      }}
    >
      <h3>New API key</h3>
      <div className="row">
        <Field label="Key principal">
          <input name="keyPrincipal" required value={principal} onChange={(e) => setPrincipal(e.target.value)} />
        </Field>
        <Field label="Expires in days" hint="empty: never">
          <input name="keyDays" type="number" min={1} value={ttl} onChange={(e) => setTtl(e.target.value)} />
        </Field>
      </div>
      <button type="submit" disabled={act.busy}>
        Create key
      </button>
      {act.busy && <Progress label="Creating key" />}
      <ErrorBox error={act.error} />
      {created && (
        <div className="notice" role="status">
          Key for {created.principal} — shown only now, copy it:
          <output data-testid="new-api-key">{created.key}</output>
        </div>
      )}
    </form>
  );
}

function Audit() {
  const [q, setQ] = useState({ principal: '', action: '', outcome: '', limit: '50' });
  const [records, setRecords] = useState<{ seq: number; at: string; principal: string | null; action: string; resource: string | null; outcome: string; status: number | null }[] | null>(null);
  const act = useAction(async () => {
    const query: Record<string, string | number> = { limit: Number(q.limit) || 50 };
    if (q.principal) query.principal = q.principal;
    if (q.action) query.action = q.action;
    if (q.outcome) query.outcome = q.outcome;
    const r = await ok(api.GET('/api/v1/security/audit', { params: { query: query as never } }));
    if (typeof r === 'string') throw new Error('unexpected NDJSON answer');
    setRecords(r.records);
  });
  const set = (k: keyof typeof q) => (e: { target: { value: string } }) => setQ({ ...q, [k]: e.target.value });
  return (
    <section>
      <h2>Audit log</h2>
      <form
        className="card"
        aria-label="Audit search"
        onSubmit={(e) => {
          e.preventDefault();
          void act.run();
        }}
      >
        <div className="row">
          <Field label="Audit principal">
            <input name="auditPrincipal" value={q.principal} onChange={set('principal')} />
          </Field>
          <Field label="Action">
            <input name="auditAction" value={q.action} onChange={set('action')} placeholder="e.g. table.rollback" />
          </Field>
          <Field label="Outcome">
            <select name="auditOutcome" value={q.outcome} onChange={set('outcome')}>
              <option value="">any</option>
              <option>allowed</option>
              <option>denied</option>
              <option>auth-failed</option>
              <option>error</option>
            </select>
          </Field>
          <Field label="Limit">
            <input name="auditLimit" type="number" min={1} max={1000} value={q.limit} onChange={set('limit')} />
          </Field>
        </div>
        <button type="submit" disabled={act.busy}>
          Search audit log
        </button>
        {act.busy && <Progress label="Searching" />}
        <ErrorBox error={act.error} />
      </form>
      {records && <ObjTable caption="audit records" items={records.map((r) => ({ ...r, at: fmtTime(r.at) }))} keys={['seq', 'at', 'principal', 'action', 'resource', 'outcome', 'status']} />}
    </section>
  );
}
