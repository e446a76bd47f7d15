// Placeholder until the viz issue lands: the entry point already dispatches here.
import type { Config } from '../shared/config.ts';
import type { Logger } from '../shared/log.ts';
import type { Service } from '../shared/service.ts';

export async function startViz(_config: Config, _log: Logger): Promise<Service & { port?: number }> {
  throw new Error('the viz role is not implemented yet');
}
