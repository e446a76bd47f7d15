// What a commit writes: the snapshot hash fields that changed since the world this worker
// loaded (by chunk identity, see engine/draft.ts), and the stream/result entries of a tick.
import { SnapshotField } from '../shared/keyspace.ts';
import type { World } from '../shared/world.ts';

export interface SnapshotWrites {
  set: Map<string, string>;
  del: string[];
}

/** The fields to write so that the stored hash of `prev` becomes `next`; everything when prev is null. */
export function snapshotWrites(prev: World | null, next: World): SnapshotWrites {
  const set = new Map<string, string>();
  const del: string[] = [];
  set.set(SnapshotField.meta, JSON.stringify(next.meta));
  next.systems.forEach((chunk, c) => {
    if (!prev || prev.systems[c] !== chunk) set.set(SnapshotField.systemChunk(c), JSON.stringify(chunk));
  });
  for (const [k, chunk] of Object.entries(next.fleets)) {
    if (!prev || prev.fleets[Number(k)] !== chunk) set.set(SnapshotField.fleetChunk(Number(k)), JSON.stringify(chunk));
  }
  if (prev) for (const k of Object.keys(prev.fleets)) if (!(k in next.fleets)) del.push(SnapshotField.fleetChunk(Number(k)));
  return { set, del };
}

/** Stream ids of a tick's events: `<tick>-<n>`, n from 1. A replayed commit is refused by XADD. */
export const eventId = (tick: number, index: number): string => `${tick}-${index + 1}`;
