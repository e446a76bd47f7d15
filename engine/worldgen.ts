// World generation from a seed: systems on a jittered grid (ids follow space, so a local
// fight touches few storage chunks), a connected lane graph, factions with far-apart homes.
import { FACTION_COLORS, FACTION_IDS, factionIdsFor, RULES } from '../shared/rules.ts';
import { type Faction, SNAPSHOT_SCHEMA_VERSION, type StarSystem, type WorldParams } from '../shared/schemas.ts';
import { chunkSystems, type World } from '../shared/world.ts';
import { Rng } from './rng.ts';

const CELL = 10;
const SYLLABLES = ['al', 'be', 'cor', 'da', 'el', 'fa', 'gor', 'hy', 'is', 'ka', 'lu', 'mi', 'nor', 'or', 'pra', 'qu', 'ri', 'sol', 'ta', 'ul', 've', 'wen', 'xi', 'yor', 'ze'];

function systemName(rng: Rng, id: number): string {
  const n = 2 + rng.int(2);
  let s = '';
  for (let i = 0; i < n; i++) s += SYLLABLES[rng.int(SYLLABLES.length)];
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}-${id}`;
}

export function generateWorld(params: WorldParams, ts = 0): World {
  const { systems: n, seed } = params;
  const factionCount = factionIdsFor(params).length;
  const rng = Rng.fromSeed(seed);
  const side = Math.ceil(Math.sqrt(n));
  const lanes: number[][] = Array.from({ length: n }, () => []);
  const link = (a: number, b: number) => {
    if (a === b || b < 0 || b >= n || lanes[a]!.includes(b)) return;
    lanes[a]!.push(b);
    lanes[b]!.push(a);
  };

  const systems: StarSystem[] = [];
  for (let id = 0; id < n; id++) {
    const col = id % side;
    const row = Math.floor(id / side);
    systems.push({
      id,
      name: systemName(rng, id),
      x: Math.round((col * CELL + CELL / 2 + (rng.next() - 0.5) * CELL * 0.7) * 10) / 10,
      y: Math.round((row * CELL + CELL / 2 + (rng.next() - 0.5) * CELL * 0.7) * 10) / 10,
      lanes: [],
      industry: 1 + rng.int(3),
      owner: null,
      garrison: rng.int(RULES.neutralGarrisonMax),
      since: 0,
    });
    // A spanning tree (each cell joins the cell above or to its left) keeps the graph
    // connected; extra lanes to the right and diagonal give routes to choose between.
    const up = id - side;
    const left = col > 0 ? id - 1 : -1;
    if (up >= 0 && left >= 0) link(id, rng.next() < 0.5 ? up : left);
    else if (up >= 0) link(id, up);
    else if (left >= 0) link(id, left);
    if (up >= 0 && left >= 0 && rng.next() < 0.35) link(id, rng.next() < 0.5 ? left : up);
    if (up + 1 >= 0 && col + 1 < side && rng.next() < 0.15) link(id, up + 1);
  }
  for (let id = 0; id < n; id++) systems[id]!.lanes = lanes[id]!.sort((a, b) => a - b);

  // Homes far apart: farthest-point sampling from a seeded start.
  const homes: number[] = [rng.int(n)];
  const dist = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  while (homes.length < factionCount) {
    const last = systems[homes[homes.length - 1]!]!;
    let best = -1;
    let bestD = -1;
    for (let i = 0; i < n; i++) {
      const s = systems[i]!;
      const d = Math.min(dist[i]!, (s.x - last.x) ** 2 + (s.y - last.y) ** 2);
      dist[i] = d;
      if (d > bestD) {
        bestD = d;
        best = i;
      }
    }
    homes.push(best);
  }
  const factions: Faction[] = homes.map((home, i) => ({ id: FACTION_IDS[i]!, name: FACTION_IDS[i]!, color: FACTION_COLORS[i]!, home }));
  for (const f of factions) {
    const s = systems[f.home]!;
    systems[f.home] = { ...s, owner: f.id, industry: 3, garrison: RULES.homeGarrison, since: 0 };
  }

  return {
    meta: {
      schema: SNAPSHOT_SCHEMA_VERSION,
      params: { ...params, factions: factionCount },
      tick: 0,
      ts,
      lastOrderId: '0-0',
      rng: rng.state(),
      nextFleetId: 1,
      factions,
    },
    systems: chunkSystems(systems),
    fleets: {},
  };
}
