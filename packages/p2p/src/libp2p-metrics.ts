import { prometheusMetrics } from '@libp2p/prometheus-metrics';
import { Counter, Histogram, type Registry, Summary } from 'prom-client';

type PromMetric = Parameters<Registry['registerMetric']>[0];
type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/**
 * libp2p's gauges that walk every connection and stream in one synchronous
 * pass at each scrape; connection-census.ts exports the first two in slices,
 * and the percentile of streams per connection is left out.
 */
const COUNTED_BY_CENSUS = new Set([
  'libp2p_connection_manager_connections',
  'libp2p_protocol_streams_total',
  'libp2p_connection_manager_protocol_streams_per_connection_90th_percentile',
]);

/**
 * The name a libp2p metric is exported under, or undefined to leave it out.
 * Only `libp2p_*` metrics are kept: the service exports the process metrics
 * itself (prometheus-metrics adds `nodejs_*` ones of its own). Some of
 * libp2p's names break Prometheus' rules (`promtool check metrics` reports
 * them): gauges named like counters lose `_total`, unless that leaves a suffix
 * reserved for histograms; metrics in milliseconds are left out, since
 * renaming them would misstate their unit, and so are the ones the census
 * counts. Pure.
 */
export function exportedMetricName(name: string, type: MetricType): string | undefined {
  if (!name.startsWith('libp2p_') || /_milliseconds(?:_|$)/.test(name)) return undefined;
  if (COUNTED_BY_CENSUS.has(name)) return undefined;
  if (type === 'counter' || !name.endsWith('_total')) return name;
  const renamed = name.slice(0, -'_total'.length);
  return /_(?:bucket|count|sum)$/.test(renamed) ? undefined : renamed;
}

/** The type of a metric object while it is being constructed (its `type` field is set only afterwards). */
function typeOf(metric: PromMetric): MetricType {
  if (metric instanceof Counter) return 'counter';
  if (metric instanceof Histogram) return 'histogram';
  if (metric instanceof Summary) return 'summary';
  return 'gauge';
}

/**
 * What prom-client's metric constructors use of a registry, in front of the
 * service's own: libp2p's metrics land in the registry /metrics serves, under
 * names that follow the rules. A name already taken is left out rather than
 * failing the node's start.
 */
function conformingRegistry(registry: Registry): Registry {
  const facade = {
    contentType: registry.contentType,
    registerMetric(metric: PromMetric) {
      // prom-client renames metric objects itself (counters for OpenMetrics): the name is a plain field.
      const named = metric as unknown as { name: string };
      const name = exportedMetricName(named.name, typeOf(metric));
      if (name === undefined || registry.getSingleMetric(name) !== undefined) return;
      named.name = name;
      registry.registerMetric(metric);
    },
  };
  return facade as unknown as Registry;
}

/**
 * libp2p's own metrics (connections, streams and bytes per protocol, dials,
 * DHT) in `registry`. The service already collects the process metrics.
 * prometheus-metrics keeps its metric objects in one map per process and
 * reuses them by name unless told to start afresh: starting afresh gives a
 * second node in the same process (all-in-one) its own series in its own
 * registry instead of updating the first node's.
 */
export function libp2pMetrics(registry: Registry): ReturnType<typeof prometheusMetrics> {
  return prometheusMetrics({
    registry: conformingRegistry(registry),
    collectDefaultMetrics: false,
    preserveExistingMetrics: false,
  });
}
