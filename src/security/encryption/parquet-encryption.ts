import { createHash, hkdfSync, randomBytes } from 'node:crypto';
import { lakehouseError } from '../../core/errors.js';
import { str, type Duck } from '../../duck/db.js';
import type { ParquetFileSchema, ParquetNode } from '../../duck/parquet-schema.js';
import type { Schema } from '../../iceberg/schema.js';
import { isList, isMap, isPrimitive, isStruct, primitiveInfo, type IcebergType, type NestedField } from '../../iceberg/types.js';
import { normalizeLocation, type TableKeyStore } from './key-store.js';

/**
 * Parquet modular encryption (AES-GCM, encrypted footer) of a table's data and delete files,
 * done by DuckDB (`COPY … ENCRYPTION_CONFIG`, `read_parquet(…, encryption_config)`), with keys
 * from the envelope key store.
 *
 * Every write (one COPY) gets its own file key, HKDF-SHA256(table DEK, 16 random salt bytes from
 * the OS CSPRNG). Reason: DuckDB without its httpfs extension (which cannot be installed here)
 * only writes encrypted Parquet with `force_mbedtls_unsafe`, whose GCM nonces come from a
 * non-cryptographic generator; a fresh key per write keeps a repeated nonce from ever meeting the
 * same key across writes, processes and hosts. The manifest entry's `key_metadata` records which
 * table key and salt a file used (and the schema id it was written with, because DuckDB's footer
 * functions cannot read encrypted footers: reads rebuild the file schema from the table schema).
 *
 * Unencrypted tables pay nothing: writers check one property, readers one field per file.
 */
export const ENCRYPTION_PROPERTY = 'encryption.enabled';
const FORMAT = 'lakehouse-envelope-v1';
const HKDF_INFO = Buffer.from('lakehouse parquet file key v1');

export interface KeyMetadata {
  format: typeof FORMAT;
  key: string;
  version: number;
  salt: string;
  schema?: number;
}

interface Provider {
  store: TableKeyStore;
  warehouse: string | null;
}

const providers: Provider[] = [];

/** Makes the key store serve encrypted tables under `warehouse` (all tables when null). Returns the uninstaller. */
export function installTableEncryption(store: TableKeyStore, warehouse: string | null = null): () => void {
  const p: Provider = { store, warehouse: warehouse ? normalizeLocation(warehouse) : null };
  providers.push(p);
  return () => {
    const i = providers.indexOf(p);
    if (i >= 0) providers.splice(i, 1);
  };
}

/** The key store of the catalog whose warehouse holds `location`; else (a table placed elsewhere) the latest installed. */
function storeFor(location: string): TableKeyStore {
  const loc = normalizeLocation(location);
  for (let i = providers.length - 1; i >= 0; i--) {
    const w = providers[i].warehouse;
    if (w === null || loc === w || loc.startsWith(`${w}/`)) return providers[i].store;
  }
  if (providers.length > 0) return providers[providers.length - 1].store;
  throw lakehouseError(
    'ENCRYPTION_NOT_CONFIGURED',
    `table at ${location} is encrypted (${ENCRYPTION_PROPERTY}=true) but no master key is configured in this process: set LAKEHOUSE_MASTER_KEY or LAKEHOUSE_MASTER_KEY_FILE`,
  );
}

export function isEncryptedTable(properties: Record<string, string>): boolean {
  return (properties[ENCRYPTION_PROPERTY] ?? '').toLowerCase() === 'true';
}

function fileKey(dek: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', dek, salt, HKDF_INFO, 32));
}

function keyName(keyId: string, salt: string): string {
  return `lh_${createHash('sha256').update(`${keyId}/${salt}`).digest('hex').slice(0, 32)}`;
}

async function registerKey(duck: Duck, name: string, key: Buffer): Promise<void> {
  await duck.run(`PRAGMA add_parquet_key(${str(name)}, ${str(key.toString('base64'))})`);
}

