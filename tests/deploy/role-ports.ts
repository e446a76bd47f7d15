// Which configuration variable sets the port each role listens on (none for the bot, which
// serves no HTTP). The deploy tests read the port through parseConfig, so a renamed variable
// or a changed default shows up as a mismatch with the deployment files.
import type { Config, Role } from '../../shared/config.ts';

export const LISTEN_PORT_VARIABLE = { api: 'PORT', viz: 'VIZ_PORT', worker: 'WORKER_HTTP_PORT', bot: undefined, all: 'PORT' } as const satisfies Record<Role, keyof Config | undefined>;

/** The port a role listens on, as the code reads it from its configuration. */
export function listenPort(role: Role, config: Config): number | undefined {
  const variable = LISTEN_PORT_VARIABLE[role];
  return variable === undefined ? undefined : config[variable];
}
