// How long the lease must last for the next tick attempt. The lease can only be renewed
// outside the WATCH window (a renewal inside it would abort the commit) or by the PEXPIRE
// inside the commit itself. So a tick slower than LEASE_TTL_MS would never commit: its
// watched lease expires before EXEC. The worker stretches the lease before the WATCH
// (compare-and-pexpire, so the fence is the same) by enough to cover the tick as measured on
// its recent attempts, up to LEASE_STRETCH_MAX times the TTL, which bounds how long a
// crashed leader can keep the standbys waiting.

/** the longest lease a worker may take for one tick, in units of LEASE_TTL_MS */
export const LEASE_STRETCH_MAX = 10;
/** attempts remembered: the slowest of them sets the next lease */
const WINDOW = 8;
/** a tick may take this many times the slowest recent one (a loaded machine, a GC pause) */
const HEADROOM = 2;
const SLACK_MS = 50;

export class TickBudget {
  private readonly recent: number[] = [];
  private loadMs = 0;

  constructor(private readonly ttlMs: number) {}

  get maxLeaseMs(): number {
    return this.ttlMs * LEASE_STRETCH_MAX;
  }

  /** ms from WATCH to the EXEC reply of an attempt, committed or not */
  recordAttempt(ms: number): void {
    this.recent.push(ms);
    if (this.recent.length > WINDOW) this.recent.shift();
  }

  /** ms spent loading (or generating) the world inside an attempt */
  recordLoad(ms: number): void {
    this.loadMs = ms;
  }

  get lastLoadMs(): number {
    return this.loadMs;
  }

  /** what the lease should have left when an attempt starts (0: nothing measured yet) */
  neededMs(cacheWarm: boolean): number {
    const expected = Math.max(0, ...this.recent) + (cacheWarm ? 0 : this.loadMs);
    return expected === 0 ? 0 : HEADROOM * expected + SLACK_MS;
  }

  /** the lease to ask for when what is left is less than `neededMs` */
  leaseFor(neededMs: number): number {
    return Math.min(this.maxLeaseMs, Math.max(this.ttlMs, Math.ceil(neededMs)));
  }

  /** the LEASE_TTL_MS under which a tick of `tickMs` would fit the longest lease */
  ttlToFit(tickMs: number): number {
    return Math.ceil((HEADROOM * tickMs + SLACK_MS) / LEASE_STRETCH_MAX);
  }
}
