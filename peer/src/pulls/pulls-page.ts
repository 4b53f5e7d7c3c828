import { adminPage } from '@shoal/telemetry';

/**
 * The peer's pulls page: its style and script inline (nothing is fetched from
 * elsewhere). It reads `/api/v1/pulls` every second and draws, per image and
 * blob, the bytes by source.
 */
export const PULLS_PAGE = adminPage({
  title: 'where pulls came from',
  header:
    '<span class="key"><span class="origin"></span>origin<span class="peer"></span>peers<span class="cache"></span>local cache<span class="local"></span>resumed partial</span><span id="status">loading…</span>',
  style: `
  main { padding:14px 18px; display:grid; gap:14px; }
  h2 { font-size:14px; margin:0 0 6px; } h2 small { color:var(--dim); font-weight:400; }
  .stack { display:flex; height:12px; min-width:240px; background:#232e3b; border-radius:3px; overflow:hidden; }
  .stack i { display:block; height:100%; }
  .origin { background:#f0a04b; } .cache { background:#5b8def; } .local { background:#8a96a3; } .peer { background:#3fb68b; }
  .peer:nth-child(even) { background:#2d8f6c; }
  .key span { display:inline-block; width:10px; height:10px; border-radius:2px; margin:0 4px 0 12px; vertical-align:middle; }
`,
  body: `<main id="pulls"></main>`,
  script: `
function parts(b) {
  const out = [];
  if (b.origin) out.push(['origin', 'origin', b.origin]);
  for (const [peer, n] of Object.entries(b.peers)) out.push(['peer', 'peer …' + peer.slice(-6), n, peer]);
  if (b.cache) out.push(['cache', 'local cache', b.cache]);
  if (b.local) out.push(['local', 'resumed partial', b.local]);
  return out;
}
function stack(b, size) {
  const total = Math.max(size || 0, parts(b).reduce((s, p) => s + p[2], 0)) || 1;
  return el('div', { class: 'stack' }, ...parts(b).map(([cls, name, n]) => el('i', { class: cls, style: 'width:' + (n / total * 100).toFixed(2) + '%', title: name + ': ' + bytes(n) })));
}
function sourcesText(b) {
  return parts(b).map(([, name, n]) => name + ' ' + bytes(n)).join(' · ') || '–';
}
function render(pulls) {
  const main = document.getElementById('pulls');
  if (pulls.length === 0) { main.replaceChildren(el('p', { class: 'empty' }, 'no pulls yet')); return; }
  main.replaceChildren(...pulls.map((pull) => {
    const rows = pull.blobs.map((blob) => el('tr', { 'data-digest': blob.digest, 'data-origin': blob.bytes.origin, 'data-cache': blob.bytes.cache, 'data-peers': Object.values(blob.bytes.peers).reduce((s, n) => s + n, 0) },
      el('td', { class: 'mono', title: blob.digest }, blob.digest.slice(7, 19)),
      el('td', { class: 'num' }, blob.size === undefined || blob.size === null ? '?' : bytes(blob.size)),
      el('td', {}, stack(blob.bytes, blob.size)),
      el('td', { title: sourcesText(blob.bytes) }, sourcesText(blob.bytes)),
      el('td', { class: 'num' }, blob.requests)));
    return el('section', { 'data-image': pull.image },
      el('h2', {}, pull.image + (pull.reference ? (pull.reference.startsWith('sha256:') ? '@' : ':') + pull.reference : ''), ' ', el('small', {}, sourcesText(pull.totals))),
      el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'blob'), el('th', {}, 'size'), el('th', {}, 'by source'), el('th', {}, 'sources'), el('th', {}, 'requests'))), el('tbody', {}, ...rows)));
  }));
}
async function refresh() {
  try {
    const answer = await fetch('/api/v1/pulls');
    render((await answer.json()).pulls);
    document.getElementById('status').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (error) {
    document.getElementById('status').textContent = 'cannot reach the daemon: ' + error.message;
  }
  setTimeout(refresh, 1000);
}
refresh();
`,
});
