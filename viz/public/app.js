// The live list of simulations and the map of the one opened (`?sim=<id>`, or the viz's
// default simulation without it). Protocol (viz/protocol.ts): `snapshot` (the whole world, its
// static geometry sent only here, and the id of the last event it includes), `events`
// (consecutive stream events), `state` (owners, garrisons, fleets and totals after a tick).
// On a dropped connection it reconnects with the last event id it saw and the server replays
// exactly what was missed. The map is a canvas (./map-canvas.js); `?renderer=svg` gives the
// original SVG map (./map-svg.js), kept as the benchmark's baseline.
import { drawChart } from './charts.js';
import { createHistory } from './history.js';
import { renderDetails } from './inspect.js';
import { createLog } from './log.js';
import { createCanvasMap } from './map-canvas.js';
import { createSvgMap } from './map-svg.js';

const CLOSE_WORLD_RESET = 4002;
const CLOSE_UNKNOWN_SIM = 4004;
const LIST_PAGE = 50;
const LIST_POLL_MS = 1000;
const CHART_MS = 500;

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const view = {
  /** the snapshot's static parts plus the latest state applied to it (objects, for the panels) */
  world: null,
  rules: { productionPeriod: 5, garrisonCapPerIndustry: 20 },
  lastEventId: null,
  tick: null,
  /** the simulation opened: null for the viz's default one */
  sim: params.get('sim') || null,
  /** the default simulation's id, as the list reports it */
  defaultSim: null,
  /** live state as typed arrays: {owner, ships, fleets, tick, ts, tickMs} */
  live: null,
  /** what the map shows: `live`, or a replayed tick's {owner, ships: null, fleets, tick, replay} */
  shown: null,
  replayTick: null,
  selection: null,
  highlight: null,
  systemIndex: new Map(),
  factionIndex: new Map(),
  tickMs: null,
  history: createHistory(),
};
window.sectorView = view; // for debugging in the console (and the e2e tests)

view.map = params.get('renderer') === 'svg' ? createSvgMap($('map-wrap')) : createCanvasMap($('map-wrap'), { onPick: (sel) => select(sel) });

const systemName = (id) => view.world?.systems[view.systemIndex.get(id)]?.name ?? `#${id}`;
const log = createLog({ list: $('log'), factionSelect: $('log-faction'), typeSelect: $('log-type'), systemName });
const logLine = (text, kind) => log.note(text, kind);

// ---------------------------------------------------------------------------------------
// Drawing the panels
// ---------------------------------------------------------------------------------------

