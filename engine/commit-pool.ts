// A small pool of commit connections. WATCH state lives on a connection, so each one is lent
// to one simulation's tick at a time, from WATCH to EXEC (I9), and never carries two open
// transactions. Each is a connectCommitRedis connection: no offline queue, no resend after a
// reconnect, and an epoch the tick compares to abandon an attempt that saw a disconnect.
// Connections are opened on demand, up to `max`, so a worker hosting one world has one.
import { type CommitConnection, connectCommitRedis } from '../shared/redis.ts';

/** most commit connections being opened at the same time */
const OPENING_AT_ONCE = 8;

export class CommitPool {
  private readonly all: CommitConnection[] = [];
  private readonly idle: CommitConnection[] = [];
  private readonly lent = new Set<CommitConnection>();
  private closed = false;

  /**
   * @param onAvailable called when a connection becomes usable (opened, reconnected or given
   *   back), so the scheduler can hand it to a waiting simulation
   */
  constructor(
    private readonly url: string,
    private readonly name: string,
    private readonly max: number,
    private readonly onAvailable: () => void,
  ) {}

  /** A ready, idle connection, or undefined (one more is opened if the pool may grow). */
  tryBorrow(): CommitConnection | undefined {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i]!;
      if (c.redis.status !== 'ready') continue;
      this.idle.splice(i, 1);
      this.lent.add(c);
      return c;
    }
    this.grow();
    return undefined;
  }

  giveBack(c: CommitConnection): void {
    if (!this.lent.delete(c)) return;
    if (this.closed) return;
    this.idle.push(c);
    this.onAvailable();
  }

  get size(): number {
    return this.all.length;
  }

  get busy(): number {
    return this.lent.size;
  }

  private grow(): void {
    if (this.closed || this.all.length >= this.max) return;
    // a few connections opening at a time: a burst of demand does not open `max` at once, but
    // a worker taking hundreds of simulations (start, failover) is not held to one per round trip
    let opening = 0;
    for (const c of this.all) if (c.redis.status === 'connecting' || c.redis.status === 'connect' || c.redis.status === 'wait') opening += 1;
    if (opening >= OPENING_AT_ONCE) return;
    // the first keeps the plain name (tests and operators find `sector-commit:<worker>` in CLIENT LIST)
    const n = this.all.length;
    const c = connectCommitRedis(this.url, n === 0 ? this.name : `${this.name}#${n}`);
    this.all.push(c);
    this.idle.push(c);
    c.redis.on('ready', () => this.onAvailable());
  }

  close(): void {
    this.closed = true;
    for (const c of this.all) c.redis.disconnect();
  }
}
