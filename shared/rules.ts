// The constants and closed-form rules that both the engine and the readers (API, viz, bots)
// need: production is lazy, so anyone showing a garrison must compute it the same way.
import type { StarSystem } from './schemas.ts';

export const RULES = {
  /** an owned system produces `industry` ships every this many ticks */
  productionPeriod: 5,
  /** production stops once the garrison reaches industry × this */
  garrisonCapPerIndustry: 20,
  /** lane length units a fleet covers per tick */
  fleetSpeed: 6,
  /** each side's fire per tick is its ships × a factor drawn in [min, max) */
  combatFireMin: 0.2,
  combatFireMax: 0.45,
  /** garrison of a faction's home at world creation */
  homeGarrison: 20,
  /** neutral systems start with 0..this-1 ships that defend but never grow */
  neutralGarrisonMax: 6,
} as const;

/** Whole production periods elapsed for `system` between its `since` and `tick`. */
function periodsSince(system: StarSystem, tick: number): number {
  return Math.max(0, Math.floor((tick - system.since) / RULES.productionPeriod));
}

/** The garrison of `system` at `tick`, production included. Neutral systems never grow. */
export function garrisonAt(system: StarSystem, tick: number): number {
  if (system.owner === null) return system.garrison;
  const cap = system.industry * RULES.garrisonCapPerIndustry;
  if (system.garrison >= cap) return system.garrison;
  return Math.min(cap, system.garrison + periodsSince(system, tick) * system.industry);
}

/**
 * The same system with its garrison made explicit at `tick`. Keeps partial progress toward
 * the next production period, so touching a system never costs it production.
 */
export function materialize(system: StarSystem, tick: number): StarSystem {
  if (system.owner === null) return system;
  const garrison = garrisonAt(system, tick);
  const since = system.since + periodsSince(system, tick) * RULES.productionPeriod;
  if (garrison === system.garrison && since === system.since) return system;
  return { ...system, garrison, since: Math.min(since, tick) };
}

export function laneLength(a: { x: number; y: number }, b: { x: number; y: number }): number {
  // sqrt is correctly rounded everywhere; Math.hypot is not specified that tightly, and a
  // different rounding on another engine would break replay (I4)
  const dx = a.x - b.x;
  const dy = a.y - b.y;
  return Math.sqrt(dx * dx + dy * dy);
}

/** Ticks to cross a lane: at least one. */
export function travelTicks(a: { x: number; y: number }, b: { x: number; y: number }): number {
  return Math.max(1, Math.ceil(laneLength(a, b) / RULES.fleetSpeed));
}

/** Faction ids of a generated world, in order; a world with F factions takes the first F. */
export const FACTION_IDS = ['BotFaction', 'Crimson', 'Azure', 'Verdant', 'Amber', 'Violet', 'Cobalt', 'Ivory', 'Onyx', 'Coral', 'Jade', 'Saffron', 'Slate', 'Ruby', 'Teal', 'Umber'] as const;
/** The ids of a generated world's factions: the first `factions` of FACTION_IDS (fewer in a world with fewer systems). */
export function factionIdsFor(params: { systems: number; factions: number }): string[] {
  return FACTION_IDS.slice(0, Math.min(params.factions, FACTION_IDS.length, params.systems));
}
export const FACTION_COLORS = ['#f5c542', '#e5484d', '#3e8ef7', '#46a758', '#f76b15', '#8e4ec6', '#0090ff', '#d4d4d4', '#6f6f6f', '#ff8a80', '#12a594', '#ffb224', '#7c8ea6', '#e54666', '#0eb39e', '#ad7f58'] as const;
