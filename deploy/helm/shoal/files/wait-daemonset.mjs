// Waits until every pod of a DaemonSet is ready, through the Kubernetes API with the pod's service
// account (only `get` on that DaemonSet). The uninstall hook runs it so that Helm removes the cleanup
// DaemonSet only after `shoal containerd-config --remove` ran on every node.
//   node wait-daemonset.mjs NAMESPACE NAME TIMEOUT_SECONDS
import { readFileSync } from 'node:fs';
import { request } from 'node:https';

const [namespace, name, timeoutSeconds = '300'] = process.argv.slice(2);
const account = '/var/run/secrets/kubernetes.io/serviceaccount';
const token = readFileSync(`${account}/token`, 'utf8').trim();
const ca = readFileSync(`${account}/ca.crt`);
const host = process.env.KUBERNETES_SERVICE_HOST;
const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';

function getDaemonSet() {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        ca,
        path: `/apis/apps/v1/namespaces/${namespace}/daemonsets/${name}`,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        timeout: 10_000,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`GET daemonset ${name}: ${res.statusCode} ${body}`));
          else resolve(JSON.parse(body));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('API request timed out')));
    req.on('error', reject);
    req.end();
  });
}

const deadline = Date.now() + Number(timeoutSeconds) * 1000;
for (;;) {
  try {
    const { status = {} } = await getDaemonSet();
    const want = status.desiredNumberScheduled ?? 0;
    const ready = status.numberReady ?? 0;
    console.log(`${name}: ${ready} of ${want} nodes cleaned up`);
    if (want > 0 && ready >= want && status.observedGeneration !== undefined) process.exit(0);
  } catch (error) {
    console.error(String(error));
  }
  if (Date.now() > deadline) {
    console.error(`${name}: not every node was cleaned up within ${timeoutSeconds} s`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 2000));
}
