import type { ServerResponse } from 'node:http';

/** Answers with a JSON body (none for HEAD); returns true, for route handlers that report "handled". */
export function sendJson(res: ServerResponse, status: number, body: unknown): true {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
  return true;
}

/**
 * Answers with a page served by the daemon itself. The policy forbids anything
 * from elsewhere: its scripts and styles must be inline, and it may only talk
 * back to the daemon that served it.
 */
export function sendPage(res: ServerResponse, html: string): true {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    'content-security-policy':
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'",
    'x-content-type-options': 'nosniff',
  });
  res.end(res.req.method === 'HEAD' ? undefined : html);
  return true;
}
