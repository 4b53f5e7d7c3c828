import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import {
  containerdConfigOptions,
  containerdConfigSchema,
} from '../../packages/cli/src/commands/containerd-config.ts';
import { peerOptions, peerSchema } from '../../packages/cli/src/commands/peer.ts';
import { resolveConfig } from '../../packages/cli/src/config.ts';
import { CHART_COPIES } from '../../scripts/sync-chart-files.ts';
import { buildHelmTemplate } from '../fixtures/helm-template.ts';
import { type DryRun, dryRunLine, startKubectlDryRun } from '../fixtures/kubectl.ts';
import { CommandError, run } from '../fixtures/proc.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CHART = join(ROOT, 'deploy/helm/shoal');
const RULES = join(ROOT, 'deploy/prometheus/shoal-rules.yaml');
const DASHBOARD = join(ROOT, 'deploy/grafana/shoal-dashboard.json');

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are checked field by field below.
type K8sObject = Record<string, any>;

/** The kubernetes-models class of an object's kind: validate() checks it against Kubernetes' OpenAPI schema. */
async function modelOf(
  apiVersion: string,
  kind: string,
): Promise<new (o: K8sObject) => { validate(): void }> {
  const module = apiVersion.startsWith('monitoring.coreos.com/')
    ? `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`
    : `kubernetes-models/${apiVersion}/${kind}`;
  const loaded = (await import(module)) as Record<string, new (o: K8sObject) => { validate(): void }>;
  const model = loaded[kind];
  assert.ok(model, `no model for ${apiVersion} ${kind}`);
  return model;
}

/** Problems of each rendered object against the Kubernetes (and Prometheus Operator) schemas. */
async function schemaProblems(objects: K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const object of objects) {
    const Model = await modelOf(object.apiVersion, object.kind);
    try {
      new Model(object).validate();
    } catch (error) {
      problems.push(`${object.kind}/${object.metadata?.name}: ${(error as Error).message}`);
    }
  }
  return problems;
}

/** Bytes of a Kubernetes memory quantity (Mi, Gi). */
function memoryBytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Mi|Gi)$/.exec(quantity);
  assert.ok(m, `memory quantity ${quantity}`);
  return Number(m[1]) * 2 ** (m[2] === 'Gi' ? 30 : 20);
}

