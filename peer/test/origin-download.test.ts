/**
 * The origin download (peer/src/task/origin-download.ts) on a real task and
 * store, against a scripted origin whose answer the test holds back.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Digest } from '@shoal/oci';
import { createLogger } from '@shoal/telemetry';
import { BlobStore } from '../src/store/blob-store.ts';
import { StorePaths } from '../src/store/paths.ts';
import { BlobTask } from '../src/task/blob-task.ts';
import { downloadFromOrigin, type OriginSource } from '../src/task/origin-download.ts';

const MIB = 1024 * 1024;
const blob = randomBytes(5 * MIB);
const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}` as Digest;

/** An origin that answers `open` only once `answer()` is called; `knownSize` as given. */
function heldOrigin(knownSize: number | undefined, size = blob.length) {
  const gate = Promise.withResolvers<void>();
  let opens = 0;
  const source: OriginSource = {
    probeSize: async () => size,
    ...(knownSize === undefined ? {} : { knownSize: () => knownSize }),
    async open(start) {
      opens++;
      await gate.promise;
      return {
        size,
        start,
        body: (async function* () {
          for (let at = start; at < blob.length; at += MIB) yield blob.subarray(at, at + MIB);
        })(),
        cancel() {},
      };
    },
  };
  return { source, answer: () => gate.resolve(), opens: () => opens };
}

describe('origin download', () => {
  let dir: string;
  let stores = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-origin-download-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function freshTask(): Promise<BlobTask> {
    const store = new BlobStore({
      paths: new StorePaths(join(dir, `store-${stores++}`)),
      capacity: 1024 * MIB,
      logger: createLogger({ level: 'silent' }),
    });
    await store.init();
    return new BlobTask(digest, store);
  }

  const settledWithin = (promise: Promise<unknown>, ms: number) =>
    Promise.race([
      promise.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms)),
    ]);

  it('lays the blob out from a size upstream gave already, before its body answers', async () => {
    const task = await freshTask();
    const origin = heldOrigin(blob.length);
    const running = downloadFromOrigin(task, origin.source);
    assert.equal(await settledWithin(task.sized, 2_000), true, 'sized while the body is held back');
    assert.equal(task.layout?.size, blob.length);
    origin.answer();
    await running;
    await task.finished;
    assert.equal(task.state, 'complete');
  });

  it('opens its stream only once a range fetched ahead for a client is done', async () => {
    const task = await freshTask();
    await task.create(blob.length);
    const ahead = task.firstFetches.claim([2]);
    const origin = heldOrigin(blob.length);
    origin.answer();
    const running = downloadFromOrigin(task, origin.source);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(origin.opens(), 0, 'not opened while the range ahead runs');
    task.firstFetches.release(ahead);
    await running;
    assert.equal(origin.opens(), 1);
    await task.finished;
  });

  it('without a known size waits for the body to tell it', async () => {
    const task = await freshTask();
    const origin = heldOrigin(undefined);
    const running = downloadFromOrigin(task, origin.source);
    assert.equal(await settledWithin(task.sized, 200), false, 'no layout before the answer');
    origin.answer();
    await running;
    await task.finished;
    assert.equal(task.state, 'complete');
  });

  it('a body whose size disagrees with the known size ends the task, nothing kept', async () => {
    const task = await freshTask();
    const origin = heldOrigin(blob.length, blob.length + 1);
    origin.answer();
    const error = await downloadFromOrigin(task, origin.source).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.match(String(error?.message), /origin reports size/);
    // As the task manager does with a task whose source failed: its partial, without a piece, goes.
    const dataPath = task.partial!.dataPath;
    await task.fail(error!);
    assert.equal(task.state, 'failed');
    assert.equal(existsSync(dataPath), false, 'no partial left');
  });
});
