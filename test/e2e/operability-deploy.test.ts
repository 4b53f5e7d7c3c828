import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import {
  containerdConfigOptions,
  containerdConfigSchema,
} from '../../packages/cli/src/commands/containerd-config.ts';
import { peerOptions, peerSchema } from '../../packages/cli/src/commands/peer.ts';
import { schedulerOptions, schedulerSchema } from '../../packages/cli/src/commands/scheduler.ts';
import { envOf, type OptionSpec, resolveConfig } from '../../packages/cli/src/config.ts';
import { request } from '../fixtures/http.ts';
import { dryRunLine, startKubectlDryRun } from '../fixtures/kubectl.ts';
import { metricNamesIn } from '../fixtures/promql.ts';
import { type RunningPeer, type RunningScheduler, startPeer, startScheduler } from '../fixtures/shoal.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const KUBERNETES_DIR = join(ROOT, 'deploy/kubernetes');
const CHART_DIR = join(ROOT, 'deploy/helm/shoal');
const DASHBOARD = join(ROOT, 'deploy/grafana/shoal-dashboard.json');
const DOCKERFILE = join(ROOT, 'deploy/Dockerfile');

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are checked field by field below.
type K8sObject = Record<string, any>;

interface CommandSpec {
  schema: z.ZodType;
  options: readonly OptionSpec[];
}

const COMMANDS: Record<string, CommandSpec> = {
  peer: { schema: peerSchema, options: peerOptions },
  scheduler: { schema: schedulerSchema, options: schedulerOptions },
  'containerd-config': { schema: containerdConfigSchema, options: containerdConfigOptions },
};

// -------------------------------------------------------------------------------------------------
// Helpers

async function yamlFiles(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .map((f) => join(dir, f));
}

async function loadManifests(): Promise<{ file: string; object: K8sObject }[]> {
  const out: { file: string; object: K8sObject }[] = [];
  for (const file of await yamlFiles(KUBERNETES_DIR)) {
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      assert.equal(doc.errors.length, 0, `${file}: ${doc.errors.join('; ')}`);
      const object = doc.toJS() as K8sObject | null;
      if (object) out.push({ file, object });
    }
  }
  return out;
}

function containersOf(workload: K8sObject): K8sObject[] {
  const spec = workload.spec.template.spec;
  return [...(spec.initContainers ?? []), ...spec.containers];
}

function isSubset(small: Record<string, string>, big: Record<string, string>): boolean {
  return Object.entries(small).every(([k, v]) => big[k] === v);
}

