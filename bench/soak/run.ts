/**
 * Soak benchmark: memory, file descriptors and streams of a scheduler and
 * three peers over a long mixed load (cached and cold pulls, sequential and
 * concurrent, clients that disconnect mid-blob, one peer restarted every few
 * minutes), sampled from /proc and the daemons' /metrics.
 *
 *   nice node bench/soak/run.ts [--minutes 30] [--sample-seconds 60] [--restart-minutes 4] [--warmup-minutes 5]
 *                               [--peer1-env KEY=VALUE]...
 *
 * --peer1-env sets an environment variable for peer1 alone (e.g. a malloc setting), to compare
 * it with peer0 under the same load in the same run.
 * Progress goes to stderr, the JSON result to stdout. Goal: after warm-up,
 * RSS slope < 5 MB/hour per process; file descriptors and streams flat.
 */

import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { positiveInt } from '../common.ts';
import { runSoak } from './soak.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    'sample-seconds': { type: 'string', default: '60' },
    'restart-minutes': { type: 'string', default: '4' },
    'warmup-minutes': { type: 'string', default: '5' },
    'peer1-env': { type: 'string', multiple: true, default: [] },
  },
});
const peer1Env = Object.fromEntries(
  args['peer1-env'].map((pair) => {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--peer1-env ${pair}: expected KEY=VALUE`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }),
);
const minutes = positiveInt(args.minutes, '--minutes');
const loadBefore = loadavg()[0];
const result = await runSoak({
  minutes,
  sampleEveryMs: positiveInt(args['sample-seconds'], '--sample-seconds') * 1000,
  restartEveryMs: positiveInt(args['restart-minutes'], '--restart-minutes') * 60_000,
  warmupMs: Math.min(positiveInt(args['warmup-minutes'], '--warmup-minutes'), minutes - 1) * 60_000,
  peer1Env,
});
const goalMBPerHour = 5;
console.log(
  JSON.stringify(
    {
      bench: 'soak',
      command: `node bench/soak/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
      date: new Date().toISOString(),
      loadAverage1m: { before: loadBefore, after: loadavg()[0] },
      goal: `RSS slope < ${goalMBPerHour} MB/hour after warm-up; fds and streams flat`,
      peer1Env,
      pass: Object.values(result.rssSlopeMBPerHour).every((slope) => slope < goalMBPerHour),
      ...result,
    },
    null,
    2,
  ),
);
