import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_PLATFORM, formatPlatform, parseReference } from '@shoal/oci';
import type { Command } from 'commander';
import { z } from 'zod';
import { ConfigError, type OptionSpec, resolveConfig } from '../config.ts';
import { formatDuration } from '../durations.ts';
import { duration } from '../options.ts';
import { createProgress } from '../progress.ts';
import { addOptions, configPath } from '../run.ts';
import { formatSize } from '../sizes.ts';

export const preheatOptions: readonly OptionSpec[] = [
  {
    key: 'schedulerHttp',
    arg: '<url>',
    description: "the scheduler's admin address (its --http), e.g. http://shoal-scheduler:9600",
  },
  {
    key: 'platform',
    arg: '<os/arch[/variant]>',
    description: 'the platform to take from a multi-platform image',
    defaultText: formatPlatform(DEFAULT_PLATFORM),
  },
  {
    key: 'scope',
    arg: '<seed|all>',
    description:
      'seed: a few peers fetch the image (others then get it from them); all: every peer fetches it',
    default: 'seed',
  },
  {
    key: 'timeout',
    arg: '<duration>',
    description: 'how long to wait for the job, e.g. 90s or 30m; it goes on in the scheduler after',
    default: 15 * 60_000,
    unit: 'ms',
  },
];

