// The export file: one JSON document holding everything of a simulation that replay and a
// worker need: registry record, scoped token digests, the live snapshot, the checkpoints and
// the retained events and orders (stream ids kept). Order results and rate/idempotency keys
// are not kept: they are short-lived and rebuilt as the world goes on.
import { readFile } from 'node:fs/promises';
import type { RedisClient } from '../shared/redis.ts';
import { scanKeys } from '../shared/redis-batch.ts';
import { z } from 'zod';
import { POOL_CHANNEL, SIMS_INDEX_KEY, simKeys } from '../shared/keyspace.ts';
import { poolMessage } from '../shared/sim-registry.ts';
import { CliError, Exit } from './exit-codes.ts';
import type { History } from './history.ts';

const Hash = z.record(z.string(), z.string());
const Entries = z.array(z.tuple([z.string(), z.array(z.string())]));

export const ARCHIVE_FORMAT = 'sector-sim-export';
export const Archive = z.strictObject({
  format: z.literal(ARCHIVE_FORMAT),
  version: z.literal(1),
  sim: z.string(),
  exportedAt: z.number().int(),
  meta: Hash,
  tokens: Hash,
  snapshot: Hash,
  checkpoints: z.array(z.strictObject({ tick: z.number().int().min(0), hash: Hash })),
  events: Entries,
  orders: Entries,
});
export type Archive = z.infer<typeof Archive>;

export function toArchive(sim: string, h: History, now = Date.now()): Archive {
  return { format: ARCHIVE_FORMAT, version: 1, sim, exportedAt: now, meta: h.meta, tokens: h.tokens, snapshot: h.snapshot, checkpoints: h.checkpoints.map(({ tick, hash }) => ({ tick, hash })), events: h.events, orders: h.orders };
}

/** The archive as a History (`sector replay --file` replays it without a Redis). */
export function historyOf(a: Archive): History {
  const k = simKeys(a.sim);
  return { meta: a.meta, tokens: a.tokens, snapshot: a.snapshot, checkpoints: a.checkpoints.map((c) => ({ ...c, key: k.checkpoint(c.tick) })), events: a.events, orders: a.orders };
}

/** Reads and checks an export file: not found -> exit 3, not an export -> exit 2. */
export async function readArchive(file: string): Promise<Archive> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(Exit.notFound, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(Exit.usage, `${file} is not JSON`);
  }
  const parsed = Archive.safeParse(json);
  if (!parsed.success) throw new CliError(Exit.usage, `${file} is not a sector export: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** Whether any key of simulation `id` exists (SCAN of its pattern, on every primary of a cluster). */
async function anyKey(redis: RedisClient, id: string): Promise<string | null> {
  for await (const found of scanKeys(redis, simKeys(id).all)) return found[0]!;
  return null;
}

/**
 * Writes the archive as simulation `id` in one MULTI on its slot (all or nothing), meta last
 * inside it; then the index entry and the pool announcement, as a create does. Refuses when
 * any key of `id` exists. `paused`: registered paused, so no worker ticks it until resumed.
 */
export async function importArchive(redis: RedisClient, a: Archive, id: string, opts: { paused?: boolean } = {}): Promise<void> {
  const existing = await anyKey(redis, id);
  if (existing) throw new CliError(Exit.unavailable, `simulation ${id} exists in this Redis (key ${existing}); import --as another id, or delete it first`);
  const k = simKeys(id);
  const m = redis.multi();
  if (Object.keys(a.snapshot).length) m.hset(k.snapshot, a.snapshot);
  for (const c of a.checkpoints) m.hset(k.checkpoint(c.tick), c.hash).zadd(k.checkpoints, c.tick, k.checkpoint(c.tick));
  for (const [eid, fields] of a.events) m.xadd(k.events, eid, ...fields);
  for (const [oid, fields] of a.orders) m.xadd(k.orders, oid, ...fields);
  if (Object.keys(a.tokens).length) m.hset(k.tokens, a.tokens);
  const meta: Record<string, string> = { ...a.meta, ...(opts.paused ? { state: 'paused' } : {}) };
  if (meta.createdAt === undefined) throw new CliError(Exit.usage, `the archive of ${a.sim} has no registry record`);
  m.hset(k.meta, meta);
  const replies = (await m.exec()) ?? [];
  const failed = replies.find(([err]) => err);
  if (failed) throw new CliError(Exit.unavailable, `import into ${id} failed part-way: ${failed[0]!.message}`);
  await redis.zadd(SIMS_INDEX_KEY, Number(meta.createdAt), id);
  await redis.publish(POOL_CHANNEL, poolMessage.created(id));
}
