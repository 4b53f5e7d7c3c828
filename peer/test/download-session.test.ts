/**
 * The scheduled download (peer/src/download/session.ts) in process: a real
 * task on a real blob store, fed by fake sources — a scripted scheduler line,
 * parents and an origin whose answers each test decides — on a manual clock.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Digest } from '@shoal/oci';
import {
  FailureReason,
  type PeerMessage,
  type PieceAssignment,
  type PieceReport,
  pieceTimeoutMs,
} from '@shoal/protocol';
import { createLogger } from '@shoal/telemetry';
import { Registry } from 'prom-client';
import {
  type Clock,
  type FetchedPiece,
  type OriginPieces,
  type ParentPieceRequest,
  PieceFetchError,
  type TaskListener,
  type Timer,
} from '../src/download/ports.ts';
import { downloadWithScheduler } from '../src/download/session.ts';
import { SwarmProgress } from '../src/download/swarm-progress.ts';
import { createPeerMetrics, type PeerGaugeSources } from '../src/metrics.ts';
import { BlobStore } from '../src/store/blob-store.ts';
import { StorePaths } from '../src/store/paths.ts';
import { BlobTask } from '../src/task/blob-task.ts';
import { OriginStalledError } from '../src/task/errors.ts';

/** Gauges nobody scrapes here: every source reads 0. */
const unscraped = new Proxy({}, { get: () => () => 0 }) as PeerGaugeSources;

const MIB = 1024 * 1024;
const PIECES = 4;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

