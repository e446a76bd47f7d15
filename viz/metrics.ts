// The viz role's Prometheus metrics, on its own registry (see shared/metrics.ts).
import { createRegistry, prom } from '../shared/metrics.ts';

export type DropReason = 'slow_consumer' | 'catch_up_overflow' | 'heartbeat';

export function createVizMetrics(clientCount: () => number) {
  const registry = createRegistry('viz');
  return {
    registry,
    clients: new prom.Gauge({
      name: 'viz_clients',
      help: 'WebSocket clients connected now',
      registers: [registry],
      collect() {
        this.set(clientCount());
      },
    }),
    messagesSent: new prom.Counter({ name: 'viz_messages_sent_total', help: 'messages written to clients', registers: [registry] }),
    bytesSent: new prom.Counter({ name: 'viz_bytes_sent_total', help: 'message bytes written to clients', registers: [registry] }),
    drops: new prom.Counter({ name: 'viz_client_drops_total', help: 'clients closed by the server, by reason', labelNames: ['reason'] as const, registers: [registry] }),
    joins: new prom.Counter({
      name: 'viz_joins_total',
      help: 'clients that joined, by how they started: snapshot, resumed (missed events replayed) or resume_snapshot (resume id gone, snapshot sent)',
      labelNames: ['start'] as const,
      registers: [registry],
    }),
    eventsRead: new prom.Counter({ name: 'viz_events_read_total', help: 'events read from the stream by this process', registers: [registry] }),
    readerTrouble: new prom.Counter({ name: 'viz_reader_failures_total', help: 'failed event reads, by kind (error or watchdog)', labelNames: ['kind'] as const, registers: [registry] }),
  };
}

export type VizMetrics = ReturnType<typeof createVizMetrics>;
