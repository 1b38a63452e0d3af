import { ERRORS, lakehouseError, type ErrorCode } from '../core/errors.js';
import { parseJsonLossless, stringifyJson } from '../core/json.js';
import { parseTableMetadata, type TableMetadata } from '../iceberg/metadata.js';
import type { FileIO } from '../storage/fileio.js';
import type { Catalog, CommitRequest, LoadedTable } from './catalog.js';
import type { Namespace, Page, PageRequest, TableIdent } from './store.js';

/**
 * A client of an Iceberg REST catalog (ours or any other) implementing the same Catalog contract
 * as the embedded catalogs, so the writer commits through a remote service unchanged: data and
 * manifests are written with the client's FileIO, the commit is `POST …/tables/{table}` with
 * requirements, and the server's 409 CommitFailedException becomes COMMIT_FAILED (retried by the
 * snapshot producer). JSON is lossless in both directions (snapshot ids exceed 2^53).
 */
export interface RestCatalogOptions {
  /** Base URI, e.g. http://localhost:8181 */
  uri: string;
  prefix?: string;
  io: FileIO;
  headers?: Record<string, string>;
}

const SEP = '\u001f';

export class RestCatalogClient implements Catalog {
  readonly name: string;
  private readonly base: string;

  constructor(private readonly opts: RestCatalogOptions) {
    this.name = opts.prefix ?? 'lakehouse';
    this.base = `${opts.uri.replace(/\/+$/, '')}/v1/${encodeURIComponent(this.name)}`;
  }

  private nsPath(ns: Namespace): string {
    return `${this.base}/namespaces/${encodeURIComponent(ns.join(SEP))}`;
  }

  private tablePath(id: TableIdent): string {
    return `${this.nsPath(id.namespace)}/tables/${encodeURIComponent(id.name)}`;
  }

  private async call(method: string, url: string, body?: unknown): Promise<Record<string, unknown> | null> {
    const res = await fetch(url, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...this.opts.headers },
      body: body === undefined ? undefined : stringifyJson(body),
    });
    const text = await res.text();
    const json = text ? (parseJsonLossless(text) as Record<string, unknown>) : null;
    if (!res.ok) {
      const err = (json?.error ?? {}) as { type?: string; message?: string };
      const code =
        (Object.keys(ERRORS) as ErrorCode[]).find((k) => ERRORS[k].type === err.type && ERRORS[k].status === res.status) ??
        (res.status === 409 ? 'COMMIT_FAILED' : res.status === 404 ? 'NOT_FOUND' : res.status >= 500 ? 'COMMIT_STATE_UNKNOWN' : 'BAD_REQUEST');
      throw lakehouseError(code, err.message ?? `HTTP ${res.status} from ${method} ${url}`);
    }
    return json;
  }

  private loaded(ident: TableIdent, json: Record<string, unknown> | null): LoadedTable {
    if (!json) throw lakehouseError('INTERNAL', 'empty response from the REST catalog');
    return { ident, metadataLocation: String(json['metadata-location']), metadata: parseTableMetadata(json.metadata), io: this.opts.io };
  }

  async createNamespace(namespace: Namespace, properties: Record<string, string> = {}): Promise<void> {
    await this.call('POST', `${this.base}/namespaces`, { namespace, properties });
  }

  async listNamespaces(parent: Namespace = [], page?: PageRequest): Promise<Page<Namespace>> {
    const q = new URLSearchParams();
    if (parent.length) q.set('parent', parent.join(SEP));
    if (page?.pageToken !== undefined && page.pageToken !== null) q.set('pageToken', page.pageToken);
    if (page?.pageSize) q.set('pageSize', String(page.pageSize));
    const r = await this.call('GET', `${this.base}/namespaces?${q}`);
    return { items: (r?.namespaces ?? []) as Namespace[], nextPageToken: (r?.['next-page-token'] as string | null) ?? null };
  }

  async loadNamespace(namespace: Namespace): Promise<Record<string, string>> {
    return ((await this.call('GET', this.nsPath(namespace)))?.properties ?? {}) as Record<string, string>;
  }

  async dropNamespace(namespace: Namespace): Promise<void> {
    await this.call('DELETE', this.nsPath(namespace));
  }

  async listTables(namespace: Namespace, page?: PageRequest): Promise<Page<TableIdent>> {
    const q = new URLSearchParams();
    if (page?.pageToken !== undefined && page.pageToken !== null) q.set('pageToken', page.pageToken);
    if (page?.pageSize) q.set('pageSize', String(page.pageSize));
    const r = await this.call('GET', `${this.nsPath(namespace)}/tables?${q}`);
    return { items: (r?.identifiers ?? []) as TableIdent[], nextPageToken: (r?.['next-page-token'] as string | null) ?? null };
  }

  /** Creates the table on the server from our metadata's schema, spec, order, location and properties. */
  async createTable(ident: TableIdent, metadata: TableMetadata): Promise<LoadedTable> {
    const schema = metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id']);
    const spec = metadata['partition-specs'].find((s) => s['spec-id'] === metadata['default-spec-id']);
    const order = metadata['sort-orders'].find((s) => s['order-id'] === metadata['default-sort-order-id']);
    return this.loaded(ident, await this.call('POST', `${this.nsPath(ident.namespace)}/tables`, {
      name: ident.name, location: metadata.location, schema, 'partition-spec': spec, 'write-order': order, properties: metadata.properties,
    }));
  }

  async loadTable(ident: TableIdent): Promise<LoadedTable> {
    return this.loaded(ident, await this.call('GET', this.tablePath(ident)));
  }

  async tableExists(ident: TableIdent): Promise<boolean> {
    const res = await fetch(this.tablePath(ident), { method: 'HEAD', headers: this.opts.headers });
    return res.status === 204 || res.status === 200;
  }

  async commitTable(ident: TableIdent, request: CommitRequest): Promise<LoadedTable> {
    return this.loaded(ident, await this.call('POST', this.tablePath(ident), { identifier: ident, ...request }));
  }

  async dropTable(ident: TableIdent, purge = false): Promise<void> {
    await this.call('DELETE', `${this.tablePath(ident)}${purge ? '?purgeRequested=true' : ''}`);
  }

  async renameTable(from: TableIdent, to: TableIdent): Promise<void> {
    await this.call('POST', `${this.base}/tables/rename`, { source: from, destination: to });
  }

  defaultTableLocation(): string {
    throw lakehouseError('UNSUPPORTED_OPERATION', 'the REST catalog chooses table locations; create the table without one');
  }

  async close(): Promise<void> {}
}
