import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Catalog } from '../../catalog/catalog.js';
import { lakehouseError } from '../../core/errors.js';
import { ARROW_FILE, ARROW_STREAM, toArrowIpc, type ArrowFormat } from '../../query/arrow.js';
import { QueryEngine } from '../../query/engine.js';
import { createReadStream } from 'node:fs';
import { csvHeader, csvRows, PARQUET, toParquetFile } from '../../query/formats.js';
import { QueryHistoryStore, type HistoryEntry as StoredEntry, type HistoryStatus } from '../../query/history-store.js';
import { QueryManager, type QueryManagerOptions, type QueryRecord } from '../../query/query-manager.js';
import { ErrorResponse, NamespaceParam, parseNamespace, send, SnapshotId } from './common.js';
import { auditColumns, auditResource, authorizerFor, requestAuth } from '../../security/index.js';
import { sqlStoreOf } from '../../catalog/sql-store-of.js';

/**
 * SQL queries: `POST /queries` runs one statement (SELECT, or a write: INSERT / CTAS / DELETE /
 * UPDATE / MERGE) synchronously (JSON, CSV or Arrow IPC by `Accept`, first page) or
 * asynchronously (202, then poll status with progress and page through results); `DELETE`
 * cancels (interrupts DuckDB); `GET /queries` is the history, newest first — persisted in the
 * catalog database when the catalog has one. Engine error codes keep their registry statuses
 * (bad SQL 400, unknown table 404, timeout 408 QueryTimeoutException, cancelled 409
 * QueryCancelledException).
 */
const MAX_PAGE = 100_000;
const DEFAULT_PAGE = 10_000;

const QueryInput = Type.Object(
  {
    sql: Type.String({ minLength: 1, maxLength: 1_000_000, description: 'One SQL statement; tables as namespace.table' }),
    defaultNamespace: Type.Optional(NamespaceParam),
    snapshotId: Type.Optional(SnapshotId),
    asOf: Type.Optional(Type.String({ format: 'date-time', description: 'Read tables as of this time (ISO 8601)' })),
    async: Type.Optional(Type.Boolean({ default: false, description: 'Return 202 at once and run in the background' })),
    maxRows: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Row limit (default 100000); beyond it `truncated` is true' })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000, description: 'Time limit from submission (default 300000)' })),
    memoryLimitMb: Type.Optional(Type.Integer({ minimum: 16, maximum: 1_048_576, description: "Memory limit for this query in MiB; it can only lower the service's limit (LAKEHOUSE_QUERY_MEMORY_LIMIT, default 2GB). Beyond it the query fails with QUERY_MEMORY_LIMIT" })),
    pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, description: `Rows in the first page (sync mode; default ${DEFAULT_PAGE})` })),
  },
  { additionalProperties: false },
);
type QueryIn = Static<typeof QueryInput>;

