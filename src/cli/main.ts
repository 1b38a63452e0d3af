import { parseArgs } from 'node:util';
import { isLakehouseError } from '../core/errors.js';
import { stringifyJson } from '../core/json.js';
import { openFolderTable } from '../table/folder-table.js';
import { queryTable } from '../table/scan-query.js';

const USAGE = `usage:
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

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'scan':
        return await scan(rest);
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