/**
 * Lets this DuckDB instance write encrypted Parquet with its built-in AES-GCM (see the module
 * comment for why each write has its own key). A connection whose configuration is locked (SQL
 * writes lock before writing) must have called this before locking.
 */
export async function enableEncryptedWrites(duck: Duck): Promise<void> {
  try {
    await duck.run('SET force_mbedtls_unsafe = true');
  } catch (e) {
    const [row] = await duck.rows("SELECT current_setting('force_mbedtls_unsafe') AS v");
    if (row?.v === true) return;
    throw lakehouseError('UNSUPPORTED_OPERATION', `cannot write encrypted Parquet on this DuckDB connection: ${(e as Error).message.split('\n')[0]}`);
  }
}

export interface WriteEncryption {
  /** COPY option. */
  copyOption: string;
  /** `, encryption_config = {…}` for reading the staged file back. */
  readOption: string;
  keyMetadata: Uint8Array;
}

/** The encryption of one write to the table at `location`; null for an unencrypted table. */
export async function writeEncryption(duck: Duck, location: string, properties: Record<string, string>, schema: Schema | null): Promise<WriteEncryption | null> {
  if (!isEncryptedTable(properties)) return null;
  const key = await storeFor(location).currentKey(location);
  const salt = randomBytes(16).toString('base64');
  const name = keyName(key.keyId, salt);
  await registerKey(duck, name, fileKey(key.dek, Buffer.from(salt, 'base64')));
  await enableEncryptedWrites(duck);
  const meta: KeyMetadata = { format: FORMAT, key: key.keyId, version: key.version, salt, ...(schema ? { schema: schema['schema-id'] } : {}) };
  return {
    copyOption: `ENCRYPTION_CONFIG {footer_key: ${str(name)}}`,
    readOption: `, encryption_config = {footer_key: ${str(name)}}`,
    keyMetadata: Buffer.from(JSON.stringify(meta)),
  };
}

export function parseKeyMetadata(bytes: Uint8Array, file: string): KeyMetadata {
  let m: Partial<KeyMetadata> | null = null;
  try {
    m = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<KeyMetadata>;
  } catch {
    m = null;
  }
  if (!m || m.format !== FORMAT || typeof m.key !== 'string' || typeof m.salt !== 'string') {
    throw lakehouseError('UNSUPPORTED_OPERATION', 'data file is encrypted with key metadata this service does not understand', { file });
  }
  return m as KeyMetadata;
}

interface FileRef {
  location: string;
  file: { keyMetadata?: Uint8Array | null };
}

/**
 * The keys of the files a read plans: registers each distinct file key in the DuckDB instance
 * once and tells, per file location, the `encryption_config` argument and the file's schema.
 */
export class FileKeys {
  private constructor(private readonly byLocation: Map<string, { name: string; meta: KeyMetadata }>) {}

  static readonly NONE = new FileKeys(new Map());

  static async register(duck: Duck, files: FileRef[]): Promise<FileKeys> {
    const encrypted = files.filter((f) => f.file.keyMetadata && f.file.keyMetadata.length > 0);
    if (encrypted.length === 0) return FileKeys.NONE;
    const byLocation = new Map<string, { name: string; meta: KeyMetadata }>();
    const registered = new Set<string>();
    for (const f of encrypted) {
      const meta = parseKeyMetadata(f.file.keyMetadata!, f.location);
      const name = keyName(meta.key, meta.salt);
      if (!registered.has(name)) {
        const key = await storeFor(f.location).key(meta.key);
        if (!key) throw lakehouseError('ENCRYPTION_KEY_MISMATCH', `the table key ${meta.key} (version ${meta.version}) of an encrypted file is not in the catalog's key store`, { file: f.location });
        await registerKey(duck, name, fileKey(key.dek, Buffer.from(meta.salt, 'base64')));
        registered.add(name);
      }
      byLocation.set(f.location, { name, meta });
    }
    return new FileKeys(byLocation);
  }

  get any(): boolean {
    return this.byLocation.size > 0;
  }

  has(location: string): boolean {
    return this.byLocation.has(location);
  }

