import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * prom-client's default gauges that break the Prometheus naming rules (a gauge must not end in _total;
 * `promtool check metrics` reports them). Each is the sum of a per-type gauge that stays:
 * nodejs_active_handles, nodejs_active_requests, nodejs_active_resources.
 */
const MISNAMED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** A fresh metrics registry with process metrics, one per service (tests run several in one process). */
export function createMetricsRegistry(labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  return registry;
}
