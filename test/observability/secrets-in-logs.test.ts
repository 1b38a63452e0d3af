import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlCatalog } from '../../src/catalog/open-catalog.js';
import type { SqlCatalog } from '../../src/catalog/sql-catalog.js';
import { moduleLogger, setModuleLevel, LOG_MODULES } from '../../src/observability/log-levels.js';
import { startScheduler } from '../../src/scheduler/index.js';
import { bearer, startServer, type Call } from '../support/http.js';

/**
 * Secrets never reach the logs: a server with authentication on logs everything (trace, every
 * module), while a Kafka source with a SASL password and a TLS key, an ingestion job with a
 * schema-registry password, an S3 source with a secret key and an API key are created, read,
 * replaced and tested. The whole captured log output must contain none of the secret strings
 * (nor the bootstrap admin key), while it does carry request ids and principals. Also: runtime
 * log levels per module through the admin API (MANAGE on the catalog needed).
 */
const SECRETS = {
  sasl: 'sasl-pw-Zq81!unique',
  tlsKey: '-----BEGIN PRIVATE KEY-----\nTLSKEYunique0987\n-----END PRIVATE KEY-----',
  registry: 'registry-pw-Kx72unique',
  s3: 's3-secret-Vv55unique/abc+def',
  s3Session: 's3-session-Ty66unique',
};

