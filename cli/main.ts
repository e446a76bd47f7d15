// `sector`: the operator's command. One command, subcommands; `sector <subcommand> --help`.
// Each subcommand is loaded only when run. Exit codes: cli/exit-codes.ts.
import { CliError, Exit } from './exit-codes.ts';
import { type Io, processIo } from './io.ts';

interface Subcommand {
  summary: string;
  load: () => Promise<{ run(argv: string[], io: Io): Promise<number> }>;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  status: { summary: 'each simulation (tick, rate, lag, leader, lease, backlog) and each worker', load: () => import('./status.ts') },
  sims: { summary: 'ls | create | pause | resume | rm simulations through the API', load: () => import('./sims.ts') },
  chaos: { summary: 'kill, pause and stop workers under order load; audit the history', load: () => import('./chaos.ts') },
  replay: { summary: 'replay a world from a checkpoint and compare it with the live one', load: () => import('./replay.ts') },
  export: { summary: 'write a simulation (meta, world, checkpoints, orders, events) as JSON to stdout', load: () => import('./export.ts') },
  import: { summary: 'load an exported simulation into this Redis', load: () => import('./import.ts') },
  bench: { summary: 'run the benchmarks (npm run bench) with progress', load: () => import('./bench.ts') },
};

export const HELP = `Usage: sector <subcommand> [options]

Subcommands:
${Object.entries(SUBCOMMANDS)
  .map(([name, s]) => `  ${name.padEnd(8)} ${s.summary}`)
  .join('\n')}

Run \`sector <subcommand> --help\` for its options. Configuration comes from the environment
(REDIS_URL, API_URL, SECTOR_TOKEN, ...), as for every Sector role; flags override it.

Exit codes: 0 ok, 1 a check failed, 2 bad usage or configuration, 3 not found,
            4 Redis or the API unreachable or refusing, 5 replay: history not retained.`;

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') return io.help(HELP);
  const sub = SUBCOMMANDS[name];
  try {
    if (!sub) throw new CliError(Exit.usage, `unknown subcommand ${JSON.stringify(name)}; expected one of ${Object.keys(SUBCOMMANDS).join(', ')}`);
    return await (await sub.load()).run(rest, io);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`sector ${name ?? ''}: ${err.message}\n`);
      return err.code;
    }
    process.stderr.write(`sector ${name}: ${(err as Error).stack ?? String(err)}\n`);
    return Exit.unavailable;
  }
}
