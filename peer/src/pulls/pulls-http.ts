import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, sendPage } from '@shoal/telemetry';
import type { PullLog } from './pull-log.ts';
import { PULLS_PAGE } from './pulls-page.ts';

/**
 * "Where did this image come from", on the peer's admin port: `/api/v1/pulls`
 * (JSON, `?limit=` images, the most recent first) and a page (`/`, `/pulls`)
 * that shows it. Returns false for other paths.
 */
export function handlePullsHttp(pulls: PullLog, req: IncomingMessage, res: ServerResponse): boolean {
  const url = new URL(req.url ?? '/', 'http://admin');
  if (url.pathname !== '/' && url.pathname !== '/pulls' && url.pathname !== '/api/v1/pulls') return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return sendJson(res, 405, { error: `${req.method} is not supported here: pulls are read with GET` });
  }
  if (url.pathname !== '/api/v1/pulls') return sendPage(res, PULLS_PAGE);
  const raw = url.searchParams.get('limit');
  const limit = raw === null ? Number.POSITIVE_INFINITY : Number(raw);
  if (raw !== null && !(/^\d{1,4}$/.test(raw) && limit >= 1))
    return sendJson(res, 400, { error: `"limit" must be a whole number from 1, not "${raw.slice(0, 40)}"` });
  return sendJson(res, 200, { pulls: pulls.view().slice(0, limit) });
}
