// What every role's start function returns: something the entry point can stop on SIGTERM.
import type { Config } from './config.ts';
import type { Logger } from './log.ts';

export interface Service {
  /** stop serving, release what is held, close connections; resolves when done */
  stop(): Promise<void>;
}

export type StartRole<S extends Service = Service> = (config: Config, log: Logger) => Promise<S>;
