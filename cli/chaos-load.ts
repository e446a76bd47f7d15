// The order load of `sector chaos`: straight into each simulation's orders stream (as the API
// appends), or through the API as a player sends it (the project's client, client/, which
// retries with one Idempotency-Key per order, so an order whose answer a fault cut off is
// sent again without being queued twice). An order counts as acknowledged only once its
// stream id came back: those are the ones that must each get exactly one outcome.
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../shared/redis.ts';
import { SectorApiError, SectorClient } from '../client/index.ts';
import { simKeys } from '../shared/keyspace.ts';
import { ADMIN, type Order } from '../shared/schemas.ts';
import { orderEntryFields } from '../shared/streams.ts';

export interface OrderSender {
  /** the stream id the order was acknowledged with, or undefined if it was not acknowledged */
  send(simId: string, order: Order): Promise<string | undefined>;
}

/** The i-th order of the load: a fleet (admin only) every third, else a note. */
export function chaosOrder(i: number): Order {
  return i % 3 === 0 ? { type: 'add_fleet', faction: 'BotFaction', system: i % 20, ships: 1 + (i % 7) } : { type: 'note', faction: 'BotFaction', text: `chaos ${i}` };
}

export function redisSender(redis: RedisClient): OrderSender {
  return {
    async send(simId, order) {
      try {
        return (await redis.xadd(simKeys(simId).orders, '*', ...orderEntryFields(order, order.type === 'add_fleet' ? ADMIN : order.faction))) ?? undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * Through the API at `baseUrl` with the admin token. Each order keeps one Idempotency-Key and
 * is sent again until acknowledged, for up to `giveUpMs` (long enough to outlast a killed or
 * paused API being restarted); a refusal (4xx but 429) ends it at once.
 */
export function apiSender(baseUrl: () => string, token: string, giveUpMs = 60_000): OrderSender {
  const clients = new Map<string, SectorClient>();
  // one client per URL and simulation: the URL may change (a restarted container published
  // on an ephemeral port), and a retry then goes to the new one
  const clientOf = (simId: string) => {
    const url = `${baseUrl().replace(/\/+$/, '')}/api`;
    let client = clients.get(`${url} ${simId}`);
    if (!client) {
      client = new SectorClient({ baseUrl: url, token, simId, timeoutMs: 5000, retry: { attempts: 4, baseDelayMs: 200, maxDelayMs: 1000 } });
      clients.set(`${url} ${simId}`, client);
    }
    return client;
  };
  return {
    async send(simId, order) {
      const idempotencyKey = randomUUID();
      const until = Date.now() + giveUpMs;
      for (;;) {
        try {
          return await clientOf(simId).postOrder(order, { idempotencyKey });
        } catch (err) {
          if (err instanceof SectorApiError && err.status < 500 && err.status !== 429) return undefined;
          if (Date.now() > until) return undefined;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
  };
}

/** Whether the API answers GET /ready (200) within 2 s. */
export async function apiReady(baseUrl: string): Promise<boolean> {
  try {
    return (await fetch(`${baseUrl.replace(/\/+$/, '')}/ready`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}
