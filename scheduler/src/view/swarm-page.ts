import { adminPage } from '@shoal/telemetry';

/**
 * The swarm page: one HTML document with its style and script inline (the
 * daemon serves everything it needs; nothing is fetched from elsewhere). It
 * follows `/api/v1/events` and draws what each frame holds; every number it
 * shows also carries its raw value in a data- attribute.
 */
export const SWARM_PAGE = adminPage({
  title: 'swarm',
  header: '<span id="status">connecting…</span>',
  style: `
  main { display:grid; grid-template-columns: minmax(0,1.25fr) minmax(0,1fr); gap:14px; padding:14px 18px; }
  section h2 { font-size:12px; text-transform:uppercase; letter-spacing:1px; color:var(--dim); margin:0 0 8px; display:flex; gap:8px; align-items:center; }
  section h2 .pager { margin-left:auto; text-transform:none; letter-spacing:0; }
  .wide { grid-column: 1 / -1; }
  .totals { display:flex; gap:10px; flex-wrap:wrap; }
  .total { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:8px 14px; min-width:120px; }
  .total b { display:block; font-size:20px; font-weight:600; }
  .total span { color:var(--dim); font-size:11px; text-transform:uppercase; letter-spacing:.8px; }
  tr.selected td { background:#1f2a36; }
  tr[data-digest] { cursor:pointer; }
  .bar { position:relative; height:14px; min-width:110px; background:#232e3b; border-radius:3px; overflow:hidden; }
  .bar i { position:absolute; left:0; top:0; bottom:0; background:var(--accent); }
  .bar i.origin { background:var(--origin); }
  .bar em { position:relative; font-style:normal; font-size:11px; padding-left:5px; text-shadow:0 0 3px #000, 0 0 2px #000; }
  .label { display:inline-block; background:#243140; border-radius:3px; padding:0 5px; margin-right:3px; font-size:11px; color:#a9c1d9; }
  #piece-map { display:grid; grid-template-columns: repeat(auto-fill, var(--cell, 12px)); gap:3px; }
  #piece-map .cell { width:var(--cell, 12px); height:var(--cell, 12px); border-radius:2px; background:#232e3b; }
  #piece-map .cell.origin { outline:2px solid var(--origin); outline-offset:-2px; }
  .legend { color:var(--dim); font-size:11px; margin-top:6px; }
  button { background:#243140; color:var(--text); border:1px solid var(--line); border-radius:4px; padding:1px 8px; cursor:pointer; }
  button:disabled { opacity:.4; cursor:default; }
  svg text { fill:var(--text); font-size:10px; }
`,
  body: `<main>
  <div class="totals wide">
    <div class="total"><b id="total-peers">–</b><span>peers</span></div>
    <div class="total"><b id="total-tasks">–</b><span>tasks</span></div>
    <div class="total"><b id="peer-rate">–</b><span>between peers</span></div>
    <div class="total"><b id="origin-rate">–</b><span>from origin</span></div>
    <div class="total"><b id="origin-bytes">–</b><span>origin bytes so far</span></div>
    <div class="total"><b id="flow-count">–</b><span>active flows</span></div>
  </div>
  <section>
    <h2>Tasks <span class="pager" id="tasks-pager"></span></h2>
    <table><thead><tr><th>digest</th><th class="num">size</th><th class="num">peers</th><th>completion</th><th class="num">complete</th><th>origin bytes / size</th></tr></thead>
    <tbody id="tasks-body"></tbody></table>
  </section>
  <section>
    <h2>Pieces <span class="mono" id="piece-task"></span></h2>
    <div id="piece-map"></div>
    <div class="legend" id="piece-legend"></div>
  </section>
  <section>
    <h2>Flow now <span class="pager" id="flow-note"></span></h2>
    <svg id="flow-graph" viewBox="0 0 520 300" width="100%" height="300" role="img" aria-label="flows between peers"></svg>
  </section>
  <section>
    <h2>Flows by zone</h2>
    <table><thead><tr><th>from</th><th>to</th><th class="num">rate</th></tr></thead><tbody id="zone-flows"></tbody></table>
  </section>
  <section class="wide">
    <h2>Peers <span class="pager" id="peers-pager"></span></h2>
    <table><thead><tr><th>peer</th><th>labels</th><th class="num">upload</th><th class="num">download</th><th class="num">pieces served</th><th class="num">bytes served</th><th class="num">uploads</th></tr></thead>
    <tbody id="peers-body"></tbody></table>
  </section>
</main>`,
  script: `
const PAGE = { peers: 25, tasks: 12 };
const view = { peersOffset: 0, tasksOffset: 0, task: '' };
const $ = (id) => document.getElementById(id);
let source;
let names = new Map();

function svg(tag, attrs, text) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}
const rate = (n) => bytes(n) + '/s';
const pct = (f) => (f * 100).toFixed(1) + ' %';
const short = (id) => id === 'origin' ? 'origin' : names.get(id) || '…' + id.slice(-6);
function peerName(p) { return p.labels.name || p.labels.hostname || '…' + p.id.slice(-6); }
function bar(fraction, cls, text) {
  const b = el('div', { class: 'bar' }, el('i', { class: cls || '', style: 'width:' + Math.min(100, fraction * 100).toFixed(1) + '%' }), el('em', {}, text));
  return b;
}
function pager(id, page, key) {
  const box = $(id);
  box.replaceChildren();
  const last = Math.min(page.total, page.offset + page.items.length);
  const prev = el('button', { 'data-dir': 'prev' }, '‹');
  const next = el('button', { 'data-dir': 'next' }, '›');
  prev.disabled = page.offset === 0;
  next.disabled = last >= page.total;
  prev.onclick = () => { view[key] = Math.max(0, page.offset - page.limit); connect(); };
  next.onclick = () => { view[key] = page.offset + page.limit; connect(); };
  box.append(prev, ' ', (page.total === 0 ? 0 : page.offset + 1) + '–' + last + ' of ' + page.total + ' ', next);
}

function render(frame) {
  const t = frame.totals;
  $('total-peers').textContent = t.peers;
  $('total-tasks').textContent = t.tasks;
  $('peer-rate').textContent = rate(t.peerRate);
  $('origin-rate').textContent = rate(t.originRate);
  $('origin-bytes').textContent = bytes(t.originBytes);
  $('flow-count').textContent = t.flows;
  document.body.dataset.at = frame.at;
  document.body.dataset.peers = t.peers;
  document.body.dataset.tasks = t.tasks;
  document.body.dataset.originPieces = t.originPieces;
  $('status').textContent = 'live · updated ' + new Date(frame.at).toLocaleTimeString() + ' · rates over ' + frame.windowSeconds.toFixed(1) + ' s';
  names = new Map(frame.peers.items.map((p) => [p.id, peerName(p)]));
  renderTasks(frame);
  renderPieces(frame.task);
  renderFlows(frame);
  renderPeers(frame);
}

function renderTasks(frame) {
  const rows = frame.tasks.items.map((task) => {
    const selected = frame.task && frame.task.digest === task.digest;
    const row = el('tr', { 'data-digest': task.digest, 'data-completion': task.completion, 'data-origin-bytes': task.originBytes, 'data-complete-peers': task.completePeers, class: selected ? 'selected' : '' },
      el('td', { class: 'mono', title: task.digest }, task.digest.slice(7, 19)),
      el('td', { class: 'num' }, bytes(task.size)),
      el('td', { class: 'num' }, task.peers),
      el('td', { class: 'completion' }, bar(task.completion, '', pct(task.completion))),
      el('td', { class: 'num' }, task.completePeers + '/' + task.peers),
      el('td', {}, bar(task.size ? task.originBytes / task.size : 0, 'origin', bytes(task.originBytes) + ' / ' + bytes(task.size))));
    row.onclick = () => { view.task = task.digest; connect(); };
    return row;
  });
  $('tasks-body').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 6, class: 'empty' }, 'no tasks yet'))]));
  pager('tasks-pager', frame.tasks, 'tasksOffset');
}

function renderPieces(task) {
  const map = $('piece-map');
  if (!task) { map.replaceChildren(); $('piece-task').textContent = ''; $('piece-legend').textContent = 'no task'; return; }
  $('piece-task').textContent = task.digest.slice(7, 19);
  const cells = task.pieceMap.held.map((held, i) => {
    const light = 16 + Math.round(held * 34);
    const color = held === 0 ? '#232e3b' : 'hsl(158, 48%, ' + light + '%)';
    return el('div', { class: 'cell' + (task.pieceMap.fromOrigin[i] ? ' origin' : ''), 'data-held': held, style: 'background:' + color, title: 'pieces ' + i * task.pieceMap.piecesPerCell + '…: ' + pct(held) + ' of peers' });
  });
  map.replaceChildren(...cells);
  // Few pieces get big cells: the map fills about the same area whatever the blob.
  map.style.setProperty('--cell', (cells.length <= 64 ? 26 : cells.length <= 192 ? 16 : 10) + 'px');
  map.dataset.digest = task.digest;
  $('piece-legend').textContent = task.pieces + ' pieces of ' + bytes(task.pieceSize) + (task.pieceMap.piecesPerCell > 1 ? ', ' + task.pieceMap.piecesPerCell + ' per cell' : '') + ' · brighter: held by more of its ' + task.peers + ' peers · orange: coming from the origin';
}

function renderFlows(frame) {
  const graph = $('flow-graph');
  graph.replaceChildren();
  const flows = frame.flows;
  $('flow-note').textContent = frame.totals.flows > flows.length ? 'fastest ' + flows.length + ' of ' + frame.totals.flows : '';
  graph.append(svg('defs', {}));
  graph.firstChild.append(svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: 'userSpaceOnUse', orient: 'auto' }));
  graph.firstChild.firstChild.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#5d7a94' }));
  if (flows.length === 0) { graph.append(svg('text', { x: 260, y: 150, 'text-anchor': 'middle' }, 'nothing moving')); return; }
  const ids = [...new Set(flows.flatMap((f) => [f.from, f.to]))].filter((id) => id !== 'origin').sort();
  const pos = new Map([['origin', { x: 260, y: 150 }]]);
  ids.forEach((id, i) => {
    const a = (i / ids.length) * Math.PI * 2 - Math.PI / 2;
    pos.set(id, { x: 260 + Math.cos(a) * 200, y: 150 + Math.sin(a) * 118 });
  });
  const max = Math.max(...flows.map((f) => f.rate));
  for (const f of flows) {
    const a = pos.get(f.from), b = pos.get(f.to);
    const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
    const line = svg('line', { x1: a.x + dx / len * 12, y1: a.y + dy / len * 12, x2: b.x - dx / len * 14, y2: b.y - dy / len * 14,
      stroke: f.from === 'origin' ? '#f0a04b' : '#3fb68b', 'stroke-opacity': 0.35 + 0.6 * f.rate / max, 'stroke-width': 1 + 5 * f.rate / max, 'marker-end': 'url(#arrow)', 'data-from': f.from, 'data-to': f.to });
    line.append(svg('title', {}, short(f.from) + ' → ' + short(f.to) + ': ' + rate(f.rate)));
    graph.append(line);
  }
  for (const [id, p] of pos) {
    if (id === 'origin' && !flows.some((f) => f.from === 'origin')) continue;
    graph.append(svg('circle', { cx: p.x, cy: p.y, r: id === 'origin' ? 11 : 8, fill: id === 'origin' ? '#f0a04b' : '#2c4a63', stroke: '#9bb7cf' }));
    graph.append(svg('text', { x: p.x, y: p.y + (p.y < 150 ? -13 : 20), 'text-anchor': 'middle' }, short(id)));
  }
}

function renderPeers(frame) {
  const rows = frame.peers.items.map((p) => el('tr', { 'data-peer': p.id, 'data-served': p.piecesServed, 'data-upload': p.uploadRate, 'data-download': p.downloadRate },
    el('td', { class: 'mono', title: p.id }, peerName(p)),
    el('td', {}, ...Object.entries(p.labels).map(([k, v]) => el('span', { class: 'label' }, k + '=' + v))),
    el('td', { class: 'num' }, rate(p.uploadRate)),
    el('td', { class: 'num' }, rate(p.downloadRate)),
    el('td', { class: 'num' }, p.piecesServed),
    el('td', { class: 'num' }, bytes(p.bytesServed)),
    el('td', { class: 'num' }, p.activeUploads + '/' + p.uploadSlots + (p.blocked ? ' blocked' : ''))));
  $('peers-body').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 7, class: 'empty' }, 'no peers'))]));
  pager('peers-pager', frame.peers, 'peersOffset');
  const zones = frame.zoneFlows.map((z) => el('tr', {}, el('td', {}, z.from), el('td', {}, z.to), el('td', { class: 'num' }, rate(z.rate))));
  $('zone-flows').replaceChildren(...(zones.length ? zones : [el('tr', {}, el('td', { colspan: 3, class: 'empty' }, 'nothing moving'))]));
}

function connect() {
  if (source) source.close();
  const q = new URLSearchParams({ peersOffset: view.peersOffset, peersLimit: PAGE.peers, tasksOffset: view.tasksOffset, tasksLimit: PAGE.tasks });
  if (view.task) q.set('task', view.task);
  source = new EventSource('/api/v1/events?' + q);
  source.addEventListener('swarm', (event) => render(JSON.parse(event.data)));
  source.onerror = () => { $('status').textContent = 'disconnected · retrying'; };
}
connect();
`,
});