describe('the Helm chart', { timeout: 400_000 }, () => {
  let dir = '';
  let helmTemplate = '';
  let kubectl: DryRun | undefined;
  let renders = 0;

  /** `helm template` with extra values; the objects it renders. */
  async function render(values: K8sObject, chart = CHART): Promise<{ file: string; objects: K8sObject[] }> {
    const valuesFile = join(dir, `values-${++renders}.json`);
    await writeFile(valuesFile, JSON.stringify(values));
    const { stdout } = await run(
      helmTemplate,
      ['-chart', chart, '-name', 'shoal', '-namespace', 'shoal', '-f', valuesFile],
      { timeoutMs: 60_000 },
    );
    const file = join(dir, `rendered-${renders}.yaml`);
    await writeFile(file, stdout);
    const objects: K8sObject[] = [];
    for (const doc of parseAllDocuments(stdout)) {
      assert.equal(doc.errors.length, 0, `rendered YAML: ${doc.errors.join('; ')}`);
      const object = doc.toJS() as K8sObject | null;
      if (object) objects.push(object);
    }
    return { file, objects };
  }

  /** Renders, then checks every object with kubectl's dry run and the schemas. */
  async function renderValid(values: K8sObject): Promise<K8sObject[]> {
    const { file, objects } = await render(values);
    assert.deepEqual(await schemaProblems(objects), []);
    const stdout = await kubectl!.apply(file);
    for (const object of objects) {
      const line = dryRunLine(object as Parameters<typeof dryRunLine>[0]);
      assert.ok(stdout.includes(line), `expected "${line}" in:\n${stdout}`);
    }
    return objects;
  }

  const find = (objects: K8sObject[], kind: string, name: string) => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    assert.ok(found, `${kind}/${name} rendered`);
    return found;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-e2e-chart-'));
    helmTemplate = await buildHelmTemplate(dir);
    kubectl = await startKubectlDryRun(dir);
  });

  after(async () => {
    kubectl?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('renders valid objects with the default values', async () => {
    const objects = await renderValid({});
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
      'ClusterRole/shoal-shoal-node-reader',
      'ClusterRoleBinding/shoal-shoal-node-reader',
      'ConfigMap/shoal-config',
      'ConfigMap/shoal-containerd-cleanup',
      'ConfigMap/shoal-scripts',
      'DaemonSet/shoal-containerd-cleanup',
      'DaemonSet/shoal-peer',
      'Deployment/shoal-scheduler',
      'Job/shoal-containerd-cleanup-wait',
      'Role/shoal-containerd-cleanup',
      'RoleBinding/shoal-containerd-cleanup',
      'Service/shoal-scheduler',
      'ServiceAccount/shoal-containerd-cleanup',
      'ServiceAccount/shoal-peer',
    ]);
    const peer = find(objects, 'DaemonSet', 'shoal-peer').spec.template.spec;
    assert.equal(peer.priorityClassName, 'system-node-critical');
    assert.deepEqual(peer.nodeSelector, { 'kubernetes.io/os': 'linux' });
    const scheduler = find(objects, 'Deployment', 'shoal-scheduler').spec.template.spec;
    assert.deepEqual(scheduler.nodeSelector, { 'kubernetes.io/os': 'linux' });
    // README: one scheduler keeps 2,000 peers at 530-750 MiB; the limit must hold the upper figure.
    const { limits, requests } = scheduler.containers[0].resources;
    assert.ok(memoryBytes(limits.memory) >= 750 * 2 ** 20, `scheduler limit ${limits.memory}`);
    assert.ok(memoryBytes(requests.memory) >= 405 * 2 ** 20, `scheduler request ${requests.memory}`);
  });

  it('renders the Prometheus Operator objects and the Grafana dashboard, from the plain files', async () => {
    const objects = await renderValid({
      metrics: {
        serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
        podMonitor: { enabled: true },
        prometheusRule: { enabled: true },
      },
      grafanaDashboard: { enabled: true, namespace: 'monitoring' },
      psk: { create: true, key: '/key/swarm/psk/1.0.0/\n/base16/\n00\n' },
    });
    for (const component of ['peer', 'scheduler']) {
      const monitor = find(objects, 'ServiceMonitor', `shoal-${component}`);
      assert.equal(monitor.metadata.labels.release, 'kube-prometheus-stack');
      const services = objects.filter(
        (o) =>
          o.kind === 'Service' &&
          Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => o.metadata.labels[k] === v),
      );
      assert.equal(services.length, 1, `one Service for the ${component} ServiceMonitor`);
      assert.ok(services[0]?.spec.ports.some((p: K8sObject) => p.name === monitor.spec.endpoints[0].port));
      find(objects, 'PodMonitor', `shoal-${component}`);
    }
    const rule = find(objects, 'PrometheusRule', 'shoal');
    const plainRules = parseYaml(await readFile(RULES, 'utf8')) as K8sObject;
    assert.deepEqual(rule.spec, plainRules, 'the PrometheusRule holds the groups of the plain rules file');
    const dashboard = find(objects, 'ConfigMap', 'shoal-grafana-dashboard');
    assert.equal(dashboard.metadata.namespace, 'monitoring');
    assert.equal(dashboard.metadata.labels.grafana_dashboard, '1');
    assert.deepEqual(
      JSON.parse(dashboard.data['shoal-dashboard.json']),
      JSON.parse(await readFile(DASHBOARD, 'utf8')),
    );
    find(objects, 'Secret', 'shoal-psk');
    for (const [source, copy] of CHART_COPIES) {
      assert.equal(
        await readFile(join(ROOT, copy), 'utf8'),
        await readFile(join(ROOT, source), 'utf8'),
        `${copy} is a copy of ${source}: run node scripts/sync-chart-files.ts`,
      );
    }
  });

  it('the uninstall hook runs containerd-config --remove with a valid configuration', async () => {
    const objects = await renderValid({});
    const cleanup = find(objects, 'DaemonSet', 'shoal-containerd-cleanup');
    assert.equal(cleanup.metadata.annotations['helm.sh/hook'], 'post-delete');
    const init = cleanup.spec.template.spec.initContainers[0];
    const env = Object.fromEntries(init.env.map((e: K8sObject) => [e.name, e.value])) as Record<
      string,
      string
    >;
    const config = resolveConfig(containerdConfigSchema, containerdConfigOptions, {}, env, undefined);
    assert.equal(config.remove, true);
    assert.deepEqual(config.registry, ['docker.io', 'ghcr.io', 'quay.io', 'registry.k8s.io']);
    const mount = init.volumeMounts.find((m: K8sObject) => m.mountPath === env.SHOAL_DIR);
    const volume = cleanup.spec.template.spec.volumes.find((v: K8sObject) => v.name === mount.name);
    assert.equal(volume.hostPath.path, '/etc/containerd/certs.d');
    const wait = find(objects, 'Job', 'shoal-containerd-cleanup-wait');
    assert.ok(
      Number(wait.metadata.annotations['helm.sh/hook-weight']) >
        Number(cleanup.metadata.annotations['helm.sh/hook-weight']),
    );
    const role = find(objects, 'Role', 'shoal-containerd-cleanup');
    assert.deepEqual(role.rules, [
      {
        apiGroups: ['apps'],
        resources: ['daemonsets'],
        resourceNames: [cleanup.metadata.name],
        verbs: ['get'],
      },
    ]);
    const script = find(objects, 'ConfigMap', 'shoal-containerd-cleanup').data['wait-daemonset.mjs'];
    const scriptFile = join(dir, 'wait-daemonset.mjs');
    await writeFile(scriptFile, script);
    await run(process.execPath, ['--check', scriptFile]);
    const none = await render({ containerd: { removeOnUninstall: false } });
    assert.ok(!none.objects.some((o) => o.metadata.name.startsWith('shoal-containerd-cleanup')));
  });

  it("sets each peer's zone and rack from its node: an init step with get on nodes writes --label-file", async () => {
    const objects = await renderValid({ peer: { topology: { rackLabel: 'example.com/rack' } } });
    const pod = find(objects, 'DaemonSet', 'shoal-peer').spec.template.spec;
    assert.equal(pod.automountServiceAccountToken, false);
    const init = pod.initContainers.find((c: K8sObject) => c.name === 'node-labels');
    const peer = pod.containers[0];
    const [, script, out, zoneLabel, rackLabel] = init.command;
    assert.deepEqual([zoneLabel, rackLabel], ['topology.kubernetes.io/zone', 'example.com/rack']);
    assert.equal(init.env[0].valueFrom.fieldRef.fieldPath, 'spec.nodeName');
    const labelFileVar = peer.env.find((e: K8sObject) => e.name === 'SHOAL_LABEL_FILE');
    assert.equal(labelFileVar.value, out, 'the peer reads the file the init container writes');
    const mountOf = (c: K8sObject, path: string) =>
      c.volumeMounts.find((m: K8sObject) => path.startsWith(`${m.mountPath}/`))?.name;
    assert.equal(mountOf(init, out), mountOf(peer, out));
    // The API token is mounted in the init container only.
    const token = pod.volumes.find((v: K8sObject) =>
      v.projected?.sources?.some((s: K8sObject) => s.serviceAccountToken),
    );
    const withToken = [...pod.initContainers, ...pod.containers].filter((c: K8sObject) =>
      c.volumeMounts.some((m: K8sObject) => m.name === token.name),
    );
    assert.deepEqual(
      withToken.map((c: K8sObject) => c.name),
      ['node-labels'],
    );
    const role = find(objects, 'ClusterRole', 'shoal-shoal-node-reader');
    assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]);
    const binding = find(objects, 'ClusterRoleBinding', 'shoal-shoal-node-reader');
    assert.deepEqual(binding.subjects, [
      { kind: 'ServiceAccount', name: pod.serviceAccountName, namespace: 'shoal' },
    ]);

    // The shipped scripts, run against an HTTPS stand-in for the API server with the token and CA
    // where a pod has them (a private mount namespace: a tmpfs over /run for that process only).
    const scripts = join(dir, 'scripts');
    await mkdir(scripts, { recursive: true });
    for (const [name, text] of Object.entries(find(objects, 'ConfigMap', 'shoal-scripts').data)) {
      await writeFile(join(scripts, name), text as string);
    }
    assert.equal(script, `/etc/shoal/scripts/node-labels.mjs`);
    const key = join(dir, 'api.key');
    const cert = join(dir, 'api.crt');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    const asked: string[] = [];
    const api = createServer({ key: await readFile(key), cert: await readFile(cert) }, (req, res) => {
      asked.push(`${req.headers.authorization} ${req.url}`);
      const node = {
        kind: 'Node',
        metadata: {
          name: 'node-a',
          labels: { 'topology.kubernetes.io/zone': 'eu-1a', 'example.com/rack': 'r12' },
        },
      };
      const ok = req.headers.authorization === 'Bearer pod-token' && req.url === '/api/v1/nodes/node-a';
      res.writeHead(ok ? 200 : 403, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? node : { kind: 'Status', code: 403 }));
    });
    await new Promise<void>((done) => api.listen(0, '127.0.0.1', done));
    try {
      await writeFile(join(dir, 'token'), 'pod-token\n');
      const account = '/var/run/secrets/kubernetes.io/serviceaccount';
      const labelsFile = join(dir, 'labels');
      const shell = `mount -t tmpfs none /run && mkdir -p ${account} && cp ${join(dir, 'token')} ${account}/token && cp ${cert} ${account}/ca.crt && exec "$0" "$@"`;
      await run(
        'unshare',
        [
          '--mount',
          'sh',
          '-c',
          shell,
          process.execPath,
          join(scripts, 'node-labels.mjs'),
          labelsFile,
          zoneLabel,
          rackLabel,
        ],
        {
          env: {
            ...process.env,
            NODE_NAME: 'node-a',
            KUBERNETES_SERVICE_HOST: '127.0.0.1',
            KUBERNETES_SERVICE_PORT: String((api.address() as AddressInfo).port),
          },
        },
      );
      assert.deepEqual(asked, ['Bearer pod-token /api/v1/nodes/node-a']);
      const config = resolveConfig(peerSchema, peerOptions, {}, { SHOAL_LABEL_FILE: labelsFile }, undefined);
      assert.deepEqual(config.labelFile, { zone: 'eu-1a', rack: 'r12' });
    } finally {
      api.close();
    }
    const off = await render({ peer: { topology: { enabled: false } } });
    const offPod = find(off.objects, 'DaemonSet', 'shoal-peer').spec.template.spec;
    assert.equal(offPod.serviceAccountName, undefined);
    assert.ok(!off.objects.some((o) => o.kind === 'ClusterRole'));
  });

  it('refuses values that break its schema', async () => {
    for (const [values, message] of [
      [{ peer: { resources: { limits: { memory: '12 potatoes' } } } }, /peer\.resources\.limits\.memory/],
      [{ peer: { endpointPort: 'abc' } }, /peer\.endpointPort/],
      [{ peer: { priorityClasName: 'system-node-critical' } }, /priorityClasName/],
      [{ metrics: { serviceMonitor: { enabled: 'yes' } } }, /metrics\.serviceMonitor\.enabled/],
    ] as const) {
      await assert.rejects(render(values), (error: unknown) => {
        assert.ok(error instanceof CommandError, String(error));
        assert.match(error.stderr, message);
        return true;
      });
    }
  });

  it('catches an invalid object the values schema let through', async () => {
    // A copy of the chart without values.schema.json: only the object checks stand in the way.
    const loose = join(dir, 'loose-chart');
    await cp(CHART, loose, { recursive: true, filter: (src) => !src.endsWith('values.schema.json') });
    const { objects } = await render(
      { peer: { endpointPort: 'abc', resources: { limits: { memory: '12 potatoes' } } } },
      loose,
    );
    const problems = await schemaProblems(objects);
    assert.ok(
      problems.some(
        (p) => p.startsWith('DaemonSet/shoal-peer') && p.includes('containerPort must be integer'),
      ),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('resources/limits/memory must match format "quantity"')),
      problems.join('\n'),
    );
  });
});

