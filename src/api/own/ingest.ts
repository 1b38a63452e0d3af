import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import multipart from '@fastify/multipart';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Catalog } from '../../catalog/catalog.js';
import { isLakehouseError, lakehouseError } from '../../core/errors.js';
import { BATCH_FORMATS, formatFromName, ingestFile, ingestRows, type BatchFormat, type CsvOptions } from '../../ingest/batch/batch-ingest.js';
import { jobManagerFor } from '../../ingest/job-manager.js';
import type { RecordMapping } from '../../ingest/mapping.js';
import { Id, NameParam, NamespaceParam, responses, send, tableIdent } from './common.js';
import type { OwnStore } from './store.js';
import { sourceAccess } from '../../ingest/batch/source-location.js';

/**
 * Batch ingestion into a table (file upload, rows, a file in storage) and the run operations of
 * ingestion jobs (start, pause, resume, stop, reset, status, runs). See src/ingest/batch and
 * src/ingest/job-manager.ts.
 */
const TableParams = Type.Object({ namespace: NamespaceParam, table: NameParam });
type TableP = Static<typeof TableParams>;

const Format = Type.Union(BATCH_FORMATS.map((f) => Type.Literal(f)), { description: 'csv, json (array), ndjson or parquet' });
const Mapping = Type.Object(
  {
    columns: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Per column: a source field name, or {from, cast, default, min, max, pattern, enum}' })),
    drop: Type.Optional(Type.Array(Type.String())),
    unknownFields: Type.Optional(Type.Union([Type.Literal('ignore'), Type.Literal('reject')])),
  },
  { additionalProperties: false, description: 'Record → column mapping and validation rules (as for streaming jobs)' },
);
const CsvFields = {
  delimiter: Type.Optional(Type.String({ minLength: 1, maxLength: 4 })),
  header: Type.Optional(Type.Boolean()),
  quote: Type.Optional(Type.String({ minLength: 1, maxLength: 1 })),
};

const IngestResult = Type.Object(
  {
    ingestId: Type.String(),
    records: Type.Integer(),
    rowsCommitted: Type.Integer(),
    rowsDeadLettered: Type.Integer({ description: 'Rows written to <table>__dlq with their reason' }),
    snapshotId: Type.Union([Type.String(), Type.Null()], { description: 'The data commit (null when there was nothing to commit)' }),
    deadLetterSnapshotId: Type.Union([Type.String(), Type.Null()]),
    ms: Type.Integer(),
  },
  { additionalProperties: false },
);

const RowsBody = Type.Object({ rows: Type.Array(Type.Unknown(), { maxItems: 100_000 }), mapping: Type.Optional(Mapping) }, { additionalProperties: false });
const StorageBody = Type.Object(
  { location: Type.String({ minLength: 1, maxLength: 4096, description: 'A file URI or absolute path readable through the service storage' }), format: Type.Optional(Format), mapping: Type.Optional(Mapping), ...CsvFields },
  { additionalProperties: false },
);

