/** Runs one baseline transfer (bench/link/baseline-transfer.ts) between two fresh Node processes. */

import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { STARTUP_SETTINGS } from '../../packages/cli/bin/startup-settings.js';

const BASELINE = resolve(import.meta.dirname, 'baseline-transfer.ts');

/** What the receiver and the sender of one baseline transfer report. */
export interface BaselineTransfer {
  bytes: number;
  sha256: string;
  /** From the accepted connection (or stream) to the closed file. */
  seconds: number;
  receiverCpuSeconds: number;
  senderCpuSeconds: number;
}

/** Starts `node baseline-transfer.ts ...`; resolves each JSON line it prints, in order. */
function baselineProcess(argv: string[]): { lines: AsyncIterator<string>; exited: Promise<number | null> } {
  // The transport baseline runs with a peer's memory settings, so it costs what a peer's transport costs.
  const peer = argv[1] === 'libp2p' ? STARTUP_SETTINGS.peer : { v8Flags: [], env: {} };
  const child = spawn(process.execPath, [...peer.v8Flags, BASELINE, ...argv], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...peer.env },
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
  return { lines: createInterface({ input: child.stdout })[Symbol.asyncIterator](), exited };
}

async function nextJson<T>(lines: AsyncIterator<string>, what: string): Promise<T> {
  const line = await lines.next();
  if (line.done) throw new Error(`${what} ended without output`);
  return JSON.parse(line.value) as T;
}

/** Sends `file` over raw TCP (the ceiling) or one libp2p stream; the receiver hashes and writes to `outFile`. */
export async function baselineTransfer(
  transport: 'tcp' | 'libp2p',
  file: string,
  outFile: string,
): Promise<BaselineTransfer> {
  const receiver = baselineProcess(['receive', transport, outFile]);
  const { target } = await nextJson<{ target: string }>(receiver.lines, `${transport} receiver`);
  const sender = baselineProcess(['send', transport, file, target]);
  const [received, sent] = await Promise.all([
    nextJson<{ bytes: number; sha256: string; seconds: number; cpuSeconds: number }>(
      receiver.lines,
      `${transport} receiver`,
    ),
    nextJson<{ cpuSeconds: number }>(sender.lines, `${transport} sender`),
  ]);
  const codes = await Promise.all([receiver.exited, sender.exited]);
  if (codes.some((c) => c !== 0)) throw new Error(`${transport} processes exited with ${codes.join(', ')}`);
  return {
    bytes: received.bytes,
    sha256: received.sha256,
    seconds: received.seconds,
    receiverCpuSeconds: received.cpuSeconds,
    senderCpuSeconds: sent.cpuSeconds,
  };
}
