// Judging one writer (I1) and fencing (I2) from Redis' own data, not from worker log lines:
// - every commit that landed, as Redis executed it (MONITOR shows the commands of an EXEC only
//   when the transaction ran; an aborted one shows none), with the client that sent it;
// - the events stream, whose ids are `<tick>-<n>`.
// The tests (tests/helpers/commits.ts re-exports this) and `sector chaos` judge with it.
import { Redis, type RedisOptions } from 'ioredis';
import type { RedisClient } from '../shared/redis.ts';
import { simKeys } from '../shared/keyspace.ts';
import { pollUntil } from '../shared/poll.ts';
import type { StreamEntry } from '../shared/streams.ts';

/** A Redis to watch: a port on 127.0.0.1 (tests) or a redis:// URL. */
export type RedisTarget = number | string;
const connect = (target: RedisTarget, opts: RedisOptions = {}) => (typeof target === 'number' ? new Redis(target, '127.0.0.1', opts) : new Redis(target, opts));

export interface LandedCommit {
  /** the tick the commit wrote (from the `rev` it set: `<tick>:<uuid>`) */
  tick: number;
  rev: string;
  /** the sending connection's name (`sector-commit:<workerId>`), when it could be resolved */
  client: string | undefined;
}

export interface CommitRecorder {
  /** landed commits of the simulation, in the order Redis executed them */
  readonly commits: LandedCommit[];
  /** the ticks committed by one worker (by its WORKER_ID); complete after stop() */
  ticksOf(workerId: string): number[];
  /** the WORKER_ID of whoever committed `tick` (waits until MONITOR has shown that commit) */
  committerOf(tick: number): Promise<string | undefined>;
  stop(): Promise<void>;
}

