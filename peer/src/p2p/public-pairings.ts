import type { Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { byteStream } from '@libp2p/utils';
import { type Digest, isDigest, validateRepository, validateTag } from '@shoal/oci';
import { frame, readFrame, type ShoalNode, sendWithBackpressure } from '@shoal/p2p';
import { ACCESS_PROTOCOL, PublicPairingAnswer, PublicPairingQuery } from '@shoal/protocol';
import type { Logger } from '@shoal/telemetry';
import { learnAddresses } from './peer-addresses.ts';
import type { Provider } from './provider-download.ts';

/** A question is a few names; anything longer is not one. */
const MAX_QUERY_BYTES = 1024;
const MAX_ANSWER_BYTES = 256;
const ANSWER_TIMEOUT_MS = 3_000;
/** Nodes asked at once. */
const MAX_ASKED = 8;

/** What this node knows to be public, as the daemon's access guard and manifest cache say. */
export interface PublicKnowledge {
  /** When upstream was last seen serving the digest under the repository to anyone. */
  since(registry: string, repository: string, digest: Digest): number | undefined;
  /** Upstream's last answer for the tag, if the manifest it named is publicly paired. */
  tag(
    registry: string,
    repository: string,
    tag: string,
  ): Promise<{ digest: Digest; resolvedAt: number } | undefined>;
}

/** A public pairing as a node of the swarm knows it. */
export interface PublicAnswer {
  learnedAt: number;
  digest: Digest;
}

/**
 * Answers other nodes' questions about public pairings and public tags from what this node learnt
 * itself: one query, one answer, per stream. A malformed query ends its stream.
 */
export async function servePublicPairings(
  node: ShoalNode,
  knowledge: PublicKnowledge,
  logger: Logger,
): Promise<void> {
  await node.handle(ACCESS_PROTOCOL, (stream: Stream) => {
    void answer(stream).catch((error: Error) => {
      logger.debug({ err: error.message }, 'public pairing query ended with an error');
      stream.abort(error);
    });
  });

  async function answer(stream: Stream): Promise<void> {
    const bytes = byteStream(stream, { maxBufferSize: MAX_QUERY_BYTES + 8 });
    const query = PublicPairingQuery.decode(
      await readFrame(bytes, MAX_QUERY_BYTES, { signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) }),
    );
    const known = await lookUp(knowledge, query);
    const reply = known ? { known: true, learnedAt: known.learnedAt, digest: known.digest } : {};
    await sendWithBackpressure(stream, frame(PublicPairingAnswer.encode(reply)));
    await stream.close();
  }
}

async function lookUp(
  knowledge: PublicKnowledge,
  query: PublicPairingQuery,
): Promise<PublicAnswer | undefined> {
  if (query.registry === '' || !accepts(validateRepository, query.repository)) return undefined;
  if (query.tag !== '') {
    if (!accepts(validateTag, query.tag)) return undefined;
    const found = await knowledge.tag(query.registry, query.repository, query.tag);
    return found && { learnedAt: found.resolvedAt, digest: found.digest };
  }
  if (!isDigest(query.digest)) return undefined;
  const digest = query.digest as Digest;
  const learnedAt = knowledge.since(query.registry, query.repository, digest);
  return learnedAt === undefined ? undefined : { learnedAt, digest };
}

/**
 * Asks up to a few `candidates` at once; the most recent answer any of them gives, or undefined.
 * For a digest the answer's digest is that digest; for a tag, the manifest the tag named.
 */
export async function askPublicPairing(
  node: ShoalNode,
  candidates: Provider[],
  query: { registry: string; repository: string } & ({ digest: Digest } | { tag: string }),
  logger: Logger,
): Promise<PublicAnswer | undefined> {
  const self = node.peerId.toString();
  const asked = candidates.filter((c) => c.id !== self).slice(0, MAX_ASKED);
  const answers = await Promise.all(
    asked.map((candidate) =>
      askOne(node, candidate, query).catch((error: Error) => {
        logger.debug({ peer: candidate.id, err: error.message }, 'public pairing query failed');
        return undefined;
      }),
    ),
  );
  let latest: PublicAnswer | undefined;
  for (const answer of answers) {
    if (answer === undefined) continue;
    // A digest question is answered about that digest only.
    if ('digest' in query && answer.digest !== query.digest) continue;
    if (latest === undefined || answer.learnedAt > latest.learnedAt) latest = answer;
  }
  return latest;
}

async function askOne(
  node: ShoalNode,
  candidate: Provider,
  query: { registry: string; repository: string } & ({ digest: Digest } | { tag: string }),
): Promise<PublicAnswer | undefined> {
  const signal = AbortSignal.timeout(ANSWER_TIMEOUT_MS);
  const peerId = peerIdFromString(candidate.id);
  await learnAddresses(node, peerId, candidate.addrs);
  const stream = await node.dialProtocol(peerId, ACCESS_PROTOCOL, { signal });
  try {
    await sendWithBackpressure(stream, frame(PublicPairingQuery.encode(query)));
    const bytes = byteStream(stream, { maxBufferSize: MAX_ANSWER_BYTES + 8 });
    const answer = PublicPairingAnswer.decode(await readFrame(bytes, MAX_ANSWER_BYTES, { signal }));
    await stream.close();
    if (!answer.known || !isDigest(answer.digest)) return undefined;
    return { learnedAt: Number(answer.learnedAt), digest: answer.digest as Digest };
  } catch (error) {
    stream.abort(error as Error);
    throw error;
  }
}

/** Whether a validator of @shoal/oci accepts `value` (they throw on what they refuse). */
function accepts(validate: (value: string) => unknown, value: string): boolean {
  try {
    validate(value);
    return true;
  } catch {
    return false;
  }
}
