// A real `ws` client that records every message from the viz, parsed with the protocol's schema.
import { WebSocket } from 'ws';
import type { StoredEvent } from '../../shared/schemas.ts';
import { ServerMessage } from '../../viz/protocol.ts';

export interface Closed {
  code: number;
  reason: string;
}

export class RecordingClient {
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<Closed>;
  /** set once the socket has closed */
  closedWith: Closed | null = null;
  private readonly ids = new Set<string>();
  private eventCount = 0;
  /** called after every message and on close */
  private readonly listeners = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = ServerMessage.parse(JSON.parse(String(data)));
      this.messages.push(message);
      if (message.type === 'events') {
        for (const e of message.events) this.ids.add(e.id);
        this.eventCount += message.events.length;
      }
      this.notify();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString() };
        resolve(this.closedWith);
        this.notify();
      }),
    );
  }

  static async open(port: number, after?: string): Promise<RecordingClient> {
    return RecordingClient.openQuery(port, after ? { after } : {});
  }

  /** `/ws` with these query parameters (e.g. `{ sim: 'a', after: '3-1' }`). */
  static async openQuery(port: number, query: Record<string, string>): Promise<RecordingClient> {
    const search = new URLSearchParams(query).toString();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws${search ? `?${search}` : ''}`);
    const client = new RecordingClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  /** every event received, in order of receipt */
  events(): StoredEvent[] {
    return this.messages.flatMap((m) => (m.type === 'events' ? (m.events as StoredEvent[]) : []));
  }

  eventIds(): string[] {
    return this.events().map((e) => e.id);
  }

  /** resolves once an event with this id has arrived; fails at once if the socket closes first */
  waitForEvent(id: string, timeoutMs = 20_000): Promise<void> {
    return this.waitFor(() => this.ids.has(id), `event ${id}`, timeoutMs);
  }

  waitForMessages(n: number, timeoutMs = 20_000): Promise<void> {
    return this.waitFor(() => this.messages.length >= n, `${n} messages`, timeoutMs);
  }

  /**
   * Resolves as soon as `done()` holds, checked on every message (no polling delay). Rejects
   * when the socket closes first, naming the close code and reason, since nothing more can
   * arrive, or when the timeout passes.
   */
  private waitFor(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (done()) finish();
        else if (this.closedWith)
          finish(new Error(`socket closed (${this.closedWith.code} ${this.closedWith.reason}) after ${this.eventCount} events, while waiting for ${what}`));
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.eventCount} events so far)`)), timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  close(): void {
    this.ws.terminate();
  }
}
