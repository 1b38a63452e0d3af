import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { lakehouseError } from '../core/errors.js';
import { stringifyJson } from '../core/json.js';
import { toTable } from '../query/formats.js';
import { call } from '../cli/sql.js';

/**
 * `lakehouse external-sources <list|show|add-postgres|add-mysql|add-files|create|delete|test>`: the
 * federated-SQL sources of a running service (`/api/v1/external-sources`; --url, else
 * LAKEHOUSE_URL, else http://localhost:8181; --token or LAKEHOUSE_TOKEN). A PostgreSQL or MySQL password
 * is read from the environment variable named by --password-env, never from the command line
 * (where `ps` would show it).
 */
export const EXTERNAL_SOURCES_USAGE = `usage: lakehouse external-sources <command> [--url http://host:port] [--token T] [--format table|json]
  list                                      registered sources (no secrets)
  show <name>                               one source
  add-postgres <name> --connection postgresql://user@host:port/db [--password-env VAR] [--schemas a,b] [--max-rows N]
                                            tables are then <name>.<schema>.<table> in SQL
  add-mysql <name> --connection mysql://user@host:port[/db] [--password-env VAR] [--schemas db1,db2] [--max-rows N]
                                            MySQL or MariaDB; tables are <name>.<database>.<table>
  add-files <name> --table [schema.]table=<location>:<csv|json|parquet> [--table …]
                                            a file or a prefix ending in / on any supported storage
  create --json '{…}' | --file spec.json    the request body of POST /api/v1/external-sources
  delete <name>
  test <name>                               connect and run SELECT 1
`;

export async function externalSourcesCommand(args: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      format: { type: 'string', default: 'table' },
      connection: { type: 'string' },
      'password-env': { type: 'string' },
      schemas: { type: 'string' },
      'max-rows': { type: 'string' },
      table: { type: 'string', multiple: true },
      json: { type: 'string' },
      file: { type: 'string' },
    },
  });
  const [command, name] = positionals;
  const base = `${(v.url ?? process.env.LAKEHOUSE_URL ?? 'http://localhost:8181').replace(/\/+$/, '')}/api/v1/external-sources`;
  const token = v.token ?? process.env.LAKEHOUSE_TOKEN;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const needName = () => {
    if (!name) throw lakehouseError('BAD_REQUEST', `${command} needs a source name`);
    return encodeURIComponent(name);
  };
  const print = (body: unknown) => process.stdout.write(`${stringifyJson(body)}\n`);
  const create = async (body: unknown) => print(await call(base, { method: 'POST', headers, body: JSON.stringify(body) }));
  switch (command) {
    case 'list': {
      const body = await call(base, { headers });
      if (v.format === 'json') print(body);
      else {
        const rows = (body.sources as { name: string; kind: string; postgres?: { connectionString: string }; mysql?: { connectionString: string }; files?: { tables: unknown[] } }[]).map((s) => [
          s.name,
          s.kind,
          s.kind === 'postgres' ? s.postgres!.connectionString : s.kind === 'mysql' ? s.mysql!.connectionString : `${s.files!.tables.length} table(s)`,
        ]);
        process.stdout.write(`${toTable({ columns: ['name', 'kind', 'detail'].map((n) => ({ name: n, type: 'VARCHAR' })), rows })}\n`);
      }
      return 0;
    }
    case 'show':
      print(await call(`${base}/${needName()}`, { headers }));
      return 0;
    case 'add-postgres':
    case 'add-mysql': {
      needName();
      if (!v.connection) throw lakehouseError('BAD_REQUEST', `${command} needs --connection`);
      const kind = command === 'add-mysql' ? 'mysql' : 'postgres';
      const password = v['password-env'] ? process.env[v['password-env']] : undefined;
      if (v['password-env'] && password === undefined) throw lakehouseError('BAD_REQUEST', `environment variable ${v['password-env']} is not set`);
      await create({
        name,
        kind,
        [kind]: { connectionString: v.connection, ...(v.schemas ? { schemas: v.schemas.split(',') } : {}), ...(v['max-rows'] ? { maxRows: Number(v['max-rows']) } : {}) },
        ...(password !== undefined ? { password } : {}),
      });
      return 0;
    }
    case 'add-files': {
      needName();
      const tables = (v.table ?? []).map((spec) => {
        const m = /^(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*)=(.+):(csv|json|parquet)$/.exec(spec);
        if (!m) throw lakehouseError('BAD_REQUEST', `--table ${spec}: expected [schema.]table=<location>:<csv|json|parquet>`);
        return { ...(m[1] ? { schema: m[1] } : {}), name: m[2], location: m[3], format: m[4] };
      });
      if (tables.length === 0) throw lakehouseError('BAD_REQUEST', 'add-files needs at least one --table');
      await create({ name, kind: 'files', files: { tables } });
      return 0;
    }
    case 'create': {
      const text = v.file ? readFileSync(v.file, 'utf8') : v.json;
      if (!text) throw lakehouseError('BAD_REQUEST', 'create needs --json or --file');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (e) {
        throw lakehouseError('BAD_REQUEST', `not JSON: ${(e as Error).message}`);
      }
      await create(body);
      return 0;
    }
    case 'delete':
      await call(`${base}/${needName()}`, { method: 'DELETE', headers });
      return 0;
    case 'test':
      print(await call(`${base}/${needName()}/test`, { method: 'POST', headers }));
      return 0;
    case undefined:
    case 'help':
      process.stdout.write(EXTERNAL_SOURCES_USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command: ${command}\n${EXTERNAL_SOURCES_USAGE}`);
      return 2;
  }
}
