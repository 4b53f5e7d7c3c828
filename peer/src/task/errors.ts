import { UpstreamUnavailableError } from '@shoal/oci';

/** The assembled blob does not hash to its digest: its bytes must never be served as valid. */
export class DigestMismatchError extends Error {
  readonly code = 'DIGEST_MISMATCH';
  constructor(expected: string, actual: string) {
    super(`blob content hashes to sha256:${actual}, expected ${expected}`);
    this.name = 'DigestMismatchError';
  }
}

/**
 * The scheduler found the piece table this download checked its pieces
 * against to be poisoned: none of the pieces can be trusted, so they are
 * discarded and the next request starts over.
 */
export class UntrustedPiecesError extends Error {
  readonly code = 'UNTRUSTED_PIECES';
  constructor(digest: string, reason: string) {
    super(`pieces of ${digest} cannot be trusted: ${reason}`);
    this.name = 'UntrustedPiecesError';
  }
}

/** Upstream's answer for a blob cannot be used as it is (no size, a wrong size): final, no retry. */
export class UnusableAnswerError extends Error {
  readonly code: string = 'UNUSABLE_ANSWER';
  constructor(message: string) {
    super(message);
    this.name = 'UnusableAnswerError';
  }
}

/** Upstream's size for a blob disagrees with the manifest that named it. */
export class SizeMismatchError extends UnusableAnswerError {
  override readonly code = 'SIZE_MISMATCH';
  constructor(digest: string, upstream: number, manifest: number) {
    super(`upstream says blob ${digest} has ${upstream} bytes; its manifest says ${manifest}`);
    this.name = 'SizeMismatchError';
  }
}

/** Upstream answered with a status the client should see (401 with a challenge, 404, 429...). */
export class UpstreamStatusError extends Error {
  readonly code = 'UPSTREAM_STATUS';
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  constructor(status: number, headers: Record<string, string>, body: Buffer) {
    super(`upstream answered ${status}`);
    this.name = 'UpstreamStatusError';
    this.status = status;
    this.headers = headers;
    this.body = body;
  }
}

/** The task ended for a reason that is not the client's fault nor upstream's answer (shutdown, I/O). */
export class TaskAbortedError extends Error {
  readonly code = 'TASK_ABORTED';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TaskAbortedError';
  }
}

/** A transfer from the origin moved too few bytes for too long: it is given up, not waited on. */
export class OriginStalledError extends UpstreamUnavailableError {
  constructor(minBytes: number, windowMs: number) {
    super(`the origin sent less than ${minBytes} bytes in ${windowMs / 1000} s`, { kind: 'timeout' });
    this.name = 'OriginStalledError';
  }
}
