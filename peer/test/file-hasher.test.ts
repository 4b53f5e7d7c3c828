import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Digest } from '@shoal/oci';
import { fileSource } from '../src/endpoint/body-io.ts';
import { CachedBlobMismatchError, fileCheckedBody } from '../src/endpoint/digest-checked-body.ts';
import { FileHasher } from '../src/store/file-hasher.ts';

const MIB = 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('FileHasher: sha256 of files on a worker thread', () => {
  let dir = '';
  const hasher = new FileHasher();
  const big = randomBytes(9 * MIB + 7);
  const small = randomBytes(1000);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-file-hasher-'));
    await writeFile(join(dir, 'big'), big);
    await writeFile(join(dir, 'small'), small);
  });

  after(async () => {
    await hasher.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('hashes a file, or its first bytes, as createHash does', async () => {
    assert.deepEqual(await hasher.hash(join(dir, 'big'), big.length), {
      hex: sha256(big),
      bytes: big.length,
    });
    assert.deepEqual(await hasher.hash(join(dir, 'big'), 5 * MIB + 1), {
      hex: sha256(big.subarray(0, 5 * MIB + 1)),
      bytes: 5 * MIB + 1,
    });
    assert.deepEqual(await hasher.hash(join(dir, 'small'), 0), { hex: sha256(new Uint8Array(0)), bytes: 0 });
  });

  it('files asked for at once take turns: a small one is not held behind a big one', async () => {
    // 4 GiB of zeros without the disk (a sparse file): seconds of hashing, far more than any scheduling delay.
    const huge = join(dir, 'huge');
    await writeFile(huge, '');
    await truncate(huge, 4 * 1024 * MIB);
    const stop = new AbortController();
    let hugeDone = false;
    const hugeHash = hasher.hash(huge, 4 * 1024 * MIB, stop.signal).then(
      () => {
        hugeDone = true;
      },
      () => {},
    );
    const s = await hasher.hash(join(dir, 'small'), small.length);
    assert.equal(s.hex, sha256(small));
    assert.equal(hugeDone, false, 'the small file was answered while the huge one was still being hashed');
    stop.abort();
    await hugeHash;
  });

  it('says how much a file shorter than asked held, and names a missing file', async () => {
    assert.deepEqual(await hasher.hash(join(dir, 'small'), 5000), {
      hex: sha256(small),
      bytes: small.length,
    });
    await assert.rejects(hasher.hash(join(dir, 'nothing'), 10), (error: NodeJS.ErrnoException) => {
      assert.equal(error.code, 'ENOENT');
      return true;
    });
  });

  it('gives work up when asked, and still hashes what comes next', async () => {
    const stop = new AbortController();
    const given = assert.rejects(hasher.hash(join(dir, 'big'), big.length, stop.signal), /client gone/);
    stop.abort(new Error('client gone'));
    await given;
    assert.equal((await hasher.hash(join(dir, 'small'), small.length)).hex, sha256(small));
  });

  it('reads no further than it is allowed, and goes on when allowed', async () => {
    const path = join(dir, 'big');
    const paced = hasher.start(path, big.length, { allowed: MIB });
    let answered = false;
    void paced.result.then(() => {
      answered = true;
    });
    // The whole 9 MiB takes milliseconds; allowed 1 MiB, it waits.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(answered, false, 'hashed past its allowance');
    paced.allow(big.length);
    assert.deepEqual(await paced.result, { hex: sha256(big), bytes: big.length });
  });

  it('callers of a file being hashed share one pass, paced by the furthest; one giving up leaves the others', async () => {
    const path = join(dir, 'big');
    const leaving = new AbortController();
    const first = hasher.start(path, big.length, { allowed: MIB });
    const second = hasher.start(path, big.length, { allowed: MIB });
    const gone = hasher.start(path, big.length, { allowed: MIB, signal: leaving.signal });
    leaving.abort(new Error('client gone'));
    await assert.rejects(gone.result, /client gone/);
    // Only the first lets it go further; the second, which never did, gets the same answer.
    first.allow(big.length);
    const expected = { hex: sha256(big), bytes: big.length };
    assert.deepEqual(await second.result, expected);
    assert.deepEqual(await first.result, expected);
  });

  it('keeps a process that has nothing else to do alive until it answers, and no longer', async () => {
    const script = join(dir, 'await-hash.ts');
    const module = join(import.meta.dirname, '../src/store/file-hasher.ts');
    await writeFile(
      script,
      `import { FileHasher } from ${JSON.stringify(module)};\n` +
        `const answer = await new FileHasher().hash(${JSON.stringify(join(dir, 'big'))}, ${big.length});\n` +
        'console.log(answer.hex);\n',
    );
    const started = performance.now();
    const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 20_000 });
    assert.equal(stdout.trim(), sha256(big));
    assert.ok(performance.now() - started < 15_000, 'the idle worker let the process exit');
  });

  it('fails what it was hashing when closed, and starts again on the next file', async () => {
    const other = new FileHasher();
    const failed = assert.rejects(other.hash(join(dir, 'big'), big.length), /closed/);
    await other.close();
    await failed;
    assert.equal((await other.hash(join(dir, 'small'), small.length)).hex, sha256(small));
    await other.close();
  });
});

describe('fileCheckedBody: a cached blob checked by a hash of its file made alongside', () => {
  let dir = '';
  const hasher = new FileHasher();
  const blob = randomBytes(5 * MIB + 3);
  const digest = `sha256:${sha256(blob)}` as Digest;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-checked-body-'));
  });

  after(async () => {
    await hasher.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Reads the whole body the way sendBody does; returns the bytes given before it threw, and the error. */
  async function drain(path: string, size: number): Promise<{ bytes: number; error?: Error }> {
    const body = fileCheckedBody(fileSource(path, 0), digest, size, (options) =>
      hasher.start(path, size, options),
    );
    const into = Buffer.alloc(256 * 1024);
    let bytes = 0;
    try {
      while (bytes < size) {
        const filled = await body.fill(into.subarray(0, Math.min(into.length, size - bytes)));
        if (filled <= 0) throw new Error('ended early');
        bytes += filled;
      }
      return { bytes };
    } catch (error) {
      return { bytes, error: error as Error };
    } finally {
      await body.close();
    }
  }

  it('gives every byte of a blob that matches', async () => {
    const path = join(dir, 'good');
    await writeFile(path, blob);
    assert.deepEqual(await drain(path, blob.length), { bytes: blob.length });
  });

  it('withholds the last bytes of one that does not, and says so', async () => {
    const path = join(dir, 'rotten');
    const rotten = Buffer.from(blob);
    rotten[3 * MIB]! ^= 1;
    await writeFile(path, rotten);
    const { bytes, error } = await drain(path, blob.length);
    assert.ok(error instanceof CachedBlobMismatchError, String(error));
    assert.ok(bytes < blob.length, 'the last bytes never went out');
  });
});
