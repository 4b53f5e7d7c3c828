// Writes the peer's locality labels from its node's labels (only `get` on nodes), one key=value a
// line, for `shoal peer --label-file`: zone from the zone label, rack from the rack label if set.
//   NODE_NAME=... node node-labels.mjs OUT_FILE ZONE_LABEL [RACK_LABEL]
import { writeFileSync } from 'node:fs';
import { getJson } from './kube-api.mjs';

const [out, zoneLabel, rackLabel = ''] = process.argv.slice(2);
const nodeName = process.env.NODE_NAME;
if (!nodeName) throw new Error('NODE_NAME is not set (the downward API spec.nodeName)');
const node = await getJson(`/api/v1/nodes/${encodeURIComponent(nodeName)}`);
const labels = node.metadata?.labels ?? {};
const lines = [`# locality of node ${nodeName}, from its labels`];
for (const [key, from] of [
  ['zone', zoneLabel],
  ['rack', rackLabel],
]) {
  const value = from ? labels[from] : undefined;
  if (value) lines.push(`${key}=${value}`);
  else if (from) console.warn(`node ${nodeName} has no label ${from}: no ${key} label`);
}
writeFileSync(out, `${lines.join('\n')}\n`);
console.log(lines.slice(1).join(' ') || 'no locality labels');
