// The match so far, from the events stream: every event still retained in Redis (fetched
// backwards, one bounded page of /events.json at a time) plus the live ones. From it:
//   - owners at any retained tick: start from the live owners and undo each capture or
//     owner change newer than that tick (they carry `from`, so this is exact);
//   - fleets in transit at that tick: the departures whose trip spans it, minus fleets
//     destroyed by then (their sizes are not in the events, so a replay shows none);
//   - systems per faction over the retained ticks (the same undo, counted).
//   - systems and ships per faction at every tick: each `tick` event carries the faction
//     standings as the tick left the world (`standings`, {faction: [systems, ships]}); for
//     events from before the engine wrote them, systems come from the undo above and ships
//     only from the `state` messages received since the page opened.
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
    /** the `tick` events that carry standings, oldest first: {tick, standings} */
    standings: [],
    /** how the previous round ended (its world_ended event), when this world is a next round */
    previousEnd: null,
    generation: 0,
  };

  h.reset = () => {
    h.events = [];
    h.oldestTick = null;
    h.complete = false;
    h.live = [];
    h.standings = [];
    h.previousEnd = null;
    h.generation += 1;
  };

  const standingsOf = (events) => events.filter((e) => e.type === 'tick' && e.standings).map((e) => ({ tick: e.tick, standings: e.standings }));

  h.append = (events) => {
    for (const e of events) h.events.push(e);
    for (const p of standingsOf(events)) if (!(h.standings.at(-1)?.tick >= p.tick)) h.standings.push(p);
    if (h.events.length > MAX_EVENTS) {
      h.events.splice(0, h.events.length - MAX_EVENTS);
      const oldest = h.events[0].tick;
      const keep = h.standings.findIndex((p) => p.tick >= oldest);
      h.standings.splice(0, keep < 0 ? h.standings.length : keep);
    }
    if (h.oldestTick === null && h.events.length) h.oldestTick = h.events[0].tick;
  };

  /** Prepends older events (a page fetched backwards) and their standings. */
  const prepend = (events) => {
    h.events.unshift(...events);
    const first = h.standings[0]?.tick ?? Infinity;
    h.standings.unshift(...standingsOf(events).filter((p) => p.tick < first));
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
        prepend(page.events.slice(created));
        h.oldestTick = page.events[created].tick;
        break;
      }
      prepend(page.events);
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

  /**
   * The charts' series, oldest first: {systems: [{tick, v:[...]}], ships: [{tick, v:[...]}],
   * shipsFrom, shipsPartial}. From the standings in the tick events, then the live samples after the newest
   * of them; systems before the oldest standings (older events) from the owner undo.
   */
  h.chartSeries = (liveTick, liveCounts, factionIds) => {
    const fromStandings = h.standings.map((p) => ({
      tick: p.tick,
      systems: factionIds.map((id) => p.standings[id]?.[0] ?? 0),
      ships: factionIds.map((id) => p.standings[id]?.[1] ?? 0),
    }));
    // the live samples fill the ticks the standings do not cover (older events, or a tick
    // whose events have not arrived yet)
    const covered = new Set(fromStandings.map((p) => p.tick));
    const samples = [...fromStandings, ...h.live.filter((p) => !covered.has(p.tick) && p.tick <= liveTick)].sort((a, b) => a.tick - b.tick);
    const firstSample = samples[0]?.tick ?? Infinity;
    const indexOf = new Map(factionIds.map((id, i) => [id, i]));
    const undone = h.systemSeries(liveTick, liveCounts, (id) => indexOf.get(id)).filter((p) => p.tick < firstSample);
    const systems = [...undone.map((p) => ({ tick: p.tick, v: p.systems })), ...samples.map((p) => ({ tick: p.tick, v: p.systems }))];
    const ships = samples.map((p) => ({ tick: p.tick, v: p.ships }));
    // ships start later than systems when the oldest tick events carry no standings
    const oldestTickEvent = h.events.find((e) => e.type === 'tick');
    const shipsPartial = oldestTickEvent !== undefined && !oldestTickEvent.standings;
    return { systems, ships, shipsFrom: ships[0]?.tick ?? null, shipsPartial };
  };

  /** The standings the tick event of tick `t` carries, or null. */
  h.standingsAt = (t) => {
    let lo = 0;
    let hi = h.standings.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const p = h.standings[mid];
      if (p.tick === t) return p.standings;
      if (p.tick < t) lo = mid + 1;
      else hi = mid - 1;
    }
    return null;
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
