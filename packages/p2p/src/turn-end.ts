/**
 * Work put off to the end of this turn, in two stages: first the batched
 * messages are written, then the sockets that collected small writes are
 * released (uncorked), so a turn's writes to one socket leave in one TLS record
 * and one syscall.
 *
 * A turn is one callback of the event loop (a socket's data, a timer) and the
 * promise jobs it sets off: what reading one message and answering it takes.
 *
 * Both stages used to take a setImmediate of their own. The socket, corked by
 * the first small write of a turn (often yamux's window update for a message
 * just read), was then released before the answer to that message was written,
 * and the answer, corking the socket anew, went out one whole turn later: two
 * records and two syscalls for every request and its answer. And a
 * setImmediate waits for the end of the event loop's whole poll phase: under
 * load, one poll phase runs the data callbacks of hundreds of sockets, so every
 * answer waited for the messages of every other socket that had something to
 * read at the same time (tens of milliseconds at a scheduler's busiest).
 */

type Stage = 'write' | 'release';

const queues: Record<Stage, (() => void)[]> = { write: [], release: [] };
let scheduled = false;

function run(): void {
  scheduled = false;
  // A write can cork a socket (queueing its release) or push to another batch; run until both are empty.
  while (queues.write.length > 0 || queues.release.length > 0) {
    for (const stage of ['write', 'release'] as const) {
      const jobs = queues[stage];
      queues[stage] = [];
      for (const job of jobs) {
        try {
          job();
        } catch (error) {
          // As uncaught as it would have been on its own, without losing the other jobs.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    }
  }
}

/** Runs `job` at the end of this turn: writes before releases, each stage in the order queued. */
export function atTurnEnd(stage: Stage, job: () => void): void {
  queues[stage].push(job);
  if (!scheduled) {
    scheduled = true;
    // A tick queued while promise jobs run goes after the last of them (Node runs its tick queue
    // once the microtask queue is empty): so the stages run once this callback and every promise
    // it set off are done, and before the event loop calls its next callback.
    queueMicrotask(runAfterPromiseJobs);
  }
}

function runAfterPromiseJobs(): void {
  process.nextTick(run);
}
