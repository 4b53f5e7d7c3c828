/** Why an upstream registry could not be used: what an operator checks first differs for each. */
export type UpstreamFailureKind =
  /** the registry's name did not resolve */
  | 'dns'
  /** nothing listens at the address (or a firewall rejects) */
  | 'refused'
  /** the connection was cut or reset */
  | 'connection'
  /** the TLS handshake failed: a certificate problem, or the other side does not speak TLS */
  | 'tls'
  /** no connection, no headers or no body bytes within the time allowed */
  | 'timeout'
  /** the registry answered, with an error status (5xx, 429) after retries */
  | 'status'
  | 'other';

export interface UpstreamFailure {
  kind: UpstreamFailureKind;
  /** One phrase for people, e.g. "connection refused (ECONNREFUSED)". */
  detail: string;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
const REFUSED_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const TIMEOUT_PHASES: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: 'timed out connecting',
  ETIMEDOUT: 'timed out connecting',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for the response headers',
  UND_ERR_BODY_TIMEOUT: 'timed out waiting for the response body',
};

/** OpenSSL's verification codes (and Node's own), as the certificate problem they mean. */
const CERTIFICATE_PROBLEMS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'the chain ends in a self-signed certificate that is not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate is signed by an unknown authority',
  UNABLE_TO_GET_ISSUER_CERT: 'the certificate is signed by an unknown authority',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate is signed by an unknown authority',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate is for another host name',
  CERT_REVOKED: 'the certificate is revoked',
  CERT_SIGNATURE_FAILURE: 'the certificate signature is invalid',
  CERT_UNTRUSTED: 'the certificate is not trusted',
  INVALID_PURPOSE: 'the certificate is not for TLS servers',
};

interface Coded {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
  name?: unknown;
}

/** The first error in `error`, its causes and aggregated errors whose code or name `pick` recognises. */
function findCoded(error: unknown, pick: (e: Coded) => boolean, depth = 0): Coded | undefined {
  if (error === null || typeof error !== 'object' || depth > 5) return undefined;
  const e = error as Coded;
  if (pick(e)) return e;
  for (const inner of [e.cause, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const found = findCoded(inner, pick, depth + 1);
    if (found) return found;
  }
  return undefined;
}

const codeOf = (e: Coded): string => (typeof e.code === 'string' ? e.code : '');

/** Sorts a transport error (undici, fetch or net; causes and happy-eyeballs aggregates searched) by kind. */
export function classifyTransportError(error: unknown): UpstreamFailure {
  const found = findCoded(error, (e) => {
    const code = codeOf(e);
    return (
      DNS_CODES.has(code) ||
      REFUSED_CODES.has(code) ||
      CONNECTION_CODES.has(code) ||
      code in TIMEOUT_PHASES ||
      code in CERTIFICATE_PROBLEMS ||
      code.startsWith('ERR_SSL_') ||
      code.startsWith('ERR_TLS_') ||
      code === 'EPROTO' ||
      e.name === 'TimeoutError'
    );
  });
  if (!found) return { kind: 'other', detail: messageOf(error) };
  const code = codeOf(found);
  if (DNS_CODES.has(code)) return { kind: 'dns', detail: `DNS lookup failed (${code})` };
  if (REFUSED_CODES.has(code)) {
    const what = code === 'ECONNREFUSED' ? 'connection refused' : 'no route to the address';
    return { kind: 'refused', detail: `${what} (${code})` };
  }
  if (CONNECTION_CODES.has(code)) return { kind: 'connection', detail: `connection cut (${code})` };
  if (code in TIMEOUT_PHASES) return { kind: 'timeout', detail: `${TIMEOUT_PHASES[code]} (${code})` };
  if (found.name === 'TimeoutError') return { kind: 'timeout', detail: 'timed out' };
  const problem = CERTIFICATE_PROBLEMS[code];
  if (problem) return { kind: 'tls', detail: `TLS: ${problem} (${code})` };
  if (/wrong.version.number|packet.length.too.long|http.request/i.test(messageOf(found))) {
    return { kind: 'tls', detail: `TLS: the server does not speak TLS on this port (${code})` };
  }
  return { kind: 'tls', detail: `TLS handshake failed: ${messageOf(found)} (${code})` };
}

/** An upstream error status, described as `classifyTransportError` describes transport failures. */
export function statusFailure(status: number): UpstreamFailure {
  return { kind: 'status', detail: `answered HTTP ${status}` };
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (error !== null && typeof error === 'object' && typeof (error as Coded).message === 'string') {
    return (error as Coded).message as string;
  }
  return String(error);
}