const QueryState = Type.Union(['queued', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => Type.Literal(s)));
const Columns = Type.Array(Type.Object({ name: Type.String(), type: Type.String({ description: 'DuckDB type' }) }));
const Rows = Type.Array(Type.Array(Type.Unknown()), { description: 'Row values as JSON (BIGINT beyond 2^53 and DECIMAL as strings)' });
const Stats = Type.Object({
  tables: Type.Array(Type.String()),
  dataFiles: Type.Integer(),
  filesScanned: Type.Integer(),
  filesPruned: Type.Integer(),
  bytesScanned: Type.Integer(),
  totalBytes: Type.Integer(),
  planningMs: Type.Integer(),
  executionMs: Type.Integer(),
  external: Type.Optional(
    Type.Array(
      Type.Object({
        table: Type.String({ description: '<source>.<schema>.<table>' }),
        kind: Type.String(),
        columns: Type.Array(Type.String(), { description: 'Columns fetched (projection pushdown)' }),
        sql: Type.String({ description: 'The statement sent to the source (PostgreSQL: $n placeholders) or run over the files' }),
        params: Type.Array(Type.String()),
        filterPushed: Type.Boolean(),
        rows: Type.Optional(Type.Integer({ description: 'Rows loaded (absent when a row filter applies)' })),
        ms: Type.Integer(),
      }),
      { description: 'External tables read (federated SQL)' },
    ),
  ),
});
const QueryError = Type.Object({ code: Type.String({ description: 'Error code, e.g. BAD_REQUEST, QUERY_TIMEOUT' }), message: Type.String() });
const Page = {
  queryId: Type.String({ format: 'uuid' }),
  columns: Columns,
  rows: Rows,
  truncated: Type.Boolean({ description: 'The result hit maxRows' }),
  rowCount: Type.Integer({ description: 'Rows in the whole (possibly truncated) result' }),
  nextPageToken: Type.Optional(Type.String({ description: 'GET /queries/{id}/results?pageToken=… for the next page' })),
};
const SyncResult = Type.Object({ ...Page, state: Type.Literal('succeeded'), stats: Stats });
const ResultsPage = Type.Object(Page);
const QueryStatus = Type.Object({
  queryId: Type.String({ format: 'uuid' }),
  sql: Type.String(),
  state: QueryState,
  submittedAt: Type.String({ format: 'date-time' }),
  startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  durationMs: Type.Union([Type.Integer(), Type.Null()]),
  progress: Type.Union([Type.Number({ description: 'Percent done (0–100): DuckDB’s estimate while running, 100 once succeeded; null when unknown' }), Type.Null()]),
  rowCount: Type.Union([Type.Integer(), Type.Null()]),
  truncated: Type.Boolean(),
  resultsAvailable: Type.Boolean(),
  stats: Type.Union([Stats, Type.Null()]),
  error: Type.Union([QueryError, Type.Null()]),
});
const HistoryEntry = Type.Object({
  queryId: Type.String({ format: 'uuid' }),
  sql: Type.String(),
  principal: Type.Union([Type.String(), Type.Null()], { description: 'Who ran it (null for queries submitted without an authenticated caller)' }),
  state: QueryState,
  submittedAt: Type.String({ format: 'date-time' }),
  startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  durationMs: Type.Union([Type.Integer({ description: 'From start to end of execution' }), Type.Null()]),
  rowCount: Type.Union([Type.Integer(), Type.Null()]),
  bytesScanned: Type.Union([Type.Integer(), Type.Null()]),
  filesScanned: Type.Union([Type.Integer(), Type.Null()]),
  filesPruned: Type.Union([Type.Integer(), Type.Null()]),
  error: Type.Union([QueryError, Type.Null()]),
});

const otherContent = {
  'text/csv': { schema: Type.String({ description: 'RFC 4180 CSV; header row on the first page; next page token in X-Next-Page-Token' }) },
  [ARROW_STREAM]: { schema: Type.String({ format: 'binary', description: 'Arrow IPC stream of the page (schema from DuckDB types: BIGINT→Int64, DECIMAL→Decimal128, TIMESTAMPTZ→Timestamp(µs, UTC), …); next page token in X-Next-Page-Token' }) },
  [ARROW_FILE]: { schema: Type.String({ format: 'binary', description: 'Arrow IPC file of the page' }) },
  [PARQUET]: { schema: Type.String({ format: 'binary', description: 'Parquet file of the page with the DuckDB column types (nested BLOB/MAP/UNION values answer 406: use Arrow)' }) },
};
const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema }, ...otherContent } });

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function statusView(m: QueryManager, rec: QueryRecord | StoredEntry): Static<typeof QueryStatus> {
  if (!('controller' in rec)) {
    // Persisted only (another process's query, or one from before a restart): no results here.
    return {
      queryId: rec.id,
      sql: rec.sql,
      state: rec.status,
      submittedAt: iso(rec.submittedAt)!,
      startedAt: iso(rec.startedAt),
      finishedAt: iso(rec.endedAt),
      durationMs: rec.durationMs,
      progress: rec.status === 'succeeded' ? 100 : null,
      rowCount: rec.rowCount,
      truncated: rec.truncated,
      resultsAvailable: false,
      stats: rec.stats,
      error: rec.error,
    };
  }
  return {
    queryId: rec.id,
    sql: rec.sql,
    state: rec.state,
    submittedAt: iso(rec.submittedAt)!,
    startedAt: iso(rec.startedAt),
    finishedAt: iso(rec.finishedAt),
    durationMs: rec.startedAt !== null ? (rec.finishedAt ?? Date.now()) - rec.startedAt : null,
    progress: m.progress(rec),
    rowCount: rec.rowCount,
    truncated: rec.truncated,
    resultsAvailable: rec.result !== null,
    stats: rec.stats,
    error: rec.error ? { code: rec.error.code, message: rec.error.message } : null,
  };
}

