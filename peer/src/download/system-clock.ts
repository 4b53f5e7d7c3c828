import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from './ports.ts';

/** The process's own clock. Its timers do not keep the process alive on their own. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
  sleep: (ms, signal) => sleep(ms, undefined, signal ? { signal } : {}),
};
