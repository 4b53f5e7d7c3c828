import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ociErrorBody, sendOciError } from './oci-response.ts';

/**
 * Requests Node's HTTP server would answer itself, with an empty body or none at all, are answered
 * as OCI errors like every other refusal: `Expect` other than 100-continue (417), `CONNECT` (405).
 * A request without `Host` is let through to the handler, which refuses it (see `missingHost`).
 */
export function answerAsOciErrors(server: Server): void {
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    sendOciError(
      res,
      417,
      'UNSUPPORTED',
      `expectation "${String(req.headers.expect).slice(0, 64)}" is not supported`,
    );
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    const body = ociErrorBody('UNSUPPORTED', 'CONNECT is not supported: this registry mirror is read-only');
    socket.end(
      'HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD\r\ncontent-type: application/json\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
}

/** HTTP/1.1 requires a Host header; Node's own refusal of a request without one has no body. */
export function missingHost(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 && req.headers.host === undefined;
}
