import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScheduler, type SchedulerHandle } from '../../src/scheduler/index.js';
import { waitFor } from '../scheduler/support.js';
import { startSecureServer, type SecureServer } from './support.js';

/**
 * Scheduled jobs run as the principal that defined them: a maintenance job defined by `etl`
 * compacts while etl holds MODIFY on the table; once the grant is revoked its next run fails
 * with FORBIDDEN naming the missing privilege, the refusal is audited, and the table is unchanged.
 * The recorded principal comes from the credentials, not from the request body.
 */
describe('jobs run as their owner', () => {
  let s: SecureServer;
  let sched: SchedulerHandle;
  let etl = '';
  const grantIds: string[] = [];
  const admin = (body?: unknown) => ({ token: s.adminKey, body });

  beforeAll(async () => {
    s = await startSecureServer();
    const ok = (r: { status: number; text: string }, status = 200) => expect(r.status, r.text).toBe(status);
    ok(await s.call('POST', '/api/v1/tables', admin({ namespace: 'ops', name: 'events', columns: [{ name: 'id', type: 'long' }] })), 201);
    for (let i = 0; i < 3; i++) ok(await s.call('POST', '/api/v1/queries', admin({ sql: `INSERT INTO ops.events VALUES (${i})` })));
    ok(await s.call('POST', '/api/v1/security/principals', admin({ name: 'etl' })), 201);
    etl = (await s.call('POST', '/api/v1/security/api-keys', admin({ principal: 'etl' }))).body.key;
    // MANAGE on the catalog operates schedules (and implies MODIFY); MODIFY on the table alone would do for the job.
    for (const [privilege, securable] of [['MANAGE', { type: 'catalog' }], ['MODIFY', { type: 'table', namespace: 'ops', table: 'events' }]] as const) {
      const g = await s.call('POST', '/api/v1/security/grants', admin({ grantee: { type: 'principal', name: 'etl' }, privilege, securable }));
      ok(g, 201);
      grantIds.push(g.body.id);
    }
    sched = startScheduler(s.catalog, null, { pollMs: 100 });
  });
  afterAll(async () => {
    await sched?.stop();
    await s?.close();
  });

  const runNow = async (id: string, token: string) => {
    const r = await s.call('POST', `/api/v1/schedules/${id}/run`, { token });
    expect(r.status, r.text).toBe(202);
    return waitFor(async () => {
      const g = await s.call('GET', `/api/v1/schedules/runs/${r.body.id}`, { token });
      return ['succeeded', 'failed'].includes(g.body.status) ? g.body : null;
    }, 30_000);
  };

  it('runs while the owner holds the grant, fails (audited) once it is revoked', async () => {
    const created = await s.call('POST', '/api/v1/schedules', {
      token: etl,
      body: { name: 'compact-events', kind: 'maintenance', params: { namespace: 'ops', table: 'events', action: 'compaction', options: { minInputFiles: 2 } }, intervalSeconds: 86400, owner: 'admin', retry: { maxAttempts: 1 } },
    });
    expect(created.status, created.text).toBe(201);
    const first = await runNow(created.body.id, etl);
    expect(first, JSON.stringify(first)).toMatchObject({ status: 'succeeded' });
    expect(first.filesAffected).toBe(3);

    for (const id of grantIds) expect((await s.call('DELETE', `/api/v1/security/grants/${id}`, { token: s.adminKey })).status).toBe(204);
    for (let i = 3; i < 5; i++) await s.call('POST', '/api/v1/queries', admin({ sql: `INSERT INTO ops.events VALUES (${i})` }));
    const files = async () => (await s.call('POST', '/api/v1/queries', admin({ sql: 'SELECT count(*) FROM ops."events$files"' }))).body.rows[0][0];
    const before = await files();
    const second = await runNow(created.body.id, s.adminKey);
    expect(second.status).toBe('failed');
    expect(second.error).toMatch(/schedule 'compact-events' runs as 'etl', who lacks MODIFY on ops\.events/);
    expect(await files()).toBe(before);
    const audit = await s.call('GET', '/api/v1/security/audit?action=job.run&outcome=denied', { token: s.adminKey });
    expect(audit.body.records).toHaveLength(1);
    expect(audit.body.records[0]).toMatchObject({ principal: 'etl', outcome: 'denied' });
  }, 90_000);
});
