import { generateKeyPair } from '@libp2p/crypto/keys';
import { createShoalNode, frame, readFrame, sendWithBackpressure } from '/work/main/packages/p2p/src/index.ts';
import { PIECE_PROTOCOL, PieceRequest, PieceResponse } from '/work/main/packages/protocol/src/index.ts';
import { byteStream } from '@libp2p/utils';
import { fetchPiece } from '/work/main/peer/src/p2p/piece-fetcher.ts';
import { RateLimiter } from '/work/main/peer/src/p2p/rate-limiter.ts';
const a = await createShoalNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
const b = await createShoalNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
const piece = Buffer.alloc(4 * 1024 * 1024, 7);
const CH = Number(process.env.CH ?? 1024 * 1024);
await a.handle(PIECE_PROTOCOL, async (stream) => {
  const bytes = byteStream(stream);
  const req = PieceRequest.decode(await readFrame(bytes, 1024));
  await sendWithBackpressure(stream, frame(PieceResponse.encode({ status: 0, length: piece.length, sha256: new Uint8Array(0), message: '' })));
  for (let o = 0; o < piece.length; o += CH) await sendWithBackpressure(stream, piece.subarray(o, o + CH));
  await stream.close();
});
const addrs = a.getMultiaddrs().map(String);
const n = 50;
const t0 = performance.now();
const conc = Number(process.env.CONC ?? 1);
let next = 0;
await Promise.all(Array.from({ length: conc }, async () => {
  while (next < n) { next++;
    await fetchPiece(b, { parent: a.peerId.toString(), parentAddrs: addrs, digest: 'x', index: 0, expectedLength: piece.length, expectedSha256: new Uint8Array(0), timeoutMs: 30000, limiter: new RateLimiter(0) });
  }
}));
const s = (performance.now() - t0) / 1000;
console.log('MB/s', ((n * piece.length) / 1e6 / s).toFixed(1), 'conc', conc);
await a.stop(); await b.stop();
