// `sector import <file> [--as <id>] [--paused]`
import { SimId } from '../shared/sim-registry.ts';
import { COMMON_HELP, configOf, parse } from './args.ts';
import { importArchive, readArchive } from './archive.ts';
import { CliError, Exit } from './exit-codes.ts';
import type { Io } from './io.ts';
import { withRedis } from './redis.ts';

export const help = `Usage: sector import <file> [--as <id>] [--paused] [--json]

Loads a file written by \`sector export\` into this Redis (REDIS_URL) as simulation <id> (by
default the id it was exported from), in one MULTI, and registers it. Refuses if any key of
that id exists. A worker of this Redis then hosts it, and ticks it on unless --paused.

Exit: 0 imported; 2 bad usage or not an export file; 3 no such file; 4 Redis unreachable or
      the id is taken.

${COMMON_HELP}`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { as: { type: 'string' }, paused: { type: 'boolean' } });
  if (values.help) return io.help(help);
  if (positionals.length !== 1) throw new CliError(Exit.usage, 'expected one file (see --help)');
  const archive = await readArchive(positionals[0]!);
  const id = values.as ?? archive.sim;
  if (!SimId.safeParse(id).success) throw new CliError(Exit.usage, `--as: ${JSON.stringify(id)} is not a simulation id (1-63 lower-case letters, digits, _ or -)`);
  const config = configOf(values);
  await withRedis(config, (redis) => importArchive(redis, archive, id, { paused: values.paused }));
  const summary = { imported: id, from: archive.sim, checkpoints: archive.checkpoints.length, events: archive.events.length, orders: archive.orders.length };
  if (values.json) io.json(summary);
  else io.line(`imported ${archive.sim} as ${id}: ${summary.checkpoints} checkpoints, ${summary.events} events, ${summary.orders} orders`);
  return Exit.ok;
}
