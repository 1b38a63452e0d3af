import { connect } from 'node:net';
import { readdir, stat } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { lakehouseError } from '../../core/errors.js';
import type { FileIO } from '../../storage/fileio.js';
import { S3FileIO } from '../../storage/s3.js';
import { WebHdfsFileIO } from '../../storage/webhdfs.js';
import { Id, responses, send } from './common.js';
import type { OwnStore, SourceKind, SourceRecord } from './store.js';

/**
 * Data sources: Kafka clusters and storage locations, stored in the catalog database.
 *
 * Secrets are write-only: `security.sasl.password`, `security.tls.clientKey` (Kafka) and
 * `s3.secretAccessKey`, `s3.sessionToken` (storage) are accepted on create/replace, never
 * returned — a read shows `"********"` where one is set. On replace (PUT), an omitted secret keeps
 * the stored one and an empty string clears it.
 */
export const MASK = '********';

const SourceName = Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' });
const Description = Type.String({ maxLength: 1000 });
const Timestamps = { createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }) };

const BootstrapServer = Type.String({ pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9][A-Za-z0-9.-]{0,252}):[0-9]{1,5}$', description: 'host:port' });
const Protocol = Type.Union(['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'].map((p) => Type.Literal(p)));
const Mechanism = Type.Union(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'].map((p) => Type.Literal(p)));
const Pem = Type.String({ maxLength: 65536 });

function kafkaSchema(write: boolean) {
  const secret = (desc: string) =>
    write ? Type.Optional(Type.String({ maxLength: 65536, writeOnly: true, description: `${desc} (write-only)` })) : Type.Optional(Type.Literal(MASK, { description: `${desc}: masked when set` }));
  return Type.Object(
    {
      name: SourceName,
      description: Type.Optional(Description),
      bootstrapServers: Type.Array(BootstrapServer, { minItems: 1, maxItems: 50 }),
      security: Type.Optional(
        Type.Object(
          {
            protocol: Type.Optional(Protocol),
            sasl: Type.Optional(
              Type.Object({ mechanism: Mechanism, username: Type.String({ maxLength: 1024 }), password: secret('SASL password') }, { additionalProperties: false }),
            ),
            tls: Type.Optional(
              Type.Object(
                {
                  caCert: Type.Optional(Pem),
                  clientCert: Type.Optional(Pem),
                  clientKey: secret('TLS client private key (PEM)'),
                  insecureSkipVerify: Type.Optional(Type.Boolean()),
                },
                { additionalProperties: false },
              ),
            ),
          },
          { additionalProperties: false },
        ),
      ),
    },
    { additionalProperties: false },
  );
}

function storageSchema(write: boolean) {
  const secret = (desc: string) =>
    write ? Type.Optional(Type.String({ maxLength: 4096, writeOnly: true, description: `${desc} (write-only)` })) : Type.Optional(Type.Literal(MASK, { description: `${desc}: masked when set` }));
  return Type.Object(
    {
      name: SourceName,
      description: Type.Optional(Description),
      type: Type.Union([Type.Literal('s3'), Type.Literal('hdfs'), Type.Literal('local')]),
      uri: Type.String({
        maxLength: 2048,
        pattern: '^(s3a?://[a-z0-9][a-z0-9.-]{1,62}(/.*)?|(hdfs|webhdfs|swebhdfs)://[^/\\s]+(/.*)?|file:///.*|/.*)$',
        description: 's3://bucket/prefix, hdfs://namenode/path (through WebHDFS), webhdfs://host:port/path, or an absolute local path',
      }),
      s3: Type.Optional(
        Type.Object(
          {
            endpoint: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048 })),
            region: Type.Optional(Type.String({ pattern: '^[a-z0-9-]{1,64}$' })),
            accessKeyId: Type.Optional(Type.String({ maxLength: 256 })),
            secretAccessKey: secret('S3 secret access key'),
            sessionToken: secret('S3 session token'),
            pathStyle: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
      ),
      hdfs: Type.Optional(
        Type.Object(
          {
            address: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 2048, description: 'WebHDFS HTTP address, e.g. http://namenode:9870' })),
            user: Type.Optional(Type.String({ maxLength: 256 })),
          },
          { additionalProperties: false },
        ),
      ),
    },
    { additionalProperties: false },
  );
}

const KafkaInput = kafkaSchema(true);
const StorageInput = storageSchema(true);
type KafkaIn = Static<typeof KafkaInput>;
type StorageIn = Static<typeof StorageInput>;

const withMeta = <T extends ReturnType<typeof kafkaSchema> | ReturnType<typeof storageSchema>>(s: T) =>
  Type.Composite([Type.Object({ id: Id, ...Timestamps }), s], { additionalProperties: false });
const KafkaOutput = withMeta(kafkaSchema(false));
const StorageOutput = withMeta(storageSchema(false));