function drawLegend() {
  const world = view.world;
  const body = $('legend').querySelector('tbody');
  if (!world) return body.replaceChildren();
  // in a replay: the exact world's totals; else systems counted from the replayed owners and
  // ships from the tick event's standings (when the events carry them)
  const shown = view.shown?.replay ? view.shown : null;
  const counts = shown ? (shown.totals?.map((t) => t[0]) ?? world.factions.map(() => 0)) : null;
  if (shown && !shown.totals) for (const o of shown.owner) if (o >= 0) counts[o] += 1;
  const standing = shown && !shown.totals ? view.history.standingsAt(shown.tick) : null;
  const shipsAt = (i) => (shown.totals ? shown.totals[i][1] : (standing?.[world.factions[i].id]?.[1] ?? '–'));
  body.replaceChildren(
    ...world.factions.map((f, i) => {
      const tr = document.createElement('tr');
      tr.dataset.faction = f.id;
      if (view.highlight === i) tr.className = 'highlighted';
      tr.addEventListener('click', () => {
        view.highlight = view.highlight === i ? null : i;
        view.map.setHighlight(view.highlight);
        drawLegend();
      });
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = f.color;
      const cells = [sw, f.name === f.id ? f.id : `${f.name} (${f.id})`, counts ? counts[i] : f.systems, shown ? shipsAt(i) : f.ships];
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

function drawDetails() {
  if (!view.world || !view.shown) return renderDetails($('details'), null, null);
  renderDetails($('details'), view.selection, {
    world: view.world,
    rules: view.rules,
    shown: view.shown,
    systemIndex: view.systemIndex,
    tickMs: view.tickMs,
    // a link in the panel also brings what it names into view
    select: (sel) => {
      if (sel?.kind === 'system') view.map.centerOn?.(sel.id, 0);
      select(sel);
    },
    close: () => select(null),
  });
}

function select(sel) {
  view.selection = sel ?? null;
  view.map.select(view.selection);
  drawDetails();
}

let chartTimer = null;
function drawCharts() {
  chartTimer = null;
  const world = view.world;
  if (!world || !view.live) return;
  const tMax = view.live.tick;
  const series = view.history.chartSeries(
    tMax,
    world.factions.map((f) => f.systems),
    world.factions.map((f) => f.id),
  );
  const tMin = Math.min(series.systems[0]?.tick ?? tMax, series.ships[0]?.tick ?? tMax);
  const marker = view.replayTick;
  const line = (points) => world.factions.map((f, i) => ({ color: f.color, points: points.map((p) => ({ t: p.tick, v: p.v[i] })) }));
  drawChart($('chart-systems'), { title: 'systems', tMin, tMax, marker, series: line(series.systems) });
  // ships come from the tick events' standings; events from before those carry none
  drawChart($('chart-ships'), { title: series.shipsPartial ? `ships (from tick ${series.shipsFrom})` : 'ships', tMin, tMax, marker, series: line(series.ships) });
  view.charts = { systems: series.systems.length, ships: series.ships.length, tMin, tMax, shipsFrom: series.shipsFrom };
}
const scheduleCharts = () => {
  chartTimer ??= setTimeout(drawCharts, CHART_MS);
};

function drawTimeline() {
  const input = $('timeline');
  const live = view.live;
  if (!live) {
    input.disabled = true;
    $('timeline-label').textContent = '';
    return;
  }
  input.disabled = false;
  const oldest = view.history.oldestTick ?? live.tick;
  input.min = String(Math.min(oldest, live.tick));
  input.max = String(live.tick);
  if (view.replayTick === null) input.value = String(live.tick);
  $('timeline-label').textContent = view.replayTick === null ? `live · tick ${live.tick} (history from ${input.min})` : `tick ${view.replayTick} of ${live.tick}`;
  $('go-live').disabled = view.replayTick === null;
  const badge = $('replay-state');
  badge.hidden = view.replayTick === null;
  const shown = view.shown;
  badge.dataset.source = view.replayTick === null ? '' : (shown?.source ?? '');
  badge.title = shown?.why ?? '';
  badge.textContent =
    view.replayTick === null
      ? ''
      : `replaying tick ${view.replayTick} · ${
          shown?.source === 'exact'
            ? `exact (checkpoint ${shown.checkpoint} + the orders replayed)`
            : shown?.source === 'loading'
              ? 'owners from the events; loading the exact world…'
              : 'owners from the events; garrisons and fleet sizes not known'
        }`;
}

function drawBanner() {
  const ended = view.history.worldEnded();
  const previous = ended ? null : view.history.previousEnd;
  const banner = $('banner');
  banner.hidden = !ended && !previous;
  banner.classList.toggle('past', Boolean(previous));
  const shown = ended ?? previous;
  if (!shown) return;
  const f = view.world?.factions[view.factionIndex.get(shown.winner)];
  banner.replaceChildren();
  const title = document.createElement('span');
  title.className = 'winner';
  title.dataset.winner = shown.winner;
  title.textContent = ended ? `${f?.name ?? shown.winner} wins` : `${f?.name ?? shown.winner} won the last round`;
  if (f) title.style.color = f.color;
  const reason = document.createElement('span');
  reason.className = 'reason';
  reason.textContent = ended ? `${shown.reason} · tick ${shown.tick}` : `${shown.reason} · a new round is on`;
  banner.append(title, reason);
}

function showWorld() {
  const world = view.world;
  $('empty').hidden = world !== null;
  if (!world) {
    $('tick').textContent = '–';
    view.map.setWorld(null);
    drawLegend();
    drawDetails();
    drawTimeline();
    return;
  }
  $('sim').textContent = `sim ${world.simId} · ${world.systems.length} systems`;
  view.map.setWorld(world);
}

/** Shows the live state (or keeps showing the replayed tick) and refreshes the panels. */
function showShown() {
  if (view.replayTick === null) view.shown = view.live;
  if (view.shown) view.map.setState(view.shown);
  if (view.live) $('tick').textContent = String(view.live.tick);
  drawLegend();
  drawDetails();
  drawTimeline();
}

// ---------------------------------------------------------------------------------------
// History: scrubbing back through the retained ticks, and back to live
// ---------------------------------------------------------------------------------------

// At once, the owners the events tell (exact) and the fleets in transit (sizes unknown); then
// the exact world at that tick from the viz (a checkpoint and the retained orders replayed with
// the engine, /world-at.json) where the server still has what it takes.
function replayTo(t) {
  if (!view.live) return;
  if (t >= view.live.tick) return goLive();
  const facIdx = (id) => view.factionIndex.get(id);
  view.replayTick = t;
  view.shown = {
    owner: view.history.ownersAt(t, view.live.owner, (id) => view.systemIndex.get(id), facIdx),
    ships: null,
    fleets: view.history.fleetsAt(t, facIdx),
    tick: t,
    replay: true,
    source: 'loading',
  };
  showShown();
  drawCharts();
  requestExact(t);
}

/** The tick whose exact world is wanted next, and whether a request is out: one at a time, the latest wins. */
const exact = { wanted: null, busy: false };

function requestExact(t) {
  exact.wanted = t;
  if (exact.busy) return;
  exact.busy = true;
  (async () => {
    while (exact.wanted !== null) {
      const tick = exact.wanted;
      exact.wanted = null;
      const generation = view.history.generation;
      const url = new URL('world-at.json', location.href);
      url.search = '';
      if (view.sim) url.searchParams.set('sim', view.sim);
      url.searchParams.set('tick', String(tick));
      let answer;
      try {
        const res = await fetch(url, { cache: 'no-store' });
        const body = await res.json();
        answer = res.ok ? { ok: true, body } : { ok: false, why: body?.error?.message ?? `HTTP ${res.status}` };
      } catch (err) {
        answer = { ok: false, why: err.message };
      }
      // still showing that tick of that world?
      if (view.replayTick !== tick || view.history.generation !== generation || view.shown?.tick !== tick) continue;
      const st = answer.ok ? answer.body.state : null;
      if (st && st.owners.length === view.world.systems.length) {
        view.shown = {
          owner: Int16Array.from(st.owners, (o) => (o === null ? -1 : o)),
          ships: Int32Array.from(st.ships),
          fleets: st.fleets.map(([id, f, ships, system, to, depart, arrive]) => ({ id, f, ships, system, to, depart, arrive })),
          totals: st.totals,
          tick,
          replay: true,
          source: 'exact',
          checkpoint: answer.body.checkpoint,
        };
      } else {
        view.shown = { ...view.shown, source: 'events', why: answer.ok ? 'the world at that tick has another shape' : answer.why };
      }
      showShown();
    }
    exact.busy = false;
  })();
}

function goLive() {
  view.replayTick = null;
  showShown();
  drawCharts();
}

$('timeline').addEventListener('input', (e) => replayTo(Number(e.target.value)));
$('go-live').addEventListener('click', goLive);
$('zoom-in').addEventListener('click', () => view.map.zoomBy?.(1.6));
$('zoom-out').addEventListener('click', () => view.map.zoomBy?.(1 / 1.6));
$('zoom-fit').addEventListener('click', () => view.map.fit());

// ---------------------------------------------------------------------------------------
// Applying messages
// ---------------------------------------------------------------------------------------

function liveFromSnapshot(world) {
  return {
    owner: Int16Array.from(world.systems, (s) => (s.owner === null ? -1 : (view.factionIndex.get(s.owner) ?? -1))),
    ships: Int32Array.from(world.systems, (s) => s.ships),
    fleets: world.fleets.map((f) => ({ id: f.id, f: view.factionIndex.get(f.owner) ?? 0, ships: f.ships, system: f.system, to: f.to, depart: f.depart, arrive: f.arrive })),
    tick: world.tick,
    ts: world.ts,
  };
}

function applySnapshot(msg) {
  view.world = msg.snapshot;
  if (msg.rules) view.rules = msg.rules;
  view.lastEventId = msg.lastEventId;
  view.history.reset();
  view.replayTick = null;
  view.selection = null;
  view.systemIndex = new Map((msg.snapshot?.systems ?? []).map((s, i) => [s.id, i]));
  view.factionIndex = new Map((msg.snapshot?.factions ?? []).map((f, i) => [f.id, i]));
  view.live = msg.snapshot ? liveFromSnapshot(msg.snapshot) : null;
  view.shown = view.live;
  showWorld();
  if (msg.snapshot) {
    log.setFactions(msg.snapshot.factions);
    view.history.addSample(msg.snapshot.tick, msg.snapshot.factions.map((f) => [f.systems, f.ships]));
    showShown();
    loadHistory(msg.lastEventId);
  }
  log.setEvents(view.history.events);
  logLine(msg.snapshot ? `snapshot at tick ${msg.snapshot.tick}` : 'no world yet', 'info');
  drawBanner();
  scheduleCharts();
}

/** The events up to and including `lastId`, fetched backwards in bounded pages. */
function loadHistory(lastId) {
  const [ms, seq] = lastId.split('-');
  const justAfter = `${ms}-${Number(seq) + 1}`;
  view.history
    .loadOlder(view.sim, justAfter, () => {
      log.setEvents(view.history.events);
      drawTimeline();
      drawBanner();
      scheduleCharts();
    })
    .catch((err) => logLine(`history unavailable: ${err.message}`, 'info'));
}

function applyState(msg) {
  const world = view.world;
  if (!world || msg.owners.length !== world.systems.length) return;
  if (msg.tick < world.tick) return;
  const prev = view.live;
  if (prev && msg.tick > prev.tick && msg.ts > prev.ts) {
    const per = (msg.ts - prev.ts) / (msg.tick - prev.tick);
    view.tickMs = view.tickMs === null ? per : view.tickMs * 0.7 + per * 0.3;
  }
  world.tick = msg.tick;
  world.ts = msg.ts;
  const owner = new Int16Array(msg.owners.length);
  for (let i = 0; i < msg.owners.length; i++) {
    const o = msg.owners[i];
    owner[i] = o === null ? -1 : o;
    const s = world.systems[i];
    s.owner = o === null ? null : (world.factions[o]?.id ?? null);
    s.ships = msg.ships[i];
  }
  const fleets = msg.fleets.map(([id, f, ships, system, to, depart, arrive]) => ({ id, f, ships, system, to, depart, arrive }));
  world.fleets = fleets.map((x) => ({ id: x.id, owner: world.factions[x.f]?.id ?? '?', ships: x.ships, system: x.system, to: x.to, depart: x.depart, arrive: x.arrive }));
  msg.totals.forEach(([systems, ships], i) => {
    const f = world.factions[i];
    if (f) Object.assign(f, { systems, ships });
  });
  view.live = { owner, ships: Int32Array.from(msg.ships), fleets, tick: msg.tick, ts: msg.ts, tickMs: view.tickMs };
  view.history.addSample(msg.tick, msg.totals);
  showShown();
  scheduleCharts();
}

function applyEvents(msg) {
  for (const e of msg.events) view.lastEventId = e.id;
  view.history.append(msg.events);
  log.changed();
  const last = msg.events.at(-1);
  if (last && (view.tick === null || last.tick > view.tick)) view.tick = last.tick;
  if (msg.events.some((e) => e.type === 'world_ended' || e.type === 'world_created')) drawBanner();
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
  view.live = null;
  showWorld();
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
    const received = performance.now();
    const msg = JSON.parse(m.data);
    if (msg.type === 'snapshot') {
      const parsed = performance.now();
      applySnapshot(msg);
      // where the first render's time goes (read by bench/viz-render.ts)
      view.timings = { snapshotReceived: received, snapshotParsed: parsed, snapshotApplied: performance.now(), bytes: m.data.length };
    } else if (msg.type === 'events') applyEvents(msg);
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
  Object.assign(view, { world: null, lastEventId: null, tick: null, live: null, shown: null, replayTick: null, selection: null, highlight: null });
  view.history.reset();
  log.clear();
  $('empty').textContent = 'No world yet: waiting for a worker to create one.';
  showWorld();
  drawBanner();
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