describe('deploy/prometheus/shoal-rules.yaml', () => {
  it('passes promtool check rules and its unit tests', async () => {
    const check = await run('promtool', ['check', 'rules', RULES]);
    assert.match(check.stdout, /SUCCESS: 10 rules found/);
    const test = await run('promtool', ['test', 'rules', 'shoal-rules.test.yaml'], {
      cwd: join(ROOT, 'deploy/prometheus'),
    });
    assert.match(test.stdout, /SUCCESS/);
  });

  it('every alert has a runbook section and links to it', async () => {
    const rules = parseYaml(await readFile(RULES, 'utf8')) as K8sObject;
    const runbook = await readFile(join(ROOT, 'deploy/README.md'), 'utf8');
    const tests = await readFile(join(ROOT, 'deploy/prometheus/shoal-rules.test.yaml'), 'utf8');
    for (const rule of rules.groups.flatMap((g: K8sObject) => g.rules)) {
      assert.ok(runbook.includes(`\n### ${rule.alert}\n`), `deploy/README.md has a section ${rule.alert}`);
      assert.ok(rule.annotations.runbook_url.endsWith(`deploy/README.md#${rule.alert.toLowerCase()}`));
      assert.ok(tests.includes(`alertname: ${rule.alert}\n`), `a promtool test fires ${rule.alert}`);
    }
  });
});
