// The lease: who may advance the world. Acquire, extend and release with redlock's
// primitives (a random token per holder; extend and release compare the token first).
// Not redlock's `using()`: it notices a lost lock late and throws from release.
import { type Lock, Redlock } from '@sesamecare-oss/redlock';
import type { RedisClient } from '../shared/redis.ts';

/** redlock's allowance for clock drift, as a fraction of the TTL */
const DRIFT_FACTOR = 0.01;

export class Lease {
  private readonly redlock: Redlock;
  private lock: Lock | null = null;
  /** local deadline (ms) before which this worker believes it holds the lease */
  private until = 0;

  constructor(
    redis: RedisClient,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {
    // One attempt per call: the worker loop decides when to try again.
    this.redlock = new Redlock([redis], { retryCount: 0, driftFactor: DRIFT_FACTOR });
    this.redlock.on('error', () => {
      // acquisition failures are expected while another worker holds the lease
    });
  }

  get token(): string | null {
    return this.lock && Date.now() < this.until ? this.lock.value : null;
  }

  get held(): boolean {
    return this.token !== null;
  }

  /** ms left before the local deadline (negative once past it) */
  remainingMs(): number {
    return this.until - Date.now();
  }

  async tryAcquire(): Promise<boolean> {
    const started = Date.now();
    try {
      this.lock = await this.redlock.acquire([this.key], this.ttlMs);
      this.until = started + this.ttlMs;
      return true;
    } catch {
      this.lock = null;
      return false;
    }
  }

  /**
   * Extends through redlock (compare-and-pexpire) to `ms` from now (the TTL unless a slow tick
   * needs longer); false when the lease was lost.
   */
  async extend(ms = this.ttlMs): Promise<boolean> {
    if (!this.lock) return false;
    const started = Date.now();
    const duration = Math.ceil(ms);
    try {
      this.lock = await this.lock.extend(duration);
      this.until = started + duration;
      return true;
    } catch {
      this.forget();
      return false;
    }
  }

  /** Called after a commit that renewed the lease inside its MULTI, sent at `startedMs` (or later). */
  renewedAt(startedMs: number): void {
    this.until = startedMs + this.ttlMs;
    // Keep redlock's own idea of the expiry in step, or its extend() would refuse a lease
    // that the commits have kept alive ("Cannot extend an already-expired lock").
    if (this.lock) this.lock.expiration = this.until - Math.ceil(this.ttlMs * DRIFT_FACTOR) - 2;
  }

  forget(): void {
    this.lock = null;
    this.until = 0;
  }

  /** Compare-and-delete; never throws. */
  async release(): Promise<void> {
    const lock = this.lock;
    this.forget();
    if (!lock) return;
    try {
      await lock.release();
    } catch {
      // already expired or taken: nothing of ours to delete
    }
  }
}
