// The API's Prometheus metrics, on a registry of its own (see shared/metrics.ts).
import { createRegistry, prom } from '../shared/metrics.ts';

export interface ApiMetrics {
  registry: prom.Registry;
  requests: prom.Counter<'method' | 'route' | 'status'>;
  latency: prom.Histogram<'method' | 'route'>;
  ordersAccepted: prom.Counter<'type'>;
  ordersRefused: prom.Counter<'code'>;
  ordersReplayed: prom.Counter;
}

export function createApiMetrics(registry: prom.Registry = createRegistry('api')): ApiMetrics {
  return {
    registry,
    requests: new prom.Counter({
      name: 'sector_api_requests_total',
      help: 'HTTP requests answered, by route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    latency: new prom.Histogram({
      name: 'sector_api_request_duration_seconds',
      help: 'Time to answer an HTTP request, by route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    ordersAccepted: new prom.Counter({
      name: 'sector_api_orders_accepted_total',
      help: 'Orders appended to the orders stream, by order type',
      labelNames: ['type'],
      registers: [registry],
    }),
    ordersRefused: new prom.Counter({
      name: 'sector_api_orders_refused_total',
      help: 'Order requests refused before reaching Redis, by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
    ordersReplayed: new prom.Counter({
      name: 'sector_api_orders_replayed_total',
      help: 'Order requests answered from an earlier one with the same Idempotency-Key (nothing appended)',
      registers: [registry],
    }),
  };
}
