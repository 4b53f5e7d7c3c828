import type { Digest, RegistryClient, UpstreamResolver } from '@shoal/oci';
import type { Logger } from '@shoal/telemetry';
import type { PeerMetrics } from '../metrics.ts';
import type { RecentMismatches } from '../p2p/recent-mismatches.ts';
import type { PullLog } from '../pulls/pull-log.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { FileHasher } from '../store/file-hasher.ts';
import type { ManifestCache } from '../store/manifest-cache.ts';
import type { TaskManager } from '../task/task-manager.ts';
import type { AccessGuard } from './access-guard.ts';
import type { BodySending } from './body-io.ts';
import type { DescriptorSizes } from './descriptor-sizes.ts';
import type { RecentReferrers } from './recent-referrers.ts';

/** Content-addressed objects other peers can supply when the origin cannot. */
export interface PeerContent {
  /** Tell the swarm this node holds the object now. */
  announce(digest: Digest): void;
  /** A manifest's bytes from a peer, already checked against the digest; undefined if no peer has it. */
  fetchManifest(digest: Digest): Promise<Buffer | undefined>;
  /** The latest time a node of the swarm learnt that upstream serves the digest under the repository to anyone. */
  publicSince(registry: string, repository: string, digest: Digest): Promise<number | undefined>;
  /** The latest answer upstream gave a node of the swarm for a tag whose manifest is publicly paired. */
  publicTag(
    registry: string,
    repository: string,
    tag: string,
  ): Promise<{ digest: Digest; resolvedAt: number } | undefined>;
}

/** What the endpoint's handlers share. Built once by the daemon. */
export interface EndpointContext {
  store: BlobStore;
  manifests: ManifestCache;
  tasks: TaskManager;
  client: RegistryClient;
  upstreams: UpstreamResolver;
  peers: PeerContent;
  metrics: PeerMetrics;
  /** recent pulls and where their bytes came from */
  pulls: PullLog;
  logger: Logger;
  /** Who may read what this node serves without asking upstream (cache, peers, shared downloads). */
  access: AccessGuard;
  /** Blobs whose download failed its digest lately: ranges of them wait for the whole to be verified. */
  digestFailures: RecentMismatches;
  /** Answer a tag from the last upstream answer while upstream is unreachable (marked with a header). */
  serveStaleTags: boolean;
  /** The last referrers answers, served while upstream is unreachable (marked with a header). */
  referrers: RecentReferrers;
  /** A blob streamed through from upstream that sends under 64 KiB in this long is cut off. */
  originStallTimeoutMs: number;
  /** The memory response bodies are sent from, shared with the pieces served to peers. */
  sending: BodySending;
  /** Blob sizes the manifests served here give: upstream's size must agree. */
  descriptorSizes: DescriptorSizes;
  /** Hashes cached blobs served whole off the event loop. */
  fileHasher: FileHasher;
}

/** Headers of the client's request relayed upstream: only what authorises or negotiates. */
export function relayedRequestHeaders(headers: Record<string, string | string[] | undefined>): {
  authorization?: string;
  accept?: string;
} {
  const out: { authorization?: string; accept?: string } = {};
  if (typeof headers.authorization === 'string') out.authorization = headers.authorization;
  const accept = headers.accept;
  if (accept !== undefined) out.accept = Array.isArray(accept) ? accept.join(', ') : accept;
  return out;
}

/** Upstream response headers worth relaying with an error status (auth challenge, rate limits). */
export function relayedResponseHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['www-authenticate', 'content-type', 'retry-after', 'docker-ratelimit-source']) {
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
