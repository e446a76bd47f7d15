// Which configuration variable sets the port each role listens on. The worker and the bot
// serve no HTTP of their own; their small probe server (/health, /ready, /metrics) listens on
// WORKER_HTTP_PORT / BOT_HTTP_PORT when set. The deploy tests read the port through
// parseConfig, so a renamed variable or a changed default shows up as a mismatch with the
// deployment files.
import type { Config, Role } from '../../shared/config.ts';

export const LISTEN_PORT_VARIABLE = { api: 'PORT', viz: 'VIZ_PORT', worker: 'WORKER_HTTP_PORT', bot: 'BOT_HTTP_PORT', all: 'PORT' } as const satisfies Record<Role, keyof Config>;

/** The port a role listens on, as the code reads it from its configuration (undefined: the variable is unset, no server). */
export function listenPort(role: Role, config: Config): number | undefined {
  return config[LISTEN_PORT_VARIABLE[role]];
}
