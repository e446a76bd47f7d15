// The event log: one line per event worth reading, filterable by faction and type. Built from
// the history's events (retained and live) plus the page's own notes (snapshots, disconnects).
const LOG_LIMIT = 200;

function factionsOf(e) {
  const out = new Set();
  for (const k of ['faction', 'to', 'from', 'winner']) if (typeof e[k] === 'string') out.add(e[k]);
  for (const s of e.sides ?? []) if (s.faction) out.add(s.faction);
  return out;
}

/** [text, css class, filter category] or null for events left to the map (ticks). */
export function describe(e, systemName) {
  switch (e.type) {
    case 'order_applied':
      return [`${e.faction}: ${e.order} applied (${e.orderId})`, 'applied', 'order'];
    case 'order_rejected':
      return [`${e.faction ?? '?'}: ${e.order ?? 'order'} rejected (${e.orderId}): ${e.reason}`, 'rejected', 'order'];
    case 'battle':
      return [`battle at ${systemName(e.system)}: ${e.sides.map((s) => `${s.faction ?? 'neutral'} ${s.before}−${s.lost}`).join(' vs ')}`, 'battle', 'battle'];
    case 'system_captured':
      return [`${e.to} captured ${systemName(e.system)} from ${e.from ?? 'neutral'}`, 'captured', 'capture'];
    case 'owner_set':
      return [`${systemName(e.system)} handed to ${e.to} (was ${e.from ?? 'neutral'})`, 'captured', 'capture'];
    case 'fleet_destroyed':
      return [`${e.faction} fleet ${e.fleet} destroyed at ${systemName(e.system)}`, 'battle', 'battle'];
    case 'fleet_created':
      return [`${e.faction} fleet ${e.fleet} of ${e.ships} at ${systemName(e.system)}`, 'fleet', 'fleet'];
    case 'fleet_departed':
      return [`${e.faction} fleet ${e.fleet} left ${systemName(e.from)} for ${systemName(e.to)}, arrives ${e.arrive}`, 'fleet', 'fleet'];
    case 'fleet_arrived':
      return [`${e.faction} fleet ${e.fleet} arrived at ${systemName(e.system)}`, 'fleet', 'fleet'];
    case 'note':
      return [`${e.faction}: “${e.text}”`, 'note', 'note'];
    case 'world_created':
      return [`world created: ${e.systems} systems, ${e.factions.length} factions, seed ${e.seed}`, 'info', 'world'];
    case 'world_ended':
      return [`${e.winner} won: ${e.reason}`, 'world', 'world'];
    default:
      return null;
  }
}

export function createLog({ list, factionSelect, typeSelect, systemName }) {
  /** the page's own lines: {seq, text, kind}; shown whatever the filters */
  const notes = [];
  let events = [];
  let timer = null;
  let seq = 0;

  function matches(e, line) {
    const type = typeSelect.value;
    if (type === 'main' && line[2] === 'fleet') return false;
    if (type && type !== 'main' && line[2] !== type) return false;
    const faction = factionSelect.value;
    return !faction || factionsOf(e).has(faction);
  }

  function render() {
    timer = null;
    const items = [];
    for (let k = events.length - 1; k >= 0 && items.length < LOG_LIMIT; k--) {
      const e = events[k];
      const line = describe(e, systemName);
      if (!line || !matches(e, line)) continue;
      const li = document.createElement('li');
      li.className = line[1];
      li.dataset.type = e.type;
      li.textContent = `[${e.tick}] ${line[0]}`;
      items.push(li);
    }
    const noteItems = notes.slice(-20).reverse().map((n) => {
      const li = document.createElement('li');
      li.className = n.kind;
      li.textContent = n.text;
      return li;
    });
    list.replaceChildren(...items, ...noteItems);
  }

  const schedule = () => {
    timer ??= setTimeout(render, 150);
  };
  factionSelect.addEventListener('change', render);
  typeSelect.addEventListener('change', render);

  return {
    /** the history's events array (shared, not copied) */
    setEvents(list) {
      events = list;
      schedule();
    },
    changed: schedule,
    note(text, kind = 'info') {
      notes.push({ seq: seq++, text, kind });
      if (notes.length > 50) notes.shift();
      render();
    },
    setFactions(factions) {
      const keep = factionSelect.value;
      factionSelect.replaceChildren(new Option('every faction', ''), ...factions.map((f) => new Option(f.name === f.id ? f.id : `${f.name} (${f.id})`, f.id)));
      factionSelect.value = factions.some((f) => f.id === keep) ? keep : '';
    },
    clear() {
      notes.length = 0;
      events = [];
      render();
    },
  };
}
