import type { UpstreamFailureKind } from './upstream-failure.ts';

/** Typed errors of the OCI layer. `code` is the OCI distribution error code the endpoint reports. */
export type OciErrorCode =
  | 'NAME_INVALID'
  | 'TAG_INVALID'
  | 'DIGEST_INVALID'
  | 'MANIFEST_INVALID'
  | 'NAME_UNKNOWN'
  | 'MANIFEST_UNKNOWN'
  | 'BLOB_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNSUPPORTED'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'TOOMANYREQUESTS'
  | 'RANGE_INVALID'
  | 'UPSTREAM_ERROR';

export class OciError extends Error {
  readonly code: OciErrorCode;
  constructor(code: OciErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OciError';
    this.code = code;
  }
}

/** The upstream registry could not be reached or kept failing after retries. */
export class UpstreamUnavailableError extends Error {
  readonly code = 'UPSTREAM_UNAVAILABLE';
  /** DNS, connection refused, TLS, timeout, an error status...: what an operator checks first. */
  readonly kind: UpstreamFailureKind;
  constructor(message: string, options?: ErrorOptions & { kind?: UpstreamFailureKind }) {
    super(message, options);
    this.name = 'UpstreamUnavailableError';
    this.kind = options?.kind ?? 'other';
  }
}
