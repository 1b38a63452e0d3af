/**
 * The dead-letter table beside an ingestion target: `<table>__dlq` in the same namespace, one row
 * per record that failed parsing, mapping or validation — never dropped, never blocking.
 */
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Catalog, LoadedTable } from '../catalog/catalog.js';
import type { TableIdent } from '../catalog/store.js';
import { isLakehouseError } from '../core/errors.js';
import { str, type Duck } from '../duck/db.js';
import type { DataFile } from '../iceberg/manifest-types.js';
import { currentSchema, defaultSpec } from '../iceberg/metadata.js';
import type { Schema } from '../iceberg/schema.js';
import { newTableMetadata, type UnboundPartitionSpec } from '../iceberg/updates.js';
import { writeDataFiles } from '../table/data-writer.js';
import type { Letter } from './batch.js';

export const DEAD_LETTER_SUFFIX = '__dlq';

export const DEAD_LETTER_SCHEMA: Schema = {
  type: 'struct',
  'schema-id': 0,
  fields: [
    { id: 1, name: 'raw', required: false, type: 'binary', doc: 'the record value as received' },
    { id: 2, name: 'key', required: false, type: 'binary' },
    { id: 3, name: 'error', required: true, type: 'string' },
    { id: 4, name: 'topic', required: true, type: 'string' },
    { id: 5, name: 'partition', required: true, type: 'int' },
    { id: 6, name: 'offset', required: true, type: 'long' },
    { id: 7, name: 'kafka_timestamp', required: false, type: 'timestamptz' },
    { id: 8, name: 'failed_at', required: true, type: 'timestamptz' },
    { id: 9, name: 'job_id', required: false, type: 'string' },
  ],
};

export function deadLetterIdent(target: TableIdent): TableIdent {
  return { namespace: target.namespace, name: `${target.name}${DEAD_LETTER_SUFFIX}` };
}

/** Loads a table, creating it from `schema` when missing (a concurrent creator wins harmlessly). */
export async function loadOrCreateTable(
  catalog: Catalog,
  ident: TableIdent,
  create: { schema: Schema; spec?: UnboundPartitionSpec; properties?: Record<string, string> } | undefined,
): Promise<LoadedTable> {
  if (await catalog.tableExists(ident)) return catalog.loadTable(ident);
  if (!create) throw new Error(`table ${[...ident.namespace, ident.name].join('.')} does not exist (and no schema to create it was given)`);
  const md = newTableMetadata({ schema: create.schema, spec: create.spec, properties: create.properties, location: catalog.defaultTableLocation(ident) });
  try {
    return await catalog.createTable(ident, md);
  } catch (e) {
    if (isLakehouseError(e, 'ALREADY_EXISTS') || isLakehouseError(e, 'COMMIT_FAILED')) return catalog.loadTable(ident);
    throw e;
  }
}

/**
 * Writes dead letters as data files of the dead-letter table `dlq` (staged as NDJSON in
 * `stageDir`, raw bytes and keys base64 so any bytes survive).
 */
export async function writeLetters(duck: Duck, dlq: LoadedTable, letters: Letter[], jobId: string, stageDir: string): Promise<DataFile[]> {
  const failedAt = new Date().toISOString();
  const lines = letters.map((l) =>
    JSON.stringify({
      raw: l.raw ? l.raw.toString('base64') : null,
      key: l.key ? l.key.toString('base64') : null,
      error: l.error,
      topic: l.topic,
      partition: l.partition,
      offset: l.offset.toString(),
      ts: l.timestamp ? new Date(Number(l.timestamp)).toISOString() : null,
    }),
  );
  const file = join(stageDir, `${randomUUID()}-dlq.ndjson`);
  await writeFile(file, `${lines.join('\n')}\n`);
  try {
    const md = dlq.metadata;
    const cols = `{'raw': 'VARCHAR', 'key': 'VARCHAR', 'error': 'VARCHAR', 'topic': 'VARCHAR', 'partition': 'INTEGER', 'offset': 'BIGINT', 'ts': 'VARCHAR'}`;
    return await writeDataFiles({
      duck, io: dlq.io, location: md.location, schema: currentSchema(md), spec: defaultSpec(md), properties: md.properties,
      sourceSql: `SELECT from_base64(raw) AS raw, from_base64(key) AS "key", error, topic, "partition", "offset", TRY_CAST(ts AS TIMESTAMPTZ) AS kafka_timestamp,
        TIMESTAMPTZ ${str(failedAt)} AS failed_at, ${str(jobId)} AS job_id
        FROM read_json(${str(file)}, format='newline_delimited', columns=${cols}, maximum_object_size=67108864)`,
    });
  } finally {
    await rm(file, { force: true });
  }
}
