import { randomUUID } from 'node:crypto';
import {
  formatPlatform,
  formatReference,
  type RegistryClient,
  resolveImage,
  type UpstreamResolver,
} from '@shoal/oci';
import type { PreheatDone, SchedulerMessage } from '@shoal/protocol';
import type { Logger } from '@shoal/telemetry';
import { type PreheatItem, PreheatJob, type PreheatResolution } from './job.ts';
import { type CandidatePeer, choosePreheatPeers } from './peer-choice.ts';
import type { PreheatRequest } from './request.ts';

export interface PreheatRunnerOptions {
  client: RegistryClient;
  upstreams: UpstreamResolver;
  /** Peers registered now. */
  peers: () => Iterable<CandidatePeer>;
  send: (hostId: string, message: SchedulerMessage) => void;
  logger: Logger;
  /** Peers a `seed` preheat asks. */
  seeds: number;
  /** Objects one peer is asked for at once. */
  maxInFlightPerPeer?: number;
  /** A job with no answer for this long fails what is outstanding. */
  idleTimeoutMs?: number;
  /** Finished jobs kept for GET; the oldest go first. */
  maxFinishedJobs?: number;
  now?: () => number;
}

/**
 * Runs preheat jobs: resolves the image upstream, asks the chosen peers for
 * each manifest and blob over their scheduler session, and feeds their
 * answers into the job's state.
 */
export class PreheatRunner {
  readonly #options: PreheatRunnerOptions;
  readonly #jobs = new Map<string, PreheatJob>();
  readonly #now: () => number;
  readonly #abort = new AbortController();

  constructor(options: PreheatRunnerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get(id: string): PreheatJob | undefined {
    return this.#jobs.get(id);
  }

  /** Starts a job; it resolves the image in the background. */
  start(request: PreheatRequest): PreheatJob {
    const { reference } = request;
    const job = new PreheatJob(
      randomUUID(),
      {
        image: formatReference(reference),
        registry: reference.registry,
        repository: reference.repository,
        scope: request.scope,
        ...(request.platform ? { platform: formatPlatform(request.platform) } : {}),
      },
      this.#now(),
    );
    this.#jobs.set(job.id, job);
    this.#forgetOldJobs();
    this.#options.logger.info({ job: job.id, image: job.target.image, scope: request.scope }, 'preheat');
    void this.#resolveAndSend(job, request);
    return job;
  }

  /** A peer's answer for one object. */
  onPreheatDone(hostId: string, message: PreheatDone): void {
    const job = this.#jobs.get(message.job);
    if (!job) return;
    let applied = false;
    this.#change(job, () => {
      applied = job.settle(hostId, message.digest, message.ok, message.error, this.#now());
    });
    if (!applied) return;
    if (!message.ok) {
      this.#options.logger.warn(
        { job: job.id, host: hostId, digest: message.digest, err: message.error },
        'preheat fetch failed',
      );
    }
    this.#sendMore(job, hostId);
  }

  onHostLeft(hostId: string): void {
    for (const job of this.#jobs.values()) this.#change(job, () => job.dropPeer(hostId, this.#now()));
  }

  /** Periodic: jobs whose peers went silent end. */
  sweep(): void {
    const idleMs = this.#options.idleTimeoutMs ?? 15 * 60_000;
    for (const job of this.#jobs.values()) this.#change(job, () => job.expire(this.#now(), idleMs));
  }

  stop(): void {
    this.#abort.abort();
    for (const job of this.#jobs.values()) job.fail('the scheduler stopped', this.#now());
  }

  async #resolveAndSend(job: PreheatJob, request: PreheatRequest): Promise<void> {
    const { reference } = request;
    let resolution: PreheatResolution;
    try {
      const upstream = this.#options.upstreams.resolve(reference.registry);
      const image = await resolveImage(
        this.#options.client,
        upstream,
        reference.repository,
        reference.digest ?? reference.tag!,
        {
          ...(request.platform ? { platform: request.platform } : {}),
          signal: this.#abort.signal,
        },
      );
      const top: PreheatItem = {
        digest: image.top.digest,
        kind: 'manifest',
        size: image.top.bytes.length,
        ...(reference.digest === undefined && reference.tag ? { tag: reference.tag } : {}),
      };
      const items = [top];
      if (image.manifest !== image.top) {
        items.push({ digest: image.manifest.digest, kind: 'manifest', size: image.manifest.bytes.length });
      }
      for (const blob of image.blobs) items.push({ digest: blob.digest, kind: 'blob', size: blob.size });
      resolution = {
        items,
        digest: image.top.digest,
        manifest: image.manifest.digest,
        ...(image.platform ? { platform: formatPlatform(image.platform) } : {}),
      };
    } catch (error) {
      const reason = `cannot resolve ${job.target.image}: ${(error as Error).message}`;
      this.#change(job, () => job.fail(reason, this.#now()));
      return;
    }
    const peers = choosePreheatPeers([...this.#options.peers()], request.scope, this.#options.seeds);
    this.#change(job, () => job.start(resolution, peers, this.#now()));
    for (const peer of peers) this.#sendMore(job, peer);
  }

  #sendMore(job: PreheatJob, hostId: string): void {
    const { registry, repository } = job.target;
    for (const item of job.take(hostId, this.#options.maxInFlightPerPeer ?? 4)) {
      this.#options.send(hostId, {
        preheat: {
          job: job.id,
          registry,
          repository,
          digest: item.digest,
          manifest: item.kind === 'manifest',
          tag: item.tag ?? '',
        },
      });
    }
  }

  /** Applies a change to a job and logs the outcome when it ends the job. */
  #change(job: PreheatJob, change: () => void): void {
    const wasFinished = job.finished;
    change();
    if (wasFinished || !job.finished) return;
    const view = job.view();
    const fields = { job: job.id, image: view.image, peers: view.peers.length, blobs: view.blobs };
    if (view.state === 'succeeded') this.#options.logger.info(fields, 'preheat succeeded');
    else this.#options.logger.warn({ ...fields, err: view.error }, 'preheat failed');
  }

  #forgetOldJobs(): void {
    const max = this.#options.maxFinishedJobs ?? 256;
    const finished = [...this.#jobs.values()].filter((job) => job.finished);
    for (const job of finished.slice(0, Math.max(0, finished.length - max))) this.#jobs.delete(job.id);
  }
}
