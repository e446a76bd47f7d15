// The map on a 2D canvas, for worlds of any size. Only what is on screen is drawn: systems and
// lanes are bucketed once into a uniform grid over the world, and a frame visits just the
// grid cells the view overlaps. Level of detail follows the zoom:
//   - far out, systems are pixel squares written straight into an ImageData (100k systems
//     cost a few milliseconds), and lanes are left out (they would be a grey field);
//   - closer, systems are circles batched by colour (one path per faction), lanes appear;
//   - closer still, garrisons inside the circles, fleet counts, then names: every label is
//     placed through a screen-space occupancy grid and skipped if it would overlap another.
// Fleets in transit move along their lanes, interpolated between ticks.
// Static geometry (positions, lanes, names) is set once per snapshot; a tick only changes the
// typed arrays of owners and garrisons and the fleet list.
import { NEUTRAL } from './colors.js';

const BG = '#0b0e14';
const LANE = 'rgba(80, 96, 128, 0.55)';
/** neutral systems far out: fainter than up close, so owned territory stands out */
const FAR_NEUTRAL = '#323a4a';
const GRID_CELL = 40; // world units per grid cell (systems sit about 10 apart)
const LABEL_BIN = 8; // px per occupancy bin
/** circles stop growing past this zoom (px per world unit): close up the map is not all discs */
const MAX_DISC_SCALE = 9;

function hexToU32(hex) {
  const n = parseInt(hex.slice(1), 16);
  // ImageData is RGBA in memory: little-endian 0xAABBGGRR
  return (0xff << 24) | ((n & 0xff) << 16) | (n & 0xff00) | ((n >> 16) & 0xff);
}

/** A uniform grid of item indices keyed by a point per item (counting sort: two passes, no objects). */
function buildGrid(count, px, py, minX, minY, cols, rows) {
  const cells = cols * rows;
  const start = new Int32Array(cells + 1);
  const cellOf = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const cx = Math.min(cols - 1, Math.max(0, Math.floor((px(i) - minX) / GRID_CELL)));
    const cy = Math.min(rows - 1, Math.max(0, Math.floor((py(i) - minY) / GRID_CELL)));
    const c = cy * cols + cx;
    cellOf[i] = c;
    start[c + 1] += 1;
  }
  for (let c = 0; c < cells; c++) start[c + 1] += start[c];
  const fill = start.slice(0, cells);
  const items = new Int32Array(count);
  for (let i = 0; i < count; i++) items[fill[cellOf[i]]++] = i;
  return { start, items };
}

