// The victory condition of a world, as one short string (WORLD_VICTORY, a simulation's
// `victory` parameter, and the world's own params, so a replay judges by the same rule):
//   none            the world never ends
//   homes           one faction holds every faction's home system
//   share:<N>       one faction holds at least N% of all systems (1-100)
//   homes,share:<N> whichever happens first
// Parsing lives here (config, registry and engine agree); judging is engine/victory.ts.
import { z } from 'zod';

export interface VictoryRule {
  homes: boolean;
  /** percent of all systems, or null */
  share: number | null;
}

export const VICTORY_HELP = '"none", "homes", "share:<N>" (N 1-100) or both comma-separated, e.g. "homes,share:60"';

/** The rule a spec names, or null when the spec is malformed. */
export function parseVictory(spec: string): VictoryRule | null {
  const rule: VictoryRule = { homes: false, share: null };
  const parts = spec.trim().split(',').map((p) => p.trim());
  if (parts.length === 1 && parts[0] === 'none') return rule;
  for (const part of parts) {
    const share = /^share:(\d{1,3})$/.exec(part);
    if (part === 'homes' && !rule.homes) rule.homes = true;
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
