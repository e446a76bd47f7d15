// Prometheus metrics. Each role registers its metrics on its own Registry so that the
// single-process start can serve each role's /metrics without clashes.
import client from 'prom-client';

export { client as prom };

export function createRegistry(role: string, withDefaults = true): client.Registry {
  const registry = new client.Registry();
  registry.setDefaultLabels({ role });
  if (withDefaults) client.collectDefaultMetrics({ register: registry });
  return registry;
}
