// The original SVG map (one element per system, lane and fleet, all touched every tick), kept
// as `?renderer=svg`: the baseline bench/viz-render.ts measures the canvas map against.
import { NEUTRAL } from './colors.js';

const SVG = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

export function createSvgMap(container) {
  const svg = el('svg', { id: 'map', role: 'img', 'aria-label': 'map of the sector', preserveAspectRatio: 'xMidYMid meet' });
  const lanes = el('g', { id: 'lanes' }, svg);
  const systems = el('g', { id: 'systems' }, svg);
  const fleets = el('g', { id: 'fleets' }, svg);
  container.prepend(svg);
  let world = null;
  let nodes = [];
  const stats = { frames: 0, mode: 'svg', systemsDrawn: 0, firstRenderAt: null };

  const factionColor = (index) => (index === null || index === undefined || index < 0 ? NEUTRAL : (world.factions[index]?.color ?? NEUTRAL));

  function setWorld(next) {
    world = next;
    lanes.replaceChildren();
    systems.replaceChildren();
    fleets.replaceChildren();
    nodes = [];
    stats.systemsDrawn = 0;
    if (!world) return;
    const xs = world.systems.map((s) => s.x);
    const ys = world.systems.map((s) => s.y);
    const pad = 6;
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (let i = 0; i < xs.length; i++) {
      minX = Math.min(minX, xs[i]);
      maxX = Math.max(maxX, xs[i]);
      minY = Math.min(minY, ys[i]);
      maxY = Math.max(maxY, ys[i]);
    }
    svg.setAttribute('viewBox', `${minX - pad} ${minY - pad} ${maxX - minX + 2 * pad} ${maxY - minY + 2 * pad}`);
    const byId = new Map(world.systems.map((s) => [s.id, s]));
    for (const s of world.systems) {
      for (const other of s.lanes) {
        const t = byId.get(other);
        if (t && s.id < other) el('line', { class: 'lane', x1: s.x, y1: s.y, x2: t.x, y2: t.y }, lanes);
      }
    }
    nodes = world.systems.map((s) => {
      const g = el('g', { class: 'system', 'data-system-id': s.id }, systems);
      const title = el('title', {}, g);
      const circle = el('circle', { cx: s.x, cy: s.y, r: 1.4 + s.industry * 0.45 }, g);
      const count = el('text', { x: s.x, y: s.y }, g);
      el('text', { class: 'name', x: s.x, y: s.y + 3.9 }, g).textContent = s.name;
      return { g, title, circle, count };
    });
  }

  /** Redraws owners, garrisons and fleets from the world objects, as the original page did. */
  function setState() {
    if (!world) return;
    stats.systemsDrawn = nodes.length;
    // first render: the frame after the one that laid out and painted the elements
    if (stats.firstRenderAt === null) requestAnimationFrame(() => requestAnimationFrame(() => (stats.firstRenderAt ??= performance.now())));
    world.systems.forEach((s, i) => {
      const node = nodes[i];
      const owner = s.owner === null ? null : world.factions.findIndex((f) => f.id === s.owner);
      node.circle.setAttribute('fill', factionColor(owner));
      node.g.setAttribute('data-owner', s.owner ?? '');
      node.count.textContent = String(s.ships);
      node.title.textContent = `${s.name} (#${s.id}) · ${s.owner ?? 'neutral'} · ${s.ships} ships · industry ${s.industry}`;
    });
    fleets.replaceChildren();
    const byId = new Map(world.systems.map((s) => [s.id, s]));
    const factionIndex = new Map(world.factions.map((f, i) => [f.id, i]));
    for (const f of world.fleets) {
      const from = byId.get(f.system);
      if (!from) continue;
      let x = from.x + 2.6;
      let y = from.y - 2.6;
      const to = f.to === null ? undefined : byId.get(f.to);
      if (to && f.depart !== null && f.arrive !== null && f.arrive > f.depart) {
        const p = Math.min(1, Math.max(0, (world.tick - f.depart) / (f.arrive - f.depart)));
        x = from.x + (to.x - from.x) * p;
        y = from.y + (to.y - from.y) * p;
      }
      const g = el('g', { class: 'fleet', 'data-fleet-id': f.id, transform: `translate(${x} ${y})` }, fleets);
      el('title', {}, g).textContent = `fleet ${f.id} · ${f.owner} · ${f.ships} ships${to ? ` → ${to.name} (tick ${f.arrive})` : ''}`;
      el('path', { d: 'M0,-1.3 L1.1,0.9 L-1.1,0.9 Z', fill: factionColor(factionIndex.get(f.owner)) }, g);
      el('text', { x: 1.4, y: 0.6 }, g).textContent = String(f.ships);
    }
  }

  const count = () => {
    stats.frames += 1;
    requestAnimationFrame(count);
  };
  requestAnimationFrame(count);

  return { kind: 'svg', stats, setWorld, setState, fit() {}, setHighlight() {}, select() {}, screenOf: () => null, requestDraw() {} };
}
