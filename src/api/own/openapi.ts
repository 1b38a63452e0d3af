import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlCatalog } from '../../catalog/open-catalog.js';
import { buildServer, openApiDocument } from '../server.js';

/** JSON with object keys sorted at every level (arrays keep their order), 2-space indent, final newline. */
export function stableStringify(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

/**
 * The service's OpenAPI 3.1 document as committed in `openapi.json`: built from the route schemas
 * of a server over a throw-away in-memory catalog (default catalog name, so prefix `lakehouse`).
 */
export async function generateOpenApi(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lh-openapi-'));
  const catalog = await openSqlCatalog({ storeUrl: 'sqlite::memory:', warehouse: dir });
  const app = await buildServer({ catalog, logLevel: 'silent', security: { anonymous: true, bootstrapOut: { write: () => true } } });
  try {
    return stableStringify(await openApiDocument(app));
  } finally {
    await app.close();
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
