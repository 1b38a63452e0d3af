/**
 * Starts a real Confluent-compatible schema registry (Apicurio Registry, in-memory storage, see
 * scripts/start-schema-registry.sh) for one test file: `const registry = await startSchemaRegistry()`
 * in beforeAll, `await registry.stop()` in afterAll. The first run packages the registry from Maven
 * Central (a few minutes; CI does it in its --prepare step); startup is ~20-40 s on 2 busy cores.
 * Fails (never skips) when the registry cannot start. It exits when this process goes away.
 */
import * as path from 'node:path';
import { REPO_ROOT } from './moto.js';
import { spawnPeer, waitUntil } from './process.js';

export interface SchemaRegistryPeer {
  /** Base URL of the Confluent API, e.g. `http://127.0.0.1:<port>/apis/ccompat/v7`. */
  url: string;
  /** Registers `schema` under `subject` (Confluent `POST /subjects/{subject}/versions`); returns its id. */
  register(subject: string, schema: string | object, schemaType?: 'AVRO' | 'JSON'): Promise<number>;
  stop(): Promise<void>;
}

export async function startSchemaRegistry(opts: { timeoutMs?: number } = {}): Promise<SchemaRegistryPeer> {
  const peer = spawnPeer('bash', [path.join(REPO_ROOT, 'scripts/start-schema-registry.sh'), '0'], { cwd: REPO_ROOT });
  let url = '';
  await waitUntil(
    peer,
    'schema registry',
    async () => {
      const m = /^SCHEMA_REGISTRY (\S+)$/m.exec(peer.output());
      if (m) url = m[1];
      return Boolean(m);
    },
    opts.timeoutMs ?? 600_000,
  );
  return {
    url,
    async register(subject, schema, schemaType = 'AVRO') {
      const body: Record<string, unknown> = { schema: typeof schema === 'string' ? schema : JSON.stringify(schema) };
      // Confluent's default type is AVRO and some registries reject an explicit one.
      if (schemaType !== 'AVRO') body.schemaType = schemaType;
      const res = await fetch(`${url}/subjects/${encodeURIComponent(subject)}/versions`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`registering ${subject} failed: HTTP ${res.status} ${text}`);
      return (JSON.parse(text) as { id: number }).id;
    },
    stop: () => peer.stop(),
  };
}