/** The dotted paths of `.Values.…` references in a Helm template. */
function valuesReferences(template: string): string[] {
  return [...template.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((m) => m[1]!.slice(1));
}

function hasPath(values: unknown, path: string): boolean {
  let node = values;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object' || !(key in node)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

/** Metric families (name -> type) of a Prometheus text exposition. */
function families(exposition: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

function knownMetric(name: string, known: Map<string, string>): boolean {
  if (known.has(name)) return true;
  const base = /^(.*)_(bucket|sum|count)$/.exec(name);
  return base !== null && ['histogram', 'summary'].includes(known.get(base[1]!) ?? '');
}

// -------------------------------------------------------------------------------------------------

describe('deploy/', { timeout: 240_000 }, () => {
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-e2e-deploy-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('every manifest passes kubectl apply --dry-run=client', async () => {
    const kubectl = await startKubectlDryRun(dir);
    try {
      const files = await yamlFiles(KUBERNETES_DIR);
      assert.ok(files.length >= 4, `manifests in ${KUBERNETES_DIR}`);
      const manifests = await loadManifests();
      for (const file of files) {
        const stdout = await kubectl.apply(file);
        for (const { object } of manifests.filter((m) => m.file === file)) {
          const line = dryRunLine(object as Parameters<typeof dryRunLine>[0]);
          assert.ok(stdout.includes(line), `${basename(file)}: expected "${line}" in:\n${stdout}`);
        }
      }
    } finally {
      kubectl.close();
    }
  });

  it('manifests are consistent: selectors, ports, volumes, references, the scheduler address', async () => {
    const manifests = (await loadManifests()).map((m) => m.object);
    const byKind = (kind: string) => manifests.filter((o) => o.kind === kind);
    const namespaces = byKind('Namespace').map((o) => o.metadata.name as string);
    assert.deepEqual(namespaces, ['shoal']);
    for (const o of manifests.filter((o) => o.kind !== 'Namespace')) {
      assert.equal(o.metadata.namespace, 'shoal', `${o.kind}/${o.metadata.name} namespace`);
    }
    const configMaps = new Set(byKind('ConfigMap').map((o) => o.metadata.name as string));
    const workloads = [...byKind('DaemonSet'), ...byKind('Deployment')];
    assert.deepEqual(workloads.map((w) => `${w.kind}/${w.metadata.name}`).sort(), [
      'DaemonSet/shoal-peer',
      'Deployment/shoal-scheduler',
    ]);
    for (const w of workloads) {
      const what = `${w.kind}/${w.metadata.name}`;
      const podLabels = w.spec.template.metadata.labels;
      assert.ok(isSubset(w.spec.selector.matchLabels, podLabels), `${what}: selector matches the pod labels`);
      const volumes = new Map<string, K8sObject>(
        (w.spec.template.spec.volumes ?? []).map((v: K8sObject) => [v.name, v]),
      );
      for (const v of volumes.values()) {
        if (v.configMap)
          assert.ok(configMaps.has(v.configMap.name), `${what}: ConfigMap ${v.configMap.name}`);
        if (v.secret) assert.equal(v.secret.secretName, 'shoal-psk', `${what}: only the documented Secret`);
      }
      for (const c of containersOf(w)) {
        const ports = new Set((c.ports ?? []).map((p: K8sObject) => p.name));
        for (const probe of [c.livenessProbe, c.readinessProbe].filter(Boolean)) {
          assert.ok(ports.has(probe.httpGet.port), `${what} ${c.name}: probe port ${probe.httpGet.port}`);
        }
        for (const m of c.volumeMounts ?? [])
          assert.ok(volumes.has(m.name), `${what} ${c.name}: volume ${m.name}`);
        assert.ok(c.resources?.requests && c.resources?.limits?.memory, `${what} ${c.name}: resources`);
      }
      const main = w.spec.template.spec.containers[0];
      assert.equal(main.livenessProbe.httpGet.path, '/healthz', `${what}: liveness`);
      assert.equal(main.readinessProbe.httpGet.path, '/readyz', `${what}: readiness`);
    }

    const services = byKind('Service');
    assert.equal(services.length, 1);
    const service = services[0]!;
    assert.equal(service.spec.clusterIP, 'None', 'the scheduler Service is headless');
    const scheduler = byKind('Deployment')[0]!;
    assert.ok(
      isSubset(service.spec.selector, scheduler.spec.template.metadata.labels),
      'Service selects the scheduler',
    );
    const schedulerPorts = new Set(
      scheduler.spec.template.spec.containers[0].ports.map((p: K8sObject) => p.name),
    );
    for (const p of service.spec.ports) assert.ok(schedulerPorts.has(p.targetPort), `Service port ${p.name}`);

    const peer = byKind('DaemonSet')[0]!;
    const peerSpec = peer.spec.template.spec;
    const env = (c: K8sObject) =>
      Object.fromEntries((c.env ?? []).map((e: K8sObject) => [e.name, e.value])) as Record<string, string>;
    const peerEnv = env(peerSpec.containers[0]);
    const p2p = service.spec.ports.find((p: K8sObject) => p.name === 'p2p');
    assert.equal(
      peerEnv.SHOAL_SCHEDULER,
      `/dns4/${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local/tcp/${p2p.port}`,
    );
    assert.equal(peerEnv.SHOAL_PSK_FILE, '/etc/shoal/psk/swarm.key');
    const init = (peerSpec.initContainers as K8sObject[]).find((c) => c.args?.[0] === 'containerd-config');
    assert.ok(init, 'an init container runs shoal containerd-config');
    const hostsMount = init.volumeMounts.find((m: K8sObject) => m.mountPath === env(init).SHOAL_DIR);
    const hostsVolume = peerSpec.volumes.find((v: K8sObject) => v.name === hostsMount?.name);
    assert.equal(hostsVolume?.hostPath?.path, '/etc/containerd/certs.d', 'certs.d of the host');
    assert.equal(
      env(init).SHOAL_ENDPOINT,
      `http://${peerEnv.SHOAL_REGISTRY}`,
      'hosts.toml points at the endpoint',
    );
    const data = peerSpec.volumes.find((v: K8sObject) => v.name === 'data');
    assert.equal(data.hostPath.path, '/var/lib/shoal');
    assert.equal(peerSpec.priorityClassName, 'system-node-critical');
    for (const w of workloads) {
      assert.deepEqual(w.spec.template.spec.nodeSelector, { 'kubernetes.io/os': 'linux' }, w.metadata.name);
    }
    // The chart's sizing for 2,000 peers (values.yaml states the rule) holds here too.
    const values = parseYaml(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8')) as K8sObject;
    assert.deepEqual(scheduler.spec.template.spec.containers[0].resources, values.scheduler.resources);
  });

  it("every container's SHOAL_* variables and config file are valid for its command", async () => {
    const manifests = (await loadManifests()).map((m) => m.object);
    const configMaps = new Map<string, Record<string, string>>(
      manifests.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data]),
    );
    let checked = 0;
    for (const w of manifests.filter((o) => o.kind === 'DaemonSet' || o.kind === 'Deployment')) {
      for (const c of containersOf(w)) {
        const command = c.args?.[0] as string | undefined;
        if (c.command) continue; // not shoal (e.g. chown)
        const spec = command ? COMMANDS[command] : undefined;
        assert.ok(spec, `${w.metadata.name} ${c.name}: runs a shoal command (${command})`);
        const env: Record<string, string> = {};
        for (const e of c.env ?? []) {
          assert.ok(typeof e.value === 'string', `${c.name} ${e.name}: a plain value`);
          env[e.name] = e.value;
        }
        const knownVars = new Set(['SHOAL_CONFIG', ...spec.options.map(envOf)]);
        for (const name of Object.keys(env)) {
          assert.ok(knownVars.has(name), `${w.metadata.name} ${c.name}: ${name} is not a ${command} option`);
        }
        let configFile: string | undefined;
        if (env.SHOAL_CONFIG) {
          const mount = c.volumeMounts.find((m: K8sObject) => m.mountPath === dirname(env.SHOAL_CONFIG!));
          const volume = w.spec.template.spec.volumes.find((v: K8sObject) => v.name === mount?.name);
          const text = configMaps.get(volume?.configMap?.name)?.[basename(env.SHOAL_CONFIG)];
          assert.ok(text !== undefined, `${c.name}: ${env.SHOAL_CONFIG} comes from a ConfigMap`);
          configFile = join(dir, `${w.metadata.name}-${c.name}.yaml`);
          await writeFile(configFile, text);
        }
        const { SHOAL_CONFIG: _, ...variables } = env;
        if (env.SHOAL_PSK_FILE) {
          // The key comes from the Secret's volume; it is read while the configuration resolves.
          const mount = c.volumeMounts.find((m: K8sObject) => m.mountPath === dirname(env.SHOAL_PSK_FILE!));
          const volume = w.spec.template.spec.volumes.find((v: K8sObject) => v.name === mount?.name);
          assert.equal(
            volume?.secret?.secretName,
            'shoal-psk',
            `${c.name}: ${env.SHOAL_PSK_FILE} from the Secret`,
          );
          variables.SHOAL_PSK_FILE = join(dir, 'swarm.key');
          await writeFile(variables.SHOAL_PSK_FILE, `/key/swarm/psk/1.0.0/\n/base16/\n${'ab'.repeat(32)}\n`);
        }
        assert.doesNotThrow(
          () => resolveConfig(spec.schema, spec.options, {}, variables, configFile),
          `${w.metadata.name} ${c.name}`,
        );
        checked++;
      }
    }
    assert.equal(checked, 3, 'peer, its containerd-config init container, scheduler');
  });

  it('the Helm chart parses and its templates use only keys of values.yaml', async () => {
    const chart = parseYaml(await readFile(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as K8sObject;
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'shoal');
    assert.match(chart.version, /^\d+\.\d+\.\d+$/);
    const rootPackage = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(chart.appVersion, rootPackage.version, 'appVersion follows package.json');
    const values = parseYaml(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8')) as K8sObject;
    const templates = (await readdir(join(CHART_DIR, 'templates'))).sort();
    for (const expected of ['configmap.yaml', 'peer-daemonset.yaml', 'scheduler.yaml']) {
      assert.ok(templates.includes(expected), `templates/${expected}`);
    }
    let references = 0;
    for (const name of templates) {
      const text = await readFile(join(CHART_DIR, 'templates', name), 'utf8');
      for (const path of valuesReferences(text)) {
        assert.ok(hasPath(values, path), `templates/${name}: .Values.${path} is not in values.yaml`);
        references++;
      }
      const actions = [...text.matchAll(/\{\{-?\s*(.*?)\s*-?\}\}/gs)].map((m) => m[1]!);
      assert.equal((text.match(/\{\{/g) ?? []).length, actions.length, `templates/${name}: unbalanced {{ }}`);
      const opened = actions.filter((a) => /^(?:if|range|with|define|block)\b/.test(a)).length;
      const closed = actions.filter((a) => /^end\b/.test(a)).length;
      assert.equal(opened, closed, `templates/${name}: blocks and {{ end }}`);
    }
    assert.ok(references > 20, 'templates are parameterised');

    // The chart's shoal configuration is valid for the real commands.
    for (const [command, config] of [
      ['peer', values.peer.config],
      ['scheduler', values.scheduler.config],
    ] as const) {
      const file = join(dir, `values-${command}.yaml`);
      await writeFile(file, JSON.stringify(config));
      const spec = COMMANDS[command]!;
      assert.doesNotThrow(
        () => resolveConfig(spec.schema, spec.options, {}, {}, file),
        `values ${command}.config`,
      );
    }
    assert.doesNotThrow(() =>
      resolveConfig(
        containerdConfigSchema,
        containerdConfigOptions,
        { registry: values.containerd.registries, endpoint: `http://127.0.0.1:${values.peer.endpointPort}` },
        {},
        undefined,
      ),
    );
  });

  it('the Dockerfile copies every workspace', async () => {
    const text = await readFile(DOCKERFILE, 'utf8');
    const rootPackage = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      workspaces: string[];
    };
    for (const workspace of rootPackage.workspaces) {
      assert.ok(text.includes(`COPY ${workspace}/package.json ${workspace}/`), `${workspace}/package.json`);
      assert.ok(text.includes(`COPY ${workspace}/src ${workspace}/src`), `${workspace}/src`);
    }
    for (const m of text.matchAll(/^COPY (?!--from)(\S+)/gm)) {
      await stat(join(ROOT, m[1]!)); // throws when a copied path does not exist
    }
    assert.match(text, /^FROM \$\{NODE_IMAGE\} AS deps$/m);
    assert.match(text, /^ARG NODE_IMAGE=node:24-slim$/m);
    assert.match(text, /npm install --omit=dev/);
    assert.match(text, /FROM app AS scheduler\n(?:.*\n)*?USER node\n/);
  });

  describe('the Grafana dashboard', () => {
    let scheduler: RunningScheduler | undefined;
    let peer: RunningPeer | undefined;
    let known = new Map<string, string>();

    before(async () => {
      // Both kept before either failure is thrown: one that started must be stopped by `after`.
      const [startedScheduler, startedPeer] = await Promise.allSettled([startScheduler(), startPeer()]);
      if (startedScheduler.status === 'fulfilled') scheduler = startedScheduler.value;
      if (startedPeer.status === 'fulfilled') peer = startedPeer.value;
      if (startedScheduler.status === 'rejected') throw startedScheduler.reason;
      if (startedPeer.status === 'rejected') throw startedPeer.reason;
      for (const adminUrl of [startedPeer.value.adminUrl, startedScheduler.value.adminUrl]) {
        for (const [name, type] of families((await request(`${adminUrl}/metrics`)).body.toString('utf8'))) {
          known.set(name, type);
        }
      }
    });

    after(async () => {
      await Promise.all([peer?.stop(), scheduler?.stop()]);
      known = new Map();
    });

    it('uses only metric names that a peer or a scheduler exposes', async () => {
      const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as K8sObject;
      const exprs: string[] = [];
      for (const panel of dashboard.panels as K8sObject[]) {
        if (panel.type === 'row') continue;
        assert.ok(panel.targets?.length > 0, `panel "${panel.title}" has queries`);
        assert.equal(
          panel.datasource?.uid,
          // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
          '${datasource}',
          `panel "${panel.title}" uses the data source variable`,
        );
        for (const target of panel.targets) exprs.push(target.expr);
      }
      for (const variable of dashboard.templating.list as K8sObject[]) {
        if (variable.type !== 'query') continue;
        const series = /^label_values\((.*),\s*\w+\)$/.exec(variable.definition);
        exprs.push(series ? series[1]! : variable.definition);
      }
      const used = new Set<string>();
      for (const expr of exprs) {
        const names = metricNamesIn(expr);
        assert.ok(names.length > 0, `no metric in: ${expr}`);
        for (const name of names) {
          assert.ok(knownMetric(name, known), `unknown metric ${name} in: ${expr}`);
          used.add(name.replace(/_(bucket|sum|count)$/, ''));
        }
      }
      const shoalFamilies = [...known.keys()].filter((n) => n.startsWith('shoal_'));
      const unused = shoalFamilies.filter((n) => !used.has(n));
      assert.deepEqual(unused, [], 'every shoal_* metric has a panel');
    });

    it('finds metric names in PromQL', () => {
      assert.deepEqual(
        metricNamesIn(
          'histogram_quantile(0.99, sum by (le, route) (rate(a_bucket{x="{y}",z=~"[45].."}[$__rate_interval]))) / b',
        ),
        ['a_bucket', 'b'],
      );
    });
  });
});