describe('logs', () => {
  let dir: string;
  let catalog: SqlCatalog;
  let app: FastifyInstance;
  let base: string;
  let http: Call;
  let bootstrap = '';
  const out: string[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lh-logs-'));
    mkdirSync(`${dir}/wh`);
    catalog = await openSqlCatalog({ storeUrl: `sqlite:${dir}/catalog.db`, warehouse: `${dir}/wh` });
    const logStream = new Writable({
      write(chunk, _enc, cb) {
        out.push(String(chunk));
        cb();
      },
    });
    ({ app, base, call: http } = await startServer({ catalog, logLevel: 'trace', logStream: logStream as never, security: { bootstrapOut: { write: (t: string) => (bootstrap += t) } } }));
  });
  afterAll(async () => {
    for (const m of LOG_MODULES) if (m !== 'http') setModuleLevel(m, 'info');
    await app?.close();
    await catalog?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (method: string, path: string, token: string, body?: unknown) => http(method, path, body, bearer(token));

  it('never logs secrets, and names the principal on request lines', async () => {
    const admin = /Bearer (lhk_\S+)/.exec(bootstrap)?.[1];
    expect(admin).toBeDefined();

    // Every module at trace.
    for (const module of LOG_MODULES) {
      const r = await call('PUT', '/api/v1/admin/log-levels', admin!, { module, level: 'trace' });
      expect(r.status, r.text).toBe(200);
    }
    expect((await call('GET', '/api/v1/admin/log-levels', admin!)).body).toEqual({ http: 'trace', ingest: 'trace', alerts: 'trace', scheduler: 'trace' });
    expect((await call('PUT', '/api/v1/admin/log-levels', admin!, { module: 'nope', level: 'trace' })).status).toBe(400);
    expect((await call('PUT', '/api/v1/admin/log-levels', admin!, { module: 'ingest', level: 'loud' })).status).toBe(400);

    // An API key for a principal without privileges: it may not change log levels.
    expect((await call('POST', '/api/v1/security/principals', admin!, { name: 'etl', kind: 'service' })).status).toBe(201);
    const key = await call('POST', '/api/v1/security/api-keys', admin!, { principal: 'etl' });
    expect(key.status, key.text).toBe(201);
    const etlKey = key.body.key as string;
    expect((await call('PUT', '/api/v1/admin/log-levels', etlKey, { module: 'ingest', level: 'debug' })).status).toBe(403);

    // Kafka source with SASL password and TLS key; read, replace (secrets kept), test.
    const kafka = await call('POST', '/api/v1/sources/kafka', admin!, {
      name: 'secure',
      bootstrapServers: ['127.0.0.1:1'],
      security: { protocol: 'SASL_SSL', sasl: { mechanism: 'SCRAM-SHA-512', username: 'ingest', password: SECRETS.sasl }, tls: { clientKey: SECRETS.tlsKey } },
    });
    expect(kafka.status, kafka.text).toBe(201);
    const kid = kafka.body.id as string;
    expect((await call('GET', `/api/v1/sources/kafka/${kid}`, admin!)).text).not.toContain(SECRETS.sasl);
    expect((await call('POST', `/api/v1/sources/kafka/${kid}/test`, admin!)).status).toBe(200);

    // Ingestion job with a schema-registry password.
    const job = await call('POST', '/api/v1/ingestion-jobs', admin!, {
      name: 'avro-orders',
      sourceId: kid,
      topics: ['orders'],
      target: { namespace: 'db', table: 'orders' },
      mapping: {},
      schedule: 'manual',
      format: 'avro',
      schemaRegistry: { url: 'http://127.0.0.1:1', username: 'reg', password: SECRETS.registry },
    });
    expect(job.status, job.text).toBe(201);
    expect(job.text).not.toContain(SECRETS.registry);
    const replaced = await call('PUT', `/api/v1/ingestion-jobs/${job.body.id}`, admin!, { ...job.body, id: undefined, createdAt: undefined, updatedAt: undefined });
    expect(replaced.status, replaced.text).toBe(200);

    // S3 source with a secret key and a session token; tested against a closed port.
    const s3 = await call('POST', '/api/v1/sources/storage', admin!, {
      name: 'lake',
      type: 's3',
      uri: 's3://bucket/prefix',
      s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'AKIAEXAMPLE', secretAccessKey: SECRETS.s3, sessionToken: SECRETS.s3Session, pathStyle: true },
    });
    expect(s3.status, s3.text).toBe(201);
    expect((await call('POST', `/api/v1/sources/storage/${s3.body.id}/test`, admin!)).status).toBe(200);

    // The low-privilege key is used (and refused) too.
    expect((await call('GET', '/api/v1/sources/kafka', etlKey)).status).toBe(403);
    // A failing request (bad JSON) logs its error.
    const bad = await fetch(`${base}/api/v1/sources/kafka`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: `{"password":"${SECRETS.sasl}"` });
    expect(bad.status).toBe(400);

    await new Promise((r) => setTimeout(r, 100));
    const text = out.join('');
    const lines = text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(20);
    for (const [what, secret] of Object.entries({ ...SECRETS, adminKey: admin!, etlKey, tlsKeyBody: 'TLSKEYunique0987' })) {
      expect(text.includes(secret), `${what} appears in the logs`).toBe(false);
    }
    // Request lines carry the request id and, once authenticated, the principal.
    const completed = lines.filter((l) => l.msg === 'request completed');
    expect(completed.length).toBeGreaterThan(10);
    expect(completed.every((l) => typeof l.reqId === 'string')).toBe(true);
    expect(completed.some((l) => l.principal === 'admin')).toBe(true);
    expect(completed.some((l) => l.principal === 'etl')).toBe(true);
    expect(lines.some((l) => l.msg === 'log level changed' && l.principal === 'admin')).toBe(true);
  });

  it('applies module levels at runtime to existing module loggers', async () => {
    const admin = /Bearer (lhk_\S+)/.exec(bootstrap)![1];
    const log = moduleLogger('ingest', { jobId: 'job-1', table: 'db.orders' });
    const seen = (msg: string) => out.join('').split('\n').filter((l) => l.includes(msg)).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect((await call('PUT', '/api/v1/admin/log-levels', admin, { module: 'ingest', level: 'error' })).status).toBe(200);
    log.warn({ n: 1 }, 'muted-warning');
    expect(seen('muted-warning')).toHaveLength(0);
    expect((await call('PUT', '/api/v1/admin/log-levels', admin, { module: 'ingest', level: 'debug' })).status).toBe(200);
    log.debug({ n: 2 }, 'loud-debug');
    const [line] = seen('loud-debug');
    expect(line).toMatchObject({ module: 'ingest', jobId: 'job-1', table: 'db.orders', n: 2, level: 20 });
    // Other modules keep their own level.
    expect((await call('PUT', '/api/v1/admin/log-levels', admin, { module: 'alerts', level: 'warn' })).status).toBe(200);
    moduleLogger('alerts').info({}, 'alerts-info');
    expect(seen('alerts-info')).toHaveLength(0);
  });

  it('logs failed scheduled runs under the scheduler module, at its own runtime level', async () => {
    const admin = /Bearer (lhk_\S+)/.exec(bootstrap)![1];
    const sched = startScheduler(catalog, null, { app, pollMs: 100 });
    try {
      const job = await call('POST', '/api/v1/schedules', admin, { name: 'broken', kind: 'sql', params: { sql: 'SELECT * FROM db.no_such_table' }, intervalSeconds: 86_400 });
      expect(job.status, job.text).toBe(201);
      const failedRun = async () => {
        const run = await call('POST', `/api/v1/schedules/${job.body.id}/run`, admin);
        for (const t0 = Date.now(); Date.now() - t0 < 30_000; await new Promise((r) => setTimeout(r, 100))) {
          const r = await call('GET', `/api/v1/schedules/runs/${run.body.id}`, admin);
          if (r.body.status === 'failed') return run.body.id as string;
        }
        throw new Error('the run did not fail in time');
      };
      const lines = () =>
        out
          .join('')
          .split('\n')
          .filter((l) => l.includes('scheduler: run failed'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect((await call('PUT', '/api/v1/admin/log-levels', admin, { module: 'scheduler', level: 'info' })).status).toBe(200);
      const first = await failedRun();
      expect(lines().find((l) => l.run === first)).toMatchObject({ module: 'scheduler', job: job.body.id, name: 'broken', kind: 'sql', level: 40 });
      // At level error the warning is muted; the other modules are unaffected.
      expect((await call('PUT', '/api/v1/admin/log-levels', admin, { module: 'scheduler', level: 'error' })).status).toBe(200);
      const second = await failedRun();
      expect(lines().filter((l) => l.run === second)).toEqual([]);
    } finally {
      await sched.stop();
    }
  });
});
