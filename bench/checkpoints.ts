// Checkpoint cost (engine/checkpoints.ts): the memory one checkpoint takes (MEMORY USAGE of a
// COPY of the snapshot hash) and the time a commit with the checkpoint's COPY takes against
// the same commit without it, at 60 and 10k systems, in the same run; plus the amortised cost
// per tick at the default CHECKPOINT_EVERY_TICKS.
import { generateWorld } from '../engine/worldgen.ts';
import { snapshotWrites } from '../engine/store.ts';
import { ConfigSchema } from '../shared/config.ts';
import { simKeys } from '../shared/keyspace.ts';
import { startTestRedis } from '../tests/helpers/redis-server.ts';

const ROUNDS = Number(process.env.BENCH_CHECKPOINT_ROUNDS ?? 60);
const EVERY = ConfigSchema.shape.CHECKPOINT_EVERY_TICKS.parse(undefined);
const KEEP = ConfigSchema.shape.CHECKPOINT_KEEP.parse(undefined);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const server = await startTestRedis();
const redis = server.client();
try {
  for (const systems of [60, 10_000]) {
    const k = simKeys(`bench-cp-${systems}`);
    const world = generateWorld({ systems, factions: 4, seed: 42 }, Date.now());
    const fields = snapshotWrites(null, world).set;
    await redis.hset(k.snapshot, ...[...fields].flat());
    const meta = fields.get('meta')!;
    const plain: number[] = [];
    const withCopy: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      let t = performance.now();
      await redis.multi().hset(k.snapshot, 'meta', meta).pexpire(k.lease, 5000).exec();
      plain.push(performance.now() - t);
      t = performance.now();
      await redis
        .multi()
        .hset(k.snapshot, 'meta', meta)
        .copy(k.snapshot, k.checkpoint(i), 'REPLACE')
        .zadd(k.checkpoints, i, k.checkpoint(i))
        .del(k.checkpoint(i - KEEP))
        .zrem(k.checkpoints, k.checkpoint(i - KEEP))
        .pexpire(k.lease, 5000)
        .exec();
      withCopy.push(performance.now() - t);
    }
    const bytes = Number(await redis.memory('USAGE', k.checkpoint(ROUNDS - 1), 'SAMPLES', 0));
    const extra = median(withCopy) - median(plain);
    console.log(
      `${String(systems).padStart(6)} systems: one checkpoint ${(bytes / 1024).toFixed(0)} KiB (× CHECKPOINT_KEEP ${KEEP} = ${((bytes * KEEP) / 1024 / 1024).toFixed(2)} MiB per world); ` +
        `commit ${median(plain).toFixed(2)} ms without, ${median(withCopy).toFixed(2)} ms with the COPY (+${extra.toFixed(2)} ms on a checkpoint tick, ${(extra / EVERY).toFixed(3)} ms per tick at every ${EVERY})`,
    );
  }
} finally {
  await server.stop();
}
console.log(`load average while measuring: ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
