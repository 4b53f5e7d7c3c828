// Copies the alert rules and the Grafana dashboard into the Helm chart, which can only read files of
// its own directory (.Files.Get). test/e2e/operability-chart.test.ts fails when the copies differ.
import { copyFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
export const CHART_COPIES: readonly (readonly [source: string, copy: string])[] = [
  ['deploy/prometheus/shoal-rules.yaml', 'deploy/helm/shoal/files/shoal-rules.yaml'],
  ['deploy/grafana/shoal-dashboard.json', 'deploy/helm/shoal/files/shoal-dashboard.json'],
];

if (import.meta.main) {
  for (const [source, copy] of CHART_COPIES) {
    await copyFile(join(ROOT, source), join(ROOT, copy));
    console.log(`${source} -> ${copy}`);
  }
}
