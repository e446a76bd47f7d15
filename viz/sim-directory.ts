// The viz's view of the registry: whether a simulation exists (its registry record, or it is
// the process's SIM_ID), and the live list the page shows, one page of the index at a time.
// A list page is read at most once per LIST_TTL_MS however many browsers poll it: every
// viewer of this process shares the same answer.
import type { Redis } from 'ioredis';
import { SIMS_INDEX_KEY, simKeys } from '../shared/keyspace.ts';
import { readSimSummaries, type SimSummary } from '../shared/sim-summary.ts';

const LIST_TTL_MS = 1000;
export const LIST_PAGE_MAX = 100;

export interface SimListPage {
  sims: SimSummary[];
  /** simulations in the index (plus the default one while it is not registered) */
  total: number;
  offset: number;
  limit: number;
  /** the simulation `/ws` follows without `sim` (this process's SIM_ID) */
  defaultSim: string;
}

export async function simExists(redis: Redis, simId: string): Promise<boolean> {
  return (await redis.exists(simKeys(simId).meta)) === 1;
}

export class SimDirectory {
  private readonly cache = new Map<string, { at: number; page: Promise<SimListPage> }>();

  constructor(
    private readonly redis: Redis,
    private readonly defaultSim: string,
  ) {}

  read(offset: number, limit: number): Promise<SimListPage> {
    const key = `${offset}:${limit}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < LIST_TTL_MS) return hit.page;
    const page = this.readPage(offset, limit);
    // A failed read is not kept: the next poll tries again.
    page.catch(() => {
      if (this.cache.get(key)?.page === page) this.cache.delete(key);
    });
    for (const [k, v] of this.cache) if (now - v.at >= LIST_TTL_MS) this.cache.delete(k);
    this.cache.set(key, { at: now, page });
    return page;
  }

  private async readPage(offset: number, limit: number): Promise<SimListPage> {
    const replies = (await this.redis.pipeline().zcard(SIMS_INDEX_KEY).zscore(SIMS_INDEX_KEY, this.defaultSim).exec()) ?? [];
    const [countErr, count] = replies[0] ?? [new Error('no reply')];
    const [scoreErr, defaultScore] = replies[1] ?? [new Error('no reply')];
    if (countErr || scoreErr) throw countErr ?? scoreErr;
    // The default simulation is listed first even before anything registered it.
    const extra = defaultScore === null ? 1 : 0;
    const ids: string[] = [];
    if (extra && offset === 0) ids.push(this.defaultSim);
    const from = Math.max(0, offset - extra);
    const want = limit - ids.length;
    if (want > 0) ids.push(...(await this.redis.zrange(SIMS_INDEX_KEY, from, from + want - 1)));
    const summaries = await readSimSummaries(this.redis, ids, this.defaultSim);
    return { sims: summaries.filter((s): s is SimSummary => s !== null), total: Number(count) + extra, offset, limit, defaultSim: this.defaultSim };
  }
}
