import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  MAX_MESSAGE_BYTES,
  PEER_MESSAGE_LIMITS,
  PeerMessage,
  PieceRequest,
  PieceResponse,
  SchedulerMessage,
} from '../src/index.ts';

const RUNS = 2000;

interface Decoder {
  name: string;
  decode(bytes: Uint8Array): unknown;
}

const DECODERS: Decoder[] = [
  { name: 'PeerMessage', decode: (b) => PeerMessage.decode(b) },
  { name: 'PeerMessage (limited)', decode: (b) => PeerMessage.decode(b, { limits: PEER_MESSAGE_LIMITS }) },
  { name: 'SchedulerMessage', decode: (b) => SchedulerMessage.decode(b) },
  { name: 'PieceRequest', decode: (b) => PieceRequest.decode(b) },
  { name: 'PieceResponse', decode: (b) => PieceResponse.decode(b) },
];

/** Decodes; an exception must be an Error (never a string, undefined or a hang). */
function decodeOrError(decoder: Decoder, bytes: Uint8Array): unknown {
  try {
    return decoder.decode(bytes);
  } catch (error) {
    assert.ok(error instanceof Error, `${decoder.name} threw a non-Error: ${String(error)}`);
    return undefined;
  }
}

const u32 = fc.nat({ max: 0xffffffff });
/** Sizes and rates: any a number holds exactly, and often the edges of 32 bits, where a varint writer may slip. */
const u64 = fc.oneof(fc.constantFrom(2 ** 31 - 1, 2 ** 31, 3e9, 2 ** 32 - 1, 2 ** 32), fc.maxSafeNat());
const text = fc.string({ maxLength: 40 });
const bytes = fc.uint8Array({ maxLength: 40 });

const register = fc.record({
  addrs: fc.array(text, { maxLength: 4 }),
  labels: fc.array(fc.tuple(text, text), { maxLength: 4 }).map((entries) => new Map(entries)),
  uploadSlots: u32,
  uploadRate: u64,
  downloadRate: u64,
  holdings: fc.array(
    fc.record({ digest: text, size: u64, pieceSize: u32, bitfield: bytes, complete: fc.boolean() }),
    { maxLength: 4 },
  ),
});
const openTask = fc.record({ digest: text, size: u64, bitfield: bytes, want: u32 });
const report = fc.record({
  digest: text,
  done: fc.array(fc.record({ index: u32, sha256: bytes, parent: text, millis: u32, length: u32 }), {
    maxLength: 4,
  }),
  failed: fc.array(fc.record({ index: u32, parent: text, reason: u32 }), { maxLength: 4 }),
  want: u32,
});
const taskDone = fc.record({ digest: text, ok: fc.boolean(), error: text, digestMismatch: fc.boolean() });
const preheatDone = fc.record({ job: text, digest: text, ok: fc.boolean(), error: text });
const peerMessage = fc.record(
  { register, openTask, report, taskDone, preheatDone },
  { requiredKeys: [] },
) as fc.Arbitrary<PeerMessage>;