const PartitionStatus = Type.Object({ topic: Type.String(), partition: Type.Integer(), committedOffset: Type.Union([Type.String(), Type.Null()]), endOffset: Type.String(), lag: Type.String() });
const State = Type.Union(['starting', 'running', 'paused', 'stopping', 'stopped', 'failed'].map((s) => Type.Literal(s)));
const JobStatus = Type.Object({
  jobId: Type.String(),
  state: State,
  partitions: Type.Array(PartitionStatus),
  totalLag: Type.Union([Type.String(), Type.Null()], { description: 'Sum of the partition lags; null when the broker could not be asked (see errors).' }),
  rowsPerSecond: Type.Number(),
  lastCommitAt: Type.Union([Type.String(), Type.Null()]),
  rowsCommitted: Type.Integer(),
  deadLettersCommitted: Type.Integer(),
  deadLetterTableRows: Type.Integer(),
  commits: Type.Integer(),
  errors: Type.Array(Type.Object({ at: Type.String(), message: Type.String() })),
});
const Run = Type.Object({
  runId: Type.Integer(),
  startedAt: Type.String(),
  endedAt: Type.Union([Type.String(), Type.Null()]),
  state: State,
  rowsCommitted: Type.Integer(),
  deadLetters: Type.Integer(),
  commits: Type.Integer(),
  lastCommitAt: Type.Union([Type.String(), Type.Null()]),
  error: Type.Optional(Type.String()),
});
const ResetBody = Type.Union(
  [
    Type.Object({ offsets: Type.Record(Type.String(), Type.Record(Type.String({ pattern: '^[0-9]+$' }), Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]+$' })]))) }, { additionalProperties: false }),
    Type.Object({ timestampMs: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
    Type.Object({ position: Type.Union([Type.Literal('earliest'), Type.Literal('latest')]) }, { additionalProperties: false }),
  ],
  { description: 'Explicit offsets per topic and partition, a timestamp, or earliest/latest' },
);

function csvOptions(b: { delimiter?: string; header?: boolean | string; quote?: string }): CsvOptions {
  return { delimiter: b.delimiter, header: typeof b.header === 'string' ? b.header !== 'false' : b.header, quote: b.quote };
}

function pickFormat(explicit: string | undefined, name: string): BatchFormat {
  const f = explicit ?? formatFromName(name);
  if (!f) throw lakehouseError('VALIDATION_FAILED', `cannot tell the format of ${JSON.stringify(name)}: give format (csv, json, ndjson, parquet)`);
  if (!BATCH_FORMATS.includes(f as BatchFormat)) throw lakehouseError('VALIDATION_FAILED', `unknown format ${f}`);
  return f as BatchFormat;
}

export function registerIngestRoutes(app: FastifyInstance, catalog: Catalog, store: OwnStore | null): void {
  const tags = ['ingestion'];
  void app.register(async (sub) => {
    await sub.register(multipart, { limits: { fileSize: Number.MAX_SAFE_INTEGER, files: 1, fields: 20, fieldSize: 1024 * 1024 } });

    sub.post(
      '/tables/:namespace/:table/ingest',
      {
        schema: {
          tags,
          summary: 'Upload a file into a table (one atomic commit)',
          description:
            'multipart/form-data with one `file` part (streamed to disk, any size) and optional fields `format` (csv, json, ndjson, parquet; ' +
            'default from the file name), `delimiter`, `header` (true/false), `quote` (CSV) and `mapping` (JSON text). Fields may also be ' +
            'given in the query string. Invalid records go to `<table>__dlq` with the reason.',
          consumes: ['multipart/form-data'],
          params: TableParams,
          querystring: Type.Object({ format: Type.Optional(Format), ...CsvFields }),
          response: responses({ 200: IngestResult }),
        },
      },
      async (req, reply) => {
        if (!req.isMultipart()) throw lakehouseError('BAD_REQUEST', 'expected a multipart/form-data upload with a file part');
        const fields: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.query as Record<string, unknown>)) if (v !== undefined) fields[k] = String(v);
        const dir = await mkdtemp(join(tmpdir(), 'lakehouse-upload-'));
        try {
          let file: { path: string; name: string } | null = null;
          try {
            for await (const part of req.parts()) {
              if (part.type === 'file') {
                if (file) throw lakehouseError('BAD_REQUEST', 'one file per upload');
                const path = join(dir, 'upload');
                await pipeline(part.file, createWriteStream(path));
                if (part.file.truncated) throw lakehouseError('BAD_REQUEST', 'upload truncated');
                file = { path, name: part.filename || 'upload' };
              } else {
                fields[part.fieldname] = String(part.value);
              }
            }
          } catch (e) {
            if (isLakehouseError(e)) throw e;
            throw lakehouseError('BAD_REQUEST', `malformed multipart upload: ${(e as Error).message}`);
          }
          if (!file) throw lakehouseError('BAD_REQUEST', 'no file part in the upload');
          const format = pickFormat(fields.format, file.name);
          let mapping: RecordMapping | undefined;
          if (fields.mapping) {
            try {
              mapping = JSON.parse(fields.mapping) as RecordMapping;
            } catch (e) {
              throw lakehouseError('BAD_REQUEST', `mapping is not JSON: ${(e as Error).message}`);
            }
          }
          const res = await ingestFile(
            { catalog, table: tableIdent(req.params as TableP), mapping, sourceLabel: `upload:${file.name}` },
            file.path,
            format,
            csvOptions({ delimiter: fields.delimiter, header: fields.header, quote: fields.quote }),
          );
          return send(reply, 200, res);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    );
  });

  app.post(
    '/tables/:namespace/:table/ingest/rows',
    { schema: { tags, summary: 'Push rows into a table (one atomic commit)', params: TableParams, body: RowsBody, response: responses({ 200: IngestResult }) } },
    async (req, reply) => {
      const b = req.body as Static<typeof RowsBody>;
      const res = await ingestRows({ catalog, table: tableIdent(req.params as TableP), mapping: b.mapping as RecordMapping | undefined, sourceLabel: 'rows' }, b.rows);
      return send(reply, 200, res);
    },
  );

  app.post(
    '/tables/:namespace/:table/ingest/from-storage',
    { schema: { tags, summary: 'Ingest a file from storage into a table (one atomic commit)', description: 'The location must be under the warehouse or under a registered storage source.', params: TableParams, body: StorageBody, response: responses({ 200: IngestResult }) } },
    async (req, reply) => {
      const b = req.body as Static<typeof StorageBody>;
      const ident = tableIdent(req.params as TableP);
      if (!(await catalog.tableExists(ident))) throw lakehouseError('NOT_FOUND', `table ${[...ident.namespace, ident.name].join('.')} does not exist`);
      const t = await catalog.loadTable(ident);
      const format = pickFormat(b.format, b.location);
      // Only under the warehouse or a registered storage source (read with that source's
      // credentials), so the endpoint cannot read arbitrary files of the service host.
      const access = sourceAccess(catalog, t, store ? await store.listSources('storage') : [], b.location);
      let path: string;
      try {
        if (!(await access.io.exists(b.location))) throw lakehouseError('NOT_FOUND', `no file at ${b.location}`);
        path = await access.io.localPath(b.location);
      } catch (e) {
        if (isLakehouseError(e)) throw e;
        throw lakehouseError('BAD_REQUEST', `cannot read ${b.location}: ${(e as Error).message}`);
      } finally {
        access.close();
      }
      const res = await ingestFile({ catalog, table: ident, mapping: b.mapping as RecordMapping | undefined, sourceLabel: b.location }, path, format, csvOptions(b));
      return send(reply, 200, res);
    },
  );

  if (!store) return;
  const jobs = () => jobManagerFor(catalog, store);
  // Closing the server stops the jobs this process runs (each commits what it has buffered).
  app.addHook('onClose', async () => {
    await jobs().stopAll();
  });
  const IdParams = Type.Object({ id: Id });
  const op = (name: 'start' | 'pause' | 'resume' | 'stop', summary: string) =>
    app.post(`/ingestion-jobs/:id/${name}`, { schema: { tags, summary, params: IdParams, response: responses({ 200: JobStatus }) } }, async (req, reply) =>
      send(reply, 200, await jobs()[name]((req.params as { id: string }).id)),
    );
  op('start', 'Start an ingestion job in this service process');
  op('pause', 'Pause a running job (commits what is buffered)');
  op('resume', 'Resume a paused job from the offsets recorded in its table');
  op('stop', 'Stop a job (commits what is buffered)');
  app.post(
    '/ingestion-jobs/:id/reset',
    {
      schema: {
        tags,
        summary: 'Reset a stopped job to offsets, a timestamp, or earliest/latest',
        description: 'Records the offsets in the target table (an empty snapshot carrying kafka.offsets.*); the next start consumes from there.',
        params: IdParams,
        body: ResetBody,
        response: responses({ 200: JobStatus }),
      },
    },
    async (req, reply) => send(reply, 200, await jobs().reset((req.params as { id: string }).id, req.body as never)),
  );
  app.get('/ingestion-jobs/:id/status', { schema: { tags, summary: 'Job status: state, per-partition lag, rows/s, last commit, errors', params: IdParams, response: responses({ 200: JobStatus }) } }, async (req, reply) =>
    send(reply, 200, await jobs().status((req.params as { id: string }).id)),
  );
  app.get('/ingestion-jobs/:id/runs', { schema: { tags, summary: 'Run history of a job (persisted in the catalog store; newest first)', params: IdParams, response: responses({ 200: Type.Object({ runs: Type.Array(Run) }) }) } }, async (req, reply) =>
    send(reply, 200, { runs: await jobs().history((req.params as { id: string }).id) }),
  );
}
