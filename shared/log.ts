// Structured JSON logs (pino) for every role: one line per event, with the role and sim id.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(role: string, level = process.env.LOG_LEVEL ?? 'info', bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { role, pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}