/** Timers that fire only when the test moves time on. */
class ManualClock implements Clock {
  #now = 0;
  #timers = new Set<{ at: number; fn: () => void }>();
  now(): number {
    return this.#now;
  }
  setTimer(fn: () => void, ms: number): Timer {
    const timer = { at: this.#now + ms, fn };
    this.#timers.add(timer);
    return { cancel: () => this.#timers.delete(timer) };
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(resolve, ms));
  }
  advance(ms: number): void {
    this.#now += ms;
    for (const timer of [...this.#timers].sort((a, b) => a.at - b.at)) {
      if (timer.at > this.#now) break;
      this.#timers.delete(timer);
      timer.fn();
    }
  }
}

/** Lets promise chains and I/O settle until `ready` holds, moving `clock` on by report delays meanwhile. */
async function until(ready: () => boolean, what: string, clock?: ManualClock): Promise<void> {
  for (let i = 0; i < 2_000 && !ready(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    clock?.advance(5);
  }
  assert.ok(ready(), `timed out waiting for ${what}`);
}

describe('scheduled download with fake sources', { timeout: 60_000 }, () => {
  let dir = '';
  let stores = 0;
  const blob = randomBytes(PIECES * MIB);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}` as Digest;
  const pieceBytes = (index: number) => blob.subarray(index * MIB, (index + 1) * MIB);
  const metrics = createPeerMetrics(new Registry(), unscraped);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-session-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const piece = (index: number, bytes = pieceBytes(index)): FetchedPiece => ({
    chunks: [bytes],
    release: () => {},
    length: bytes.length,
    blobSize: blob.length,
    sha256Hex: sha256(bytes).toString('hex'),
    millis: 1,
  });
  const assignment = (index: number, parent: string): PieceAssignment => ({
    index,
    parent,
    parentAddrs: [],
    sha256: sha256(pieceBytes(index)),
    lease: 0,
    pending: false,
  });

  /** The origin as a fake: whole pieces from the blob, or `fail` for every range. */
  const fakeOrigin = (task: BlobTask, fail?: () => Error): OriginPieces => ({
    probeSize: async () => blob.length,
    async fill(range, onPiece) {
      if (fail) throw fail();
      const first = range?.first ?? 0;
      const count = range?.count ?? PIECES;
      for (let index = first; index < first + count; index++) {
        if (task.has(index)) continue;
        await task.writeChunks(index * MIB, [pieceBytes(index)]);
        const hex = sha256(pieceBytes(index)).toString('hex');
        onPiece?.(index, hex);
        await task.landPiece(index, hex, 'origin');
      }
    },
  });

  /** Starts a download on a fresh store entry with a scripted scheduler line. */
  async function start(options: {
    parents: (request: ParentPieceRequest) => Promise<FetchedPiece>;
    originFails?: () => Error;
    fallback?: () => Promise<void>;
    /** share the node's progress with sibling downloads the test plays */
    swarmProgress?: boolean;
    /** the link's first connection, still coming up when the download starts */
    linkReady?: Promise<void>;
  }) {
    const store = new BlobStore({
      paths: new StorePaths(join(dir, `store-${stores++}`)),
      capacity: 1024 * MIB,
      logger: createLogger({ level: 'silent' }),
    });
    await store.init();
    const task = new BlobTask(digest, store);
    const clock = new ManualClock();
    const swarmProgress = options.swarmProgress ? new SwarmProgress(clock) : undefined;
    const sent: PeerMessage[] = [];
    let listener: TaskListener | undefined;
    let closed = false;
    const origin = fakeOrigin(task, options.originFails);
    const fallbackParents: string[][] = [];
    // As the daemon's client: no line until its first session is up.
    let linkUp = options.linkReady === undefined;
    void options.linkReady?.then(() => (linkUp = true));
    const running = downloadWithScheduler(
      task,
      {
        ready: () => options.linkReady ?? Promise.resolve(),
        openTask(_digest, l) {
          if (!linkUp) return undefined;
          listener = l;
          return { send: (m) => sent.push(m), close: () => (closed = true) };
        },
      },
      {
        parents: { fetch: options.parents },
        origin,
        clock,
        metrics,
        logger: createLogger({ level: 'silent' }),
        downloadSlots: 4,
        pieceTimeoutMs: 10_000,
        stallTimeoutMs: 30_000,
        ...(swarmProgress ? { swarmProgress } : {}),
        fallback: async (known) => {
          fallbackParents.push(known.map((p) => p.id));
          await (options.fallback?.() ?? origin.fill(undefined));
        },
      },
    );
    await until(() => sent.some((m) => m.openTask), 'the task to open');
    listener!.onMessage({ taskInfo: { digest, size: blob.length, pieceSize: MIB, members: [] } });
    await until(() => task.layout !== undefined, 'the layout');
    const reports = () => sent.flatMap((m) => (m.report ? [m.report] : [])) as PieceReport[];
    return {
      task,
      clock,
      sent,
      reports,
      done: () => reports().flatMap((r) => r.done.map((d) => d.index)),
      failed: () => reports().flatMap((r) => r.failed),
      assign: (pieces: PieceAssignment[], origin: { first: number; count: number }[] = []) =>
        listener!.onMessage({ assignments: { digest, pieces, origin } }),
      disconnect: () => listener!.onDisconnect(),
      running,
      closed: () => closed,
      fallbackParents,
      swarmProgress,
    };
  }

  const taskDone = (sent: PeerMessage[]) => sent.find((m) => m.taskDone)?.taskDone;

  it('a parent that dies mid-piece is reported unavailable, and the piece comes from another', async () => {
    const d = await start({
      parents: async (request) => {
        if (request.parent === 'dying')
          throw new PieceFetchError('UNAVAILABLE', 'stream reset mid-piece', { unreachable: true });
        return piece(request.index);
      },
    });
    d.assign([assignment(0, 'good'), assignment(1, 'dying'), assignment(2, 'good'), assignment(3, 'good')]);
    await until(() => d.failed().length === 1, 'the failure report', d.clock);
    assert.deepEqual(d.failed(), [{ index: 1, parent: 'dying', reason: FailureReason.unavailable }]);
    d.assign([assignment(1, 'good')]);
    await d.running;
    assert.deepEqual(
      d.done().sort((a, b) => a - b),
      [0, 1, 2, 3],
    );
    assert.deepEqual(taskDone(d.sent), { digest, ok: true, error: '', digestMismatch: false });
    assert.ok(d.closed());
  });

  it('a piece that fails its hash is reported as a mismatch against its parent and not landed', async () => {
    const d = await start({
      parents: async (request) => {
        if (request.parent === 'liar') throw new PieceFetchError('MISMATCH', 'piece 2 failed its sha256');
        return piece(request.index);
      },
    });
    d.assign([assignment(2, 'liar')]);
    await until(() => d.failed().length === 1, 'the mismatch report', d.clock);
    assert.deepEqual(d.failed(), [{ index: 2, parent: 'liar', reason: FailureReason.mismatch }]);
    assert.equal(d.task.has(2), false);
    d.assign([assignment(0, 'good'), assignment(1, 'good'), assignment(2, 'good'), assignment(3, 'good')]);
    await d.running;
    assert.equal(taskDone(d.sent)?.ok, true);
  });

  it('a parent that answers it does not hold the piece is reported as absent, for the scheduler to forget', async () => {
    const d = await start({
      parents: async (request) => {
        if (request.parent === 'evicted')
          throw new PieceFetchError('ABSENT', 'parent answered status 1: piece not here');
        return piece(request.index);
      },
    });
    d.assign([assignment(3, 'evicted')]);
    await until(() => d.failed().length === 1, 'the absent report', d.clock);
    assert.deepEqual(d.failed(), [{ index: 3, parent: 'evicted', reason: FailureReason.absent }]);
    d.assign([0, 1, 2, 3].map((index) => assignment(index, 'good')));
    await d.running;
    assert.equal(taskDone(d.sent)?.ok, true);
  });

  it('asks the parent of a pending piece to wait for it, within twice the piece deadline; others at once', async () => {
    const asked: { index: number; waitMs: number | undefined; timeoutMs: number }[] = [];
    const d = await start({
      parents: async (request) => {
        asked.push({ index: request.index, waitMs: request.waitMs, timeoutMs: request.timeoutMs });
        return piece(request.index);
      },
    });
    d.assign([0, 1, 2, 3].map((index) => ({ ...assignment(index, 'p'), lease: 1, pending: index >= 2 })));
    await d.running;
    assert.equal(taskDone(d.sent)?.ok, true);
    const timeoutMs = pieceTimeoutMs(MIB, 10_000);
    assert.deepEqual(asked, [
      { index: 0, waitMs: undefined, timeoutMs },
      { index: 1, waitMs: undefined, timeoutMs },
      { index: 2, waitMs: timeoutMs, timeoutMs: 2 * timeoutMs },
      { index: 3, waitMs: timeoutMs, timeoutMs: 2 * timeoutMs },
    ]);
  });

  it('when the scheduler disappears the fallback finishes the blob with the parents met so far', async () => {
    const d = await start({ parents: async (request) => piece(request.index) });
    d.assign([assignment(0, 'p1')]);
    await until(() => d.done().includes(0), 'piece 0');
    d.disconnect();
    await d.running;
    assert.deepEqual(d.fallbackParents, [['p1']]);
    assert.equal(d.task.state, 'complete');
    assert.equal(taskDone(d.sent)?.ok, true);
  });

  it('a download that starts while the scheduler link is still coming up waits for it, not going without', async () => {
    const link = Promise.withResolvers<void>();
    setTimeout(() => link.resolve(), 50);
    const d = await start({ parents: async (request) => piece(request.index), linkReady: link.promise });
    d.assign([assignment(0, 'p1'), assignment(1, 'p1'), assignment(2, 'p1'), assignment(3, 'p1')]);
    assert.equal(await d.running, true, 'scheduled');
    assert.equal(d.fallbackParents.length, 0);
    assert.equal(d.task.state, 'complete');
  });

  it('a scheduler that stops answering is given up after the stall timeout on the clock', async () => {
    const d = await start({ parents: async (request) => piece(request.index) });
    d.clock.advance(29_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(d.fallbackParents.length, 0, 'no fallback before the stall timeout');
    d.clock.advance(1_000);
    await d.running;
    assert.equal(d.fallbackParents.length, 1);
    assert.equal(d.task.state, 'complete');
  });

  it('an assignment of nothing (the scheduler keeps it waiting for a parent) is not a stall', async () => {
    const d = await start({ parents: async (request) => piece(request.index) });
    for (let i = 0; i < 4; i++) {
      d.clock.advance(10_000);
      d.assign([]);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(d.fallbackParents.length, 0, '40 s waiting, told every 10 s: not stalled');
    d.clock.advance(29_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(d.fallbackParents.length, 0);
    d.clock.advance(1_000);
    await d.running;
    assert.equal(d.fallbackParents.length, 1, 'told nothing for the stall timeout: stalled');
  });

  it('a download left waiting while its siblings land pieces is not stalled; once the node is idle it is', async () => {
    const d = await start({ parents: async (request) => piece(request.index), swarmProgress: true });
    d.clock.advance(20_000);
    d.swarmProgress!.touch(); // a sibling download (another layer) lands a piece
    d.clock.advance(20_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(d.fallbackParents.length, 0, 'the scheduler is there: this one waits its turn');
    d.clock.advance(9_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(d.fallbackParents.length, 0);
    d.clock.advance(1_000);
    await d.running;
    assert.equal(d.fallbackParents.length, 1, 'nothing landed anywhere for the stall timeout');
  });

  it('a piece still arriving on a slow link after the stall timeout is progress, not a stall', async () => {
    const requests: ParentPieceRequest[] = [];
    let deliver: (() => void) | undefined;
    const d = await start({
      parents: (request) => {
        requests.push(request);
        return new Promise((resolve) => {
          deliver = () => resolve(piece(request.index));
        });
      },
    });
    d.assign([assignment(0, 'slow')]);
    await until(() => requests.length === 1, 'the fetch');
    // 1 MiB at the slowest rate waited for (64 KiB/s) is 16 s: more than the 10 s floor.
    assert.equal(requests[0]!.timeoutMs, 16_000);
    for (let second = 0; second < 45; second++) {
      d.clock.advance(1_000);
      requests[0]!.onBytes?.(20_000);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(d.fallbackParents.length, 0, 'bytes kept arriving');
    deliver!();
    await until(() => d.done().length === 1, 'the piece', d.clock);
    d.assign([assignment(1, 'good'), assignment(2, 'good'), assignment(3, 'good')]);
    deliver = undefined;
    await until(() => requests.length === 4, 'the other fetches');
    for (const request of requests.slice(1)) request.onBytes?.(1);
    d.clock.advance(29_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(d.fallbackParents.length, 0);
    d.clock.advance(1_000);
    await d.running;
    assert.equal(d.fallbackParents.length, 1, 'no byte for the stall timeout: stalled');
  });
  it('in the endgame the duplicate that lands second is dropped: no second report, its fetch aborted', async () => {
    const slow = Promise.withResolvers<void>();
    let secondAborted = false;
    let released = 0;
    const d = await start({
      parents: async (request) => {
        if (request.parent === 'slow') {
          request.signal?.addEventListener('abort', () => (secondAborted = true));
          await slow.promise;
          return { ...piece(request.index), release: () => released++ };
        }
        return piece(request.index);
      },
    });
    d.assign([assignment(0, 'fast'), assignment(1, 'fast'), assignment(2, 'fast')]);
    await until(() => d.done().length === 3, 'the first pieces');
    // Endgame: piece 3 from two parents; the fast one lands first.
    const before =
      (await metrics.pieces.get()).values.find((v) => v.labels.result === 'superseded')?.value ?? 0;
    d.assign([assignment(3, 'slow'), assignment(3, 'fast')]);
    await d.running;
    assert.ok(secondAborted, 'the slower fetch is told to stop');
    slow.resolve();
    await until(() => released === 1, 'the late copy to be released');
    const after =
      (await metrics.pieces.get()).values.find((v) => v.labels.result === 'superseded')?.value ?? 0;
    assert.equal(after - before, 1);
    assert.deepEqual(
      d.done().filter((i) => i === 3),
      [3],
      'piece 3 reported once',
    );
    assert.deepEqual(d.failed(), []);
  });

  it('an origin range that times out is reported as failed origin pieces after a pause, for someone else', async () => {
    const d = await start({
      parents: async (request) => piece(request.index),
      originFails: () => new OriginStalledError(1024, 10_000),
      fallback: async () => {},
    });
    d.assign([], [{ first: 0, count: 2 }]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(d.failed(), [], 'held back during the pause');
    d.clock.advance(250);
    await until(() => d.failed().length === 2, 'the origin failures', d.clock);
    assert.deepEqual(d.failed(), [
      { index: 0, parent: '', reason: FailureReason.origin },
      { index: 1, parent: '', reason: FailureReason.origin },
    ]);
    d.assign([0, 1, 2, 3].map((i) => assignment(i, 'good')));
    await d.running;
    assert.equal(taskDone(d.sent)?.ok, true);
  });
  it("a lease's pieces come from its parent one after another, on one download slot", async () => {
    let active = 0;
    let most = 0;
    const order: number[] = [];
    const d = await start({
      parents: async (request) => {
        active++;
        most = Math.max(most, active);
        order.push(request.index);
        await new Promise((resolve) => setTimeout(resolve, 5));
        active--;
        return piece(request.index);
      },
    });
    d.assign([3, 1, 0, 2].map((index) => ({ ...assignment(index, 'p'), lease: 1 })));
    await d.running;
    assert.equal(most, 1, 'never two of its pieces at once');
    assert.deepEqual(order, [3, 1, 0, 2], 'in the order the scheduler gave');
    assert.equal(taskDone(d.sent)?.ok, true);
    // Its pieces landing free no slot until the last: they wait for the report timer (never advanced
    // here), and the lease's end reports all four at once.
    assert.equal(d.reports().length, 1);
    assert.deepEqual(d.done(), [3, 1, 0, 2]);
  });

  it("a lease's parent that cannot be reached gets no more of it: the rest are reported failed at once", async () => {
    const asked: string[] = [];
    const d = await start({
      parents: async (request) => {
        asked.push(`${request.parent}:${request.index}`);
        if (request.parent === 'gone')
          throw new PieceFetchError('UNAVAILABLE', 'dial failed', { unreachable: true });
        return piece(request.index);
      },
    });
    d.assign([0, 1, 2].map((index) => ({ ...assignment(index, 'gone'), lease: 1 })));
    await until(() => d.failed().length === 3, 'the failure report', d.clock);
    assert.deepEqual(asked, ['gone:0'], 'asked once, not once per piece');
    assert.deepEqual(
      d.failed().map((f) => [f.index, f.reason]),
      [0, 1, 2].map((index) => [index, FailureReason.unavailable]),
    );
    d.assign([0, 1, 2, 3].map((index) => assignment(index, 'good')));
    await d.running;
    assert.equal(taskDone(d.sent)?.ok, true);
  });
  it('tells the scheduler where a client reads the blob, and stops once it no longer reads', async () => {
    const d = await start({ parents: async (request) => piece(request.index) });
    const reader = d.task.reader(2 * MIB + 10, blob.length);
    d.assign([assignment(0, 'p')]);
    await until(() => d.done().includes(0), 'the report of piece 0', d.clock);
    assert.equal(d.reports().at(-1)!.reading, 2, 'the piece its next byte is in');
    // It reads piece 2 once the piece is in, and moves on to piece 3.
    d.assign([assignment(2, 'p')]);
    const into = Buffer.alloc(MIB - 10);
    assert.equal(await reader.fill(into), MIB - 10);
    assert.ok(into.equals(pieceBytes(2).subarray(10)));
    d.assign([assignment(1, 'p')]);
    await until(() => d.done().includes(1), 'the report of piece 1', d.clock);
    assert.equal(d.reports().at(-1)!.reading, 3);
    await reader.close();
    d.assign([assignment(3, 'p')]);
    await d.running;
    assert.equal(d.reports().at(-1)!.reading, undefined, 'nobody reads any more');
  });
});
