import { gunzipSync, gzipSync } from 'node:zlib';
import { lakehouseError, type ErrorCode, type LakehouseError } from '../core/errors.js';
import { parseJsonLossless, stringifyJson } from '../core/json.js';
import { indexById, parseSchema, type Schema } from './schema.js';
import { sameSchema } from './updates.js';

/**
 * Iceberg view metadata (format/view-spec.md, format version 1) and the view updates of the REST
 * spec (`ViewUpdate`, `ViewRequirement`), applied with Java's `ViewMetadata.Builder` semantics:
 * schemas and versions equal to existing ones are reused, `-1` means "the last added", and the
 * version history is trimmed to `version.history.num-entries`.
 */
export interface SqlViewRepresentation {
  type: 'sql';
  sql: string;
  dialect: string;
}

export interface ViewVersion {
  'version-id': number;
  'timestamp-ms': number;
  'schema-id': number;
  summary: Record<string, string>;
  representations: SqlViewRepresentation[];
  'default-catalog'?: string;
  'default-namespace': string[];
}

export interface ViewHistoryEntry {
  'version-id': number;
  'timestamp-ms': number;
}

export interface ViewMetadata {
  'view-uuid': string;
  'format-version': 1;
  location: string;
  'current-version-id': number;
  versions: ViewVersion[];
  'version-log': ViewHistoryEntry[];
  schemas: Schema[];
  properties: Record<string, string>;
}

export type ViewUpdate =
  | { action: 'assign-uuid'; uuid: string }
  | { action: 'upgrade-format-version'; 'format-version': number }
  | { action: 'add-schema'; schema: Schema; 'last-column-id'?: number }
  | { action: 'set-location'; location: string }
  | { action: 'set-properties'; updates: Record<string, string> }
  | { action: 'remove-properties'; removals: string[] }
  | { action: 'add-view-version'; 'view-version': ViewVersion }
  | { action: 'set-current-view-version'; 'view-version-id': number };

export type ViewRequirement = { type: 'assert-view-uuid'; uuid: string };

export const VIEW_FORMAT_VERSION = 1;
export const VERSION_HISTORY_SIZE = 'version.history.num-entries';
export const VERSION_HISTORY_SIZE_DEFAULT = 10;
const LAST_ADDED = -1;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

// ---------------------------------------------------------------------------------------- parsing

/** Parses JSON with `code` for malformed input (INVALID_METADATA for files, BAD_REQUEST for requests). */
class Reader {
  constructor(readonly o: Obj, readonly where: string, readonly code: ErrorCode) {}
  fail(msg: string): LakehouseError {
    return lakehouseError(this.code, `${this.where}: ${msg}`);
  }
  has(k: string): boolean {
    return this.o[k] !== undefined && this.o[k] !== null;
  }
  str(k: string): string {
    const v = this.o[k];
    if (v === undefined || v === null) throw this.fail(`missing ${k}`);
    if (typeof v !== 'string') throw this.fail(`${k} must be a string`);
    return v;
  }
  int(k: string): number {
    const v = this.o[k];
    if (v === undefined || v === null) throw this.fail(`missing ${k}`);
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    throw this.fail(`${k} must be an integer`);
  }
  long(k: string): number {
    const v = this.o[k];
    if (typeof v === 'bigint') return Number(v);
    return this.int(k);
  }
  arr(k: string): unknown[] {
    const v = this.o[k];
    if (v === undefined || v === null) throw this.fail(`missing ${k}`);
    if (!Array.isArray(v)) throw this.fail(`${k} must be an array`);
    return v;
  }
  strings(k: string): string[] {
    return this.arr(k).map((v, i) => {
      if (typeof v !== 'string') throw this.fail(`${k}[${i}] must be a string`);
      return v;
    });
  }
  stringMap(k: string): Record<string, string> {
    const v = this.o[k];
    if (v === undefined || v === null) throw this.fail(`missing ${k}`);
    if (!isObj(v)) throw this.fail(`${k} must be an object`);
    const out: Record<string, string> = {};
    for (const [key, val] of Object.entries(v)) {
      if (typeof val !== 'string') throw this.fail(`${k}.${key} must be a string`);
      out[key] = val;
    }
    return out;
  }
  schema(k: string): Schema {
    const v = this.o[k];
    if (!isObj(v)) throw this.fail(`${k} must be an object`);
    try {
      const s = parseSchema(v, `${this.where}.${k}`);
      indexById(s);
      return s;
    } catch (e) {
      throw lakehouseError(this.code, (e as Error).message);
    }
  }
}

