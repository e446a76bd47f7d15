// The live list of simulations and the map of the one opened (`?sim=<id>`, or the viz's
// default simulation without it). Protocol (viz/protocol.ts): `snapshot` (the whole world and
// the id of the last event it includes), `events` (consecutive stream events), `state`
// (owners, garrisons, fleets and totals after a tick). On a dropped connection it reconnects
// with the last event id it saw and the server replays exactly what was missed.
const SVG = 'http://www.w3.org/2000/svg';
const NEUTRAL = '#4b5263';
const LOG_LIMIT = 200;
const CLOSE_WORLD_RESET = 4002;
const CLOSE_UNKNOWN_SIM = 4004;
const LIST_PAGE = 50;
const LIST_POLL_MS = 1000;

const $ = (id) => document.getElementById(id);
const view = {
  /** the snapshot's static parts plus the latest state applied to it */
  world: null,
  lastEventId: null,
  tick: null,
  systemNodes: [],
  /** the simulation opened: null for the viz's default one */
  sim: new URLSearchParams(location.search).get('sim') || null,
  /** the default simulation's id, as the list reports it */
  defaultSim: null,
};
window.sectorView = view; // for debugging in the console (and the e2e test)

function el(name, attrs = {}, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

function factionColor(index) {
  return index === null || index === undefined ? NEUTRAL : (view.world.factions[index]?.color ?? NEUTRAL);
}

// ---------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------

function drawWorld() {
  const world = view.world;
  const lanes = $('lanes');
  const systems = $('systems');
  lanes.replaceChildren();
  systems.replaceChildren();
  $('fleets').replaceChildren();
  $('empty').hidden = world !== null;
  if (!world) {
    $('tick').textContent = '–';
    return;
  }
  $('sim').textContent = `sim ${world.simId} · ${world.systems.length} systems`;
  const xs = world.systems.map((s) => s.x);
  const ys = world.systems.map((s) => s.y);
  const pad = 6;
  const minX = Math.min(...xs) - pad;
  const minY = Math.min(...ys) - pad;
  $('map').setAttribute('viewBox', `${minX} ${minY} ${Math.max(...xs) - minX + pad} ${Math.max(...ys) - minY + pad}`);
  const byId = new Map(world.systems.map((s) => [s.id, s]));
  for (const s of world.systems) {
    for (const other of s.lanes) {
      const t = byId.get(other);
      if (t && s.id < other) el('line', { class: 'lane', x1: s.x, y1: s.y, x2: t.x, y2: t.y }, lanes);
    }
  }
  view.systemNodes = world.systems.map((s) => {
    const g = el('g', { class: 'system', 'data-system-id': s.id }, systems);
    const title = el('title', {}, g);
    const circle = el('circle', { cx: s.x, cy: s.y, r: 1.4 + s.industry * 0.45 }, g);
    const count = el('text', { x: s.x, y: s.y }, g);
    el('text', { class: 'name', x: s.x, y: s.y + 3.9 }, g).textContent = s.name;
    return { g, title, circle, count };
  });
  drawDynamic();
}

/** Owners, garrisons, fleets and the legend: everything a tick can change. */
function drawDynamic() {
  const world = view.world;
  if (!world) return;
  world.systems.forEach((s, i) => {
    const node = view.systemNodes[i];
    const owner = s.owner === null ? null : world.factions.findIndex((f) => f.id === s.owner);
    const color = factionColor(owner);
    node.circle.setAttribute('fill', color);
    node.g.setAttribute('data-owner', s.owner ?? '');
    node.count.textContent = String(s.ships);
    node.title.textContent = `${s.name} (#${s.id}) · ${s.owner ?? 'neutral'} · ${s.ships} ships · industry ${s.industry}`;
  });
  drawFleets();
  drawLegend();
  $('tick').textContent = String(world.tick);
}

function drawFleets() {
  const world = view.world;
  const layer = $('fleets');
  layer.replaceChildren();
  const byId = new Map(world.systems.map((s) => [s.id, s]));
  const factionIndex = new Map(world.factions.map((f, i) => [f.id, i]));
  for (const f of world.fleets) {
    const from = byId.get(f.system);
    if (!from) continue;
    let x = from.x + 2.6;
    let y = from.y - 2.6;
    const to = f.to === null ? undefined : byId.get(f.to);
    if (to && f.depart !== null && f.arrive !== null && f.arrive > f.depart) {
      // in transit: placed along the lane by the share of the trip done at this tick
      const p = Math.min(1, Math.max(0, (world.tick - f.depart) / (f.arrive - f.depart)));
      x = from.x + (to.x - from.x) * p;
      y = from.y + (to.y - from.y) * p;
    }
    const g = el('g', { class: 'fleet', 'data-fleet-id': f.id, transform: `translate(${x} ${y})` }, layer);
    el('title', {}, g).textContent = `fleet ${f.id} · ${f.owner} · ${f.ships} ships${to ? ` → ${to.name} (tick ${f.arrive})` : ''}`;
    el('path', { d: 'M0,-1.3 L1.1,0.9 L-1.1,0.9 Z', fill: factionColor(factionIndex.get(f.owner)) }, g);
    el('text', { x: 1.4, y: 0.6 }, g).textContent = String(f.ships);
  }
}

function drawLegend() {
  const body = $('legend').querySelector('tbody');
  body.replaceChildren(
    ...view.world.factions.map((f) => {
      const tr = document.createElement('tr');
      tr.dataset.faction = f.id;
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = f.color;
      const cells = [swatch, f.name === f.id ? f.id : `${f.name} (${f.id})`, f.systems, f.ships];
      for (const c of cells) {
        const td = document.createElement('td');
        if (c instanceof Node) td.appendChild(c);
        else td.textContent = String(c);
        tr.appendChild(td);
      }
      return tr;
    }),
  );
}

// ---------------------------------------------------------------------------------------
// Applying messages
// ---------------------------------------------------------------------------------------

function applySnapshot(msg) {
  view.world = msg.snapshot;
  view.lastEventId = msg.lastEventId;
  drawWorld();
  logLine(msg.snapshot ? `snapshot at tick ${msg.snapshot.tick}` : 'no world yet', 'info');
}

function applyState(msg) {
  const world = view.world;
  if (!world || msg.owners.length !== world.systems.length) return;
  if (msg.tick < world.tick) return;
  world.tick = msg.tick;
  world.ts = msg.ts;
  world.systems.forEach((s, i) => {
    const owner = msg.owners[i];
    s.owner = owner === null ? null : (world.factions[owner]?.id ?? null);
    s.ships = msg.ships[i];
  });
  world.fleets = msg.fleets.map(([id, owner, ships, system, to, depart, arrive]) => ({
    id,
    owner: world.factions[owner]?.id ?? '?',
    ships,
    system,
    to,
    depart,
    arrive,
  }));
  msg.totals.forEach(([systems, ships], i) => {
    const f = world.factions[i];
    if (f) Object.assign(f, { systems, ships });
  });
  drawDynamic();
}

function systemName(id) {
  return view.world?.systems.find((s) => s.id === id)?.name ?? `#${id}`;
}

/** One log line per event worth reading; ticks and fleet movements are left to the map. */
function describe(e) {
  switch (e.type) {
    case 'order_applied':
      return [`${e.faction}: ${e.order} applied (${e.orderId})`, 'applied'];
    case 'order_rejected':
      return [`${e.faction ?? '?'}: ${e.order ?? 'order'} rejected (${e.orderId}): ${e.reason}`, 'rejected'];
    case 'battle':
      return [`battle at ${systemName(e.system)}: ${e.sides.map((s) => `${s.faction ?? 'neutral'} ${s.before}−${s.lost}`).join(' vs ')}`, 'battle'];
    case 'system_captured':
      return [`${e.to} captured ${systemName(e.system)} from ${e.from ?? 'neutral'}`, 'captured'];
    case 'owner_set':
      return [`${systemName(e.system)} handed to ${e.to} (was ${e.from ?? 'neutral'})`, 'captured'];
    case 'fleet_destroyed':
      return [`${e.faction} fleet ${e.fleet} destroyed at ${systemName(e.system)}`, 'battle'];
    case 'note':
      return [`${e.faction}: “${e.text}”`, 'note'];
    case 'world_created':
      return [`world created: ${e.systems} systems, ${e.factions.length} factions, seed ${e.seed}`, 'info'];
    default:
      return null;
  }
}

function applyEvents(msg) {
  for (const e of msg.events) {
    view.lastEventId = e.id;
    const line = describe(e);
    if (line) logLine(`[${e.tick}] ${line[0]}`, line[1]);
  }
  const last = msg.events.at(-1);
  if (last && (view.tick === null || last.tick > view.tick)) view.tick = last.tick;
}

function logLine(text, kind) {
  const log = $('log');
  const li = document.createElement('li');
  li.className = kind;
  li.textContent = text;
  log.prepend(li);
  while (log.childElementCount > LOG_LIMIT) log.lastElementChild.remove();
}

// ---------------------------------------------------------------------------------------
// The connection: reconnects with backoff and resumes after the last event seen.
// ---------------------------------------------------------------------------------------

let attempt = 0;
/** the socket of the simulation shown; replaced when another one is opened */
let socket = null;
let retryTimer = null;

function setConnection(state, text) {
  const node = $('connection');
  node.dataset.state = state;
  node.textContent = text;
}

function socketUrl() {
  // Relative to the page, so it works at / and behind a path-prefixing ingress alike.
  const url = new URL('ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  if (view.sim) url.searchParams.set('sim', view.sim);
  if (view.lastEventId && view.world) url.searchParams.set('after', view.lastEventId);
  return url.toString();
}

function showMissing(text) {
  view.world = null;
  drawWorld();
  $('sim').textContent = `sim ${view.sim ?? ''}`;
  const empty = $('empty');
  empty.textContent = text;
  empty.hidden = false;
}

function connect() {
  setConnection(attempt === 0 ? 'connecting' : 'reconnecting', attempt === 0 ? 'connecting' : `reconnecting (${attempt})`);
  const ws = new WebSocket(socketUrl());
  socket = ws;
  ws.onopen = () => {
    attempt = 0;
    setConnection('live', 'live');
  };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === 'snapshot') applySnapshot(msg);
    else if (msg.type === 'events') applyEvents(msg);
    else if (msg.type === 'state') applyState(msg);
  };
  ws.onclose = (e) => {
    if (socket !== ws) return; // another simulation was opened meanwhile
    socket = null;
    if (e.code === CLOSE_UNKNOWN_SIM) {
      // Nothing to reconnect to: the list shows what exists.
      setConnection('gone', 'no such simulation');
      showMissing(`No simulation "${view.sim}" here (never created, or deleted). Pick one from the list.`);
      return;
    }
    if (e.code === CLOSE_WORLD_RESET) view.lastEventId = null;
    if (e.reason) logLine(`disconnected: ${e.reason}`, 'info');
    attempt += 1;
    const delay = Math.min(5000, 250 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() * 0.5);
    setConnection('reconnecting', `reconnecting in ${(delay / 1000).toFixed(1)} s`);
    retryTimer = setTimeout(connect, delay);
  };
}

