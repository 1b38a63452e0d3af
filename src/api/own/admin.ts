import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { LOG_LEVELS, LOG_MODULES, moduleLevels, setModuleLevel, type LogLevel } from '../../observability/log-levels.js';
import { responses, send } from './common.js';

/**
 * Service administration (`/api/v1/admin`): the log level of each module, changeable at runtime
 * (not persisted: a restart goes back to the configured level). `http` is the request log.
 */
const tags = ['service'];
const Level = Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)));
const Levels = Type.Record(Type.String(), Type.String(), { description: 'Module → level' });
const SetLevel = Type.Object(
  { module: Type.Union(LOG_MODULES.map((m) => Type.Literal(m))), level: Level },
  { additionalProperties: false },
);

export async function adminApi(app: FastifyInstance): Promise<void> {
  app.get(
    '/log-levels',
    { schema: { tags, operationId: 'getLogLevels', summary: 'Log level per module', response: responses({ 200: Levels }) } },
    async (_req, reply) => send(reply, 200, moduleLevels()),
  );
  app.put<{ Body: Static<typeof SetLevel> }>(
    '/log-levels',
    { schema: { tags, operationId: 'setLogLevel', summary: "Set a module's log level (until restart)", body: SetLevel, response: responses({ 200: Levels }) } },
    async (req, reply) => {
      req.log.info({ module: req.body.module, level: req.body.level }, 'log level changed');
      setModuleLevel(req.body.module, req.body.level as LogLevel);
      return send(reply, 200, moduleLevels());
    },
  );
}
