// Prints the metrics reference (markdown tables of every shoal metric) generated from
// peer/src/metrics.ts and scheduler/src/metrics.ts. With --write it replaces the section of README.md
// between <!-- metrics-reference:start --> and <!-- metrics-reference:end -->.
//   node scripts/gen-metrics-reference.ts            # print
//   node scripts/gen-metrics-reference.ts --write    # update README.md
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { METRICS_END, METRICS_START, metricsReferenceMarkdown, replaceSection } from './metrics-reference.ts';

const generated = await metricsReferenceMarkdown();
if (process.argv.includes('--write')) {
  const readmePath = resolve(import.meta.dirname, '..', 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const updated = replaceSection(readme, METRICS_START, METRICS_END, generated);
  if (updated !== readme) writeFileSync(readmePath, updated);
  process.stdout.write(`${updated === readme ? 'unchanged' : 'updated'}: ${readmePath}\n`);
} else {
  process.stdout.write(generated);
}