/** The options' values, checked and parsed; their defaults are the specs' (preheatOptions). */
export const preheatSchema = z.strictObject({
  schedulerHttp: z
    .string({ error: 'required, e.g. --scheduler-http http://127.0.0.1:9600' })
    .transform((value) => (/^https?:\/\//.test(value) ? value : `http://${value}`))
    .pipe(z.url({ protocol: /^https?$/, error: 'expected http(s)://host:port, e.g. http://127.0.0.1:9600' }))
    .transform((url) => url.replace(/\/+$/, '')),
  platform: z
    .string()
    .regex(
      /^[a-z0-9._-]+\/[a-z0-9._-]+(\/[a-z0-9._-]+)?$/,
      'expected os/architecture[/variant], e.g. linux/arm64',
    )
    .optional(),
  scope: z.enum(['seed', 'all'], { error: 'expected seed or all' }),
  timeout: duration,
});

type PreheatConfig = z.output<typeof preheatSchema>;

/** What GET /api/v1/preheat/<id> answers (the fields shown here). */
interface JobView {
  id: string;
  state: 'pending' | 'running' | 'succeeded' | 'failed';
  image: string;
  digest?: string;
  platform?: string;
  blobs: { total: number; done: number; failed: number };
  manifests: { total: number; done: number; failed: number };
  bytes: { total: number; done: number };
  peers: { id: string }[];
  error?: string;
  failures: { peer: string; digest: string; error: string }[];
}

const POLL_INTERVAL_MS = 500;
const REQUEST_TIMEOUT_MS = 10_000;

export function registerPreheatCommand(program: Command): void {
  const command = program
    .command('preheat')
    .argument(
      '<image>',
      'image reference, e.g. docker.io/library/alpine:3.20 or registry.example/app@sha256:…',
    )
    .description('have peers fetch an image before it is pulled, so pulls take nothing from the registry')
    .addHelpText(
      'after',
      `
The scheduler resolves the image upstream (--registry-endpoint, --docker-config of shoal scheduler),
then asks peers to fetch every manifest and blob of the platform through the swarm, as a pull would.
Progress is shown until the job ends; a bar on a terminal, a line every few seconds otherwise.

Examples:
  shoal preheat docker.io/library/alpine:3.20 --scheduler-http http://127.0.0.1:9600
  shoal preheat registry.example:5000/team/app:v2 --scheduler-http shoal-scheduler:9600 --scope all
  shoal preheat ghcr.io/org/tool@sha256:4f5e… --platform linux/arm64 --timeout 30m
  SHOAL_SCHEDULER_HTTP=http://127.0.0.1:9600 shoal preheat alpine:3.20
The job can also be started and followed over HTTP:
  curl -d '{"image":"alpine:3.20","scope":"all"}' -H 'content-type: application/json' \\
      http://127.0.0.1:9600/api/v1/preheat
  curl http://127.0.0.1:9600/api/v1/preheat/<id>`,
    );
  addOptions(command, preheatOptions);
  command.action(async (image: string, flags: Record<string, unknown>) => {
    const config = resolveConfig(preheatSchema, preheatOptions, flags, process.env, configPath(flags));
    try {
      parseReference(image);
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
    await preheat(image, config);
  });
}

async function preheat(image: string, config: PreheatConfig): Promise<void> {
  const started = Date.now();
  const created = await call(config, 'POST', '/api/v1/preheat', {
    image,
    scope: config.scope,
    ...(config.platform ? { platform: config.platform } : {}),
  });
  if (created.status === 400) throw new ConfigError(`the scheduler refused the request: ${created.error}`);
  if (created.status !== 202) {
    throw new Error(`the scheduler answered ${created.status}: ${created.error ?? 'no reason given'}`);
  }
  const id = (created.body as { id: string }).id;
  const jobUrl = `${config.schedulerHttp}/api/v1/preheat/${id}`;
  process.stdout.write(`preheat job ${id}: ${jobUrl}\n`);
  const progress = createProgress();
  const onInterrupt = () => {
    progress.stop();
    process.stderr.write(`shoal: stopped waiting; the job goes on: ${jobUrl}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    const deadline = started + config.timeout;
    for (;;) {
      const answer = await call(config, 'GET', `/api/v1/preheat/${id}`);
      if (answer.status !== 200) {
        throw new Error(`the scheduler answered ${answer.status} for job ${id}: ${answer.error}`);
      }
      const job = answer.body as JobView;
      if (job.state !== 'pending') progress.update(job.bytes.done, job.bytes.total, describeProgress(job));
      if (job.state === 'succeeded' || job.state === 'failed') {
        progress.stop();
        report(job, Date.now() - started);
        return;
      }
      if (Date.now() >= deadline) {
        progress.stop();
        throw new Error(
          `job ${id} is still ${job.state} after ${formatDuration(config.timeout)}; it goes on: ${jobUrl}`,
        );
      }
      await sleep(POLL_INTERVAL_MS);
    }
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

function describeProgress(job: JobView): string {
  return `${job.blobs.done}/${job.blobs.total} blobs on ${count(job.peers.length, 'peer')}`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** The final summary; a failed job throws, so the command exits 1. */
function report(job: JobView, elapsedMs: number): void {
  const peers = job.peers.length;
  const what = `${job.image}${job.digest ? ` (${job.digest}${job.platform ? `, ${job.platform}` : ''})` : ''}`;
  if (job.state === 'succeeded') {
    const each = Math.max(peers, 1);
    process.stdout.write(
      `preheated ${what} on ${count(peers, 'peer')}: ` +
        `${count(job.blobs.total / each, 'blob')} and ${count(job.manifests.total / each, 'manifest')}, ` +
        `${formatSize(job.bytes.total / each)} per peer, in ${formatDuration(elapsedMs)}\n`,
    );
    return;
  }
  for (const failure of job.failures) {
    process.stderr.write(`  peer ${failure.peer}: ${failure.digest}: ${failure.error}\n`);
  }
  throw new Error(`preheat of ${what} failed: ${job.error ?? 'no reason given'}`);
}

interface Answer {
  status: number;
  body: unknown;
  error?: string;
}

async function call(
  config: PreheatConfig,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<Answer> {
  const url = `${config.schedulerHttp}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause;
    throw new Error(
      `cannot reach the scheduler at ${config.schedulerHttp}: ${cause?.message ?? (error as Error).message}`,
    );
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${url} answered ${response.status} with something other than JSON`);
  }
  const error = (parsed as { error?: unknown }).error;
  return { status: response.status, body: parsed, ...(typeof error === 'string' ? { error } : {}) };
}
