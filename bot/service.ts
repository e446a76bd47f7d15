// Placeholder until the bot issue lands: the entry point already dispatches here.
import type { Config } from '../shared/config.ts';
import type { Logger } from '../shared/log.ts';
import type { Service } from '../shared/service.ts';

export async function startBot(_config: Config, _log: Logger): Promise<Service & { port?: number }> {
  throw new Error('the bot role is not implemented yet');
}
