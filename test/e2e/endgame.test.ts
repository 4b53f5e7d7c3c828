import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useImageSwarm } from '../fixtures/image-swarm.ts';
import { getBlobOutcome, type Swarm } from '../fixtures/swarm.ts';

const MiB = 1024 * 1024;
/** Eight pieces of 2 MiB. */
const BLOB_BYTES = 16 * MiB;

describe('the endgame: a last piece stuck with a slow parent comes from another', {
  timeout: 180_000,
}, () => {
  const setup = useImageSwarm({
    layerBytes: [BLOB_BYTES],
    salt: 'endgame',
    repo: 'endgame/app',
    count: 3,
    // Two parents of two upload slots each, one of them serving 64 KB a second: a piece from it
    // takes half a minute, longer than a piece may take (15 s) before it is given up.
    peer: (index) =>
      index === 0
        ? { extraArgs: ['--upload-slots', '2'] }
        : index === 1
          ? { extraArgs: ['--upload-slots', '2', '--upload-rate', '64KB'] }
          : {},
  });

  it('asks the fast parent for the pieces the slow one still sends, and drops the slow copies', async () => {
    const swarm = setup.swarm;
    const [fast, slow, child] = swarm.peers as [Swarm['peers'][0], Swarm['peers'][0], Swarm['peers'][0]];
    const layer = setup.layer;
    assert.equal(await getBlobOutcome(fast, 'endgame/app', layer), 'exact');
    assert.equal(await getBlobOutcome(slow, 'endgame/app', layer), 'exact');

    // The child's six download slots take both parents' free slots: two of its pieces go to the slow one.
    assert.equal(await getBlobOutcome(child, 'endgame/app', layer), 'exact');
    const pieces = Math.ceil(layer.size / (2 * MiB));
    const seconds = await swarm.scheduler.metric('shoal_scheduler_assignments_total', { kind: 'endgame' });
    const superseded = await child.metric('shoal_pieces_total', { result: 'superseded' });
    assert.ok(seconds >= 1, `${seconds} pieces asked of a second parent`);
    assert.ok(superseded >= 1, `${superseded} slow copies dropped`);
    assert.equal(await child.metric('shoal_pieces_total', { result: 'ok' }), pieces);
    // Nothing timed out, nothing went to the origin.
    assert.equal(await child.metric('shoal_pieces_total', { result: 'unavailable' }), 0);
    assert.equal(await child.metric('shoal_pieces_total', { result: 'origin' }), 0);
  });
});
