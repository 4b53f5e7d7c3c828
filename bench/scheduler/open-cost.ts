/**
 * What a task open costs the scheduler, in process: 2,000 registered hosts (4 of them
 * holding every blob) each open 4 tasks of 8 MiB, as a rollout starts, and every message
 * the dispatcher sends is encoded as it would be for the wire. No libp2p: the dispatcher
 * and protobuf alone.
 *
 *   node bench/scheduler/open-cost.ts
 *
 * Prints JSON: opens, total and per-open time, the share spent encoding, messages and MB.
 */
import { createHash } from 'node:crypto';
import { SchedulerMessage } from '@shoal/protocol';
import { createLogger } from '@shoal/telemetry';
import { Registry } from 'prom-client';
import { Dispatcher } from '../../scheduler/src/dispatcher.ts';
import { createSchedulerMetrics } from '../../scheduler/src/metrics.ts';
import { SwarmState } from '../../scheduler/src/state/swarm-state.ts';

const state = new SwarmState();
let bytes = 0;
let messages = 0;
let encodeNs = 0n;
const dispatcher = new Dispatcher({
  state,
  send: (_to, message) => {
    const t = process.hrtime.bigint();
    bytes += SchedulerMessage.encode(message).length;
    encodeNs += process.hrtime.bigint() - t;
    messages++;
  },
  logger: createLogger({ level: 'silent' }),
  metrics: createSchedulerMetrics(new Registry(), { peers: () => 0, tasks: () => 0 }),
  pieceSize: 2 * 1024 * 1024,
});
const id = (i: number) =>
  `12D3KooW${createHash('sha256').update(String(i)).digest('base64url').slice(0, 44)}`;
const digests = [0, 1, 2, 3].map((i) => `sha256:${createHash('sha256').update(`t${i}`).digest('hex')}`);
for (let i = 0; i < 2000; i++) {
  dispatcher.register(id(i), {
    addrs: [`/ip4/127.10.${i >> 8}.${i & 255}/tcp/40000/p2p/${id(i)}`],
    labels: new Map(),
    uploadSlots: 8,
    uploadRate: 0,
    downloadRate: 0,
    holdings:
      i < 4
        ? digests.map((digest) => ({
            digest,
            size: 8 << 20,
            complete: true,
            bitfield: new Uint8Array(0),
            pieceSize: 0,
          }))
        : [],
  });
}
bytes = 0;
messages = 0;
encodeNs = 0n;
const t0 = process.hrtime.bigint();
for (let i = 4; i < 2000; i++)
  for (const digest of digests)
    dispatcher.openTask(id(i), { digest, size: 8 << 20, bitfield: new Uint8Array(0), want: 2 });
const total = Number(process.hrtime.bigint() - t0) / 1e6;
console.log(
  JSON.stringify({
    opens: 1996 * 4,
    totalMs: Math.round(total),
    usPerOpen: Math.round((total * 1000) / 7984),
    encodeMs: Math.round(Number(encodeNs) / 1e6),
    messages,
    mbytes: Math.round(bytes / 1e5) / 10,
  }),
);
