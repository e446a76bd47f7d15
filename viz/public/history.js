// The match so far, from the events stream: every event still retained in Redis (fetched
// backwards, one bounded page of /events.json at a time) plus the live ones. From it:
//   - owners at any retained tick: start from the live owners and undo each capture or
//     owner change newer than that tick (they carry `from`, so this is exact);
//   - fleets in transit at that tick: the departures whose trip spans it, minus fleets
//     destroyed by then (their sizes are not in the events, so a replay shows none);
//   - systems per faction over the retained ticks (the same undo, counted).
// Ships per faction are not in the events: that series comes from the `state` messages
// received since the page opened.
const PAGE = 5000;
/** the page keeps at most this many events (the stream keeps EVENTS_MAXLEN, 10,000 by default) */
const MAX_EVENTS = 200_000;
const OWNER_EVENTS = new Set(['system_captured', 'owner_set']);

export function createHistory() {
  const h = {
    events: [],
    /** the oldest retained tick known (null until loaded) */
    oldestTick: null,
    complete: false,
    /** samples from live `state` messages: {tick, systems:[...], ships:[...]} */
    live: [],
    /** how the previous round ended (its world_ended event), when this world is a next round */
    previousEnd: null,
    generation: 0,
  };

  h.reset = () => {
    h.events = [];
    h.oldestTick = null;
    h.complete = false;
    h.live = [];
    h.previousEnd = null;
    h.generation += 1;
  };

  h.append = (events) => {
    for (const e of events) h.events.push(e);
    if (h.events.length > MAX_EVENTS) h.events.splice(0, h.events.length - MAX_EVENTS);
    if (h.oldestTick === null && h.events.length) h.oldestTick = h.events[0].tick;
  };

  h.addSample = (tick, totals) => {
    const last = h.live.at(-1);
    if (last && last.tick >= tick) return;
    h.live.push({ tick, systems: totals.map((t) => t[0]), ships: totals.map((t) => t[1]) });
    if (h.live.length > 20_000) h.live.splice(0, h.live.length - 20_000);
  };

  /** Fetches older events page by page, before the oldest one known (or `before`). */
  h.loadOlder = async (sim, before, onPage) => {
    const generation = h.generation;
    let cursor = h.events[0]?.id ?? before;
    for (;;) {
      const url = new URL('events.json', location.href);
      url.search = '';
      if (sim) url.searchParams.set('sim', sim);
      if (cursor) url.searchParams.set('before', cursor);
      url.searchParams.set('limit', String(PAGE));
      const res = await fetch(url, { cache: 'no-store' });
      if (!res.ok) throw new Error(`events.json: HTTP ${res.status}`);
      const page = await res.json();
      if (generation !== h.generation) return; // another simulation or world meanwhile
      // Events before the newest world_created are an older world's (an earlier round): the
      // history stops there, remembering how that round ended.
      const created = page.events.findLastIndex((e) => e.type === 'world_created');
      if (created >= 0) {
        h.previousEnd = page.events.slice(0, created).findLast((e) => e.type === 'world_ended') ?? null;
        h.events.unshift(...page.events.slice(created));
        h.oldestTick = page.events[created].tick;
        break;
      }
      h.events.unshift(...page.events);
      if (page.events.length) h.oldestTick = page.events[0].tick;
      cursor = page.events[0]?.id ?? cursor;
      onPage();
      if (!page.more || page.events.length === 0 || h.events.length >= MAX_EVENTS) break;
    }
    h.complete = true;
    onPage();
  };

  /** Owners (faction index or -1 per system) at tick `t`, undoing newer changes from `liveOwner`. */
  h.ownersAt = (t, liveOwner, indexOfSystem, indexOfFaction) => {
    const owner = Int16Array.from(liveOwner);
    for (let k = h.events.length - 1; k >= 0; k--) {
      const e = h.events[k];
      if (e.tick <= t) break;
      if (!OWNER_EVENTS.has(e.type)) continue;
      const i = indexOfSystem(e.system);
      if (i !== undefined) owner[i] = e.from === null ? -1 : (indexOfFaction(e.from) ?? -1);
    }
    return owner;
  };

  /** Fleets in transit at tick `t`, from departures (sizes unknown: null). */
  h.fleetsAt = (t, indexOfFaction) => {
    /** fleet id -> the latest tick (up to t) it was destroyed */
    const destroyedAt = new Map();
    const out = [];
    for (let k = h.events.length - 1; k >= 0; k--) {
      const e = h.events[k];
      if (e.tick > t) continue;
      if (e.type === 'fleet_destroyed') destroyedAt.set(e.fleet, Math.max(destroyedAt.get(e.fleet) ?? -1, e.tick));
      if (e.type === 'fleet_departed' && e.arrive > t) {
        out.push({ id: e.fleet, f: indexOfFaction(e.faction) ?? 0, ships: null, system: e.from, to: e.to, depart: e.tick, arrive: e.arrive });
      }
    }
    // a fleet destroyed on the way (in a battle where it passed) is no longer drawn
    return out.filter((f) => (destroyedAt.get(f.id) ?? -1) <= f.depart);
  };

  /**
   * Systems per faction at every tick an owner changed, back to the oldest retained event:
   * [{tick, systems:[...]}], oldest first, ending with the live counts.
   */
  h.systemSeries = (liveTick, liveCounts, indexOfFaction) => {
    const counts = [...liveCounts];
    const points = [{ tick: liveTick, systems: [...counts] }];
    for (let k = h.events.length - 1; k >= 0; k--) {
      const e = h.events[k];
      if (!OWNER_EVENTS.has(e.type) || e.tick > liveTick) continue;
      const to = indexOfFaction(e.to);
      const from = e.from === null ? undefined : indexOfFaction(e.from);
      if (to !== undefined) counts[to] -= 1;
      if (from !== undefined) counts[from] += 1;
      points.push({ tick: e.tick - 1, systems: [...counts] });
    }
    if (h.oldestTick !== null) points.push({ tick: h.oldestTick, systems: [...counts] });
    return points.reverse();
  };

  h.worldEnded = () => {
    for (let k = h.events.length - 1; k >= 0; k--) {
      const e = h.events[k];
      if (e.type === 'world_ended') return e;
      if (e.type === 'world_created') return null;
    }
    return null;
  };

  return h;
}
