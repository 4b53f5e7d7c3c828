import type { ServerResponse } from 'node:http';
import type { OciErrorCode } from '@shoal/oci';

export const API_VERSION_HEADER = { 'docker-distribution-api-version': 'registry/2.0' };

const STATUS_OF: Record<OciErrorCode, number> = {
  NAME_INVALID: 400,
  TAG_INVALID: 400,
  DIGEST_INVALID: 400,
  MANIFEST_INVALID: 502,
  NAME_UNKNOWN: 404,
  MANIFEST_UNKNOWN: 404,
  BLOB_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNSUPPORTED: 405,
  UNAUTHORIZED: 401,
  DENIED: 403,
  TOOMANYREQUESTS: 429,
  RANGE_INVALID: 416,
  UPSTREAM_ERROR: 502,
};

export function statusOf(code: OciErrorCode): number {
  return STATUS_OF[code];
}

/** The distribution spec's error body. */
export function ociErrorBody(code: OciErrorCode | string, message: string): string {
  return JSON.stringify({ errors: [{ code, message, detail: null }] });
}

/** The message of the error each response answered with, for the request's log line. */
const answeredErrors = new WeakMap<ServerResponse, string>();

/** Remembers why a response is an error, for the request's log line. */
export function noteAnsweredError(res: ServerResponse, message: string): void {
  answeredErrors.set(res, message);
}

/** Why a response is an error, when shoal answered with one of its own. */
export function answeredError(res: ServerResponse): string | undefined {
  return answeredErrors.get(res);
}

export function sendOciError(
  res: ServerResponse,
  status: number,
  code: OciErrorCode | string,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  noteAnsweredError(res, message);
  const body = ociErrorBody(code, message);
  res.writeHead(status, {
    ...API_VERSION_HEADER,
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