const peerRef = fc.record({ id: text, addrs: fc.array(text, { maxLength: 3 }) });
const schedulerMessage = fc.record(
  {
    taskInfo: fc.record({
      digest: text,
      size: u64,
      pieceSize: u32,
      members: fc.array(peerRef, { maxLength: 3 }),
    }),
    assignments: fc.record({
      digest: text,
      pieces: fc.array(
        fc.record({
          index: u32,
          parent: text,
          parentAddrs: fc.array(text, { maxLength: 3 }),
          sha256: bytes,
          lease: u32,
          pending: fc.boolean(),
        }),
        { maxLength: 4 },
      ),
      origin: fc.array(fc.record({ first: u32, count: u32 }), { maxLength: 3 }),
    }),
    reset: fc.record({ digest: text, reason: text }),
    preheat: fc.record({
      job: text,
      registry: text,
      repository: text,
      digest: text,
      manifest: fc.boolean(),
      tag: text,
    }),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<SchedulerMessage>;

const pieceRequest = fc.record({ digest: text, index: u32, waitMs: u32 });
const pieceResponse = fc.record({ status: u32, length: u32, sha256: bytes, message: text, blobSize: u64 });

/** Valid encodings of every message kind, so mutations start from something the decoders take apart deeply. */
const validEncoding = fc.oneof(
  peerMessage.map((m) => PeerMessage.encode(m)),
  schedulerMessage.map((m) => SchedulerMessage.encode(m)),
  pieceRequest.map((m) => PieceRequest.encode(m)),
  pieceResponse.map((m) => PieceResponse.encode(m)),
);

type Mutation = { kind: 'flip' | 'set' | 'cut' | 'insert'; at: number; value: number };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'set', 'cut', 'insert'),
  at: fc.nat(),
  value: fc.oneof(fc.nat({ max: 255 }), fc.constantFrom(0x80, 0xff, 0x7f, 0x0a, 0x12, 0x1a, 0x22)),
});

function mutate(input: Uint8Array, mutations: Mutation[]): Uint8Array {
  let out = Uint8Array.from(input);
  for (const { kind, at, value } of mutations) {
    const i = out.length === 0 ? 0 : at % out.length;
    if (kind === 'flip' && out.length > 0) out[i]! ^= 1 << (value % 8);
    else if (kind === 'set' && out.length > 0) out[i] = value;
    else if (kind === 'cut') out = out.subarray(0, i);
    else {
      const grown = new Uint8Array(out.length + 1);
      grown.set(out.subarray(0, i), 0);
      grown[i] = value;
      grown.set(out.subarray(i), i + 1);
      out = grown;
    }
  }
  return out;
}

/** Protobuf wire bytes built from random fields, with lengths that may lie. */
const fieldSoup = fc
  .array(
    fc.record({
      field: fc.integer({ min: 1, max: 20 }),
      wireType: fc.integer({ min: 0, max: 7 }),
      payload: fc.uint8Array({ maxLength: 24 }),
      claimedLength: fc.option(
        fc.oneof(fc.nat({ max: 64 }), fc.constant(0x7fffffff), fc.constant(0xffffffff)),
      ),
    }),
    { maxLength: 12 },
  )
  .map((fields) => {
    const out: number[] = [];
    for (const { field, wireType, payload, claimedLength } of fields) {
      out.push(...varint(field * 8 + wireType));
      if (wireType === 2) out.push(...varint(claimedLength ?? payload.length));
      out.push(...payload);
    }
    return Uint8Array.from(out);
  });

function varint(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return out;
}

/** `count` copies of an empty length-delimited field, nested inside the given outer fields. */
function repeatedEmpty(inner: number, outer: number[], size: number): Uint8Array {
  const body = new Uint8Array(size - 16);
  for (let i = 0; i + 1 < body.length; i += 2) {
    body[i] = (inner << 3) | 2;
    body[i + 1] = 0;
  }
  let message = body;
  for (const field of outer.toReversed()) {
    const prefix = [(field << 3) | 2, ...varint(message.length)];
    const next = new Uint8Array(prefix.length + message.length);
    next.set(prefix, 0);
    next.set(message, prefix.length);
    message = next;
  }
  return message;
}

