// The details panel: what a click on the map picked (a system or a fleet), at the tick shown
// (live, or the replayed one). Every figure is tagged with data-field for the tests.
import { NEUTRAL } from './colors.js';

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'onclick') node.addEventListener('click', v);
    else if (k === 'style') node.style.cssText = v;
    else node.setAttribute(k, String(v));
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function swatch(color) {
  return h('span', { class: 'swatch', style: `background:${color}` });
}

function factionLabel(world, index) {
  if (index < 0 || index === undefined) return h('span', {}, swatch(NEUTRAL), ' neutral');
  const f = world.factions[index];
  return h('span', {}, swatch(f.color), ` ${f.name}`);
}

function eta(ctx, arrive) {
  const ticks = Math.max(0, arrive - ctx.shown.tick);
  const secs = ctx.tickMs ? ` ≈ ${((ticks * ctx.tickMs) / 1000).toFixed(1)} s` : '';
  return `tick ${arrive} (in ${ticks} tick${ticks === 1 ? '' : 's'}${secs})`;
}

/**
 * ctx: { world, rules, shown: {owner, ships|null, fleets, tick, replay}, systemIndex, tickMs,
 *        select(sel), close() }
 */
export function renderDetails(panel, sel, ctx) {
  panel.replaceChildren();
  panel.hidden = !sel;
  if (!sel) return;
  const { world, shown } = ctx;
  const head = (title) =>
    h('h3', {}, h('span', { 'data-field': 'title' }, title), h('button', { class: 'close', type: 'button', title: 'close', onclick: () => ctx.close() }, '×'));
  if (sel.kind === 'system') {
    const i = ctx.systemIndex.get(sel.id);
    const s = world.systems[i];
    if (!s) return;
    const name = (id) => world.systems[ctx.systemIndex.get(id)]?.name ?? `#${id}`;
    const link = (id) => h('button', { class: 'link', type: 'button', onclick: () => ctx.select({ kind: 'system', id }) }, name(id));
    const fleetLink = (f) =>
      h('button', { class: 'link', type: 'button', onclick: () => ctx.select({ kind: 'fleet', id: f.id }) }, `fleet ${f.id}`);
    const here = shown.fleets.filter((f) => f.system === s.id);
    const coming = shown.fleets.filter((f) => f.to === s.id);
    const cap = s.industry * ctx.rules.garrisonCapPerIndustry;
    const garrison = shown.ships ? shown.ships[i] : null;
    const fleetItem = (f, extra) =>
      h('li', { 'data-fleet-id': f.id }, swatch(world.factions[f.f]?.color ?? NEUTRAL), ' ', fleetLink(f), f.ships === null ? '' : ` · ${f.ships} ships`, extra);
    panel.append(
      head(`${s.name} (#${s.id})`),
      h(
        'dl',
        {},
        h('dt', {}, 'owner'),
        h('dd', { 'data-field': 'owner', 'data-owner': shown.owner[i] < 0 ? '' : world.factions[shown.owner[i]].id }, factionLabel(world, shown.owner[i])),
        h('dt', {}, 'garrison'),
        h('dd', { 'data-field': 'garrison' }, garrison === null ? 'not known in a replay' : `${garrison} ships`),
        h('dt', {}, 'production'),
        h('dd', { 'data-field': 'production' }, shown.owner[i] < 0 ? `none while neutral (industry ${s.industry})` : `${s.industry} ship${s.industry === 1 ? '' : 's'} every ${ctx.rules.productionPeriod} ticks`),
        h('dt', {}, 'cap'),
        h('dd', { 'data-field': 'cap' }, `${cap} ships`),
        h('dt', {}, 'lanes'),
        h('dd', { 'data-field': 'lanes' }, ...s.lanes.flatMap((id, k) => (k ? [', ', link(id)] : [link(id)]))),
      ),
      h('div', { class: 'muted' }, `fleets here (${here.length})`),
      h('ul', { 'data-field': 'fleets-here' }, ...here.map((f) => fleetItem(f, f.to === null ? '' : ` · leaving for ${name(f.to)}`))),
      h('div', { class: 'muted' }, `heading here (${coming.length})`),
      h('ul', { 'data-field': 'fleets-coming' }, ...coming.map((f) => fleetItem(f, ` · from ${name(f.system)}, arrives ${eta(ctx, f.arrive)}`))),
    );
    return;
  }
  const f = shown.fleets.find((x) => x.id === sel.id);
  if (!f) {
    panel.append(head(`fleet ${sel.id}`), h('p', { class: 'muted' }, 'not on the map at this tick (arrived, merged or destroyed)'));
    return;
  }
  const name = (id) => world.systems[ctx.systemIndex.get(id)]?.name ?? `#${id}`;
  const link = (id) => h('button', { class: 'link', type: 'button', onclick: () => ctx.select({ kind: 'system', id }) }, name(id));
  panel.append(
    head(`fleet ${f.id}`),
    h(
      'dl',
      {},
      h('dt', {}, 'owner'),
      h('dd', { 'data-field': 'owner' }, factionLabel(world, f.f)),
      h('dt', {}, 'ships'),
      h('dd', { 'data-field': 'ships' }, f.ships === null ? 'not known in a replay' : String(f.ships)),
      h('dt', {}, 'route'),
      h('dd', { 'data-field': 'route' }, ...(f.to === null ? ['at ', link(f.system)] : [link(f.system), ' → ', link(f.to)])),
      h('dt', {}, 'ETA'),
      h('dd', { 'data-field': 'eta' }, f.to === null ? 'docked' : eta(ctx, f.arrive)),
    ),
  );
}
