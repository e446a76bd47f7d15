// The simulations this viz process follows: one SimChannel per simulation that has at least
// one socket watching it. The first subscriber makes and starts the channel (later ones wait
// for the same start); when the last one leaves, the channel lingers briefly, so a page that
// reconnects at once finds it still running, and is then stopped, its reader closed.
import type { Logger } from '../shared/log.ts';
import type { SimChannel } from './sim-channel.ts';

interface Entry {
  channel: SimChannel;
  starting: Promise<void>;
  subscribers: number;
  linger: NodeJS.Timeout | null;
}

export interface Subscription {
  channel: SimChannel;
  /** call once when the subscriber is gone (idempotent) */
  release(): void;
}

export interface SimChannelsOptions {
  make(simId: string): SimChannel;
  log: Logger;
  /** how long a channel without subscribers keeps running before it is stopped */
  lingerMs: number;
}

export class SimChannels {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly opts: SimChannelsOptions) {}

  /** Simulations followed now. */
  get size(): number {
    return this.entries.size;
  }

  /** Sockets connected now, over every simulation. */
  get clients(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.channel.fanout.size;
    return n;
  }

  /** The started channel of `simId`, counted as one more subscriber; rejects if it cannot start. */
  async subscribe(simId: string): Promise<Subscription> {
    let entry = this.entries.get(simId);
    if (!entry) entry = this.open(simId);
    const e = entry;
    e.subscribers += 1;
    if (e.linger) {
      clearTimeout(e.linger);
      e.linger = null;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.unsubscribe(e);
    };
    try {
      await e.starting;
    } catch (err) {
      release();
      throw err;
    }
    return { channel: e.channel, release };
  }

  /** True when every followed simulation's reader completes its reads. */
  healthy(): boolean {
    for (const e of this.entries.values()) if (!e.channel.healthy()) return false;
    return true;
  }

  heartbeat(): void {
    for (const e of this.entries.values()) e.channel.fanout.heartbeat();
  }

  /** Stops every channel, closing its clients with `code`. */
  async stopAll(code: number, reason: string): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(
      all.map(async (e) => {
        if (e.linger) clearTimeout(e.linger);
        await e.starting.catch(() => undefined);
        await e.channel.stop(code, reason);
      }),
    );
  }

  private open(simId: string): Entry {
    const channel = this.opts.make(simId);
    const entry: Entry = { channel, starting: channel.start(), subscribers: 0, linger: null };
    this.entries.set(simId, entry);
    entry.starting.then(
      () => this.opts.log.info({ simId, followed: this.entries.size }, 'following a simulation'),
      (err: unknown) => {
        // A failed start is forgotten at once: the next subscriber tries again.
        this.opts.log.warn({ err, simId }, 'could not start following a simulation');
        this.close(entry);
      },
    );
    return entry;
  }

  private unsubscribe(entry: Entry): void {
    entry.subscribers -= 1;
    if (entry.subscribers > 0 || this.entries.get(entry.channel.simId) !== entry) return;
    entry.linger = setTimeout(() => {
      entry.linger = null;
      if (entry.subscribers === 0) this.close(entry);
    }, this.opts.lingerMs);
    entry.linger.unref();
  }

  private close(entry: Entry): void {
    const simId = entry.channel.simId;
    if (this.entries.get(simId) !== entry) return;
    this.entries.delete(simId);
    entry.channel.stop(1001, 'nobody watches this simulation here any more').then(
      () => this.opts.log.info({ simId, followed: this.entries.size }, 'stopped following a simulation'),
      (err: unknown) => this.opts.log.warn({ err, simId }, 'error while stopping a simulation reader'),
    );
  }
}
