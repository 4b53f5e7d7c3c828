import { Registry } from 'prom-client';
import { cell, markdownTable } from '../packages/cli/src/config-reference.ts';
import { createPeerMetrics, type PeerGaugeSources } from '../peer/src/metrics.ts';
import { createSchedulerMetrics, type SchedulerGaugeSources } from '../scheduler/src/metrics.ts';

export const METRICS_START = '<!-- metrics-reference:start -->';
export const METRICS_END = '<!-- metrics-reference:end -->';

/** Gauge sources that read 0: only the metric definitions are wanted here. */
function zeroSources<T extends object>(): T {
  return new Proxy({}, { get: () => () => 0 }) as T;
}

interface MetricRow {
  name: string;
  type: string;
  labels: string[];
  help: string;
}

async function rowsOf(registry: Registry): Promise<MetricRow[]> {
  const labels = new Map(
    registry.getMetricsAsArray().map((m) => [m.name, (m as unknown as { labelNames?: string[] }).labelNames]),
  );
  return (await registry.getMetricsAsJSON()).map((m) => ({
    name: m.name,
    type: String(m.type),
    labels: [...(labels.get(m.name) ?? [])],
    help: m.help,
  }));
}

function table(rows: MetricRow[]): string[] {
  return markdownTable(
    ['metric', 'type', 'labels', 'meaning'],
    rows.map((r) => [`\`${r.name}\``, r.type, r.labels.map((l) => `\`${l}\``).join(', '), cell(r.help)]),
  );
}

/** Markdown tables of every shoal metric, from the metric definitions of the peer and the scheduler. */
export async function metricsReferenceMarkdown(): Promise<string> {
  const peer = new Registry();
  createPeerMetrics(peer, zeroSources<PeerGaugeSources>());
  const scheduler = new Registry();
  createSchedulerMetrics(scheduler, zeroSources<SchedulerGaugeSources>());
  return `${[
    'Generated from peer/src/metrics.ts and scheduler/src/metrics.ts by `node scripts/gen-metrics-reference.ts`.',
    'Every series carries `service="peer"` or `service="scheduler"`; both also export the Node.js process',
    'metrics of prom-client (`process_*`, `nodejs_*`; handles are counted by type in `nodejs_active_resources`,',
    'not `nodejs_active_handles`, which costs five times as much at each scrape). Histograms add `_bucket`,',
    '`_sum` and `_count` series.',
    "A peer with a scheduler and the scheduler also export libp2p's own `libp2p_*` metrics, for example",
    '`libp2p_connection_manager_connections` (open connections by direction), `libp2p_protocol_streams`',
    '(open streams by direction and protocol), `libp2p_data_transfer_bytes_total` (bytes by protocol) and',
    "`libp2p_kad_dht_*`; gauges libp2p names with `_total` are exported without it, and libp2p's timings in",
    'milliseconds are left out. A peer without a scheduler loads no libp2p and has none of them.',
    '',
    '#### Peer (`shoal peer`, admin port `/metrics`)',
    '',
    ...table(await rowsOf(peer)),
    '',
    '#### Scheduler (`shoal scheduler`, admin port `/metrics`)',
    '',
    ...table(await rowsOf(scheduler)),
  ].join('\n')}\n`;
}

/** The text between two markers, or undefined when they are missing. */
export function extractSection(text: string, start: string, end: string): string | undefined {
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) return undefined;
  return text.slice(from + start.length, to).replace(/^\n/, '');
}

/** `text` with the part between the markers replaced by `generated`. */
export function replaceSection(text: string, start: string, end: string, generated: string): string {
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`no ${start} ... ${end} section`);
  return `${text.slice(0, from + start.length)}\n${generated}${text.slice(to)}`;
}
