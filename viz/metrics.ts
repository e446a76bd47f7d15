// The viz role's Prometheus metrics, on its own registry (see shared/metrics.ts).
import { createRegistry, prom } from '../shared/metrics.ts';

export type DropReason = 'slow_consumer' | 'catch_up_overflow' | 'heartbeat';

export function createVizMetrics(counts: { clients(): number; followedSims(): number }) {
  const registry = createRegistry('viz');
  return {
    registry,
    clients: new prom.Gauge({
      name: 'viz_clients',
      help: 'WebSocket clients connected now',
      registers: [registry],
      collect() {
        this.set(counts.clients());
      },
    }),
    followedSims: new prom.Gauge({
      name: 'viz_followed_sims',
      help: 'simulations whose events stream this process reads now (those someone watches here)',
      registers: [registry],
      collect() {
        this.set(counts.followedSims());
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
    readLag: new prom.Histogram({
      name: 'viz_tick_read_lag_seconds',
      help: 'from a tick event\'s timestamp (taken by the worker just before its commit) to this process reading it',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    broadcastSeconds: new prom.Histogram({
      name: 'viz_broadcast_seconds',
      help: 'time to hand one message to every live client',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: [registry],
    }),
    eventsRead: new prom.Counter({ name: 'viz_events_read_total', help: 'events read from the stream by this process', registers: [registry] }),
    readerTrouble: new prom.Counter({ name: 'viz_reader_failures_total', help: 'failed event reads, by kind (error or watchdog)', labelNames: ['kind'] as const, registers: [registry] }),
  };
}

export type VizMetrics = ReturnType<typeof createVizMetrics>;