/** Shows another simulation: drops the current socket and everything drawn from it. */
function openSim(sim) {
  const next = sim === view.defaultSim ? null : sim;
  if (next === view.sim && socket) return;
  view.sim = next;
  if (socket) {
    const old = socket;
    socket = null;
    old.close(1000, 'opening another simulation');
  }
  clearTimeout(retryTimer);
  Object.assign(view, { world: null, lastEventId: null, tick: null, systemNodes: [] });
  $('log').replaceChildren();
  $('empty').textContent = 'No world yet: waiting for a worker to create one.';
  drawWorld();
  attempt = 0;
  connect();
  renderSims();
}

// ---------------------------------------------------------------------------------------
// The list of simulations, polled from the viz (one shared read per second per process).
// ---------------------------------------------------------------------------------------

const list = { offset: 0, page: null };

function simHref(id) {
  const url = new URL(location.href);
  url.search = '';
  url.searchParams.set('sim', id);
  return url.pathname + url.search;
}

function renderSims() {
  const page = list.page;
  if (!page) return;
  view.defaultSim = page.defaultSim;
  const shown = view.sim ?? page.defaultSim;
  $('sims-total').textContent = `(${page.total})`;
  $('sims-range').textContent = page.total === 0 ? '' : `${page.offset + 1}–${page.offset + page.sims.length} of ${page.total}`;
  $('sims-prev').disabled = page.offset === 0;
  $('sims-next').disabled = page.offset + page.limit >= page.total;
  $('sims').replaceChildren(
    ...page.sims.map((s) => {
      const li = document.createElement('li');
      li.dataset.simId = s.id;
      li.className = `sim sim-state-${s.state ?? 'running'}${s.id === shown ? ' current' : ''}`;
      const a = document.createElement('a');
      a.href = simHref(s.id);
      a.addEventListener('click', (e) => {
        e.preventDefault();
        history.pushState(null, '', a.href);
        openSim(s.id);
      });
      const head = document.createElement('div');
      head.className = 'sim-head';
      const name = document.createElement('span');
      name.className = 'sim-id';
      name.textContent = s.name ? `${s.name} (${s.id})` : s.id;
      const meta = document.createElement('span');
      meta.className = 'sim-meta';
      meta.textContent = s.tick === null ? 'no world yet' : `tick ${s.tick}`;
      head.append(name, meta);
      // Standings: systems owned, as a bar in the factions' colours, and the leader by name.
      const bar = document.createElement('div');
      bar.className = 'standings';
      const systems = s.standings.reduce((n, f) => n + f.systems, 0) || 1;
      const owned = s.systems ?? systems;
      for (const f of s.standings) {
        const part = document.createElement('span');
        part.style.width = `${(100 * f.systems) / Math.max(owned, systems)}%`;
        part.style.background = f.color;
        part.title = `${f.name}: ${f.systems} systems, ${f.ships} ships`;
        part.dataset.faction = f.faction;
        bar.appendChild(part);
      }
      const leader = [...s.standings].sort((x, y) => y.systems - x.systems || y.ships - x.ships)[0];
      const lead = document.createElement('div');
      lead.className = 'leader';
      lead.textContent = leader ? `lead: ${leader.name} · ${leader.systems} systems · ${leader.ships} ships` : '';
      a.append(head, bar, lead);
      li.appendChild(a);
      return li;
    }),
  );
}

async function pollSims() {
  try {
    const res = await fetch(`sims.json?offset=${list.offset}&limit=${LIST_PAGE}`, { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    list.page = await res.json();
    $('sims-status').textContent = '';
    renderSims();
  } catch (err) {
    $('sims-status').textContent = `list unavailable (${err.message}); retrying`;
  } finally {
    setTimeout(pollSims, LIST_POLL_MS);
  }
}

$('sims-prev').addEventListener('click', () => {
  list.offset = Math.max(0, list.offset - LIST_PAGE);
});
$('sims-next').addEventListener('click', () => {
  list.offset += LIST_PAGE;
});
window.addEventListener('popstate', () => openSim(new URLSearchParams(location.search).get('sim') || view.defaultSim));

connect();
pollSims();
