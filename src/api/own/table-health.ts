import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Catalog } from '../../catalog/catalog.js';
import { maintenanceStatus } from '../../maintenance/health.js';
import { NameParam, NamespaceParam, responses, send, tableIdent } from './common.js';

/**
 * A table's file-layout health and the maintenance its policy says is due, as the scheduler's
 * maintenance runs see it (src/maintenance/health.ts): one source for the rules, so the console
 * and API clients never recompute them.
 */
const Health = Type.Object({
  dataFiles: Type.Integer(),
  smallFiles: Type.Integer({ description: 'Data files smaller than 75% of the target file size' }),
  deleteFiles: Type.Integer(),
  deleteFileRatio: Type.Number({ description: 'deleteFiles / dataFiles (0 without data files)' }),
  snapshots: Type.Integer(),
  manifests: Type.Integer(),
  deleteManifests: Type.Integer(),
  totalBytes: Type.Integer({ description: 'Bytes of live data and delete files' }),
  avgFileSize: Type.Number({ description: 'Average data file size in bytes' }),
  records: Type.Integer(),
  targetFileSizeBytes: Type.Integer({ description: 'write.target-file-size-bytes, or the default' }),
});

const Policy = Type.Object(
  {
    enabled: Type.Boolean(),
    smallFileThreshold: Type.Number(),
    deleteFileRatio: Type.Number(),
    maxSnapshots: Type.Number(),
    maxManifests: Type.Number(),
    orphanRemoval: Type.Boolean(),
  },
  { description: 'Thresholds from the table properties lakehouse.maintenance.*' },
);

const Action = Type.Union(['rewrite-data-files', 'expire-snapshots', 'rewrite-manifests', 'remove-orphan-files'].map((a) => Type.Literal(a)));

const TableHealthView = Type.Object({
  health: Health,
  policy: Policy,
  due: Type.Object(
    { actions: Type.Array(Action), reasons: Type.Array(Type.String()) },
    { description: 'Maintenance actions due now (empty when none, or when automatic maintenance is disabled)' },
  ),
});

export function registerTableHealthRoute(app: FastifyInstance, catalog: Catalog): void {
  const TableParams = Type.Object({ namespace: NamespaceParam, table: NameParam });
  app.get(
    '/tables/:namespace/:table/health',
    {
      schema: {
        tags: ['tables'],
        summary: 'File-layout health of a table and the maintenance due',
        description: 'Small files, delete files, snapshots and manifests of the main branch head, with the maintenance actions its policy (lakehouse.maintenance.* properties) says are due.',
        params: TableParams,
        response: responses({ 200: TableHealthView }),
      },
    },
    async (req, reply) => send(reply, 200, await maintenanceStatus(await catalog.loadTable(tableIdent(req.params as Static<typeof TableParams>)))),
  );
}
