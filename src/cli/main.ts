import { parseArgs } from 'node:util';
import { isLakehouseError } from '../core/errors.js';
import { stringifyJson } from '../core/json.js';
import { openFolderTable } from '../table/folder-table.js';
import { queryTable } from '../table/scan-query.js';

const USAGE = `usage:
  lakehouse serve                      start the service (env: LAKEHOUSE_PORT, LAKEHOUSE_WAREHOUSE, LAKEHOUSE_CATALOG_URL)
  lakehouse scan <table-folder> [--metadata <file>] --sql "<SELECT … FROM t …>"
`;

async function scan(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { metadata: { type: 'string' }, sql: { type: 'string' } },
  });
  if (positionals.length !== 1 || !values.sql) {
    process.stderr.write(USAGE);
    return 2;
  }
  const table = await openFolderTable(positionals[0], values.metadata);
  const result = await queryTable(table, values.sql);
  process.stdout.write(`${stringifyJson(result)}\n`);
  return 0;
}

async function serve(): Promise<number> {
  const { loadConfig } = await import('../config.js');
  const { openSqlCatalog } = await import('../catalog/open-catalog.js');
  const { buildServer } = await import('../api/server.js');
  const { mkdirSync } = await import('node:fs');
  const config = loadConfig();
  if (config.warehouse.startsWith('/')) mkdirSync(config.warehouse, { recursive: true });
  const catalog = await openSqlCatalog({ storeUrl: config.catalogUrl, warehouse: config.warehouse, name: config.catalogName });
  const app = await buildServer({ catalog, logLevel: config.logLevel });
  const address = await app.listen({ host: config.host, port: config.port });
  process.stderr.write(
    `lakehouse listening on ${address}\n  Iceberg REST catalog: ${address}/v1/config (prefix ${config.catalogName})\n` +
      `  warehouse: ${config.warehouse}\n  catalog store: ${config.catalogUrl}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  // Graceful shutdown: stop accepting, let in-flight requests (commits) finish, then close.
  await app.close();
  await catalog.close();
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'scan':
        return await scan(rest);
      case 'serve':
        return await serve();
      case undefined:
      case '--help':
      case 'help':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`unknown command: ${command}\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (isLakehouseError(e)) {
      process.stderr.write(`error [${e.code}]: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
