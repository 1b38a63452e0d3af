/**
 * Per-module loggers with levels changeable at runtime. A module asks `moduleLogger('ingest',
 * {jobId, table})` and gets a logger whose lines carry `module` and those bindings; it writes
 * through the service's root logger (the server binds its pino logger at start — before that, or
 * in a process without a server, lines are dropped). `setModuleLevel('ingest', 'debug')` applies
 * to every logger of that module, existing and future; `http` is the server's own logger (request
 * logs).
 */
import type { FastifyBaseLogger } from 'fastify';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Modules whose level can be set: `http` (the root: request logs and everything not below),
 * `ingest` (ingestion jobs: lines carry jobId and table), `alerts` (rule evaluation, deliveries),
 * `scheduler` (the runner: takeovers, lost leases, failed runs with job and run ids).
 */
export const LOG_MODULES = ['http', 'ingest', 'alerts', 'scheduler'] as const;

type Bindings = Record<string, unknown>;
type Fn = (obj: object | string, msg?: string) => void;
export interface ModuleLogger {
  trace: Fn;
  debug: Fn;
  info: Fn;
  warn: Fn;
  error: Fn;
  child(bindings: Bindings): ModuleLogger;
}

let root: FastifyBaseLogger | null = null;
const levels = new Map<string, LogLevel>();
/** Bumped on every change, so cached children re-read their level. */
let generation = 0;

/** The server's logger becomes the root of every module logger. */
export function bindRootLogger(logger: FastifyBaseLogger): void {
  root = logger;
  generation++;
}

export function hasRootLogger(): boolean {
  return root !== null;
}

export function setModuleLevel(module: string, level: LogLevel): void {
  if (module === 'http') {
    if (root) root.level = level;
  } else levels.set(module, level);
  generation++;
}

/** Current level per module (`http` is the root's). */
export function moduleLevels(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of LOG_MODULES) out[m] = m === 'http' ? (root?.level ?? 'info') : (levels.get(m) ?? root?.level ?? 'info');
  return out;
}

export function moduleLogger(module: string, bindings: Bindings = {}): ModuleLogger {
  let cached: { gen: number; base: FastifyBaseLogger | null; log: FastifyBaseLogger } | null = null;
  const current = (): FastifyBaseLogger | null => {
    if (!root) return null;
    if (!cached || cached.gen !== generation || cached.base !== root) {
      const level = levels.get(module) ?? root.level;
      cached = { gen: generation, base: root, log: root.child({ module, ...bindings }, { level }) };
    }
    return cached.log;
  };
  const at =
    (level: 'trace' | 'debug' | 'info' | 'warn' | 'error'): Fn =>
    (obj, msg) => {
      const l = current();
      if (!l) return;
      if (typeof obj === 'string') l[level](obj);
      else l[level](obj, msg);
    };
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => moduleLogger(module, { ...bindings, ...more }),
  };
}
