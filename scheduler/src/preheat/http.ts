import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkPreheatRequest } from './request.ts';
import type { PreheatRunner } from './runner.ts';

const COLLECTION = '/api/v1/preheat';
const JOB = /^\/api\/v1\/preheat\/([A-Za-z0-9-]{1,64})$/;
/** A preheat request is a few hundred bytes; anything much larger is refused unread. */
const MAX_BODY_BYTES = 16 * 1024;

/**
 * `POST /api/v1/preheat` starts a job (202 with its id), `GET /api/v1/preheat/<id>`
 * shows it. Returns false for other paths, for the admin server's own routes.
 */
export async function handlePreheatHttp(
  runner: PreheatRunner,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (path === COLLECTION || path === `${COLLECTION}/`) {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST to start a preheat' }, 'POST');
    const body = await readJson(req);
    if (!body.ok) return sendJson(res, body.status, { error: body.error });
    const check = checkPreheatRequest(body.value);
    if (!check.ok) return sendJson(res, 400, { error: check.error });
    const job = runner.start(check.request);
    res.setHeader('location', `${COLLECTION}/${job.id}`);
    return sendJson(res, 202, { id: job.id, state: job.state });
  }
  const match = JOB.exec(path);
  if (match || path.startsWith(`${COLLECTION}/`)) {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: 'a preheat job is read with GET' }, 'GET, HEAD');
    }
    const job = match ? runner.get(match[1]!) : undefined;
    if (!job) return sendJson(res, 404, { error: 'no such preheat job' });
    return sendJson(res, 200, job.view());
  }
  return false;
}

type BodyResult = { ok: true; value: unknown } | { ok: false; status: number; error: string };

async function readJson(req: IncomingMessage): Promise<BodyResult> {
  const type = req.headers['content-type'] ?? 'application/json';
  if (!/^application\/json\b/i.test(type)) {
    return { ok: false, status: 415, error: 'the body must be JSON (content-type: application/json)' };
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    return { ok: false, status: 413, error: `the body must be at most ${MAX_BODY_BYTES} bytes` };
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req) {
    length += (chunk as Buffer).length;
    if (length > MAX_BODY_BYTES) {
      return { ok: false, status: 413, error: `the body must be at most ${MAX_BODY_BYTES} bytes` };
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch (error) {
    return { ok: false, status: 400, error: `the body is not valid JSON: ${(error as Error).message}` };
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, allow?: string): true {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(allow ? { allow } : {}),
    // The request body may not have been read: close rather than reuse the connection then.
    ...(status === 413 ? { connection: 'close' } : {}),
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
  return true;
}