function historyView(e: StoredEntry): Static<typeof HistoryEntry> {
  return {
    queryId: e.id,
    sql: e.sql,
    principal: e.principal,
    state: e.status,
    submittedAt: iso(e.submittedAt)!,
    startedAt: iso(e.startedAt),
    finishedAt: iso(e.endedAt),
    durationMs: e.durationMs,
    rowCount: e.rowCount,
    bytesScanned: e.bytesScanned,
    filesScanned: e.filesScanned,
    filesPruned: e.filesPruned,
    error: e.error,
  };
}

function pageToken(id: string, offset: number): string {
  return Buffer.from(`${id}:${offset}`).toString('base64url');
}

function parsePageToken(id: string, token: string | undefined): number {
  if (!token) return 0;
  const m = /^([0-9a-f-]+):(\d+)$/.exec(Buffer.from(token, 'base64url').toString());
  if (!m || m[1] !== id) throw lakehouseError('BAD_REQUEST', 'invalid pageToken for this query');
  return Number(m[2]);
}

type Rendering = 'json' | 'csv' | 'parquet' | ArrowFormat;
const RENDERINGS: Record<string, Rendering> = { 'application/json': 'json', 'text/csv': 'csv', [ARROW_STREAM]: 'stream', [ARROW_FILE]: 'file', [PARQUET]: 'parquet' };