export function createCanvasMap(container, { onPick } = {}) {
  const canvas = document.createElement('canvas');
  canvas.id = 'map-canvas';
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', 'map of the sector');
  container.prepend(canvas);
  const ctx = canvas.getContext('2d', { alpha: false });
  const dots = document.createElement('canvas');
  const dotsCtx = dots.getContext('2d');

  let geo = null; // static: positions, lanes, names, grid
  let dyn = null; // per tick: owners, ships, fleets, tick and when it arrived
  let colors = [];
  let colorsU32 = [];
  const cam = { cx: 0, cy: 0, scale: 1, fitted: false };
  const ui = { highlight: null, selectedSystem: null, selectedFleet: null };
  const stats = { firstRenderAt: null, continuous: false, frames: 0, drawMs: 0, systemsDrawn: 0, lanesDrawn: 0, labels: 0, mode: 'none', lastFrameAt: 0 };
  let width = 0;
  let height = 0;
  let dpr = 1;
  let dirty = true;
  let vis = new Int32Array(0);
  let image = null;

  function resize() {
    const rect = container.getBoundingClientRect();
    dpr = window.devicePixelRatio || 1;
    width = Math.max(1, Math.floor(rect.width));
    height = Math.max(1, Math.floor(rect.height));
    canvas.width = Math.floor(width * dpr);
    canvas.height = Math.floor(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    image = null;
    // a view still fitted to the world stays fitted (the page laid out after the world came,
    // a window resized); a view the user zoomed or panned is kept as it is
    if (geo && cam.fitted) fit();
    requestDraw();
  }
  new ResizeObserver(resize).observe(container);

  function setWorld(world) {
    const before = geo;
    geo = null;
    dyn = null;
    ui.selectedSystem = null;
    ui.selectedFleet = null;
    if (!world) return requestDraw();
    const n = world.systems.length;
    const xs = new Float32Array(n);
    const ys = new Float32Array(n);
    const radius = new Float32Array(n);
    const names = new Array(n);
    const ids = new Int32Array(n);
    const index = new Map();
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    world.systems.forEach((s, i) => {
      xs[i] = s.x;
      ys[i] = s.y;
      radius[i] = 1.4 + s.industry * 0.45;
      names[i] = s.name;
      ids[i] = s.id;
      index.set(s.id, i);
      if (s.x < minX) minX = s.x;
      if (s.y < minY) minY = s.y;
      if (s.x > maxX) maxX = s.x;
      if (s.y > maxY) maxY = s.y;
    });
    const la = [];
    const lb = [];
    let maxLane = 0;
    world.systems.forEach((s, i) => {
      for (const other of s.lanes) {
        const j = index.get(other);
        if (j === undefined || s.id >= other) continue;
        la.push(i);
        lb.push(j);
        maxLane = Math.max(maxLane, Math.hypot(xs[j] - xs[i], ys[j] - ys[i]));
      }
    });
    const laneA = Int32Array.from(la);
    const laneB = Int32Array.from(lb);
    const cols = Math.max(1, Math.ceil((maxX - minX) / GRID_CELL) + 1);
    const rows = Math.max(1, Math.ceil((maxY - minY) / GRID_CELL) + 1);
    const sysGrid = buildGrid(n, (i) => xs[i], (i) => ys[i], minX, minY, cols, rows);
    const laneGrid = buildGrid(laneA.length, (k) => (xs[laneA[k]] + xs[laneB[k]]) / 2, (k) => (ys[laneA[k]] + ys[laneB[k]]) / 2, minX, minY, cols, rows);
    const homes = new Set(world.factions.map((f) => index.get(f.home)));
    geo = { n, ids, xs, ys, radius, names, index, laneA, laneB, maxLane, minX, minY, maxX, maxY, cols, rows, sysGrid, laneGrid, homes };
    vis = new Int32Array(n);
    colors = world.factions.map((f) => f.color);
    colorsU32 = colors.map(hexToU32);
    // the same world again (a fresh snapshot after a reconnect) keeps the view; another one is fitted
    const same = before && before.n === n && before.minX === minX && before.maxX === maxX && before.minY === minY && before.maxY === maxY;
    if (!same || cam.fitted) fit();
    requestDraw();
  }

  /** Owners (faction index or -1), garrisons (or null: unknown, as in a replay), fleets. */
  function setState(state) {
    dyn = { ...state, at: performance.now() };
    requestDraw();
  }

  function fit() {
    if (!geo) return;
    const pad = 12;
    const w = geo.maxX - geo.minX + pad * 2;
    const h = geo.maxY - geo.minY + pad * 2;
    cam.scale = Math.min(width / w, height / h);
    cam.cx = (geo.minX + geo.maxX) / 2;
    cam.cy = (geo.minY + geo.maxY) / 2;
    cam.fitted = true;
    requestDraw();
  }

  /** A system's disc radius on screen. */
  const discR = (i) => Math.max(1.5, geo.radius[i] * Math.min(cam.scale, MAX_DISC_SCALE));

  const toScreenX = (x) => (x - cam.cx) * cam.scale + width / 2;
  const toScreenY = (y) => (y - cam.cy) * cam.scale + height / 2;
  const toWorldX = (sx) => (sx - width / 2) / cam.scale + cam.cx;
  const toWorldY = (sy) => (sy - height / 2) / cam.scale + cam.cy;

  function zoomAt(sx, sy, factor) {
    if (!geo) return;
    const wx = toWorldX(sx);
    const wy = toWorldY(sy);
    const fitScale = Math.min(width / (geo.maxX - geo.minX + 24), height / (geo.maxY - geo.minY + 24));
    cam.scale = Math.min(80, Math.max(fitScale / 4, cam.scale * factor));
    cam.cx = wx - (sx - width / 2) / cam.scale;
    cam.cy = wy - (sy - height / 2) / cam.scale;
    cam.fitted = false;
    requestDraw();
  }

  function panBy(dx, dy) {
    cam.cx -= dx / cam.scale;
    cam.cy -= dy / cam.scale;
    cam.fitted = false;
    requestDraw();
  }

  /** Visits the items of the grid cells overlapping the world rectangle (grown by `margin`). */
  function eachInView(grid, margin, fn) {
    const g = geo;
    const x0 = toWorldX(0) - margin;
    const x1 = toWorldX(width) + margin;
    const y0 = toWorldY(0) - margin;
    const y1 = toWorldY(height) + margin;
    const c0 = Math.max(0, Math.floor((x0 - g.minX) / GRID_CELL));
    const c1 = Math.min(g.cols - 1, Math.floor((x1 - g.minX) / GRID_CELL));
    const r0 = Math.max(0, Math.floor((y0 - g.minY) / GRID_CELL));
    const r1 = Math.min(g.rows - 1, Math.floor((y1 - g.minY) / GRID_CELL));
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const cell = r * g.cols + c;
        for (let k = grid.start[cell]; k < grid.start[cell + 1]; k++) fn(grid.items[k]);
      }
    }
  }

  /** Where a fleet is drawn now: at its system, or along its lane by the share of the trip done. */
  function fleetPosition(f, tickNow) {
    const a = geo.index.get(f.system);
    if (a === undefined) return null;
    const b = f.to === null ? undefined : geo.index.get(f.to);
    if (b === undefined || f.depart === null || f.arrive === null || f.arrive <= f.depart) return { x: geo.xs[a], y: geo.ys[a], a, b: undefined, p: 0 };
    const p = Math.min(1, Math.max(0, (tickNow - f.depart) / (f.arrive - f.depart)));
    return { x: geo.xs[a] + (geo.xs[b] - geo.xs[a]) * p, y: geo.ys[a] + (geo.ys[b] - geo.ys[a]) * p, a, b, p };
  }

  /** The tick as a real number: fleets glide between ticks instead of jumping. */
  function tickNow(now) {
    if (!dyn) return 0;
    if (dyn.replay || !dyn.tickMs) return dyn.tick;
    return dyn.tick + Math.min(1, (now - dyn.at) / dyn.tickMs);
  }

  function draw(now) {
    const t0 = performance.now();
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = BG;
    ctx.fillRect(0, 0, width, height);
    stats.systemsDrawn = 0;
    stats.lanesDrawn = 0;
    stats.labels = 0;
    if (!geo || !dyn) {
      stats.mode = 'none';
      return;
    }
    const s = cam.scale;
    const owner = dyn.owner;
    const hl = ui.highlight;
    // --- lanes: only once they are long enough on screen to read as lanes
    if (s * 10 >= 10) {
      ctx.beginPath();
      eachInView(geo.laneGrid, geo.maxLane, (k) => {
        const a = geo.laneA[k];
        const b = geo.laneB[k];
        ctx.moveTo(toScreenX(geo.xs[a]), toScreenY(geo.ys[a]));
        ctx.lineTo(toScreenX(geo.xs[b]), toScreenY(geo.ys[b]));
        stats.lanesDrawn += 1;
      });
      ctx.strokeStyle = LANE;
      ctx.lineWidth = Math.min(2, Math.max(0.5, s * 0.35));
      ctx.stroke();
    }
    // --- systems in view
    let count = 0;
    const margin = 4;
    eachInView(geo.sysGrid, margin, (i) => {
      vis[count++] = i;
    });
    stats.systemsDrawn = count;
    const typicalR = 2.3 * s;
    if (typicalR < 2.2) drawDots(count, owner, hl);
    else drawCircles(count, owner, hl);
    drawSelection();
    drawFleets(tickNow(now));
    if (typicalR >= 2.2) drawLabels(count);
    stats.drawMs = performance.now() - t0;
  }

  /** Far out: each system a square of pixels, written into one ImageData. */
  function drawDots(count, owner, hl) {
    stats.mode = 'dots';
    const w = canvas.width;
    const h = canvas.height;
    if (!image || image.width !== w || image.height !== h) {
      image = new ImageData(w, h);
      dots.width = w;
      dots.height = h;
    }
    const px = new Uint32Array(image.data.buffer);
    px.fill(0);
    // neutral systems small and faint, owned ones larger on top: territories read at a glance
    const base = Math.max(1, Math.round(2.3 * cam.scale * 1.6 * dpr));
    const neutral = hexToU32(FAR_NEUTRAL);
    const dim = (c) => (c & 0x00ffffff) | (0x50 << 24);
    const square = (i, size, c) => {
      const half = size >> 1;
      const x = Math.round(toScreenX(geo.xs[i]) * dpr) - half;
      const y = Math.round(toScreenY(geo.ys[i]) * dpr) - half;
      for (let dy = 0; dy < size; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        const row = yy * w;
        for (let dx = 0; dx < size; dx++) {
          const xx = x + dx;
          if (xx >= 0 && xx < w) px[row + xx] = c;
        }
      }
    };
    for (let k = 0; k < count; k++) {
      const i = vis[k];
      if (owner[i] < 0) square(i, base, neutral);
    }
    const ownedSize = base + Math.max(1, Math.round(dpr));
    for (let k = 0; k < count; k++) {
      const i = vis[k];
      const o = owner[i];
      if (o < 0) continue;
      square(i, geo.homes.has(i) ? ownedSize + 2 : ownedSize, hl !== null && o !== hl ? dim(colorsU32[o]) : colorsU32[o]);
    }
    dotsCtx.putImageData(image, 0, 0);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(dots, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  /** Closer: circles, one path per colour (a handful of fills however many systems). */
  function drawCircles(count, owner, hl) {
    stats.mode = 'circles';
    const s = cam.scale;
    const groups = colors.length + 1;
    for (let g = 0; g < groups; g++) {
      const o = g === colors.length ? -1 : g;
      ctx.beginPath();
      let any = false;
      for (let k = 0; k < count; k++) {
        const i = vis[k];
        if (owner[i] !== o) continue;
        const x = toScreenX(geo.xs[i]);
        const y = toScreenY(geo.ys[i]);
        const r = discR(i);
        ctx.moveTo(x + r, y);
        ctx.arc(x, y, r, 0, Math.PI * 2);
        any = true;
      }
      if (!any) continue;
      ctx.globalAlpha = hl !== null && o !== hl ? 0.25 : 1;
      ctx.fillStyle = o < 0 ? NEUTRAL : colors[o];
      ctx.fill();
      if (hl !== null && o === hl) {
        ctx.strokeStyle = '#ffffff';
        ctx.lineWidth = 1.5;
        ctx.stroke();
      }
    }
    ctx.globalAlpha = 1;
    // homes: a ring, so the capitals stand out at every zoom where circles show
    ctx.beginPath();
    for (const i of geo.homes) {
      if (i === undefined) continue;
      const r = discR(i) + Math.max(2, Math.min(s, MAX_DISC_SCALE) * 0.6);
      ctx.moveTo(toScreenX(geo.xs[i]) + r, toScreenY(geo.ys[i]));
      ctx.arc(toScreenX(geo.xs[i]), toScreenY(geo.ys[i]), r, 0, Math.PI * 2);
    }
    ctx.strokeStyle = 'rgba(255,255,255,0.7)';
    ctx.lineWidth = 1;
    ctx.stroke();
  }

  function drawSelection() {
    const i = ui.selectedSystem === null ? undefined : geo.index.get(ui.selectedSystem);
    if (i === undefined) return;
    const x = toScreenX(geo.xs[i]);
    const y = toScreenY(geo.ys[i]);
    ctx.strokeStyle = '#ffffff';
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    for (const j of lanesOf(i)) {
      ctx.moveTo(x, y);
      ctx.lineTo(toScreenX(geo.xs[j]), toScreenY(geo.ys[j]));
    }
    ctx.stroke();
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x, y, Math.max(6, discR(i) + 4), 0, Math.PI * 2);
    ctx.stroke();
  }

  function lanesOf(i) {
    const out = [];
    // lanes are stored once per pair; a system's lanes are in the grid cells around it
    eachAround(geo.laneGrid, geo.xs[i], geo.ys[i], geo.maxLane, (k) => {
      if (geo.laneA[k] === i) out.push(geo.laneB[k]);
      else if (geo.laneB[k] === i) out.push(geo.laneA[k]);
    });
    return out;
  }

  function eachAround(grid, x, y, margin, fn) {
    const c0 = Math.max(0, Math.floor((x - margin - geo.minX) / GRID_CELL));
    const c1 = Math.min(geo.cols - 1, Math.floor((x + margin - geo.minX) / GRID_CELL));
    const r0 = Math.max(0, Math.floor((y - margin - geo.minY) / GRID_CELL));
    const r1 = Math.min(geo.rows - 1, Math.floor((y + margin - geo.minY) / GRID_CELL));
    for (let r = r0; r <= r1; r++)
      for (let c = c0; c <= c1; c++) {
        const cell = r * geo.cols + c;
        for (let k = grid.start[cell]; k < grid.start[cell + 1]; k++) fn(grid.items[k]);
      }
  }

  /** Fleets: in transit along their lanes (a coloured trail and an arrowhead); docked ones as a chevron by their system. */
  function drawFleets(tnow) {
    const s = cam.scale;
    const x0 = -20;
    const x1 = width + 20;
    const y0 = -20;
    const y1 = height + 20;
    const hl = ui.highlight;
    dyn.drawnFleets = [];
    const docked = new Map();
    for (const f of dyn.fleets) {
      const pos = fleetPosition(f, tnow);
      if (!pos) continue;
      if (toScreenX(pos.x) < x0 || toScreenX(pos.x) > x1 || toScreenY(pos.y) < y0 || toScreenY(pos.y) > y1) continue;
      ctx.globalAlpha = hl !== null && f.f !== hl ? 0.25 : 1;
      const color = colors[f.f] ?? NEUTRAL;
      if (pos.b === undefined) {
        const list = docked.get(pos.a) ?? [];
        list.push(f);
        docked.set(pos.a, list);
        continue;
      }
      const ax = toScreenX(geo.xs[pos.a]);
      const ay = toScreenY(geo.ys[pos.a]);
      const bx = toScreenX(geo.xs[pos.b]);
      const by = toScreenY(geo.ys[pos.b]);
      const ang = Math.atan2(by - ay, bx - ax);
      // along the part of the lane between the two discs, so a fleet never hides under one
      const len = Math.hypot(bx - ax, by - ay);
      const ra = discR(pos.a) + 5;
      const rb = discR(pos.b) + 5;
      const along = len > ra + rb ? ra + (len - ra - rb) * pos.p : len * pos.p;
      const sx = ax + Math.cos(ang) * along;
      const sy = ay + Math.sin(ang) * along;
      if (s * 10 >= 5) {
        ctx.strokeStyle = color;
        ctx.lineWidth = Math.min(3, Math.max(1, s * 0.5));
        ctx.beginPath();
        ctx.moveTo(ax, ay);
        ctx.lineTo(sx, sy);
        ctx.stroke();
      }
      const size = Math.min(9, Math.max(3, s * 1.6));
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.moveTo(sx + Math.cos(ang) * size, sy + Math.sin(ang) * size);
      ctx.lineTo(sx + Math.cos(ang + 2.5) * size, sy + Math.sin(ang + 2.5) * size);
      ctx.lineTo(sx + Math.cos(ang - 2.5) * size, sy + Math.sin(ang - 2.5) * size);
      ctx.closePath();
      ctx.fill();
      ctx.strokeStyle = ui.selectedFleet === f.id ? '#ffffff' : BG;
      ctx.lineWidth = ui.selectedFleet === f.id ? 2 : 0.8;
      ctx.stroke();
      dyn.drawnFleets.push({ id: f.id, x: sx, y: sy, ships: f.ships, color });
    }
    // docked fleets: one chevron per system and faction, beside the system
    for (const [i, list] of docked) {
      const r = discR(i);
      const sx = toScreenX(geo.xs[i]) + r + 2;
      const sy = toScreenY(geo.ys[i]) - r - 2;
      const size = Math.min(7, Math.max(2.5, s * 1.2));
      list.forEach((f, n) => {
        ctx.globalAlpha = hl !== null && f.f !== hl ? 0.25 : 1;
        ctx.fillStyle = colors[f.f] ?? NEUTRAL;
        const y = sy - n * (size + 1);
        ctx.beginPath();
        ctx.moveTo(sx, y - size);
        ctx.lineTo(sx + size, y);
        ctx.lineTo(sx - size, y);
        ctx.closePath();
        ctx.fill();
        dyn.drawnFleets.push({ id: f.id, x: sx, y: y - size / 2, ships: f.ships, color: colors[f.f] });
      });
    }
    ctx.globalAlpha = 1;
  }

  /** Garrisons, fleet sizes and names, most important first, none overlapping another. */
  function drawLabels(count) {
    const s = cam.scale;
    const binsX = Math.ceil(width / LABEL_BIN);
    const binsY = Math.ceil(height / LABEL_BIN);
    const taken = new Uint8Array(binsX * binsY);
    stats.labelBoxes = [];
    const claim = (x, y, w, h) => {
      const bx0 = Math.max(0, Math.floor(x / LABEL_BIN));
      const bx1 = Math.min(binsX - 1, Math.floor((x + w) / LABEL_BIN));
      const by0 = Math.max(0, Math.floor(y / LABEL_BIN));
      const by1 = Math.min(binsY - 1, Math.floor((y + h) / LABEL_BIN));
      for (let by = by0; by <= by1; by++) for (let bx = bx0; bx <= bx1; bx++) if (taken[by * binsX + bx]) return false;
      for (let by = by0; by <= by1; by++) for (let bx = bx0; bx <= bx1; bx++) taken[by * binsX + bx] = 1;
      if (stats.labelBoxes.length < 2000) stats.labelBoxes.push([x, y, w, h]);
      return true;
    };
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    // garrisons, inside circles big enough to hold them
    if (dyn.ships && s * 1.85 >= 6) {
      ctx.fillStyle = '#ffffff';
      for (let k = 0; k < count; k++) {
        const i = vis[k];
        const size = Math.min(14, Math.max(8, discR(i) * 0.95));
        ctx.font = `600 ${size}px system-ui, sans-serif`;
        ctx.fillText(String(dyn.ships[i]), toScreenX(geo.xs[i]), toScreenY(geo.ys[i]));
        stats.labels += 1;
      }
    }
    // fleet sizes, then names, each only where there is room
    if (s >= 1.6) {
      ctx.font = '600 10px system-ui, sans-serif';
      ctx.textAlign = 'left';
      for (const f of dyn.drawnFleets) {
        if (!dyn.ships) break; // a replay knows where fleets went, not their sizes
        const text = String(f.ships);
        const w = ctx.measureText(text).width;
        if (!claim(f.x + 6, f.y - 6, w, 11)) continue;
        ctx.fillStyle = f.color;
        ctx.fillText(text, f.x + 6, f.y);
        stats.labels += 1;
      }
    }
    if (s >= 2.2) {
      ctx.font = '11px system-ui, sans-serif';
      ctx.textAlign = 'center';
      ctx.fillStyle = '#9aa4b8';
      const order = Array.from(vis.subarray(0, count));
      // homes, the selected system, then owned systems get their names first
      const rank = (i) => (geo.homes.has(i) ? 0 : geo.index.get(ui.selectedSystem) === i ? 0 : dyn.owner[i] >= 0 ? 1 : 2);
      order.sort((a, b) => rank(a) - rank(b));
      for (const i of order) {
        const x = toScreenX(geo.xs[i]);
        const y = toScreenY(geo.ys[i]) + discR(i) + 8;
        const text = geo.names[i];
        const w = ctx.measureText(text).width;
        if (!claim(x - w / 2, y - 6, w, 12)) continue;
        ctx.fillText(text, x, y);
        stats.labels += 1;
      }
    }
  }

  /** The fleet or system under a screen point, or null: a fleet marker first (they sit beside discs), then a disc, then the nearest system. */
  function pick(sx, sy) {
    if (!geo || !dyn) return null;
    let fleet = null;
    let fleetD2 = 7 * 7;
    for (const f of dyn.drawnFleets ?? []) {
      const d2 = (f.x - sx) ** 2 + (f.y - sy) ** 2;
      if (d2 < fleetD2) {
        fleetD2 = d2;
        fleet = { kind: 'fleet', id: f.id };
      }
    }
    if (fleet) return fleet;
    let inside = null;
    let near = null;
    let nearD2 = 10 * 10;
    eachAround(geo.sysGrid, toWorldX(sx), toWorldY(sy), 12 / cam.scale + 3, (i) => {
      const d2 = (toScreenX(geo.xs[i]) - sx) ** 2 + (toScreenY(geo.ys[i]) - sy) ** 2;
      if (d2 <= (discR(i) + 1) ** 2) inside = { kind: 'system', id: geo.ids[i] };
      if (d2 < nearD2) {
        nearD2 = d2;
        near = { kind: 'system', id: geo.ids[i] };
      }
    });
    return inside ?? near;
  }

  function requestDraw() {
    dirty = true;
  }

  function frame(now) {
    stats.frames += 1;
    stats.lastFrameAt = now;
    const moving = dyn && !dyn.replay && dyn.fleets.some((f) => f.to !== null);
    // first render: the frame after the first one that drew systems (that one has been painted)
    if (stats.firstRenderAt === null && stats.systemsDrawn > 0) stats.firstRenderAt = performance.now();
    if (stats.continuous) panBy(0.5, 0);
    if (dirty || moving) {
      dirty = false;
      draw(now);
    }
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);

  // --- interaction: wheel zoom at the cursor, drag to pan, click to pick
  let drag = null;
  canvas.addEventListener('wheel', (e) => {
    e.preventDefault();
    const rect = canvas.getBoundingClientRect();
    zoomAt(e.clientX - rect.left, e.clientY - rect.top, Math.exp(-e.deltaY * 0.0015));
  }, { passive: false });
  canvas.addEventListener('pointerdown', (e) => {
    drag = { x: e.clientX, y: e.clientY, moved: 0 };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    drag.moved += Math.abs(dx) + Math.abs(dy);
    drag.x = e.clientX;
    drag.y = e.clientY;
    panBy(dx, dy);
  });
  canvas.addEventListener('pointerup', (e) => {
    const wasClick = drag && drag.moved < 4;
    drag = null;
    if (!wasClick) return;
    const rect = canvas.getBoundingClientRect();
    onPick?.(pick(e.clientX - rect.left, e.clientY - rect.top));
  });

  return {
    kind: 'canvas',
    stats,
    camera: cam,
    setWorld,
    setState,
    fit,
    zoomAt,
    /** Centres the view on a system, zoomed in to at least `scale` px per world unit. */
    centerOn(systemId, scale = 8) {
      const i = geo?.index.get(systemId);
      if (i === undefined) return;
      cam.cx = geo.xs[i];
      cam.cy = geo.ys[i];
      cam.scale = Math.max(cam.scale, scale);
      cam.fitted = false;
      requestDraw();
    },
    /** zooms about the middle of the map */
    zoomBy: (factor) => zoomAt(width / 2, height / 2, factor),
    panBy,
    pick,
    requestDraw,
    setHighlight(factionIndex) {
      ui.highlight = factionIndex;
      requestDraw();
    },
    select(sel) {
      ui.selectedSystem = sel?.kind === 'system' ? sel.id : null;
      ui.selectedFleet = sel?.kind === 'fleet' ? sel.id : null;
      requestDraw();
    },
    /** Where a system is on screen (page coordinates), for tests and the details panel. */
    screenOf(systemId) {
      const i = geo?.index.get(systemId);
      if (i === undefined) return null;
      const rect = canvas.getBoundingClientRect();
      return { x: rect.left + toScreenX(geo.xs[i]), y: rect.top + toScreenY(geo.ys[i]), r: geo.radius[i] * cam.scale };
    },
    /** Page coordinates of a system's disc edge region (inside the disc, clear of its garrison figure). */
    discPoint(systemId) {
      const i = geo?.index.get(systemId);
      if (i === undefined) return null;
      const rect = canvas.getBoundingClientRect();
      return { x: rect.left + toScreenX(geo.xs[i]), y: rect.top + toScreenY(geo.ys[i]) + discR(i) * 0.75, r: discR(i) };
    },
    /** Page coordinates where a fleet was last drawn, or null. */
    fleetPoint(fleetId) {
      draw(performance.now()); // the view may have moved since the last frame
      const f = dyn?.drawnFleets?.find((d) => d.id === fleetId);
      if (!f) return null;
      const rect = canvas.getBoundingClientRect();
      return { x: rect.left + f.x, y: rect.top + f.y };
    },
    /** The colour drawn at a page point, as #rrggbb (for tests: what the map really shows). */
    colorAt(px, py) {
      draw(performance.now());
      const rect = canvas.getBoundingClientRect();
      const d = ctx.getImageData(Math.round((px - rect.left) * dpr), Math.round((py - rect.top) * dpr), 1, 1).data;
      return `#${[d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
    },
  };
}