const SECRET_PATHS: Record<SourceKind, string[][]> = {
  kafka: [
    ['security', 'sasl', 'password'],
    ['security', 'tls', 'clientKey'],
  ],
  storage: [
    ['s3', 'secretAccessKey'],
    ['s3', 'sessionToken'],
  ],
};

function getAt(o: Record<string, unknown>, path: string[]): unknown {
  let cur: unknown = o;
  for (const k of path) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

function setAt(o: Record<string, unknown>, path: string[], v: unknown): void {
  let cur = o;
  for (const k of path.slice(0, -1)) {
    if (!cur[k] || typeof cur[k] !== 'object') return; // parent absent: nothing to set
    cur = cur[k] as Record<string, unknown>;
  }
  if (v === undefined) delete cur[path[path.length - 1]];
  else cur[path[path.length - 1]] = v;
}

/** Splits an input document into its settings and its secrets (omitted secrets keep `previous`). */
function split(kind: SourceKind, input: Record<string, unknown>, previous: Record<string, string> = {}): { config: Record<string, unknown>; secrets: Record<string, string> } {
  const config = structuredClone(input);
  delete config.name;
  const secrets: Record<string, string> = {};
  for (const path of SECRET_PATHS[kind]) {
    const key = path.join('.');
    const v = getAt(input, path);
    if (typeof v === 'string') {
      if (v !== '') secrets[key] = v;
    } else if (previous[key] !== undefined && getAt(input, path.slice(0, -1)) !== undefined) {
      secrets[key] = previous[key];
    }
    setAt(config, path, undefined);
  }
  return { config, secrets };
}

/** The stored document with secrets masked (`mask`) or filled in (connection tests). */
function view(rec: SourceRecord, mode: 'mask' | 'reveal'): Record<string, unknown> {
  const doc: Record<string, unknown> = { id: rec.id, name: rec.name, ...structuredClone(rec.config), createdAt: rec.createdAt, updatedAt: rec.updatedAt };
  for (const path of SECRET_PATHS[rec.kind]) {
    const v = rec.secrets[path.join('.')];
    if (v !== undefined) setAt(doc, path, mode === 'mask' ? MASK : v);
  }
  return doc;
}

// ------------------------------------------------------------------------------ connection tests

const TestResult = Type.Object({
  ok: Type.Boolean(),
  checks: Type.Array(
    Type.Object({
      target: Type.String(),
      ok: Type.Boolean(),
      latencyMs: Type.Integer(),
      error: Type.Optional(Type.String()),
      detail: Type.Optional(Type.String()),
    }),
  ),
});
type TestResultT = Static<typeof TestResult>;

function splitHostPort(server: string): { host: string; port: number } {
  const i = server.lastIndexOf(':');
  return { host: server.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(server.slice(i + 1)) };
}

/** Opens (and closes) a TCP connection. Real Kafka protocol handshakes come later. */
export function probeTcp(server: string, timeoutMs: number): Promise<TestResultT['checks'][number]> {
  const start = Date.now();
  const done = (ok: boolean, error?: string) => ({ target: server, ok, latencyMs: Date.now() - start, ...(error ? { error } : {}) });
  const { host, port } = splitHostPort(server);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.resolve(done(false, `invalid port ${port}`));
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(done(ok, error));
    };
    const socket = connect({ host, port });
    const timer = setTimeout(() => finish(false, `timed out after ${timeoutMs} ms`), timeoutMs);
    socket.once('connect', () => finish(true));
    socket.once('error', (e: NodeJS.ErrnoException) => finish(false, e.code ? `${e.code}: ${e.message}` : e.message));
  });
}

function timeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}