export function parseViewVersion(json: unknown, where = 'view-version', code: ErrorCode = 'BAD_REQUEST'): ViewVersion {
  if (!isObj(json)) throw lakehouseError(code, `${where}: must be an object`);
  const r = new Reader(json, where, code);
  const representations = r.arr('representations').map((raw, i): SqlViewRepresentation => {
    const at = `${where}.representations[${i}]`;
    if (!isObj(raw)) throw lakehouseError(code, `${at}: must be an object`);
    const rr = new Reader(raw, at, code);
    const type = rr.str('type').toLowerCase();
    if (type !== 'sql') throw lakehouseError(code, `${at}: unknown view representation type ${type}`);
    return { type: 'sql', sql: rr.str('sql'), dialect: rr.str('dialect') };
  });
  const v: ViewVersion = {
    'version-id': r.int('version-id'),
    'timestamp-ms': r.long('timestamp-ms'),
    'schema-id': r.int('schema-id'),
    summary: r.has('summary') ? r.stringMap('summary') : {},
    representations,
    'default-namespace': r.has('default-namespace') ? r.strings('default-namespace') : [],
  };
  if (r.has('default-catalog')) v['default-catalog'] = r.str('default-catalog');
  return v;
}

export function parseViewMetadata(json: unknown): ViewMetadata {
  const code: ErrorCode = 'INVALID_METADATA';
  if (!isObj(json)) throw lakehouseError(code, 'view metadata must be a JSON object');
  const r = new Reader(json, 'view metadata', code);
  const fv = r.int('format-version');
  if (fv !== VIEW_FORMAT_VERSION) {
    throw lakehouseError('UNSUPPORTED_FORMAT_VERSION', `Unsupported view format version: ${fv} (supported: ${VIEW_FORMAT_VERSION})`);
  }
  const md: ViewMetadata = {
    'view-uuid': r.str('view-uuid'),
    'format-version': 1,
    location: r.str('location'),
    'current-version-id': r.int('current-version-id'),
    versions: r.arr('versions').map((v, i) => parseViewVersion(v, `versions[${i}]`, code)),
    'version-log': r.arr('version-log').map((e, i) => {
      if (!isObj(e)) throw lakehouseError(code, `version-log[${i}]: must be an object`);
      const er = new Reader(e, `version-log[${i}]`, code);
      return { 'version-id': er.int('version-id'), 'timestamp-ms': er.long('timestamp-ms') };
    }),
    schemas: r.arr('schemas').map((s, i) => {
      try {
        return parseSchema(s, `schemas[${i}]`);
      } catch (e) {
        throw lakehouseError(code, (e as Error).message);
      }
    }),
    properties: r.has('properties') ? r.stringMap('properties') : {},
  };
  if (!md.versions.some((v) => v['version-id'] === md['current-version-id'])) {
    throw lakehouseError(code, `Cannot find current version ${md['current-version-id']} in view versions`);
  }
  return md;
}

export function serializeViewMetadata(md: ViewMetadata): object {
  return {
    'view-uuid': md['view-uuid'],
    'format-version': md['format-version'],
    location: md.location,
    'current-version-id': md['current-version-id'],
    properties: md.properties,
    versions: md.versions,
    'version-log': md['version-log'],
    schemas: md.schemas,
  };
}

export function readViewMetadata(bytes: Uint8Array, file: string): ViewMetadata {
  let json: unknown;
  try {
    const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : Buffer.from(bytes);
    json = parseJsonLossless(raw.toString('utf8'));
  } catch (e) {
    throw lakehouseError('INVALID_METADATA', `view metadata is not valid JSON: ${(e as Error).message}`, { file });
  }
  try {
    return parseViewMetadata(json);
  } catch (e) {
    if (e instanceof Error && 'code' in e) throw lakehouseError((e as LakehouseError).code, e.message, { file });
    throw e;
  }
}

export function writeViewMetadata(md: ViewMetadata, gzip = false): Uint8Array {
  const text = stringifyJson(serializeViewMetadata(md), 2);
  return gzip ? gzipSync(Buffer.from(text, 'utf8')) : Buffer.from(text, 'utf8');
}

// -------------------------------------------------------------------------- request updates

const bad = (m: string) => lakehouseError('BAD_REQUEST', m);

export function parseViewUpdate(json: unknown): ViewUpdate {
  if (!isObj(json)) throw bad('Invalid view update: expected a JSON object');
  const action = json.action;
  if (typeof action !== 'string') throw bad('Invalid view update: missing action');
  const r = new Reader(json, action, 'BAD_REQUEST');
  switch (action) {
    case 'assign-uuid':
      return { action, uuid: r.str('uuid') };
    case 'upgrade-format-version':
      return { action, 'format-version': r.int('format-version') };
    case 'add-schema': {
      const u: ViewUpdate = { action, schema: r.schema('schema') };
      if (r.has('last-column-id')) u['last-column-id'] = r.int('last-column-id');
      return u;
    }
    case 'set-location':
      return { action, location: r.str('location') };
    case 'set-properties':
      return { action, updates: r.stringMap('updates') };
    case 'remove-properties':
      return { action, removals: r.strings('removals') };
    case 'add-view-version':
      return { action, 'view-version': parseViewVersion(json['view-version'], `${action}.view-version`) };
    case 'set-current-view-version':
      return { action, 'view-version-id': r.int('view-version-id') };
    default:
      throw bad(`Cannot apply update ${action} to a view`);
  }
}

