// `sector export <sim> > file`
import { simKeys } from '../shared/keyspace.ts';
import { COMMON_HELP, configOf, parse } from './args.ts';
import { toArchive } from './archive.ts';
import { CliError, Exit } from './exit-codes.ts';
import { readHistory } from './history.ts';
import type { Io } from './io.ts';
import { withRedis } from './redis.ts';

export const help = `Usage: sector export <sim> > file.json

Writes one JSON document to stdout: the simulation's registry record, scoped token digests,
live snapshot, checkpoints, and retained orders and events, read in one MULTI (consistent
while it ticks). \`sector import\` loads it into another Redis; \`sector replay\` works there.

Exit: 0 written; 2 bad usage; 3 no such simulation; 4 Redis unreachable.

${COMMON_HELP}`;

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  if (values.help) return io.help(help);
  if (positionals.length !== 1) throw new CliError(Exit.usage, 'expected one simulation id (see --help)');
  const sim = positionals[0]!;
  const config = configOf(values);
  const archive = await withRedis(config, async (redis) => {
    const h = await readHistory(redis, sim);
    if (Object.keys(h.meta).length === 0 && (await redis.exists(simKeys(sim).snapshot)) === 0) throw new CliError(Exit.notFound, `no simulation ${sim}`);
    return toArchive(sim, h);
  });
  io.stdout.write(JSON.stringify(archive));
  io.stdout.write('\n');
  io.progress(`exported ${sim}: tick ${archive.snapshot.meta ? (JSON.parse(archive.snapshot.meta) as { tick: number }).tick : '-'}, ${archive.checkpoints.length} checkpoints, ${archive.events.length} events, ${archive.orders.length} orders`);
  return Exit.ok;
}
