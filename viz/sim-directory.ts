// The viz's live list of simulations, one page of the index at a time. A list page is read at
// most once per LIST_TTL_MS however many browsers poll it: every viewer of this process
// shares the same answer.
import type { RedisClient } from '../shared/redis.ts';
import { readSimPage, type SimPage } from '../shared/sim-summary.ts';

const LIST_TTL_MS = 1000;
export const LIST_PAGE_MAX = 100;

export interface SimListPage extends SimPage {
  /** the simulation `/ws` follows without `sim` (this process's SIM_ID) */
  defaultSim: string;
}

export class SimDirectory {
  private readonly cache = new Map<string, { at: number; page: Promise<SimListPage> }>();

  constructor(
    private readonly redis: RedisClient,
    private readonly defaultSim: string,
  ) {}

  read(offset: number, limit: number): Promise<SimListPage> {
    const key = `${offset}:${limit}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < LIST_TTL_MS) return hit.page;
    const page = readSimPage(this.redis, this.defaultSim, offset, limit).then((p) => ({ ...p, defaultSim: this.defaultSim }));
    // A failed read is not kept: the next poll tries again.
    page.catch(() => {
      if (this.cache.get(key)?.page === page) this.cache.delete(key);
    });
    for (const [k, v] of this.cache) if (now - v.at >= LIST_TTL_MS) this.cache.delete(k);
    this.cache.set(key, { at: now, page });
    return page;
  }
}