export function parseViewUpdates(json: unknown): ViewUpdate[] {
  if (json === undefined || json === null) return [];
  if (!Array.isArray(json)) throw bad('Invalid commit request: updates must be an array');
  return json.map((u, i) => {
    try {
      return parseViewUpdate(u);
    } catch (e) {
      if (e instanceof Error && 'code' in e) throw lakehouseError((e as LakehouseError).code, `updates[${i}]: ${e.message}`);
      throw e;
    }
  });
}

export function parseViewRequirements(json: unknown): ViewRequirement[] {
  if (json === undefined || json === null) return [];
  if (!Array.isArray(json)) throw bad('Invalid commit request: requirements must be an array');
  return json.map((raw, i) => {
    if (!isObj(raw)) throw bad(`requirements[${i}]: expected a JSON object`);
    if (raw.type !== 'assert-view-uuid') throw bad(`requirements[${i}]: Unknown view requirement type: ${String(raw.type)}`);
    if (typeof raw.uuid !== 'string') throw bad(`requirements[${i}]: Invalid requirement assert-view-uuid: missing uuid`);
    return { type: 'assert-view-uuid', uuid: raw.uuid };
  });
}

export function checkViewRequirements(base: ViewMetadata, reqs: ViewRequirement[]): void {
  for (const req of reqs) {
    if (req.uuid.toLowerCase() !== base['view-uuid'].toLowerCase()) {
      throw lakehouseError('COMMIT_FAILED', `Requirement failed: view UUID does not match: expected ${req.uuid} != ${base['view-uuid']}`);
    }
  }
}

// ---------------------------------------------------------------------------------- builder

const invalid = (m: string) => lakehouseError('VALIDATION_FAILED', m);

function canon(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  const o = v as Obj;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canon(o[k])}`).join(',')}}`;
}

/** Java's `ViewMetadata.Builder.sameViewVersion`: equal apart from id and timestamp. */
function sameViewVersion(a: ViewVersion, b: ViewVersion): boolean {
  const key = (v: ViewVersion) =>
    canon({ s: v.summary, r: v.representations, c: v['default-catalog'] ?? null, n: v['default-namespace'], id: v['schema-id'] });
  return key(a) === key(b);
}

export interface ApplyViewOptions {
  nowMs?: number;
}

/**
 * Applies view updates to `base` (null: a new view, which must end up with a uuid, a location
 * and a current version). Invalid updates throw VALIDATION_FAILED.
 */
