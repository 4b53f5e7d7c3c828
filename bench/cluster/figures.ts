/**
 * The figures of bench/RESULTS.md ("A cluster in a box"): every named
 * scenario, and p99 / T_LB against N on the `wide` parameters. Each result is
 * appended as one JSON line to --out as soon as it is known, so runs can be
 * split over processes (--only) and a cut-off session keeps what finished.
 *
 *   node bench/cluster/figures.ts [--only kraken,10gbe,wide,racks,churn,n10,n100,n1000,n2600]
 *                                 [--out bench/cluster-results.jsonl] [--max-wall-seconds 600]
 *
 * `node bench/cluster/plot.ts` then draws the curve from --out.
 */
import { appendFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { log } from '../common.ts';
import { parseClusterArgs, runCluster, SCENARIOS } from './run.ts';

export const CURVE_NODES = [10, 100, 1_000, 2_600, 10_000];

/** Named runs: the scenarios, and the curve's points on `wide` (its own 10,000 nodes being `wide`). */
export function figureRuns(): Record<string, string[]> {
  const runs: Record<string, string[]> = {};
  for (const name of Object.keys(SCENARIOS)) runs[name] = ['--scenario', name];
  for (const n of CURVE_NODES.filter((n) => n !== 10_000))
    runs[`n${n}`] = ['--scenario', 'wide', '--nodes', String(n)];
  return runs;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      out: { type: 'string', default: 'bench/cluster-results.jsonl' },
      'max-wall-seconds': { type: 'string', default: '600' },
    },
  });
  const runs = figureRuns();
  const names = values.only ? values.only.split(',') : Object.keys(runs);
  for (const name of names) {
    const args = runs[name];
    if (!args) throw new Error(`--only ${name}: unknown; one of ${Object.keys(runs).join(', ')}`);
    const command = ['--max-wall-seconds', values['max-wall-seconds'], ...args];
    log(`figures: ${name} (node bench/cluster/run.ts ${command.join(' ')})`);
    const result = await runCluster({ ...parseClusterArgs(command), progress: log });
    log(
      `figures: ${name}: ${result.stopped}, p99/T_LB ${result.p99OverLowerBound}, ${result.wallSeconds} s wall`,
    );
    await appendFile(values.out, `${JSON.stringify({ name, command: command.join(' '), ...result })}\n`);
  }
}
