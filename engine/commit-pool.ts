// A small pool of commit connections. WATCH state lives on a connection, so each one is lent
// to one simulation's tick at a time, from WATCH to EXEC (I9), and never carries two open
// transactions. Each is a connectCommitRedis connection: no offline queue, no resend after a
// reconnect, and an epoch the tick compares to abandon an attempt that saw a disconnect.
// Connections are opened on demand, up to `max`, so a worker hosting one world has one.
// With one Redis, CommitPool; in Redis Cluster mode, RoutedCommitPool: the same per primary.
import { type CommitConnection, connectCommitRedis } from '../shared/redis.ts';
import type { NodeAddress, SlotTable } from './slot-table.ts';

/** most commit connections being opened at the same time */
const OPENING_AT_ONCE = 8;

export class CommitPool implements CommitLender {
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
  tryBorrow(_slot?: number): CommitConnection | undefined {
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

/** What the scheduler borrows commit connections from: one Redis, or one per cluster primary. */
export interface CommitLender {
  /** a ready, idle connection to where the keys of hash slot `slot` live (a simulation's: simSlot), or undefined (the pool may open one) */
  tryBorrow(slot: number): CommitConnection | undefined;
  giveBack(c: CommitConnection): void;
  close(): void;
}

/** A primary's own connections (RoutedCommitPool). */
interface NodeConnections {
  readonly addr: NodeAddress;
  readonly all: CommitConnection[];
  readonly idle: CommitConnection[];
  /** a simulation found no idle connection here since the last borrow (it may take one from a node above its share) */
  wanting: boolean;
}

/**
 * Redis Cluster: commit connections per primary. A simulation's attempt borrows a connection to
 * the primary that owns its slot (`sim:{S}:…`, by the SlotTable), so its WATCH, reads and
 * MULTI/EXEC go to that node only, on a connection no other transaction shares; every
 * connection is a connectCommitRedis one (no offline queue, no resend, epoch). Connections are
 * opened on demand. The total stays within `max` (WORKER_COMMIT_CONNECTIONS), split this way:
 * each primary may always have its share, floor(max / primaries) (at least 1, so a worker with
 * fewer connections than primaries can still commit everywhere); a primary may grow past its
 * share while the total is below `max`; a connection given back to a primary above its share
 * is closed when a primary below its share is waiting for one.
 */
export class RoutedCommitPool implements CommitLender {
  private readonly nodes = new Map<NodeAddress, NodeConnections>();
  private readonly nodeOf = new Map<CommitConnection, NodeConnections>();
  private readonly lent = new Set<CommitConnection>();
  private total = 0;
  private closed = false;

  /**
   * @param url REDIS_URL: its user, password and TLS apply to every node (host and port are the node's)
   * @param onClosed a connection closed (a node died or failed over, or a network fault): refresh the table
   */
  constructor(
    private readonly table: SlotTable,
    private readonly url: string,
    private readonly name: string,
    private readonly max: number,
    private readonly onAvailable: () => void,
    private readonly onClosed: () => void,
  ) {}

  /** the primary the table names for hash slot `slot` (undefined while it is not served) */
  ownerOf(slot: number): NodeAddress | undefined {
    return this.table.ownerOf(slot);
  }

  tryBorrow(slot: number): CommitConnection | undefined {
    const addr = this.ownerOf(slot);
    if (addr === undefined) return undefined;
    const node = this.node(addr);
    for (let i = node.idle.length - 1; i >= 0; i--) {
      const c = node.idle[i]!;
      if (c.redis.status !== 'ready') continue;
      node.idle.splice(i, 1);
      this.lent.add(c);
      node.wanting = false;
      return c;
    }
    node.wanting = true;
    this.grow(node);
    return undefined;
  }

  giveBack(c: CommitConnection): void {
    if (!this.lent.delete(c)) return;
    const node = this.nodeOf.get(c);
    if (this.closed || !node) return;
    // a connection to a primary that no longer owns any slot (failed over, emptied by
    // resharding) is closed; so is one above its primary's share while another primary waits
    if (!this.table.primaries().has(node.addr) || (node.all.length > this.share() && this.someoneWaitsBelowShare(node))) {
      this.drop(node, c);
      this.onAvailable();
      return;
    }
    node.idle.push(c);
    this.onAvailable();
  }

  get size(): number {
    return this.total;
  }

  get busy(): number {
    return this.lent.size;
  }

  /** open connections per primary (metrics, tests) */
  perNode(): Map<NodeAddress, number> {
    return new Map([...this.nodes].map(([a, n]) => [a, n.all.length]));
  }

  /**
   * After a table refresh: the idle connections to nodes that no longer serve any slot (a primary
   * failed over, emptied by resharding) are closed, so they stop counting against `max` and the
   * new owners can open theirs; lent ones are closed when given back.
   */
  retire(): void {
    const primaries = this.table.primaries();
    for (const node of [...this.nodes.values()]) {
      if (primaries.has(node.addr)) continue;
      for (const c of [...node.idle]) this.drop(node, c);
    }
  }

  private share(): number {
    return Math.max(1, Math.floor(this.max / Math.max(1, this.table.primaries().size)));
  }

  private someoneWaitsBelowShare(except: NodeConnections): boolean {
    const share = this.share();
    for (const n of this.nodes.values()) if (n !== except && n.wanting && n.all.length < share) return true;
    return false;
  }

  private node(addr: NodeAddress): NodeConnections {
    let n = this.nodes.get(addr);
    if (!n) {
      n = { addr, all: [], idle: [], wanting: false };
      this.nodes.set(addr, n);
    }
    return n;
  }

  private grow(node: NodeConnections): void {
    if (this.closed) return;
    let opening = 0;
    for (const c of node.all) if (c.redis.status === 'connecting' || c.redis.status === 'connect' || c.redis.status === 'wait') opening += 1;
    if (opening >= OPENING_AT_ONCE) return;
    // a dead primary: its connections reconnect on their own; opening more would not help
    if (node.all.length > 0 && opening === node.all.length) return;
    if (this.total >= Math.max(this.max, this.table.primaries().size)) {
      if (node.all.length >= this.share()) return;
      // below its share and the total is spent: free an idle connection of a primary above its share
      const victim = [...this.nodes.values()].find((n) => n !== node && n.all.length > this.share() && n.idle.length > 0);
      if (!victim) return;
      this.drop(victim, victim.idle[victim.idle.length - 1]!);
    }
    const n = node.all.length;
    const [host, port] = splitAddress(node.addr);
    const url = new URL(this.url);
    url.hostname = host;
    url.port = String(port);
    url.pathname = '';
    // `sector-commit:<worker>` first, as with one Redis (tests and operators find it in CLIENT LIST)
    const c = connectCommitRedis(url.toString(), n === 0 ? this.name : `${this.name}#${n}`);
    c.node = node.addr;
    node.all.push(c);
    node.idle.push(c);
    this.nodeOf.set(c, node);
    this.total += 1;
    c.redis.on('ready', () => this.onAvailable());
    c.redis.on('close', () => {
      if (!this.closed) this.onClosed();
    });
  }

  private drop(node: NodeConnections, c: CommitConnection): void {
    const i = node.all.indexOf(c);
    if (i >= 0) node.all.splice(i, 1);
    const j = node.idle.indexOf(c);
    if (j >= 0) node.idle.splice(j, 1);
    this.nodeOf.delete(c);
    this.total -= 1;
    c.redis.disconnect();
    if (node.all.length === 0) this.nodes.delete(node.addr);
  }

  close(): void {
    this.closed = true;
    for (const n of this.nodes.values()) for (const c of n.all) c.redis.disconnect();
  }
}

function splitAddress(addr: NodeAddress): [string, number] {
  const at = addr.lastIndexOf(':');
  return [addr.slice(0, at), Number(addr.slice(at + 1))];
}