export function applyViewUpdates(base: ViewMetadata | null, updates: ViewUpdate[], opts: ApplyViewOptions = {}): ViewMetadata {
  const now = opts.nowMs ?? Date.now();
  const md: ViewMetadata = base
    ? { ...base, versions: [...base.versions], 'version-log': [...base['version-log']], schemas: [...base.schemas], properties: { ...base.properties } }
    : { 'view-uuid': '', 'format-version': 1, location: '', 'current-version-id': -1, versions: [], 'version-log': [], schemas: [], properties: {} };
  let lastAddedSchemaId: number | undefined;
  let lastAddedVersionId: number | undefined;
  let newCurrent: number | undefined;

  for (const u of updates) {
    switch (u.action) {
      case 'assign-uuid':
        if (base && base['view-uuid'] && base['view-uuid'] !== u.uuid) throw invalid('Cannot reassign uuid');
        md['view-uuid'] = u.uuid;
        break;
      case 'upgrade-format-version':
        if (u['format-version'] > VIEW_FORMAT_VERSION) {
          throw lakehouseError('UNSUPPORTED_FORMAT_VERSION', `Cannot upgrade view to unsupported format version: v${u['format-version']} (supported: v${VIEW_FORMAT_VERSION})`);
        }
        if (u['format-version'] < md['format-version']) throw invalid(`Cannot downgrade v${md['format-version']} view to v${u['format-version']}`);
        break;
      case 'add-schema': {
        const existing = md.schemas.find((s) => sameSchema(s, u.schema));
        if (existing) {
          lastAddedSchemaId = existing['schema-id'];
          break;
        }
        const id = md.schemas.reduce((m, s) => Math.max(m, s['schema-id'] + 1), 0);
        md.schemas.push({ ...u.schema, 'schema-id': id });
        lastAddedSchemaId = id;
        break;
      }
      case 'set-location':
        if (!u.location) throw invalid('Invalid location: null');
        md.location = u.location;
        break;
      case 'set-properties':
        Object.assign(md.properties, u.updates);
        break;
      case 'remove-properties':
        for (const k of u.removals) delete md.properties[k];
        break;
      case 'add-view-version': {
        let v = { ...u['view-version'] };
        if (v['schema-id'] === LAST_ADDED) {
          if (lastAddedSchemaId === undefined) throw invalid('Cannot set last added schema: no schema has been added');
          v['schema-id'] = lastAddedSchemaId;
        }
        if (!md.schemas.some((s) => s['schema-id'] === v['schema-id'])) throw invalid(`Cannot add version with unknown schema: ${v['schema-id']}`);
        const dialects = new Set<string>();
        for (const rep of v.representations) {
          const d = rep.dialect.toLowerCase();
          if (dialects.has(d)) throw invalid(`Invalid view version: Cannot add multiple queries for dialect ${d}`);
          dialects.add(d);
        }
        const same = md.versions.find((x) => sameViewVersion(x, v));
        if (same) {
          lastAddedVersionId = same['version-id'];
          break;
        }
        const id = md.versions.reduce((m, x) => Math.max(m, x['version-id'] + 1), 1);
        v = { ...v, 'version-id': id };
        md.versions.push(v);
        lastAddedVersionId = id;
        break;
      }
      case 'set-current-view-version': {
        let id = u['view-version-id'];
        if (id === LAST_ADDED) {
          if (lastAddedVersionId === undefined) throw invalid('Cannot set last version id: no current version id has been set');
          id = lastAddedVersionId;
        }
        if (!md.versions.some((x) => x['version-id'] === id)) throw invalid(`Cannot set current version to unknown version: ${id}`);
        newCurrent = id;
        break;
      }
    }
  }

  if (newCurrent !== undefined && newCurrent !== md['current-version-id']) {
    md['current-version-id'] = newCurrent;
    const v = md.versions.find((x) => x['version-id'] === newCurrent)!;
    // Java logs the version's own timestamp for a new version, the commit time for a rollback.
    const isNew = lastAddedVersionId === newCurrent && !(base?.versions.some((x) => x['version-id'] === newCurrent) ?? false);
    md['version-log'].push({ 'version-id': newCurrent, 'timestamp-ms': isNew ? v['timestamp-ms'] : now });
  }
  if (!md['view-uuid']) md['view-uuid'] = crypto.randomUUID();
  if (!md.location) throw invalid('Invalid view: location is required');
  if (md['current-version-id'] === -1) throw invalid('Cannot create view without specifying a current version');

  // Version history: keep the newest N versions (always the current one).
  const keepN = Math.max(1, Number(md.properties[VERSION_HISTORY_SIZE] ?? VERSION_HISTORY_SIZE_DEFAULT) || VERSION_HISTORY_SIZE_DEFAULT);
  if (md.versions.length > keepN) {
    const sorted = [...md.versions].sort((a, b) => b['version-id'] - a['version-id']);
    const keep = new Set(sorted.slice(0, keepN).map((v) => v['version-id']));
    keep.add(md['current-version-id']);
    md.versions = md.versions.filter((v) => keep.has(v['version-id']));
    // Java's updateHistory: drop the log up to the last entry of an expired version.
    let start = 0;
    md['version-log'].forEach((e, i) => {
      if (!keep.has(e['version-id'])) start = i + 1;
    });
    md['version-log'] = md['version-log'].slice(start);
  }
  return md;
}

/** Metadata for a new view (the REST `CreateViewRequest`): the version's schema id is replaced by the assigned one. */
export function newViewMetadata(opts: {
  location: string;
  schema: Schema;
  version: ViewVersion;
  properties?: Record<string, string>;
  uuid?: string;
  nowMs?: number;
}): ViewMetadata {
  const updates: ViewUpdate[] = [
    { action: 'assign-uuid', uuid: opts.uuid ?? crypto.randomUUID() },
    { action: 'upgrade-format-version', 'format-version': VIEW_FORMAT_VERSION },
    { action: 'add-schema', schema: opts.schema },
    { action: 'set-location', location: opts.location },
    { action: 'set-properties', updates: { ...(opts.properties ?? {}) } },
    { action: 'add-view-version', 'view-version': { ...opts.version, 'schema-id': LAST_ADDED } },
    { action: 'set-current-view-version', 'view-version-id': LAST_ADDED },
  ];
  return applyViewUpdates(null, updates, { nowMs: opts.nowMs });
}
