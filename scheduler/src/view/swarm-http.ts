import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDigest } from '@shoal/oci';
import { sendJson, sendPage } from '@shoal/telemetry';
import type { SwarmEvents } from './swarm-events.ts';
import type { SwarmFeed } from './swarm-feed.ts';
import { SWARM_PAGE } from './swarm-page.ts';
import { type PageQuery, paginate, parsePageQuery, type ViewQuery } from './swarm-view.ts';

const TASK = /^\/api\/v1\/tasks\/(.*)$/;
/** Rows one live update carries at most: the page asks for a screenful, not the swarm. */
const EVENT_PEERS_LIMIT = 200;
const EVENT_TASKS_LIMIT = 100;
const EVENT_DEFAULTS: PageQuery = { offset: 0, limit: 25 };

/**
 * The swarm view on the scheduler's admin port: the page (`/`, `/swarm`), its
 * live updates (`/api/v1/events`, server-sent events) and the same data as
 * JSON (`/api/v1/peers`, `/api/v1/tasks`, `/api/v1/tasks/<digest>`,
 * `/api/v1/flows`). Returns false for other paths.
 */
export function handleSwarmHttp(
  feed: SwarmFeed,
  events: SwarmEvents,
  req: IncomingMessage,
  res: ServerResponse,
): boolean {
  const url = new URL(req.url ?? '/', 'http://admin');
  const path = url.pathname;
  const known =
    path === '/' ||
    path === '/swarm' ||
    path === '/api/v1/peers' ||
    path === '/api/v1/tasks' ||
    path === '/api/v1/flows' ||
    path === '/api/v1/events' ||
    TASK.test(path);
  if (!known) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return sendJson(res, 405, {
      error: `${req.method} is not supported here: the swarm view is read with GET`,
    });
  }
  const params = url.searchParams;
  switch (path) {
    case '/':
    case '/swarm':
      return sendPage(res, SWARM_PAGE);
    case '/api/v1/peers':
    case '/api/v1/tasks': {
      const query = parsePageQuery(params);
      if (!query.ok) return sendJson(res, 400, { error: query.error });
      const { at, windowSeconds, totals, peers, tasks } = feed.snapshot();
      const rows = path === '/api/v1/peers' ? peers : tasks;
      return sendJson(res, 200, { at, windowSeconds, totals, ...paginate<unknown>(rows, query.value) });
    }
    case '/api/v1/flows': {
      const { at, windowSeconds, totals, flows, zoneFlows } = feed.snapshot();
      return sendJson(res, 200, { at, windowSeconds, totals, flows, zoneFlows });
    }
    case '/api/v1/events': {
      const query = eventQuery(params);
      if (!query.ok) return sendJson(res, 400, { error: query.error });
      if (events.full) return sendJson(res, 503, { error: 'too many viewers of the swarm view; try later' });
      events.open(res, query.value);
      return true;
    }
  }
  const digest = checkDigest(TASK.exec(path)![1]!);
  if (!digest.ok) return sendJson(res, 400, { error: digest.error });
  const detail = feed.detail(digest.value);
  if (!detail) return sendJson(res, 404, { error: `no task for ${digest.value} on this scheduler` });
  return sendJson(res, 200, detail);
}

function checkDigest(raw: string): { ok: true; value: string } | { ok: false; error: string } {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return { ok: false, error: 'the digest is not valid percent-encoding' };
  }
  if (isDigest(value)) return { ok: true, value };
  return {
    ok: false,
    error: `"${value.slice(0, 80)}" is not a digest: expected sha256: and 64 lowercase hex digits`,
  };
}

function eventQuery(params: URLSearchParams): { ok: true; value: ViewQuery } | { ok: false; error: string } {
  const peers = parsePageQuery(params, 'peers', EVENT_DEFAULTS, EVENT_PEERS_LIMIT);
  if (!peers.ok) return peers;
  const tasks = parsePageQuery(params, 'tasks', EVENT_DEFAULTS, EVENT_TASKS_LIMIT);
  if (!tasks.ok) return tasks;
  const raw = params.get('task');
  if (raw === null || raw === '')
    return { ok: true, value: { peers: peers.value, tasks: tasks.value, task: undefined } };
  if (!isDigest(raw))
    return { ok: false, error: `"task" must be a digest (sha256:<64 hex>), not "${raw.slice(0, 80)}"` };
  return { ok: true, value: { peers: peers.value, tasks: tasks.value, task: raw } };
}
