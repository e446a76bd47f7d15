// `sector replay <sim> [--from-tick T]`: see replay-core.ts for what is compared.
import type { RedisClient, RedisTarget } from '../shared/redis.ts';
import { simKeys } from '../shared/keyspace.ts';
import { simExists } from '../shared/sim-registry.ts';
import { COMMON_HELP, configOf, intOption, parse } from './args.ts';
import { CliError, Exit } from './exit-codes.ts';
import { historyOf, readArchive } from './archive.ts';
import { readHistory } from './history.ts';
import type { Io } from './io.ts';
import { type ReplayOutcome, replayHistory } from './replay-core.ts';
import { withRedis } from './redis.ts';

export const help = `Usage: sector replay <sim> [--from-tick T] [--json]

Rebuilds the world from a saved checkpoint and the retained orders with the pure engine, tick
by tick, and compares byte for byte: each tick's events with the stored ones, the world with
every later checkpoint, and, at the live tick, with the live snapshot. Read in one MULTI, so a
running world may go on ticking meanwhile.

  --file F        replay an export file (sector export) instead of a live Redis
  --from-tick T   start from the newest checkpoint at or before tick T (default: the oldest
                  checkpoint whose orders and events are still retained)

Exit: 0 same; 1 differs (the first differing tick is named); 3 no such simulation;
      4 Redis unreachable; 5 nothing to replay from (no checkpoint, history not retained).

${COMMON_HELP}`;

export interface ReplayReport {
  sim: string;
  outcome: ReplayOutcome;
  /** checkpoints tried first and skipped because their history is no longer retained */
  skipped: { tick: number; detail: string }[];
}

/** Replays one simulation of this Redis; null when it has no checkpoint at or before fromTick. */
export async function replaySim(redis: RedisClient, sim: string, fromTick?: number): Promise<ReplayReport | null> {
  const history = await readHistory(redis, sim);
  const r = replayHistory(history, fromTick);
  return r ? { sim, ...r } : null;
}

export function describeOutcome(o: ReplayOutcome): string {
  switch (o.status) {
    case 'same':
      return `same: ticks ${o.fromTick}..${o.toTick} replayed, identical to the live world${o.checkpointsCompared.length ? ` and to the checkpoints at ${o.checkpointsCompared.join(', ')}` : ''}`;
    case 'differs':
      return `DIFFERS at tick ${o.tick} (${o.where}; replayed from tick ${o.fromTick}): ${o.detail}`;
    case 'not_covered':
      return `cannot replay from tick ${o.fromTick}: ${o.detail}`;
  }
}

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { 'from-tick': { type: 'string' }, file: { type: 'string' } });
  if (values.help) return io.help(help);
  const fromTick = values['from-tick'] === undefined ? undefined : intOption('from-tick', values['from-tick'], 0);
  let sim = positionals[0];
  let report: ReplayReport | null;
  if (values.file !== undefined && positionals.length === 0) {
    const archive = await readArchive(values.file);
    sim = archive.sim;
    const r = replayHistory(historyOf(archive), fromTick);
    report = r ? { sim, ...r } : null;
  } else {
    if (!sim || positionals.length > 1 || values.file !== undefined) throw new CliError(Exit.usage, 'expected one simulation id, or --file alone (see --help)');
    report = await replayLive(configOf(values), sim, fromTick);
  }
  if (!report) throw new CliError(Exit.notCovered, fromTick === undefined ? `simulation ${sim} has no checkpoint (CHECKPOINT_EVERY_TICKS=0 on its worker?)` : `simulation ${sim} has no checkpoint at or before tick ${fromTick}`);
  const code = report.outcome.status === 'same' ? Exit.ok : report.outcome.status === 'differs' ? Exit.checkFailed : Exit.notCovered;
  if (values.json) io.json(report);
  else {
    for (const s of report.skipped) io.line(`skipped checkpoint ${s.tick}: ${s.detail}`);
    io.line(`${sim}: ${describeOutcome(report.outcome)}`);
  }
  return code;
}

function replayLive(target: RedisTarget, sim: string, fromTick: number | undefined): Promise<ReplayReport | null> {
  return withRedis(target, async (redis) => {
    // the registry, or a world alone (the default simulation before anything registered it)
    if (!(await simExists(redis, sim)) && (await redis.exists(simKeys(sim).snapshot)) === 0) throw new CliError(Exit.notFound, `no simulation ${sim}`);
    return replaySim(redis, sim, fromTick);
  });
}
