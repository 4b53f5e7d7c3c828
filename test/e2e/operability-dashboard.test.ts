import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from '../fixtures/http.ts';
import { type ImageDescription, layeredImage, pushImage } from '../fixtures/images.ts';
import { lyingPeerCommand } from '../fixtures/lying-peer.ts';
import { type RunningPrometheus, startPrometheus } from '../fixtures/prometheus.ts';
import { metricNamesIn } from '../fixtures/promql.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import type { RunningPeer } from '../fixtures/shoal.ts';
import { type BlobOutcome, getBlobOutcome, type Swarm, startSwarm, stopSwarm } from '../fixtures/swarm.ts';

/**
 * Every query of the Grafana dashboard, run by a real Prometheus against real peers and a
 * scheduler, scraped the two ways clusters scrape them: pod annotations (the community chart's
 * kubernetes-pods job: honor_labels, namespace and pod labels) and the Prometheus Operator's
 * ServiceMonitor (job, service, namespace, pod, container, endpoint target labels, honor_labels off,
 * so the metrics' own `service` label becomes `exported_service`). No query may come back empty
 * because of how targets were labelled.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const DASHBOARD = join(ROOT, 'deploy/grafana/shoal-dashboard.json');
const MiB = 1024 * 1024;
const REPO = 'dashboard/app';
/**
 * Families only a bad peer increments. The swarm below has one that serves wrong pieces, but whether
 * another peer asks it for a piece before the scheduler hears of it is up to the scheduler; a poisoned
 * piece table it does not make at all. Queries on these may come back empty, and only when Prometheus
 * holds no sample of the family at all; that they select by no target label is checked statically.
 */
const EVENT_FAMILIES = [
  'shoal_scheduler_poisoned_tables_total',
  'shoal_verification_failures_total',
  'shoal_scheduler_blocklist_events_total',
  'shoal_scheduler_piece_failures_total',
  // Labelled by what happened; no series until it happens once.
  'shoal_store_corrupt_blobs_total',
  'shoal_store_write_failures_total',
];
/** Labels that scraping sets or renames: a query selecting by one depends on the scrape configuration. */
const TARGET_LABELS = /\b(?:job|service|exported_\w+|namespace|pod|container|endpoint)\s*(?:=|!=|=~|!~)/;

interface Target {
  host: string;
  component: 'peer' | 'scheduler';
  pod: string;
}

function annotationScrape(targets: Target[]): string {
  const groups = targets.map(
    (t) =>
      `      - targets: ["${t.host}"]\n        labels: {namespace: shoal, pod: "${t.pod}", app_kubernetes_io_name: shoal, app_kubernetes_io_component: ${t.component}}`,
  );
  return [
    'global: {scrape_interval: 1s, scrape_timeout: 1s}',
    'scrape_configs:',
    '  - job_name: kubernetes-pods',
    '    honor_labels: true',
    '    static_configs:',
    ...groups,
    '',
  ].join('\n');
}

function serviceMonitorScrape(targets: Target[]): string {
  const jobs = (['peer', 'scheduler'] as const).map((component) => {
    const groups = targets
      .filter((t) => t.component === component)
      .map(
        (t) =>
          `      - targets: ["${t.host}"]\n        labels: {namespace: shoal, pod: "${t.pod}", container: ${component}, endpoint: admin, service: shoal-${component}}`,
      );
    return [
      `  - job_name: serviceMonitor/shoal/shoal-${component}/0`,
      '    honor_labels: false',
      '    static_configs:',
      ...groups,
      '    relabel_configs:',
      `      - {target_label: job, replacement: shoal-${component}}`,
    ].join('\n');
  });
  return ['global: {scrape_interval: 1s, scrape_timeout: 1s}', 'scrape_configs:', ...jobs, ''].join('\n');
}

/** The dashboard's queries, with Grafana's variables as Grafana would substitute them. */
async function dashboardQueries(): Promise<string[]> {
  // biome-ignore lint/suspicious/noExplicitAny: the dashboard JSON is walked loosely.
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as any;
  const exprs: string[] = [];
  for (const panel of dashboard.panels) for (const target of panel.targets ?? []) exprs.push(target.expr);
  for (const variable of dashboard.templating.list) {
    if (variable.type !== 'query') continue;
    const series = /^label_values\((.*),\s*\w+\)$/.exec(variable.definition);
    exprs.push(series ? series[1]! : variable.definition);
  }
  return exprs.map((expr) =>
    expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '10m').replaceAll('$instance', '.*'),
  );
}