async function testStorage(doc: StorageIn, timeoutMs: number): Promise<TestResultT> {
  const start = Date.now();
  const uri = doc.uri;
  let io: FileIO | null = null;
  try {
    let detail: string;
    if (doc.type === 'local' || uri.startsWith('/') || uri.startsWith('file:')) {
      // Local: one directory level only (a recursive listing of a big tree is no connection test).
      const path = uri.replace(/^file:\/\//, '');
      const st = await stat(path);
      detail = st.isDirectory() ? `${(await readdir(path)).length} entries` : 'a file';
    } else if (/^s3a?:/.test(uri)) {
      const s3 = doc.s3 ?? {};
      const s3io = new S3FileIO({
        region: s3.region ?? 'us-east-1',
        endpoint: s3.endpoint,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
        sessionToken: s3.sessionToken,
        forcePathStyle: s3.pathStyle,
        listPageSize: 100,
      });
      io = s3io;
      const files = await timeout(s3io.list(uri), timeoutMs);
      detail = `${files.length} objects`;
    } else {
      const hdfs = new WebHdfsFileIO({ httpAddress: doc.hdfs?.address, user: doc.hdfs?.user, timeoutMs });
      io = hdfs;
      const files = await timeout(hdfs.list(uri), timeoutMs);
      detail = `${files.length} files`;
    }
    return { ok: true, checks: [{ target: uri, ok: true, latencyMs: Date.now() - start, detail }] };
  } catch (e) {
    return { ok: false, checks: [{ target: uri, ok: false, latencyMs: Date.now() - start, error: (e as Error).message || String(e) }] };
  } finally {
    if (io instanceof S3FileIO) io.destroy();
  }
}

// ------------------------------------------------------------------------------------- routes

export function registerSourceRoutes(app: FastifyInstance, store: OwnStore): void {
  const IdParams = Type.Object({ id: Id });
  const TestQuery = Type.Object({ timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 5000, default: 2000 })) });

  for (const kind of ['kafka', 'storage'] as const) {
    const Input = kind === 'kafka' ? KafkaInput : StorageInput;
    const Output = kind === 'kafka' ? KafkaOutput : StorageOutput;
    const base = `/sources/${kind}`;
    const label = kind === 'kafka' ? 'Kafka cluster' : 'storage location';
    const tags = ['sources'];
    const load = async (id: string) => {
      const rec = await store.getSource(kind, id);
      if (!rec) throw lakehouseError('NOT_FOUND', `no ${kind} source ${id}`);
      return rec;
    };
    const check = (input: Record<string, unknown>) => {
      if (kind === 'storage') {
        const s = input as StorageIn;
        const scheme = /^s3a?:/.test(s.uri) ? 's3' : /^(hdfs|webhdfs|swebhdfs):/.test(s.uri) ? 'hdfs' : 'local';
        if (scheme !== s.type) throw lakehouseError('VALIDATION_FAILED', `uri ${s.uri} is not a ${s.type} location`);
      }
    };

    app.get(base, { schema: { tags, summary: `List ${label}s`, response: responses({ 200: Type.Object({ sources: Type.Array(Output) }) }) } }, async (_req, reply) =>
      send(reply, 200, { sources: (await store.listSources(kind)).map((r) => view(r, 'mask')) }),
    );
    app.post(
      base,
      { schema: { tags, summary: `Register a ${label}`, body: Input, response: responses({ 201: Output }) } },
      async (req, reply) => {
        const input = req.body as Record<string, unknown>;
        check(input);
        const { config, secrets } = split(kind, input);
        const rec = await store.createSource(kind, input.name as string, config, secrets);
        req.log.info({ sourceId: rec.id, kind }, 'data source created');
        return send(reply, 201, view(rec, 'mask'));
      },
    );
    app.get(`${base}/:id`, { schema: { tags, summary: `Describe a ${label}`, params: IdParams, response: responses({ 200: Output }) } }, async (req, reply) =>
      send(reply, 200, view(await load((req.params as { id: string }).id), 'mask')),
    );
    app.put(
      `${base}/:id`,
      {
        schema: {
          tags,
          summary: `Replace a ${label} (omitted secrets are kept, "" clears one)`,
          params: IdParams,
          body: Input,
          response: responses({ 200: Output }),
        },
      },
      async (req, reply) => {
        const { id } = req.params as { id: string };
        const prev = await load(id);
        const input = req.body as Record<string, unknown>;
        check(input);
        const { config, secrets } = split(kind, input, prev.secrets);
        return send(reply, 200, view(await store.updateSource(kind, id, input.name as string, config, secrets), 'mask'));
      },
    );
    app.delete(`${base}/:id`, { schema: { tags, summary: `Delete a ${label}`, params: IdParams, response: responses({ 204: Type.Null() }) } }, async (req, reply) => {
      await store.deleteSource(kind, (req.params as { id: string }).id);
      return reply.code(204).send();
    });
    app.post(
      `${base}/:id/test`,
      {
        schema: {
          tags,
          summary:
            kind === 'kafka'
              ? 'Test a Kafka cluster: open a TCP connection to each bootstrap server'
              : 'Test a storage location: list it with its credentials',
          params: IdParams,
          querystring: TestQuery,
          response: responses({ 200: TestResult }),
        },
      },
      async (req, reply) => {
        const rec = await load((req.params as { id: string }).id);
        const timeoutMs = (req.query as { timeoutMs?: number }).timeoutMs ?? 2000;
        const doc = view(rec, 'reveal');
        let result: TestResultT;
        if (kind === 'kafka') {
          const checks = await Promise.all((doc as unknown as KafkaIn).bootstrapServers.map((s) => probeTcp(s, timeoutMs)));
          result = { ok: checks.every((c) => c.ok), checks };
        } else {
          result = await testStorage(doc as unknown as StorageIn, timeoutMs);
        }
        req.log.info({ sourceId: rec.id, kind, ok: result.ok }, 'data source connection test');
        return send(reply, 200, result);
      },
    );
  }
}
