import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../fixtures/proc.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** What the shipped command holds: the bundle scripts/bundle.ts builds, with the names kept. */
describe('the shoal bundle', { timeout: 120_000 }, () => {
  let dir = '';
  let bundle = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-bundle-'));
    const outfile = join(dir, 'shoal.mjs');
    await run(process.execPath, [join(ROOT, 'scripts/bundle.ts'), '--no-minify', '--outfile', outfile], {
      cwd: ROOT,
    });
    bundle = await readFile(outfile, 'utf8');
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('holds the peer daemon and none of the test-only fault injection', () => {
    // The daemon and its seams are there (names kept by --no-minify)...
    for (const present of ['startPeerDaemon', 'startPieceServer', 'downloadFromOrigin', 'wrapPiece']) {
      assert.ok(bundle.includes(present), `${present} is in the bundle`);
    }
    // ...the lying peer is not: no switch, no module, no lie.
    for (const absent of [
      'SHOAL_TEST_LIE',
      'test-lie',
      'lying-peer',
      'lyingWrappers',
      'flippedPiece',
      'vouched-table',
      'test/fixtures',
    ]) {
      assert.ok(!bundle.includes(absent), `${absent} is not in the bundle`);
    }
  });
});
