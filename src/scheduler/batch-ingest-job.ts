/**
 * The `batch-ingest` job kind: files from a storage path (one file, a folder, or a glob such as
 * `s3://landing/orders/2026-*.csv`) or one http(s) URL land in a table through the batch ingest
 * path (src/ingest/batch: mapping, dead letters, one atomic commit per file).
 *
 * Idempotence: a scheduled run ingests only files the table has not received before. Each file is
 * committed on its own (snapshot summary `lakehouse.ingest.source` = its location) and then
 * recorded in the ingest ledger (ingest-ledger.ts). A crash between the two leaves a commit with
 * no ledger entry; the next run first adds every location named by a retained snapshot's summary
 * to the ledger, so that file is not ingested twice (unless the snapshot was expired in between).
 * A file is identified by its location; with `reingestChanged` a file whose version (size and
 * mtime, or a URL's ETag / Last-Modified) differs from the recorded one is ingested again.
 * Files are taken in location order, at most `maxFiles` per run; a run that fails part-way keeps
 * the files it committed, and the retry continues with the rest.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { OwnStore } from '../api/own/store.js';
import type { TableIdent } from '../catalog/store.js';
import { lakehouseError } from '../core/errors.js';
import { BATCH_FORMATS, formatFromName, ingestFile, type BatchFormat, type CsvOptions } from '../ingest/batch/batch-ingest.js';
import { sourceAccess, type SourceAccess } from '../ingest/batch/source-location.js';
import type { RecordMapping } from '../ingest/mapping.js';
import type { FileIO } from '../storage/fileio.js';
import type { ExecContext, ExecResult } from './executors.js';
import { IngestLedger } from './ingest-ledger.js';

export interface BatchIngestParams {
  table: TableIdent;
  path: string | null;
  url: string | null;
  format: BatchFormat | null;
  csv: CsvOptions;
  mapping: RecordMapping | undefined;
  maxFiles: number;
  reingestChanged: boolean;
}

const bad = (msg: string) => lakehouseError('VALIDATION_FAILED', msg);

/** Parses and checks a batch-ingest job's params (VALIDATION_FAILED). */
export function batchIngestParams(p: Record<string, unknown>): BatchIngestParams {
  const s = (k: string) => {
    const v = p[k];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' || v.trim() === '') throw bad(`params.${k} must be a non-empty string`);
    return v;
  };
  const ns = p.namespace;
  const namespace = Array.isArray(ns) && ns.length > 0 ? ns.map(String) : (s('namespace') ?? '').split('.');
  const name = s('table');
  if (!name || namespace.some((n) => n === '')) throw bad('params.namespace and params.table name the target table');
  const path = s('path');
  const url = s('url');
  if ((path === null) === (url === null)) throw bad('give exactly one of params.path (a storage file, folder or glob) and params.url (http or https)');
  if (url !== null) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw bad(`params.url is not a URL: ${url}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad('params.url must be http or https');
  }
  const format = s('format');
  if (format !== null && !BATCH_FORMATS.includes(format as BatchFormat)) throw bad(`params.format must be one of ${BATCH_FORMATS.join(', ')}`);
  const mapping = p.mapping;
  if (mapping !== undefined && mapping !== null && (typeof mapping !== 'object' || Array.isArray(mapping))) throw bad('params.mapping must be an object');
  const maxFiles = p.maxFiles ?? 1000;
  if (typeof maxFiles !== 'number' || !Number.isInteger(maxFiles) || maxFiles < 1) throw bad('params.maxFiles must be a positive integer');
  if (p.header !== undefined && typeof p.header !== 'boolean') throw bad('params.header must be a boolean');
  if (p.reingestChanged !== undefined && typeof p.reingestChanged !== 'boolean') throw bad('params.reingestChanged must be a boolean');
  return {
    table: { namespace, name },
    path,
    url,
    format: format as BatchFormat | null,
    csv: { delimiter: s('delimiter') ?? undefined, quote: s('quote') ?? undefined, header: p.header as boolean | undefined },
    mapping: (mapping ?? undefined) as RecordMapping | undefined,
    maxFiles,
    reingestChanged: p.reingestChanged === true,
  };
}

interface Candidate {
  location: string;
  version: string | null;
  size: number | null;
}

/** `*` and `?` within one path segment, `**` across segments. */
function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** The files a storage path names: itself, everything under a folder, or a glob's matches. */
async function storageCandidates(io: FileIO, path: string): Promise<Candidate[]> {
  const version = (f: { size: number; lastModified: number }) => `${f.size}:${f.lastModified}`;
  const g = path.search(/[*?]/);
  let files;
  if (g >= 0) {
    const base = path.slice(0, path.lastIndexOf('/', g) + 1);
    const re = globRegExp(path);
    files = (await io.list(base)).filter((f) => re.test(f.location));
  } else {
    const st = path.endsWith('/') ? null : await io.stat(path);
    files = st ? [{ ...st, location: path }] : await io.list(path.endsWith('/') ? path : `${path}/`);
  }
  // Hidden and marker files (_SUCCESS, .crc) are not data.
  return files.filter((f) => !/(^|\/)[._][^/]*$/.test(f.location)).map((f) => ({ location: f.location, version: version(f), size: f.size }));
}

async function download(url: string, dir: string, signal: AbortSignal): Promise<{ path: string; version: string | null; size: number }> {
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (e) {
    throw lakehouseError('BAD_REQUEST', `cannot fetch ${url}: ${(e as Error).message}`);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw lakehouseError(res.status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', `GET ${url}: HTTP ${res.status}`);
  }
  const path = join(dir, 'download');
  const out = createWriteStream(path);
  await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), out);
  return { path, version: res.headers.get('etag') ?? res.headers.get('last-modified'), size: out.bytesWritten };
}

export async function batchIngestExecutor(ctx: ExecContext): Promise<ExecResult> {
  const { catalog, job, run, signal, log, store } = ctx;
  const p = batchIngestParams(job.params);
  if (!(await catalog.tableExists(p.table))) throw lakehouseError('NOT_FOUND', `target table ${[...p.table.namespace, p.table.name].join('.')} does not exist`);
  const table = await catalog.loadTable(p.table);
  const uuid = table.metadata['table-uuid'];
  const ledger = new IngestLedger(store.db, store.catalogName);
  const done = await ledger.entries(uuid);

  // Locations the table's retained history says were ingested (see the module comment).
  const committed = new Map<string, { snapshotId: string; at: number }>();
  for (const snap of table.metadata.snapshots ?? []) {
    const loc = snap.summary?.['lakehouse.ingest.source'];
    if (loc) committed.set(loc, { snapshotId: String(snap['snapshot-id']), at: snap['timestamp-ms'] });
  }

  const dir = await mkdtemp(join(tmpdir(), 'lakehouse-sched-ingest-'));
  let access: SourceAccess | null = null;
  let rows = 0;
  let files = 0;
  try {
    let candidates: Candidate[];
    if (p.path !== null) {
      access = sourceAccess(catalog, table, await new OwnStore(store.db, store.catalogName).listSources('storage'), p.path);
      candidates = await storageCandidates(access.io, p.path);
      log(`${candidates.length} files at ${p.path} (via ${access.via})`);
    } else {
      candidates = [{ location: p.url!, version: null, size: null }];
    }
    candidates.sort((a, b) => (a.location < b.location ? -1 : a.location > b.location ? 1 : 0));
    for (const c of candidates) {
      const h = committed.get(c.location);
      if (!h || done.has(c.location)) continue;
      const entry = { location: c.location, version: c.version, size: c.size, rows: null, snapshotId: h.snapshotId, jobId: job.id, runId: run.id, ingestedAt: h.at };
      await ledger.record(uuid, entry);
      done.set(c.location, entry);
      log(`${c.location} was committed (snapshot ${h.snapshotId}) but missing from the ingest ledger; recorded, not ingested again`, 'warn');
    }
    const isNew = (c: Candidate) => {
      const prev = done.get(c.location);
      if (!prev) return true;
      // A URL's version is known only once fetched (compared below).
      return p.reingestChanged && (p.url !== null || (c.version !== null && prev.version !== c.version));
    };
    let pending = candidates.filter(isNew);
    if (p.url === null && pending.length < candidates.length) log(`${candidates.length - pending.length} files ingested before, skipped`);
    if (pending.length > p.maxFiles) {
      log(`${pending.length} new files; this run takes the first ${p.maxFiles}`);
      pending = pending.slice(0, p.maxFiles);
    }
    for (const c of pending) {
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
      const format = p.format ?? formatFromName(new URL(c.location, 'file:///').pathname);
      if (!format) throw bad(`cannot tell the format of ${c.location}: give params.format (${BATCH_FORMATS.join(', ')})`);
      let local: string;
      let version = c.version;
      let size = c.size;
      if (p.url !== null) {
        const d = await download(c.location, dir, signal);
        if (done.has(c.location) && !(p.reingestChanged && d.version !== null && d.version !== done.get(c.location)!.version)) {
          log(`${c.location} ingested before, skipped`);
          continue;
        }
        ({ path: local, version, size } = d);
      } else {
        local = await access!.io.localPath(c.location);
      }
      const res = await ingestFile({ catalog, table: p.table, mapping: p.mapping, sourceLabel: c.location }, local, format, p.csv);
      await ledger.record(uuid, { location: c.location, version, size, rows: res.rowsCommitted, snapshotId: res.snapshotId, jobId: job.id, runId: run.id, ingestedAt: Date.now() });
      rows += res.rowsCommitted;
      files++;
      log(`${c.location}: ${res.rowsCommitted} rows${res.rowsDeadLettered ? `, ${res.rowsDeadLettered} dead letters` : ''} (snapshot ${res.snapshotId ?? 'none'})`, res.rowsDeadLettered ? 'warn' : 'info');
    }
    if (files === 0) log('nothing new to ingest');
    return { rowsAffected: rows, filesAffected: files };
  } finally {
    access?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
