// REDIS_DURABILITY for the worker's commit: after EXEC, the same wait as for an order's 202
// (WAIT / WAITAOF, see shared/durability.ts), on the commit connection, which made the write.
// A commit whose wait falls short is logged and counted, and waited for again on the same
// connection (a WAIT covers every earlier write of the connection) until it is durable or the
// lease the commit renewed would end: then the runner gives the world up, and it is not ticked
// on by this worker. Whoever takes the world next waits for its own first commit, which comes
// after this one in the primary's history and so covers it too.
import type { Redis } from 'ioredis';
import { type DurabilityPlan, waitOutcome } from '../shared/durability.ts';
import type { Logger } from '../shared/log.ts';

export interface DurableCommitContext {
  plan: DurabilityPlan;
  log: Logger;
  /** counts a wait that fell short */
  onShort: () => void;
}

/**
 * Waits until the connection's last write (the commit of `tick`) is durable as the plan says.
 * True once it is; false when it was not by `giveUpAt` (ms), or the wait itself failed (the
 * connection is gone: a wait on another connection would not cover this write).
 */
export async function awaitCommitDurable(redis: Redis, ctx: DurableCommitContext, tick: number, giveUpAt: number): Promise<boolean> {
  const { plan, log } = ctx;
  const wait = plan.wait;
  if (wait === null) return true;
  const timeoutMs = Number(wait[wait.length - 1]);
  for (let attempt = 1; ; attempt++) {
    const [command, ...args] = wait;
    let outcome: { durable: boolean; detail: string };
    let failed = false;
    try {
      outcome = waitOutcome(plan, await redis.call(command, ...args));
    } catch (err) {
      failed = true;
      outcome = { durable: false, detail: `${command} failed: ${(err as Error).message}` };
    }
    if (outcome.durable) {
      if (attempt > 1) log.info({ tick, attempts: attempt }, `commit durable (${plan.setting}) after waiting again`);
      return true;
    }
    ctx.onShort();
    const givingUp = failed || Date.now() + timeoutMs >= giveUpAt;
    log.warn(
      { tick, attempt, detail: outcome.detail },
      givingUp
        ? `commit of tick ${tick} is not durable (${plan.setting}: ${outcome.detail}) and the lease ends: giving the world up; it is not ticked on until a holder's commit is durable`
        : `commit of tick ${tick} is not durable yet (${plan.setting}: ${outcome.detail}); waiting again before the next tick`,
    );
    if (givingUp) return false;
  }
}
