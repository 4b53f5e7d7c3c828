import assert from 'node:assert/strict';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { atTurnEnd } from '../src/turn-end.ts';

/** Keeps the event loop busy, so that what arrives meanwhile is read in one poll phase. */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('atTurnEnd', () => {
  it('runs writes, then releases, after the promise jobs of the turn that queued them', async () => {
    const order: string[] = [];
    atTurnEnd('release', () => order.push('release'));
    atTurnEnd('write', () => {
      order.push('write');
      // A write that corks a socket queues its release: it still runs in this turn.
      atTurnEnd('release', () => order.push('late release'));
    });
    await null;
    await null;
    order.push('promise job');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, ['promise job', 'write', 'release', 'late release']);
  });

  it("ends one socket's turn before the event loop reads the next socket", async () => {
    const events: string[] = [];
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.on('data', (data) => {
        const name = data.toString();
        events.push(`${name} read`);
        // The answer is made in a promise job, as a message handler makes it, and written at the turn's end.
        void Promise.resolve().then(() => atTurnEnd('write', () => events.push(`${name} answered`)));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const clients = await Promise.all(
      ['a', 'b', 'c'].map(
        () =>
          new Promise<Socket>((resolve) => {
            const client = connect(port, '127.0.0.1', () => resolve(client));
          }),
      ),
    );
    while (sockets.length < clients.length) await new Promise((resolve) => setImmediate(resolve));
    try {
      for (const [i, client] of clients.entries()) client.write(['a', 'b', 'c'][i]!);
      // All three are readable when the loop next polls: their data callbacks run in one poll phase.
      blockFor(50);
      while (events.length < 6) await new Promise((resolve) => setTimeout(resolve, 5));
      for (let i = 0; i < events.length; i += 2) {
        const name = events[i]!.split(' ')[0];
        assert.deepEqual(events.slice(i, i + 2), [`${name} read`, `${name} answered`], events.join(', '));
      }
    } finally {
      for (const client of clients) client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
