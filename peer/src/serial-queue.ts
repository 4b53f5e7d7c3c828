/**
 * Runs jobs one at a time, in the order they were added. A job's failure
 * reaches only the caller that added it: the jobs after it run as usual, and
 * the queue never stays broken (a chain of `x = x.then(job)` does, once one
 * job rejects).
 */
export class SerialQueue {
  /** Settles when the last job added has settled; never rejects. */
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;

  /** Runs `job` after every job added before it; resolves or rejects with its outcome. */
  run<T>(job: () => T | Promise<T>): Promise<T> {
    this.#pending++;
    const result = this.#tail.then(job);
    this.#tail = result.then(
      () => this.#settled(),
      () => this.#settled(),
    );
    return result;
  }

  /** Jobs added and not yet settled, the running one included. */
  get pending(): number {
    return this.#pending;
  }

  /** Resolves once every job added so far has settled. */
  idle(): Promise<void> {
    return this.#tail;
  }

  #settled(): void {
    this.#pending--;
  }
}
