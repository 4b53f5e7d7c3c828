import { request as httpRequest } from 'node:http';
import { startRegistry } from '../../test/fixtures/registry.ts';
import { startTcpProxy } from '../../test/fixtures/tcp-proxy.ts';
import { pushImage, smallImage } from '../../test/fixtures/images.ts';
const reg = await startRegistry();
const img = await smallImage();
await pushImage(reg.url, 'a/b', 'v1', img);
const proxy = await startTcpProxy({ target: reg.host, rateBytesPerSecond: 20e6 });
for (const base of [reg.url, proxy.url]) {
  for (const b of img.blobs) {
  await new Promise<void>((res) => {
    const req = httpRequest(`${base}/v2/a/b/blobs/${b.digest}`, { agent: false }, (r) => {
      let n = 0;
      console.log(base, r.statusCode, r.headers['content-length']);
      r.on('data', (c) => { n += c.length; });
      r.on('end', () => { console.log('end', n, r.complete); res(); });
      r.on('error', (e) => console.log('reserr', e.message));
    });
    req.on('error', (e) => { console.log('err', base, e.message); res(); });
    req.end();
  });
  }
}
console.log(proxy.requestHeads);
await proxy.stop(); await reg.stop();
