// Logs (pino) for every role: one JSON line per event, with the role, pid and sim id; or, for a
// person at a terminal, the same events pretty-printed (pino-pretty).
//
// Each key is bound once: pino does not merge a child's bindings into its parent's, it appends
// them, so a child that binds `role` again writes `"role"` twice in one line. Hence the root
// logger carries no role, and every role's logger is one child of it (see `roleLogger`).
import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type { Logger };

/** `auto`: pretty when stdout is a terminal, JSON lines otherwise (pipes, files, containers). */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface RootLoggerOptions {
  level?: string;
  /** bound on every line of the process (e.g. simId); never `role` (see roleLogger) */
  bindings?: Record<string, unknown>;
  format?: LogFormat;
}

/** The process's logger, without a role: pass it to `roleLogger` for each role the process runs. */
export function createRootLogger(opts: RootLoggerOptions = {}): Logger {
  const options = { level: opts.level ?? process.env.LOG_LEVEL ?? 'info', base: { pid: process.pid, ...opts.bindings }, timestamp: pino.stdTimeFunctions.isoTime };
  const format = opts.format ?? 'json';
  if (format === 'json' || (format === 'auto' && !process.stdout.isTTY)) return pino(options);
  return pino(
    options,
    // sync: a line is on the terminal before the next statement runs, so nothing logged just
    // before process.exit() is lost (the async default buffers).
    PinoPretty({
      sync: true,
      colorize: Boolean(process.stdout.isTTY),
      singleLine: true, // extra fields on the event's line: one line per event, as in JSON
      translateTime: 'SYS:HH:MM:ss.l',
      messageFormat: '{role}{if faction} {faction}{end}{if simId} [{simId}]{end}: {msg}',
      ignore: 'pid,hostname,role,faction,simId',
    }),
  );
}

/** The logger of one role in the process: binds `role` (and any extra keys) once. */
export function roleLogger(root: Logger, role: string, bindings: Record<string, unknown> = {}): Logger {
  return root.child({ role, ...bindings });
}

/** A single-role logger in one call (tests, benchmarks). */
export function createLogger(role: string, level = process.env.LOG_LEVEL ?? 'info', bindings: Record<string, unknown> = {}): Logger {
  return roleLogger(createRootLogger({ level, bindings }), role);
}
