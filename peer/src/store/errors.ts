/** The blob cannot be cached here (larger than the cache, or the disk is full): it is streamed through instead. */
export class CannotCacheError extends Error {
  readonly code = 'CANNOT_CACHE';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CannotCacheError';
  }
}

/** The data directory refuses writes (read-only, full): the store has said so in the log already. */
export class WritesRefusedError extends CannotCacheError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WritesRefusedError';
  }
}
