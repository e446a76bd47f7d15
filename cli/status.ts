// `sector status [sim...] [--watch] [--json]`
import { COMMON_HELP, configOf, intOption, parse, secondsOption } from './args.ts';
import type { Io } from './io.ts';
import { withRedis } from './redis.ts';
import { readStatus, type StatusReport, WAITING_CAP } from './status-read.ts';

export const help = `Usage: sector status [<sim>...] [--watch [--interval S] [--count N]] [--json]

Each simulation (all registered ones, or those named): its tick, tick rate (ticks/s over its
recent tick events), lag (how late its next tick is against last tick time + tick delay),
leader (the worker holding its lease) and lease time left, orders waiting (capped at
${WAITING_CAP}), orders and events retained, checkpoints. Then each live worker (heartbeat in
sector:workers): what it reports and which simulations it holds. Reads Redis only.

  --watch         redraw every --interval seconds (default 1) until Ctrl-C; with --json, one
                  JSON document per line per refresh
  --count N       with --watch: stop after N refreshes

Exit: 0 shown; 2 bad usage; 4 Redis unreachable.

${COMMON_HELP}`;

const fmt = (v: number | null | undefined, unit = '') => (v === null || v === undefined ? '-' : `${v}${unit}`);

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

export function renderStatus(s: StatusReport): string {
  const simRows = [
    ['SIM', 'STATE', 'TICK', 'TICK/S', 'LAG', 'LEADER', 'LEASE', 'WAITING', 'ORDERS', 'EVENTS', 'CHECKPOINTS'],
    ...s.sims.map((x) => [
      x.id,
      x.state ?? '-',
      fmt(x.tick),
      fmt(x.tickRate),
      fmt(x.lagMs, 'ms'),
      x.leader ?? '(none)',
      fmt(x.leaseLeftMs, 'ms'),
      `${x.ordersWaiting}${x.ordersWaitingCapped ? '+' : ''}`,
      String(x.ordersRetained),
      String(x.eventsRetained),
      x.checkpoints ? `${x.checkpoints} (newest ${x.newestCheckpoint})` : '0',
    ]),
  ];
  const workerRows = [['WORKER', 'HEARTBEAT', 'HOLDS'], ...s.workers.map((w) => [w.id, `${w.heartbeatLeftMs}ms`, `${w.holds.length}${w.holds.length ? `: ${w.holds.join(' ')}` : ''}`])];
  const lines = [pad(simRows), '', s.workers.length ? pad(workerRows) : 'no live worker'];
  if (s.unheld.length) lines.push('', `not held by a live worker: ${s.unheld.join(' ')}`);
  for (const x of s.sims.filter((y) => y.lostTicks)) lines.push('', `${x.id}: ticks ${x.lostTicks} were committed and then lost in a Redis failover; paused until resumed (sector sims resume ${x.id}), it then ticks on after them`);
  return lines.join('\n');
}

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { watch: { type: 'boolean' }, interval: { type: 'string' }, count: { type: 'string' } });
  if (values.help) return io.help(help);
  const config = configOf(values);
  const intervalMs = secondsOption('interval', values.interval, 1);
  const count = intOption('count', values.count, Number.POSITIVE_INFINITY, 1);
  const opts = { only: positionals.length ? positionals : undefined, extra: config.SIM_ID };
  return withRedis(config, async (redis) => {
    if (!values.watch) {
      const s = await readStatus(redis, opts);
      if (values.json) io.json(s);
      else io.line(renderStatus(s));
      return 0;
    }
    let stop = false;
    const onSignal = () => (stop = true);
    process.once('SIGINT', onSignal);
    try {
      for (let i = 0; i < count && !stop; i++) {
        const s = await readStatus(redis, opts);
        if (values.json) io.line(JSON.stringify(s));
        else if (io.tty) io.stdout.write(`\x1b[H\x1b[2J${new Date(s.at).toISOString()}  (every ${intervalMs / 1000}s, Ctrl-C to stop)\n\n${renderStatus(s)}\n`);
        else io.line(`${new Date(s.at).toISOString()}\n${renderStatus(s)}\n`);
        if (i + 1 < count) await new Promise((r) => setTimeout(r, intervalMs));
      }
    } finally {
      process.off('SIGINT', onSignal);
    }
    return 0;
  });
}
