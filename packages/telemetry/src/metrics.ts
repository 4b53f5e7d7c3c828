import { collectDefaultMetrics, Registry } from 'prom-client';

/** A fresh metrics registry with process metrics, one per service (tests run several in one process). */
export function createMetricsRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  return registry;
}
