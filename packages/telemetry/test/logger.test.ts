import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../src/logger.ts';

/** A logger writing its JSON lines into an array. */
function capture(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const logger = createLogger({ level: 'trace', destination: { write: (line: string) => lines.push(line) } });
  return { lines, logger };
}

const SECRET = 'Bearer eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.c2lnbmF0dXJl';

describe('createLogger redaction', () => {
  it('redacts credentials at the top and up to two levels down, however the header is spelt', () => {
    const { lines, logger } = capture();
    logger.info({ authorization: SECRET }, 'top');
    logger.info({ headers: { authorization: SECRET, Authorization: SECRET } }, 'headers');
    logger.info({ req: { headers: { authorization: SECRET, 'proxy-authorization': SECRET } } }, 'nested');
    logger.info({ upstream: { token: SECRET, password: SECRET, access_token: SECRET } }, 'fields');
    logger.info({ res: { headers: { 'set-cookie': SECRET } }, request: { cookie: SECRET } }, 'cookies');
    logger.child({ reqId: 'r-1' }).warn({ headers: { Authorization: SECRET } }, 'child');
    assert.equal(lines.length, 6);
    for (const line of lines) {
      assert.ok(!line.includes('eyJhbGci'), `a credential leaked: ${line}`);
      assert.match(line, /\[redacted\]/);
    }
    assert.equal(JSON.parse(lines[5]!).reqId, 'r-1');
  });

  it('keeps everything else', () => {
    const { lines, logger } = capture();
    logger.info({ digest: 'sha256:abc', headers: { accept: 'application/json' } }, 'plain');
    const line = JSON.parse(lines[0]!);
    assert.equal(line.digest, 'sha256:abc');
    assert.equal(line.headers.accept, 'application/json');
    assert.equal(line.msg, 'plain');
  });
});
