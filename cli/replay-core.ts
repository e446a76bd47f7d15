// Replay, the pure part: from a checkpoint, re-run every tick with the engine (engine/advance.ts)
// on the orders that tick consumed and the tick time the worker gave it, and compare, byte for
// byte, each tick's events with the stored ones, the world with every later checkpoint, and
// the world at the live tick with the live snapshot.
//
// Each tick's exact inputs (its tick time and the orders it consumed) come from the stored
// history: see engine/replay-tick.ts.
// A tick whose inputs are no longer retained (events capped by EVENTS_MAXLEN, orders trimmed
// after ORDER_RETAIN_TICKS) cannot be replayed: that is "not covered", apart from "differs".
import { firstEventDifference, replayTick } from '../engine/replay-tick.ts';
import { snapshotWrites } from '../engine/store.ts';
import { SnapshotField } from '../shared/keyspace.ts';
import type { StreamEntry } from '../shared/streams.ts';
import { decodeSnapshotHash, SnapshotCorruptError } from '../shared/world-store.ts';
import type { World } from '../shared/world.ts';
import type { Checkpoint, History } from './history.ts';

export type ReplayOutcome =
  | { status: 'same'; fromTick: number; toTick: number; checkpointsCompared: number[] }
  | { status: 'differs'; fromTick: number; toTick: number; tick: number; where: string; detail: string }
  | { status: 'not_covered'; fromTick: number; tick: number; detail: string };

/** The world as the stored hash holds it (without rev and order-marks, which are bookkeeping). */
export function worldFields(world: World): Map<string, string> {
  return snapshotWrites(null, world).set;
}

/** The first field that differs between a replayed world and a stored hash, or null. */
export function firstDifference(world: World, hash: Record<string, string>): string | null {
  const mine = worldFields(world);
  const theirs = new Map(Object.entries(hash).filter(([f]) => f !== SnapshotField.rev && f !== SnapshotField.orderMarks));
  const names = [...new Set([...mine.keys(), ...theirs.keys()])].sort();
  for (const f of names) {
    const a = mine.get(f);
    const b = theirs.get(f);
    if (a === b) continue;
    if (a === undefined) return `field ${f} is stored but the replayed world has none`;
    if (b === undefined) return `field ${f} is missing from the stored hash`;
    const at = [...a].findIndex((ch, i) => ch !== b[i]);
    const i = at < 0 ? Math.min(a.length, b.length) : at;
    return `field ${f} differs at byte ${i}: replayed …${a.slice(Math.max(0, i - 20), i + 40)}… stored …${b.slice(Math.max(0, i - 20), i + 40)}…`;
  }
  return null;
}

const eventJson = (fields: string[]): string | undefined => fields[fields.indexOf('event') + 1];

/** tick -> its stored event JSON strings, in id order */
function eventsByTick(events: readonly StreamEntry[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const [id, fields] of events) {
    const tick = Number(id.split('-')[0]);
    const list = out.get(tick) ?? [];
    list.push(eventJson(fields) ?? '');
    out.set(tick, list);
  }
  return out;
}

/** Replays from `start` up to the live snapshot's tick. */
export function replayFrom(history: History, start: Checkpoint): ReplayOutcome {
  const fromTick = start.tick;
  let world: World;
  let live: World;
  try {
    world = decodeSnapshotHash(start.hash)!.world;
  } catch (err) {
    if (!(err instanceof SnapshotCorruptError)) throw err;
    return { status: 'differs', fromTick, toTick: fromTick, tick: fromTick, where: `checkpoint ${start.key}`, detail: err.message };
  }
  try {
    const decoded = decodeSnapshotHash(history.snapshot, false);
    if (!decoded) return { status: 'not_covered', fromTick, tick: fromTick, detail: 'the simulation has no live snapshot' };
    live = decoded.world;
  } catch (err) {
    return { status: 'differs', fromTick, toTick: fromTick, tick: fromTick, where: 'the live snapshot', detail: (err as Error).message };
  }
  const toTick = live.meta.tick;
  if (toTick < fromTick) return { status: 'not_covered', fromTick, tick: fromTick, detail: `the live world (tick ${toTick}) is older than checkpoint ${fromTick}: was an older snapshot restored?` };
  const stored = eventsByTick(history.events);
  const later = new Map(history.checkpoints.filter((c) => c.tick > fromTick).map((c) => [c.tick, c]));
  const compared: number[] = [];
  let orderAt = 0;
  for (let tick = fromTick + 1; tick <= toTick; tick++) {
    const storedEvents = stored.get(tick);
    const step = replayTick(world, storedEvents, history.orders, orderAt);
    if (!step.ok) return { status: 'not_covered', fromTick, tick, detail: step.detail };
    orderAt = step.orderAt;
    const mine = step.events;
    const i = firstEventDifference(mine, storedEvents!);
    if (i >= 0) {
      return { status: 'differs', fromTick, toTick, tick, where: `event ${tick}-${i + 1}`, detail: `replayed ${mine[i] ?? '(none)'}, stored ${storedEvents![i] ?? '(none)'}` };
    }
    const next = step.result;
    world = next.world;
    const checkpoint = later.get(tick);
    if (checkpoint) {
      const diff = firstDifference(world, checkpoint.hash);
      if (diff) return { status: 'differs', fromTick, toTick, tick, where: `checkpoint ${checkpoint.key}`, detail: diff };
      compared.push(tick);
    }
  }
  const diff = firstDifference(world, history.snapshot);
  if (diff) return { status: 'differs', fromTick, toTick, tick: toTick, where: 'the live snapshot', detail: diff };
  return { status: 'same', fromTick, toTick, checkpointsCompared: compared };
}

/**
 * Picks the checkpoint and replays. With `fromTick`: the newest checkpoint at or before it.
 * Without: the oldest checkpoint whose history is still retained (older ones are tried first
 * and skipped only when not covered). null when there is no checkpoint to start from.
 */
export function replayHistory(history: History, fromTick?: number): { outcome: ReplayOutcome; skipped: { tick: number; detail: string }[] } | null {
  if (fromTick !== undefined) {
    const start = history.checkpoints.filter((c) => c.tick <= fromTick).at(-1);
    return start ? { outcome: replayFrom(history, start), skipped: [] } : null;
  }
  const skipped: { tick: number; detail: string }[] = [];
  for (const start of history.checkpoints) {
    const outcome = replayFrom(history, start);
    if (outcome.status !== 'not_covered') return { outcome, skipped };
    skipped.push({ tick: start.tick, detail: outcome.detail });
  }
  const last = history.checkpoints.at(-1);
  return last ? { outcome: replayFrom(history, last), skipped: skipped.slice(0, -1) } : null;
}