  /** The footer key name of a file ('' when it is not encrypted). */
  keyOf(location: string): string {
    return this.byLocation.get(location)?.name ?? '';
  }

  /** `, encryption_config = {…}` for read_parquet of this file ('' when it is not encrypted). */
  option(location: string): string {
    const e = this.byLocation.get(location);
    return e ? `, encryption_config = {footer_key: ${str(e.name)}}` : '';
  }

  /** The schema id the file was written with (encrypted files only). */
  schemaIdOf(location: string): number | undefined {
    return this.byLocation.get(location)?.meta.schema;
  }

  /**
   * A relation over several files (each `{location, local}`), one read_parquet per footer key
   * since DuckDB takes one key per call. `args` go to every call (e.g. `, file_row_number = true`).
   */
  readAll(files: { location: string; local: string }[], args = ''): string {
    const groups = new Map<string, string[]>();
    for (const f of files) {
      const k = this.keyOf(f.location);
      const g = groups.get(k);
      if (g) g.push(f.local);
      else groups.set(k, [f.local]);
    }
    const calls = [...groups].map(([k, paths]) => `read_parquet([${paths.map(str).join(', ')}]${args}${k ? `, encryption_config = {footer_key: ${str(k)}}` : ''})`);
    return calls.length === 1 ? calls[0] : `(${calls.map((c) => `SELECT * FROM ${c}`).join(' UNION ALL BY NAME ')})`;
  }
}

/**
 * The Parquet schema DuckDB writes for an Iceberg schema (field ids on every node; the three-level
 * LIST and MAP layouts), standing in for the footer of an encrypted file, which DuckDB's
 * parquet_schema() cannot open.
 */
export function parquetSchemaOf(schema: Schema, file: string): ParquetFileSchema {
  const node = (name: string, fieldId: number | null, type: IcebergType, required: boolean): ParquetNode => {
    const repetition = required ? 'REQUIRED' : 'OPTIONAL';
    if (isPrimitive(type)) {
      const kind = primitiveInfo(type).kind;
      const leaf = (physicalType: string, logicalType: string | null): ParquetNode => ({ name, fieldId, physicalType, logicalType, convertedType: null, repetition, children: [] });
      if (kind === 'string') return leaf('BYTE_ARRAY', 'StringType()');
      if (kind === 'uuid') return leaf('FIXED_LEN_BYTE_ARRAY', 'UUIDType()');
      if (kind === 'binary' || kind === 'fixed') return leaf('BYTE_ARRAY', null);
      return leaf('INT64', null);
    }
    const group = (children: ParquetNode[]): ParquetNode => ({ name, fieldId, physicalType: null, logicalType: null, convertedType: null, repetition, children });
    if (isStruct(type)) return group(type.fields.map((f: NestedField) => node(f.name, f.id, f.type, f.required)));
    if (isList(type)) {
      const rep: ParquetNode = { name: 'list', fieldId: null, physicalType: null, logicalType: null, convertedType: null, repetition: 'REPEATED', children: [node('element', type['element-id'], type.element, type['element-required'])] };
      return group([rep]);
    }
    if (isMap(type)) {
      const kv: ParquetNode = {
        name: 'key_value',
        fieldId: null,
        physicalType: null,
        logicalType: null,
        convertedType: null,
        repetition: 'REPEATED',
        children: [node('key', type['key-id'], type.key, true), node('value', type['value-id'], type.value, type['value-required'])],
      };
      return group([kv]);
    }
    return group([]);
  };
  return { file, root: node('duckdb_schema', null, { type: 'struct', fields: schema.fields }, true) };
}

/** The schema an encrypted data file was written with (its key metadata names it; else the current one). */
export function encryptedFileSchema(md: { schemas: Schema[]; 'current-schema-id': number }, schemaId: number | undefined, file: string): ParquetFileSchema {
  const s = md.schemas.find((x) => x['schema-id'] === schemaId) ?? md.schemas.find((x) => x['schema-id'] === md['current-schema-id']) ?? md.schemas[md.schemas.length - 1];
  return parquetSchemaOf(s, file);
}
