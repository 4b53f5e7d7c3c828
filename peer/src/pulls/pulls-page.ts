/**
 * The peer's pulls page: its style and script inline (nothing is fetched from
 * elsewhere). It reads `/api/v1/pulls` every second and draws, per image and
 * blob, the bytes by source.
 */
export const PULLS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shoal · pulls</title>
<style>
  :root { --bg:#0f1419; --panel:#171e26; --line:#263241; --text:#d7dee6; --dim:#7d8a99; }
  body { margin:0; background:var(--bg); color:var(--text); font:13px/1.4 system-ui, sans-serif; }
  header { padding:10px 18px; border-bottom:1px solid var(--line); display:flex; gap:16px; align-items:baseline; }
  header h1 { font-size:17px; margin:0; }
  #status { color:var(--dim); margin-left:auto; }
  main { padding:14px 18px; display:grid; gap:14px; }
  section { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:10px 12px; }
  h2 { font-size:14px; margin:0 0 6px; } h2 small { color:var(--dim); font-weight:400; }
  table { width:100%; border-collapse:collapse; }
  th { text-align:left; color:var(--dim); font-weight:500; font-size:11px; padding:3px 6px; border-bottom:1px solid var(--line); }
  td { padding:3px 6px; border-bottom:1px solid #1d2631; white-space:nowrap; }
  td.num { text-align:right; font-variant-numeric: tabular-nums; }
  .mono { font-family: ui-monospace, monospace; font-size:12px; }
  .stack { display:flex; height:12px; min-width:240px; background:#232e3b; border-radius:3px; overflow:hidden; }
  .stack i { display:block; height:100%; }
  .origin { background:#f0a04b; } .cache { background:#5b8def; } .local { background:#8a96a3; } .peer { background:#3fb68b; }
  .peer:nth-child(even) { background:#2d8f6c; }
  .key span { display:inline-block; width:10px; height:10px; border-radius:2px; margin:0 4px 0 12px; vertical-align:middle; }
  .empty { color:var(--dim); }
</style>
</head>
<body>
<header><h1>shoal · where pulls came from</h1><span class="key"><span class="origin"></span>origin<span class="peer"></span>peers<span class="cache"></span>local cache<span class="local"></span>resumed partial</span><span id="status">loading…</span></header>
<main id="pulls"></main>
<script>
'use strict';
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}
function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : 1)) + ' ' + units[i];
}
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
      el('td', {}, sourcesText(blob.bytes)),
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
</script>
</body>
</html>
`;