/** The rendering the `Accept` header prefers (highest q, then first listed); JSON by default. */
export function negotiate(accept: string | undefined): Rendering {
  let best: { r: Rendering; q: number } | null = null;
  for (const part of String(accept ?? '').split(',')) {
    const [type, ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    const r = RENDERINGS[type];
    if (!r) continue;
    const qp = params.find((p) => p.startsWith('q='));
    const q = qp ? Number(qp.slice(2)) : 1;
    if (Number.isFinite(q) && q > 0 && (!best || q > best.q)) best = { r, q };
  }
  return best?.r ?? 'json';
}

/** Sends one page of a finished query as JSON (with `extra` fields), CSV, Arrow IPC or Parquet. */
async function sendPage(m: QueryManager, req: FastifyRequest, reply: FastifyReply, rec: QueryRecord, offset: number, size: number, extra: Record<string, unknown>): Promise<FastifyReply> {
  const { rows, next } = m.page(rec, offset, size);
  const columns = rec.result!.columns;
  const token = next === null ? undefined : pageToken(rec.id, next);
  const rendering = negotiate(req.headers.accept);
  // CSV, Arrow and Parquet pages carry in headers what the JSON body holds in fields (set once
  // the page is rendered, so a rendering error answers without them).
  const withPageHeaders = (): FastifyReply => {
    reply.header('x-query-id', rec.id).header('x-truncated', String(rec.truncated)).header('x-row-count', String(rec.rowCount));
    if (token) reply.header('x-next-page-token', token);
    return reply.code(200);
  };
  if (rendering === 'stream' || rendering === 'file') {
    const arrow = rendering;
    const bytes = toArrowIpc(columns, rec.result!.duckTypes, rows, arrow);
    return withPageHeaders().type(arrow === 'stream' ? ARROW_STREAM : ARROW_FILE).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
  if (rendering === 'parquet') {
    const file = await toParquetFile(columns, rec.result!.duckTypes, rows);
    const stream = createReadStream(file.path);
    // Removed once sent or when the client goes away mid-download.
    stream.on('close', () => void file.cleanup());
    return withPageHeaders().type(PARQUET).send(stream);
  }
  if (rendering === 'csv') {
    const header = offset === 0;
    return withPageHeaders()
      .type(`text/csv; charset=utf-8; header=${header ? 'present' : 'absent'}`)
      .send((header ? csvHeader(columns) : '') + csvRows(rows));
  }
  return send(reply, 200, { queryId: rec.id, ...extra, columns, rows, truncated: rec.truncated, rowCount: rec.rowCount, ...(token ? { nextPageToken: token } : {}) });
}

/** Names the tables and columns a finished query touched in the request's audit record. */
function auditQuery(req: FastifyRequest, rec: QueryRecord): void {
  if (rec.stats?.tables.length) auditResource(req, [...new Set(rec.stats.tables)].join(','), rec.error ? rec.error.message : undefined);
  else if (rec.error) auditResource(req, 'catalog', rec.error.message);
  if (rec.result?.touched) auditColumns(req, rec.result.touched);
}

export function registerQueryRoutes(app: FastifyInstance, catalog: Catalog, opts: QueryManagerOptions = {}): QueryManager {
  const manager = new QueryManager(new QueryEngine(catalog), { history: historyStoreFor(catalog), log: app.log, ...opts });
  /**
   * Queries are private to who ran them (their results passed through that caller's masks and
   * filters); MANAGE on the catalog sees all. Someone else's query answers 404.
   */
  const seesAll = async (req: FastifyRequest): Promise<boolean> => {
    const auth = requestAuth(req);
    const authz = auth ? authorizerFor(catalog) : null;
    return !auth || !authz || (await authz.allowed(auth, 'MANAGE', {}));
  };
  const ensureOwner = async (req: FastifyRequest, id: string, principal: string | null): Promise<void> => {
    if (principal !== null && principal === requestAuth(req)?.principal) return;
    if (!(await seesAll(req))) throw lakehouseError('NOT_FOUND', `no query ${id}`);
  };
  app.addHook('onClose', async () => manager.close());
  const tags = ['queries'];
  const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

  app.post(
    '/queries',
    {
      schema: {
        tags,
        summary: 'Run a SQL query (sync: first page of results as JSON, CSV or Arrow IPC; async: 202 and poll)',
        body: QueryInput,
        response: {
          200: json(SyncResult, 'Query result (first page)'),
          202: Type.Object({ queryId: Type.String({ format: 'uuid' }), state: QueryState }),
          default: ErrorResponse,
        },
      },
    },
    async (req, reply) => {
      const b = req.body as QueryIn;
      if (b.snapshotId !== undefined && b.asOf !== undefined) throw lakehouseError('BAD_REQUEST', 'give snapshotId or asOf, not both');
      const asOfMs = b.asOf === undefined ? undefined : Date.parse(b.asOf);
      if (asOfMs !== undefined && !Number.isFinite(asOfMs)) throw lakehouseError('BAD_REQUEST', `invalid asOf timestamp ${b.asOf}`);
      const rec = manager.submit({
        sql: b.sql,
        defaultNamespace: b.defaultNamespace === undefined ? undefined : parseNamespace(b.defaultNamespace),
        snapshotId: b.snapshotId === undefined ? undefined : BigInt(b.snapshotId),
        asOfMs,
        maxRows: b.maxRows,
        timeoutMs: b.timeoutMs,
        memoryLimitMb: b.memoryLimitMb,
        auth: requestAuth(req),
      });
      req.log.info({ queryId: rec.id, async: Boolean(b.async) }, 'query submitted');
      if (b.async) return reply.header('location', `/api/v1/queries/${rec.id}`).code(202).type('application/json').send(JSON.stringify({ queryId: rec.id, state: rec.state }));
      // A client that goes away cancels its synchronous query.
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) manager.cancel(rec.id);
      });
      await rec.done;
      auditQuery(req, rec);
      if (rec.error) throw lakehouseError(rec.error.code, rec.error.message);
      return sendPage(manager, req, reply, rec, 0, b.pageSize ?? DEFAULT_PAGE, { state: rec.state, stats: rec.stats });
    },
  );

  app.get(
    '/queries',
    {
      schema: {
        tags,
        summary: 'Query history, newest first (persisted in the catalog database when there is one)',
        querystring: Type.Object({
          status: Type.Optional(QueryState),
          since: Type.Optional(Type.String({ format: 'date-time', description: 'Only queries submitted at or after this time' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
        }),
        response: { 200: Type.Object({ queries: Type.Array(HistoryEntry) }), default: ErrorResponse },
      },
    },
    async (req, reply) => {
      const q = req.query as { status?: HistoryStatus; since?: string; limit?: number };
      const sinceMs = q.since === undefined ? undefined : Date.parse(q.since);
      if (sinceMs !== undefined && !Number.isFinite(sinceMs)) throw lakehouseError('BAD_REQUEST', `invalid since timestamp ${q.since}`);
      const principal = (await seesAll(req)) ? undefined : requestAuth(req)!.principal;
      const entries = await manager.list({ status: q.status, sinceMs, principal, limit: q.limit ?? 50 });
      return send(reply, 200, { queries: entries.map(historyView) });
    },
  );

  app.get(
    '/queries/:id',
    { schema: { tags, summary: 'Query status, progress, stats and error', params: IdParams, response: { 200: QueryStatus, default: ErrorResponse } } },
    async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const rec = await manager.lookup(id);
      if (!rec) throw lakehouseError('NOT_FOUND', `no query ${id}`);
      await ensureOwner(req, id, rec.principal);
      return send(reply, 200, statusView(manager, rec));
    },
  );

  app.get(
    '/queries/:id/results',
    {
      schema: {
        tags,
        summary: 'A page of a finished query’s results (JSON, CSV or Arrow IPC)',
        params: IdParams,
        querystring: Type.Object({
          pageToken: Type.Optional(Type.String({ maxLength: 200 })),
          pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })),
        }),
        response: { 200: json(ResultsPage, 'Result page'), default: ErrorResponse },
      },
    },
    async (req, reply) => {
      const rec = manager.get((req.params as { id: string }).id);
      await ensureOwner(req, rec.id, rec.principal);
      auditQuery(req, rec);
      const q = req.query as { pageToken?: string; pageSize?: number };
      return sendPage(manager, req, reply, rec, parsePageToken(rec.id, q.pageToken), q.pageSize ?? DEFAULT_PAGE, {});
    },
  );

  app.delete(
    '/queries/:id',
    { schema: { tags, summary: 'Cancel a queued or running query (interrupts it)', params: IdParams, response: { 200: QueryStatus, default: ErrorResponse } } },
    async (req, reply) => {
      const id = (req.params as { id: string }).id;
      await ensureOwner(req, id, manager.get(id).principal);
      const rec = manager.cancel(id);
      // Report the settled state when the interrupt lands quickly.
      await Promise.race([rec.done, new Promise((r) => setTimeout(r, 5000).unref())]);
      return send(reply, 200, statusView(manager, rec));
    },
  );
  return manager;
}

/** The persisted history over a SqlCatalog's database, or null for other catalogs (in-memory history). */
export function historyStoreFor(catalog: Catalog): QueryHistoryStore | null {
  const store = sqlStoreOf(catalog);
  if (!store) return null;
  return new QueryHistoryStore(store.db as never, store.catalogName);
}
