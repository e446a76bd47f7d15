// The victory condition of a world, as one short string (WORLD_VICTORY, a simulation's
// `victory` parameter, and the world's own params, so a replay judges by the same rule):
//   none            the world never ends
//   homes           one faction holds every faction's home system
//   share:<N>       one faction holds at least N% of all systems (1-100)
//   ticks:<N>       after N ticks of the round, the faction holding the most systems
//   any of them comma-separated (e.g. homes,share:50,ticks:1200): whichever happens first
// Parsing lives here (config, registry and engine agree); judging is engine/victory.ts.
import { z } from 'zod';

export interface VictoryRule {
  homes: boolean;
  /** percent of all systems, or null */
  share: number | null;
  /** a round's length in ticks, or null */
  ticks: number | null;
}

export const VICTORY_HELP = '"none", "homes", "share:<N>" (N 1-100), "ticks:<N>" (N >= 1) or several comma-separated, e.g. "homes,share:50,ticks:1200"';

/** The rule a spec names, or null when the spec is malformed. */
export function parseVictory(spec: string): VictoryRule | null {
  const rule: VictoryRule = { homes: false, share: null, ticks: null };
  const parts = spec.trim().split(',').map((p) => p.trim());
  if (parts.length === 1 && parts[0] === 'none') return rule;
  for (const part of parts) {
    const share = /^share:(\d{1,3})$/.exec(part);
    const ticks = /^ticks:(\d{1,9})$/.exec(part);
    if (part === 'homes' && !rule.homes) rule.homes = true;
    else if (ticks && rule.ticks === null && Number(ticks[1]) >= 1) rule.ticks = Number(ticks[1]);
    else if (share && rule.share === null && Number(share[1]) >= 1 && Number(share[1]) <= 100) rule.share = Number(share[1]);
    else return null;
  }
  return rule;
}

/** A valid spec, normalised (no spaces): the zod form for the API's and the config's input. */
export const VictorySpec = z
  .string()
  .max(40)
  .refine((s) => parseVictory(s) !== null, { message: `a victory condition is ${VICTORY_HELP}` })
  .transform((s) => s.replace(/\s+/g, ''));
