import { resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { isLakehouseError } from '../core/errors.js';
import { stringifyJson } from '../core/json.js';

const USAGE = `usage:
  lakehouse serve                      start the service (config: LAKEHOUSE_CONFIG=<file.json>, LAKEHOUSE_* env overrides; see src/config.ts)
  lakehouse scan <table-folder> [--metadata <file>] --sql "<SELECT … FROM t …>"
  lakehouse sql "<query>" [--format json|csv|table] [--namespace ns] [--url http://host:port] [--token T] [--max-rows N] [--timeout-ms N]
                                       run SQL via the service at --url, else on the local warehouse (same config as serve)
  lakehouse schedules <list|show|create|update|delete|run|cancel|runs> [--url http://host:port] [--format table|json]
                                       manage scheduled jobs of a running service (lakehouse schedules help)
  lakehouse alerts <list|rules|history|silence> [--url http://host:port] [--format table|json]
                                       alert state, rules, history; silence alerts (lakehouse alerts help)
  lakehouse jobs list|show|start|pause|resume|stop|reset|status|runs [<job>] --url http://host:port [--format table|json]
                                       ingestion jobs of a running service (lakehouse jobs help)
  lakehouse keys generate | rotate-master | rotate-table <ns.table> | list <ns.table> [--url …] [--token T]
                                       encryption keys: new master key, master/table key rotation
  lakehouse external-sources <list|show|add-postgres|add-files|create|delete|test> [--url http://host:port]
                                       federated-SQL sources of a running service (lakehouse external-sources help)
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
  // A plain relative folder is relative to the working directory; URIs are taken as they are.
  const folder = /^[a-z][a-z0-9+.-]*:/i.test(positionals[0]) ? positionals[0] : resolvePath(positionals[0]);
  // Loaded here, not at the top: the other commands do not need the table reader or DuckDB.
  const { openFolderTable } = await import('../table/folder-table.js');
  const { queryTable } = await import('../table/scan-query.js');
  const table = await openFolderTable(folder, values.metadata);
  const result = await queryTable(table, values.sql);
  process.stdout.write(`${stringifyJson(result)}\n`);
  return 0;
}

/** How to reach a listening address from a browser (0.0.0.0 / :: / 127.0.0.1 → localhost). */
function browsable(address: string): string {
  return address.replace(/^(https?):\/\/(0\.0\.0\.0|\[::\]|127\.0\.0\.1|\[::1\])(?=:)/, '$1://localhost');
}

async function serve(): Promise<number> {
  const { credentialVendingOf, loadConfig, redactConfig, redactUrl, securityConfigOf, storageConfigOf } = await import('../config.js');
  const { openSqlCatalog } = await import('../catalog/open-catalog.js');
  const { buildServer } = await import('../api/server.js');
  const { mkdirSync, readFileSync } = await import('node:fs');
  const config = loadConfig();
  const localWarehouse = config.warehouse.replace(/^file:\/\//, '');
  if (localWarehouse.startsWith('/')) mkdirSync(localWarehouse, { recursive: true });
  const rawCatalog = await openSqlCatalog({
    storeUrl: config.catalogUrl,
    warehouse: config.warehouse,
    name: config.catalogName,
    storage: storageConfigOf(config),
  });
  const tls = config.tls ? { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) } : undefined;
  const { Metrics } = await import('../observability/metrics.js');
  const metrics = new Metrics();
  // Every committer of this process (routes, ingestion jobs, scheduled runs) goes through the
  // instrumented catalog, so all commits show in the catalog commit metrics.
  const catalog = metrics.instrumentCatalog(rawCatalog);
  const app = await buildServer({
    catalog, logLevel: config.logLevel, warehouse: config.warehouse, security: securityConfigOf(config), tls, metrics, credentialVending: credentialVendingOf(config),
  });
  (await import('../scheduler/index.js')).startScheduler(catalog, null, { app });
  // Alert rules are evaluated over this process's metrics registry (rules and state live in the catalog store).
  const alerting = (await import('../observability/alerts/index.js')).startAlerting(catalog, { registry: metrics.registry, logger: app.log });
  if (alerting) app.addHook('onClose', async () => alerting.stop());
  app.log.info({ config: redactConfig(config) }, 'configuration');
  const address = await app.listen({ host: config.host, port: config.port });
  await (await import('../ingest/job-manager.js')).startJobManager({ catalog });
  const url = browsable(address);
  process.stderr.write(
    `lakehouse listening on ${address}\n` +
      `  API:                  ${url}/api/v1  (e.g. ${url}/api/v1/namespaces/<ns>/tables)\n` +
      `  API docs (Swagger UI): ${url}/docs   OpenAPI: ${url}/docs/json\n` +
      `  Iceberg REST catalog: ${url}/v1/config (prefix ${config.catalogName})\n` +
      `  health: ${url}/health  ready: ${url}/ready  metrics: ${url}/metrics\n` +
      `  warehouse: ${config.warehouse}\n  catalog store: ${redactUrl(config.catalogUrl)}\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  // Graceful shutdown: stop accepting, let in-flight requests (commits) finish, then close. A
  // second signal (a second later or more) or the shutdown timeout forces the exit.
  app.log.info({ signal }, 'shutting down: finishing in-flight requests');
  const force = setTimeout(() => {
    app.log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  force.unref();
  // A copy of the first signal arriving at once is not a second request: Ctrl-C on `npm start`
  // reaches node from the terminal and may be forwarded by npm's script shell too.
  const firstAt = Date.now();
  const again = () => {
    if (Date.now() - firstAt >= 1000) process.exit(1);
  };
  process.on('SIGINT', again);
  process.on('SIGTERM', again);
  await app.close();
  await catalog.close();
  clearTimeout(force);
  process.stderr.write('lakehouse stopped\n');
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
      case 'sql':
        return await (await import('./sql.js')).sqlCommand(rest, USAGE);
      case 'schedules':
        return await (await import('./schedules.js')).schedulesCommand(rest, USAGE);
      case 'alerts':
        return await (await import('./alerts.js')).alertsCommand(rest);
      case 'jobs':
        return await (await import('./jobs.js')).jobsCommand(rest);
      case 'keys':
        return await (await import('./keys.js')).keysCommand(rest);
      case 'external-sources':
        return await (await import('../federation/cli.js')).externalSourcesCommand(rest);
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
