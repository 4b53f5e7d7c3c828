import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Stream } from '@libp2p/interface';
import type { Libp2p } from 'libp2p';

/** The test protocol answered by `answerWithHash`. */
export const ECHO_HASH_PROTOCOL = '/shoal-test/echo-hash/1.0.0';
const MIB = 1024 * 1024;
/** What answerWithHash sends back after the hashes: uneven, so partial cipher blocks are crossed. */
const REPLY_BYTES = 3 * MIB + 13;

/** Reads the whole stream, then answers with its sha256, the sha256 of a random reply, and that reply. */
export async function answerWithHash(stream: Stream): Promise<void> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk.subarray());
  const reply = randomBytes(REPLY_BYTES);
  for (const part of [hash.digest(), createHash('sha256').update(reply).digest(), reply])
    if (!stream.send(part)) await stream.onDrain();
  await stream.close();
}

/** Sends `size` random bytes to `to` (which answers with answerWithHash) in uneven chunks; checks both ways. */
export async function exchange(from: Libp2p, to: Libp2p, size: number): Promise<void> {
  const stream = await from.dialProtocol(to.getMultiaddrs()[0]!, ECHO_HASH_PROTOCOL, {
    signal: AbortSignal.timeout(10_000),
  });
  const sent = randomBytes(size);
  const chunk = MIB - 3;
  for (let offset = 0; offset < size; offset += chunk)
    if (!stream.send(sent.subarray(offset, offset + chunk))) await stream.onDrain();
  await stream.close();
  const received: Buffer[] = [];
  for await (const part of stream) received.push(Buffer.from(part.subarray()));
  const all = Buffer.concat(received);
  assert.deepEqual(
    all.subarray(0, 32),
    createHash('sha256').update(sent).digest(),
    'the remote read other bytes',
  );
  const reply = all.subarray(64);
  assert.equal(reply.length, REPLY_BYTES);
  assert.deepEqual(
    createHash('sha256').update(reply).digest(),
    all.subarray(32, 64),
    'this side read other bytes',
  );
}