describe('fuzzing the protobuf decoders', () => {
  for (const decoder of DECODERS) {
    it(`${decoder.name} decodes arbitrary bytes or throws an Error`, () => {
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 256 }), fieldSoup), (input) => {
          decodeOrError(decoder, input);
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('every decoder survives mutations of valid messages', () => {
    fc.assert(
      fc.property(validEncoding, fc.array(mutation, { minLength: 1, maxLength: 4 }), (encoded, mutations) => {
        const input = mutate(encoded, mutations);
        for (const decoder of DECODERS) decodeOrError(decoder, input);
      }),
      { numRuns: RUNS },
    );
  });

  it('valid messages round-trip', () => {
    fc.assert(
      fc.property(peerMessage, schedulerMessage, pieceRequest, pieceResponse, (peer, sched, req, res) => {
        // structuredClone: the generated records have no prototype, decoded messages do.
        const same = (actual: unknown, expected: unknown) =>
          assert.deepEqual(actual, structuredClone(expected));
        same(PeerMessage.decode(PeerMessage.encode(peer), { limits: PEER_MESSAGE_LIMITS }), peer);
        same(SchedulerMessage.decode(SchedulerMessage.encode(sched)), sched);
        same(PieceRequest.decode(PieceRequest.encode(req)), { pieceSize: 0, ...req });
        same(PieceResponse.decode(PieceResponse.encode(res)), res);
      }),
      { numRuns: RUNS },
    );
  });

  it('a length-delimited field claiming more than the buffer holds is refused, not allocated', () => {
    for (const claimed of [MAX_MESSAGE_BYTES, 2 ** 31 - 1, 2 ** 32 - 1]) {
      const input = Uint8Array.from([0x0a, ...varint(claimed), 1, 2, 3]);
      for (const decoder of DECODERS) {
        assert.throws(() => decoder.decode(input), Error, `${decoder.name} with a ${claimed} byte claim`);
      }
    }
  });

  it('a MAX_MESSAGE_BYTES frame of empty entries cannot blow up a limited PeerMessage decode', () => {
    // Field numbers from shoal.proto: register=1 {addrs=1, labels=2, holdings=6}, report=3 {done=2, failed=3}.
    const cases: { what: string; inner: number; outer: number[] }[] = [
      { what: 'register.addrs', inner: 1, outer: [1] },
      { what: 'register.labels', inner: 2, outer: [1] },
      { what: 'register.holdings', inner: 6, outer: [1] },
      { what: 'report.done', inner: 2, outer: [3] },
      { what: 'report.failed', inner: 3, outer: [3] },
    ];
    for (const { what, inner, outer } of cases) {
      const frame = repeatedEmpty(inner, outer, MAX_MESSAGE_BYTES);
      assert.ok(frame.length <= MAX_MESSAGE_BYTES);
      const started = performance.now();
      let decoded: PeerMessage | undefined;
      try {
        decoded = PeerMessage.decode(frame, { limits: PEER_MESSAGE_LIMITS });
      } catch (error) {
        assert.ok(error instanceof Error && /too many elements/.test(error.message), `${what}: ${error}`);
      }
      const ms = performance.now() - started;
      // Map entries with the same (empty) key collapse into one, so labels may decode, but small.
      if (decoded !== undefined) assert.equal(decoded.register?.labels.size, 1, what);
      assert.ok(ms < 3000, `${what}: decoding took ${ms.toFixed(0)} ms`);
    }
  });

  it('limited decodes keep every repeated field within its cap', () => {
    const limits = PEER_MESSAGE_LIMITS;
    fc.assert(
      fc.property(fc.nat({ max: 5 }), fc.integer({ min: 1, max: 200_000 }), (which, entries) => {
        const path = (
          [
            { inner: 1, outer: [1] },
            { inner: 2, outer: [1] },
            { inner: 6, outer: [1] },
            { inner: 2, outer: [3] },
            { inner: 3, outer: [3] },
            { inner: 1, outer: [1] },
          ] as const
        )[which]!;
        const frame = repeatedEmpty(path.inner, [...path.outer], entries * 2 + 16);
        let message: PeerMessage;
        try {
          message = PeerMessage.decode(frame, { limits });
        } catch (error) {
          assert.ok(error instanceof Error);
          return;
        }
        const r = message.register;
        if (r) {
          assert.ok(r.addrs.length <= limits.register.addrs);
          assert.ok(r.labels.size <= limits.register.labels);
          assert.ok(r.holdings.length <= limits.register.holdings);
        }
        if (message.report) {
          assert.ok(message.report.done.length <= limits.report.done);
          assert.ok(message.report.failed.length <= limits.report.failed);
        }
      }),
      { numRuns: 40 },
    );
  });
});
