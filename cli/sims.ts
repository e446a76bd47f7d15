// `sector sims ls|create|pause|resume|rm`: the registry of simulations through the API's /sims
// routes (changes need the admin token: --token or SECTOR_TOKEN).
import type { SimSummary } from '../shared/sim-summary.ts';
import { type ApiTarget, apiCall } from './api.ts';
import { COMMON_HELP, configOf, intOption, parse } from './args.ts';
import { CliError, Exit } from './exit-codes.ts';
import type { Io } from './io.ts';

export const help = `Usage:
  sector sims ls [--json]
  sector sims create <id> [--systems N] [--factions N] [--seed N] [--tick-delay-ms MS] [--name TEXT] [--tokens] [--json]
  sector sims pause <id>...
  sector sims resume <id>...
  sector sims rm <id>...

Through the API (API_URL): ls is public; create, pause, resume and rm need the admin token.
create --tokens also issues one token per faction, valid in this simulation only, printed once.
Pause and resume take effect at the simulation's next tick boundary.

Exit: 0 done; 2 bad usage or input the API refused as invalid; 3 no such simulation;
      4 the API unreachable or refusing (no token, not admin, id taken).

${COMMON_HELP}`;

interface SimPage {
  sims: SimSummary[];
  total: number;
}

async function listAll(target: ApiTarget): Promise<SimSummary[]> {
  const out: SimSummary[] = [];
  for (let offset = 0; ; ) {
    const page = (await apiCall<SimPage>(target, 'GET', `/sims?offset=${offset}&limit=1000`))!;
    out.push(...page.sims);
    offset += 1000;
    if (offset >= page.total || page.sims.length === 0) return out;
  }
}

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {
    systems: { type: 'string' },
    factions: { type: 'string' },
    seed: { type: 'string' },
    'tick-delay-ms': { type: 'string' },
    name: { type: 'string' },
    tokens: { type: 'boolean' },
  });
  const [action, ...ids] = positionals;
  if (values.help || action === undefined) return io.help(help);
  const config = configOf(values);
  const target: ApiTarget = { url: config.API_URL, token: config.SECTOR_TOKEN };
  switch (action) {
    case 'ls': {
      const sims = await listAll(target);
      if (values.json) io.json(sims);
      else {
        io.line(['ID'.padEnd(20), 'STATE'.padEnd(8), 'TICK'.padEnd(8), 'DELAY'.padEnd(8), 'SYSTEMS'.padEnd(8), 'HOLDER'].join(' '));
        for (const s of sims) io.line([s.id.padEnd(20), String(s.state ?? '-').padEnd(8), String(s.tick ?? '-').padEnd(8), `${s.tickDelayMs ?? '-'}ms`.padEnd(8), String(s.systems ?? '-').padEnd(8), s.holder ?? '(none)'].join(' '));
      }
      return Exit.ok;
    }
    case 'create': {
      if (ids.length !== 1) throw new CliError(Exit.usage, 'sims create takes one id');
      const body = {
        id: ids[0],
        ...(values.name === undefined ? {} : { name: values.name }),
        ...(values.systems === undefined ? {} : { systems: intOption('systems', values.systems, 0) }),
        ...(values.factions === undefined ? {} : { factions: intOption('factions', values.factions, 0) }),
        ...(values.seed === undefined ? {} : { seed: intOption('seed', values.seed, 0) }),
        ...(values['tick-delay-ms'] === undefined ? {} : { tickDelayMs: intOption('tick-delay-ms', values['tick-delay-ms'], 0) }),
        ...(values.tokens ? { tokens: true } : {}),
      };
      const created = await apiCall<{ sim: SimSummary; tokens?: Record<string, string> }>(target, 'POST', '/sims', body);
      if (values.json) io.json(created);
      else {
        io.line(`created ${created!.sim.id} (${created!.sim.systems} systems, ${created!.sim.factions} factions, tick every ${created!.sim.tickDelayMs} ms)`);
        for (const [faction, token] of Object.entries(created!.tokens ?? {})) io.line(`  token ${faction}: ${token}`);
      }
      return Exit.ok;
    }
    case 'pause':
    case 'resume': {
      if (ids.length === 0) throw new CliError(Exit.usage, `sims ${action} takes one or more ids`);
      const done: SimSummary[] = [];
      for (const id of ids) done.push((await apiCall<SimSummary>(target, 'PATCH', `/sims/${encodeURIComponent(id)}`, { state: action === 'pause' ? 'paused' : 'running' }))!);
      if (values.json) io.json(done);
      else for (const s of done) io.line(`${s.id}: ${s.state} (at tick ${s.tick ?? '-'})`);
      return Exit.ok;
    }
    case 'rm': {
      if (ids.length === 0) throw new CliError(Exit.usage, 'sims rm takes one or more ids');
      for (const id of ids) await apiCall(target, 'DELETE', `/sims/${encodeURIComponent(id)}`);
      if (values.json) io.json({ deleted: ids });
      else for (const id of ids) io.line(`deleted ${id}`);
      return Exit.ok;
    }
    default:
      throw new CliError(Exit.usage, `unknown action ${JSON.stringify(action)}; expected ls, create, pause, resume or rm`);
  }
}
