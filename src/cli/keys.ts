import { parseArgs } from 'node:util';
import { stringifyJson } from '../core/json.js';
import { call as callApi } from './sql.js';
import { newMasterKeyText } from '../security/encryption/master-key.js';

/**
 * `lakehouse keys …`: encryption key management of a running service (docs/security.md,
 * "Encryption at rest"); --url or LAKEHOUSE_URL, --token or LAKEHOUSE_TOKEN (MANAGE_GRANTS).
 * `generate` prints a new master key locally (nothing is sent).
 */
export const KEYS_USAGE = `  lakehouse keys generate                        print a new random master key (for LAKEHOUSE_MASTER_KEY)
  lakehouse keys rotate-master [--url U] [--token T]
                                       re-wrap table keys and re-seal secrets with the current master key
  lakehouse keys rotate-table <namespace.table> [--url U] [--token T]
                                       new files of the table use a new key version
  lakehouse keys list <namespace.table> [--url U] [--token T]
                                       the table's key versions (no key material)
`;

export async function keysCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { url: { type: 'string' }, token: { type: 'string' } } });
  const [cmd, table, ...extra] = positionals;
  const needsTable = cmd === 'rotate-table' || cmd === 'list';
  if (!cmd || !['generate', 'rotate-master', 'rotate-table', 'list'].includes(cmd) || extra.length > 0 || (needsTable && !table?.includes('.'))) {
    process.stderr.write(`usage:\n${KEYS_USAGE}`);
    return 2;
  }
  if (cmd === 'generate') {
    process.stdout.write(`${newMasterKeyText()}\n`);
    return 0;
  }
  const url = (values.url ?? process.env.LAKEHOUSE_URL ?? 'http://localhost:8181').replace(/\/+$/, '');
  const token = values.token ?? process.env.LAKEHOUSE_TOKEN;
  const headers = token ? { authorization: `Bearer ${token}` } : undefined;
  const base = `${url}/api/v1/security/encryption`;
  let res: unknown;
  if (cmd === 'rotate-master') res = await callApi(`${base}/rotate-master-key`, { method: 'POST', headers });
  else {
    const i = table!.lastIndexOf('.');
    const path = `${base}/tables/${encodeURIComponent(table!.slice(0, i))}/${encodeURIComponent(table!.slice(i + 1))}`;
    res = cmd === 'rotate-table' ? await callApi(`${path}/rotate-key`, { method: 'POST', headers }) : await callApi(`${path}/keys`, { headers });
  }
  process.stdout.write(`${stringifyJson(res)}\n`);
  return 0;
}
