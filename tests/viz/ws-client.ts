// A real `ws` client that records every message from the viz, parsed with the protocol's schema.
import { WebSocket } from 'ws';
import type { StoredEvent } from '../../shared/schemas.ts';
import { pollUntil } from '../helpers/processes.ts';
import { ServerMessage } from '../../viz/protocol.ts';

export interface Closed {
  code: number;
  reason: string;
}

export class RecordingClient {
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<Closed>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.messages.push(ServerMessage.parse(JSON.parse(String(data)))));
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async open(port: number, after?: string): Promise<RecordingClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws${after ? `?after=${after}` : ''}`);
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

  /** resolves once an event with this id has arrived */
  async waitForEvent(id: string, timeoutMs = 20_000): Promise<void> {
    await pollUntil(() => (this.eventIds().includes(id) ? true : undefined), `event ${id}`, timeoutMs);
  }

  async waitForMessages(n: number, timeoutMs = 20_000): Promise<void> {
    await pollUntil(() => (this.messages.length >= n ? true : undefined), `${n} messages`, timeoutMs);
  }

  close(): void {
    this.ws.terminate();
  }
}
