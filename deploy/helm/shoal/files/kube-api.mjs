// GET on the Kubernetes API with the pod's service account token, for the chart's small init and
// hook steps (the image has node and no kubectl). Resolves with the parsed JSON body.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';

const ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

export function getJson(path) {
  const token = readFileSync(`${ACCOUNT}/token`, 'utf8').trim();
  const ca = readFileSync(`${ACCOUNT}/ca.crt`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: process.env.KUBERNETES_SERVICE_HOST,
        port: process.env.KUBERNETES_SERVICE_PORT ?? '443',
        ca,
        path,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        timeout: 10_000,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`GET ${path}: ${res.statusCode} ${body}`));
          else resolve(JSON.parse(body));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}