describe('the Grafana dashboard against a real Prometheus', { timeout: 300_000 }, () => {
  let registry: RunningRegistry | undefined;
  let swarm: Swarm | undefined;
  let image: ImageDescription;
  const prometheus: Record<string, RunningPrometheus> = {};

  before(async () => {
    [registry, image] = await Promise.all([startRegistry(), layeredImage([12 * MiB, 6 * MiB], 'dashboard')]);
    await pushImage(registry.url, REPO, 'v1', image);
    // The first peer serves wrong bytes (the test's lying peer): verification failures, piece failures and
    // a blocklisting; the last has a cache smaller than the image: evictions.
    swarm = await startSwarm({
      originHost: registry.host,
      count: 3,
      schedulerArgs: () => ['--piece-size', String(MiB)],
      peer: (index) =>
        index === 0
          ? { command: lyingPeerCommand('pieces') }
          : index === 2
            ? { extraArgs: ['--cache-size', '14MiB'] }
            : {},
    });
    const targets: Target[] = [
      ...swarm.peers.map((p, i) => ({
        host: new URL(p.adminUrl).host,
        component: 'peer' as const,
        pod: `shoal-peer-${i}`,
      })),
      { host: new URL(swarm.scheduler.adminUrl).host, component: 'scheduler', pod: 'shoal-scheduler-0' },
    ];
    // Both kept before either failure is thrown: one that started must be stopped by `after`, or its
    // process keeps the test file from ever ending.
    const started = await Promise.allSettled([
      startPrometheus(annotationScrape(targets)),
      startPrometheus(serviceMonitorScrape(targets)),
    ]);
    const [annotations, operator] = started;
    if (annotations.status === 'fulfilled') prometheus.annotations = annotations.value;
    if (operator.status === 'fulfilled') prometheus.operator = operator.value;
    for (const result of started) if (result.status === 'rejected') throw result.reason;
  });

  after(async () => {
    await Promise.all(Object.values(prometheus).map((p) => p.stop()));
    if (swarm) await stopSwarm(swarm);
    await registry?.stop();
  });

  /** Every blob through a peer, retried after a cut-off as containerd does; never a wrong byte. */
  async function pull(peer: RunningPeer): Promise<void> {
    for (const blob of image.blobs) {
      let outcome: BlobOutcome = 'cut';
      for (let attempt = 0; attempt < 6 && outcome === 'cut'; attempt++) {
        outcome = await getBlobOutcome(peer, REPO, blob, 120_000);
        if (outcome === 'cut') await sleep(300);
      }
      assert.equal(outcome, 'exact', `${blob.digest} through ${peer.url}`);
    }
  }

  it('answers every query with data under both scrape configurations', async (t) => {
    const [liar, ...honest] = swarm!.peers;
    await pull(liar!);
    await Promise.all(honest.map((peer) => pull(peer)));
    await pull(honest[0]!); // from its cache this time: cache="hit"
    const missing = await request(`${honest[0]!.url}/v2/${REPO}/manifests/no-such-tag`);
    assert.equal(missing.status, 404);
    // A few scrapes after the last event, so that rates over a minute see it; on a quiet machine the pulls
    // end before every target has been scraped more than once, so wait for several scrapes of each.
    await sleep(4000);
    for (const server of Object.values(prometheus)) {
      for (let i = 0; i < 60; i++) {
        const scrapes = await server.query('count_over_time(up[1m])');
        if (scrapes.length === 4 && scrapes.every((s) => Number(s.value[1]) >= 5)) break;
        await sleep(500);
      }
    }

    const queries = await dashboardQueries();
    assert.ok(queries.length >= 39, `${queries.length} queries`);
    for (const expr of queries) assert.doesNotMatch(expr, TARGET_LABELS, 'selects by a target label');
    for (const [mode, server] of Object.entries(prometheus)) {
      const up = await server.query('up');
      assert.equal(up.length, 4, `${mode}: four targets`);
      assert.ok(
        up.every((s) => s.value[1] === '1'),
        `${mode}: every target up`,
      );
      const empty: string[] = [];
      const excused: string[] = [];
      for (const expr of queries) {
        if ((await server.query(expr)).length > 0) continue;
        // Empty only when a family it reads has never been sampled at all, whatever the labels.
        const unsampled = [];
        for (const name of metricNamesIn(expr)) {
          if ((await server.query(`count({__name__="${name}"})`)).length === 0) unsampled.push(name);
        }
        if (unsampled.length === 0 || unsampled.some((n) => !EVENT_FAMILIES.includes(n))) {
          empty.push(`${expr} (never sampled: ${unsampled.join(', ') || 'none'})`);
        } else {
          excused.push(expr);
        }
      }
      assert.deepEqual(empty, [], `${mode}: queries without data`);
      if (excused.length > 0)
        t.diagnostic(`${mode}: empty, no sample of the family at all: ${excused.join('; ')}`);
    }
    // The reason for the rule: a ServiceMonitor renames the metrics' own `service` label.
    assert.ok((await prometheus.annotations!.query('shoal_store_capacity_bytes{service="peer"}')).length > 0);
    assert.deepEqual(await prometheus.operator!.query('shoal_store_capacity_bytes{service="peer"}'), []);
    assert.equal(
      (await prometheus.operator!.query('shoal_store_capacity_bytes{exported_service="peer"}')).length,
      3,
    );
  });
});
