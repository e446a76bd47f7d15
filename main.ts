// The one entry point for every role: `tsx main.ts <role>` or `ROLE=<role> tsx main.ts`.
// Roles: worker, api, viz, bot, and all (every role in one process, for a laptop).
import { ROLES, type Role, loadConfigOrExit } from './shared/config.ts';
import { createRootLogger, roleLogger } from './shared/log.ts';
import type { Service } from './shared/service.ts';
import { type Starters, startAll } from './shared/single-process.ts';

// Each role's code is loaded only when the role runs, so a viz or api process does not
// carry the engine (and the other way round).
const starters: Starters = {
  worker: async (config, log) => (await import('./engine/worker.ts')).startWorker(config, log),
  api: async (config, log) => (await import('./api/server.ts')).startApi(config, log),
  viz: async (config, log) => (await import('./viz/server.ts')).startViz(config, log),
  bot: async (config, log) => (await import('./bot/service.ts')).startBot(config, log),
};

/** SIGTERM must end the process within 10 s (invariant I8), whatever a role is doing. */
const HARD_EXIT_MS = 9_000;

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const arg = process.argv[2];
  const role = (arg ?? config.ROLE ?? 'all') as Role;
  if (!ROLES.includes(role)) {
    process.stderr.write(`Unknown role ${JSON.stringify(arg)}: expected one of ${ROLES.join(', ')} (as the first argument or ROLE)\n`);
    process.exit(2);
  }
  // A worker hosts many simulations and a viz follows many: each binds each line's simId itself.
  // The API serves SIM_ID at its old routes; a bot plays BOT_SIM_ID (SIM_ID without it).
  const hostsMany = role === 'worker' || role === 'all' || role === 'viz';
  const served = role === 'bot' ? (config.BOT_SIM_ID ?? config.SIM_ID) : config.SIM_ID;
  const root = createRootLogger({ level: config.LOG_LEVEL, bindings: hostsMany ? {} : { simId: served }, format: config.LOG_FORMAT });
  const log = roleLogger(root, role);

  // The signal handlers are installed as the roles begin to start (in the same synchronous
  // step, so no signal can come between): a SIGTERM while they are still starting (a pod
  // stopped early, a test under load) stops them gracefully once started, instead of node's
  // default action killing the process.
  const started: Promise<Service> = role === 'all' ? startAll(config, root, starters) : starters[role](config, log);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    setTimeout(() => {
      log.error('stop took too long; exiting');
      process.exit(1);
    }, HARD_EXIT_MS).unref();
    started.then((service) => service.stop()).then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  try {
    await started;
  } catch (err) {
    log.fatal({ err }, 'start-up failed');
    process.exitCode = 1;
  }
}

void main();
