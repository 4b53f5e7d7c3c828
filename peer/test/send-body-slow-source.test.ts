import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { type BodySource, sendBody } from '../src/endpoint/body-io.ts';
import { SendBudget } from '../src/memory/send-budget.ts';
import { BufferPool } from '../src/p2p/buffer-pool.ts';

describe('sendBody with a source that waits', () => {
  it('does not drop a reading client while the source waits for its next bytes longer than the reader timeout', async () => {
    const clock = { now: 0 };
    const budget = new SendBudget({
      totalBytes: 1024 * 1024,
      pageBytes: 32 * 1024,
      guaranteedSenders: 4,
      stallMs: 1_000,
      now: () => clock.now,
    });
    const sending = {
      budget,
      pool: new BufferPool(64 * 1024, { maxIdle: 4 }),
      pages: new BufferPool(32 * 1024, { maxIdle: 4 }),
    };
    const body = Buffer.alloc(100_000, 7);
    const late = Promise.withResolvers<void>();
    let position = 0;
    const source: BodySource = {
      // The second half is late (a download's next piece): the wait outlasts the reader timeout.
      ready: async () => {
        if (position > 0) await late.promise;
      },
      async fill(into) {
        // Like a task's reader, fill waits too when called before the bytes are there.
        if (position > 0) await late.promise;
        const n = Math.min(into.length, position === 0 ? 50_000 : body.length - position);
        body.copy(into, 0, position, position + n);
        position += n;
        return n;
      },
      async close() {},
    };
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': body.length });
      void sendBody(res, source, body.length, sending);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      const reading = response.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 100));
      clock.now += 5_000;
      assert.equal(budget.sweep(), 0, 'no sender holds bytes while its source waits');
      late.resolve();
      assert.deepEqual(Buffer.from(await reading), body);
    } finally {
      server.close();
    }
  });
});