/** Records every commit that lands on the snapshot of `simId`. Start it before the workers. */
export async function recordCommits(port: RedisTarget, simId: string): Promise<CommitRecorder> {
  const all = await recordCommitsOf(port, [simId]);
  const commits = all.of(simId);
  return {
    commits,
    committerOf: (tick) => all.committerOf(simId, tick),
    // a pool worker's commit connections are `sector-commit:<workerId>` and `…#<n>`
    ticksOf: (workerId) => commits.filter((c) => c.client?.replace(/#\d+$/, '') === `sector-commit:${workerId}`).map((c) => c.tick),
    stop: () => all.stop(),
  };
}

export interface PoolCommitRecorder {
  /** landed commits of one of the simulations, in the order Redis executed them; complete after stop() */
  of(simId: string): LandedCommit[];
  /** the WORKER_ID of whoever committed `tick` of `simId` (waits until MONITOR has shown that commit) */
  committerOf(simId: string, tick: number): Promise<string | undefined>;
  /** idempotent */
  stop(): Promise<void>;
}

/** Records every commit that lands on the snapshots of `simIds` (one MONITOR for all). */
export async function recordCommitsOf(port: RedisTarget, simIds: readonly string[]): Promise<PoolCommitRecorder> {
  const simOf = new Map(simIds.map((id) => [simKeys(id).snapshot, id]));
  const control = connect(port, { maxRetriesPerRequest: 1 });
  control.on('error', () => {});
  const names = new Map<string, Promise<string | undefined>>();
  const nameOf = (addr: string) => {
    let p = names.get(addr);
    if (!p) {
      // Asked when the address is first seen: the client has just sent a command, so it is
      // still listed (a client killed later is gone from CLIENT LIST).
      p = (control.client('LIST') as Promise<string>).then(
        (list) => /name=(\S*)/.exec(list.split('\n').find((l) => l.includes(` addr=${addr} `)) ?? '')?.[1] || undefined,
        () => undefined,
      );
      names.set(addr, p);
    }
    return p;
  };
  const pending: { simId: string; tick: number; rev: string; name: Promise<string | undefined> }[] = [];
  // A connection in monitor mode from its start, with its error handler attached at once:
  // ioredis' monitor() attaches none until it resolves, and on a busy server lines that arrive
  // in the same read as MONITOR's reply raise an 'error' (command queue state) meanwhile.
  // Start the recorder before the simulations it watches commit: such early lines are lost.
  const monitor = connect(port, { monitor: true });
  monitor.on('error', () => {});
  await new Promise<void>((resolve) => monitor.once('monitoring', () => resolve()));
  let flushed: ((marker: string) => void) | undefined;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (args[0]?.toLowerCase() === 'echo') flushed?.(args[1] ?? '');
    const simId = args[0]?.toLowerCase() === 'hset' ? simOf.get(args[1] ?? '') : undefined;
    if (simId === undefined) return;
    for (let i = 2; i + 1 < args.length; i += 2) {
      if (args[i] !== 'rev') continue;
      const rev = args[i + 1]!;
      pending.push({ simId, tick: Number(rev.split(':')[0]), rev, name: nameOf(source) });
    }
  });
  const commits = new Map<string, LandedCommit[]>(simIds.map((id) => [id, []]));
  let settled = 0;
  const settle = async () => {
    for (; settled < pending.length; settled++) {
      const p = pending[settled]!;
      commits.get(p.simId)!.push({ tick: p.tick, rev: p.rev, client: await p.name });
    }
  };
  let stopped = false;
  return {
    of: (simId) => commits.get(simId) ?? [],
    async committerOf(simId, tick) {
      const p = await pollUntil(() => pending.findLast((c) => c.simId === simId && c.tick === tick), `the commit of tick ${tick} of ${simId} on MONITOR`);
      return (await p.name)?.replace(/^sector-commit:/, '').replace(/#\d+$/, '');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // MONITOR delivers in order: once it shows this ECHO, every earlier commit has arrived.
      const marker = `commits-flushed-${Date.now()}`;
      const seen = new Promise<void>((resolve) => {
        flushed = (m) => m === marker && resolve();
      });
      await control.echo(marker).catch(() => {});
      await Promise.race([seen, new Promise((r) => setTimeout(r, 5000).unref())]);
      await settle();
      monitor.disconnect();
      control.disconnect();
    },
  };
}

/** tick -> the sequence numbers of its event ids, in stream order */
export async function eventIdsByTick(redis: RedisClient, simId: string): Promise<Map<number, number[]>> {
  const entries = (await redis.xrange(simKeys(simId).events, '-', '+')) as StreamEntry[];
  const byTick = new Map<number, number[]>();
  for (const [id] of entries) {
    const [tick, seq] = id.split('-').map(Number) as [number, number];
    byTick.set(tick, [...(byTick.get(tick) ?? []), seq]);
  }
  return byTick;
}

/**
 * What I1 demands, from Redis' data: the landed commits wrote ticks first..last once each, in
 * order, and the events stream holds those ticks, each with ids `<tick>-1..n` and no gap.
 * Returns a list of violations (empty when all holds), so a test shows all of them at once.
 */
export async function tickViolations(redis: RedisClient, simId: string, commits: readonly LandedCommit[]): Promise<string[]> {
  const problems: string[] = [];
  const ticks = commits.map((c) => c.tick);
  ticks.forEach((t, i) => {
    if (i > 0 && t !== ticks[i - 1]! + 1) problems.push(`commit #${i} wrote tick ${t} after tick ${ticks[i - 1]} (by ${commits[i]!.client})`);
  });
  const events = await eventIdsByTick(redis, simId);
  const streamTicks = [...events.keys()];
  if (ticks.length > 0) {
    const first = ticks[0]!;
    const last = ticks[ticks.length - 1]!;
    for (let t = first; t <= last; t++) {
      const seqs = events.get(t);
      if (!seqs) problems.push(`tick ${t} was committed but has no events`);
      else if (seqs.some((s, i) => s !== i + 1)) problems.push(`tick ${t} has event ids ${seqs.join(',')}`);
    }
    const extra = streamTicks.filter((t) => t < first || t > last);
    // events of ticks committed before the recorder started are not extra
    if (extra.some((t) => t > last)) problems.push(`events of ticks never committed: ${extra.filter((t) => t > last).join(',')}`);
  }
  return problems;
}
