// Waits until every pod of a DaemonSet is ready (only `get` on that DaemonSet). The uninstall hook
// runs it so that Helm removes the cleanup DaemonSet only after `shoal containerd-config --remove`
// ran on every node.
//   node wait-daemonset.mjs NAMESPACE NAME TIMEOUT_SECONDS
import { getJson } from './kube-api.mjs';

const [namespace, name, timeoutSeconds = '300'] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutSeconds) * 1000;
for (;;) {
  try {
    const { status = {} } = await getJson(`/apis/apps/v1/namespaces/${namespace}/daemonsets/${name}`);
    const want = status.desiredNumberScheduled ?? 0;
    const ready = status.numberReady ?? 0;
    console.log(`${name}: ${ready} of ${want} nodes cleaned up`);
    if (want > 0 && ready >= want) process.exit(0);
  } catch (error) {
    console.error(String(error));
  }
  if (Date.now() > deadline) {
    console.error(`${name}: not every node was cleaned up within ${timeoutSeconds} s`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 2000));
}
