/** What the admin pages share: the look (dark, compact tables) and two script helpers. */
const BASE_STYLE = `
  :root { --bg:#0f1419; --panel:#171e26; --line:#263241; --text:#d7dee6; --dim:#7d8a99; --accent:#3fb68b; --origin:#f0a04b; }
  * { box-sizing: border-box; }
  body { margin:0; background:var(--bg); color:var(--text); font:13px/1.4 system-ui, sans-serif; }
  header { display:flex; align-items:baseline; gap:16px; padding:10px 18px; border-bottom:1px solid var(--line); }
  header h1 { font-size:17px; margin:0; letter-spacing:.5px; }
  #status { color:var(--dim); margin-left:auto; }
  section { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:10px 12px; min-width:0; }
  table { width:100%; border-collapse:collapse; }
  th { text-align:left; color:var(--dim); font-weight:500; font-size:11px; padding:3px 6px; border-bottom:1px solid var(--line); }
  td { padding:3px 6px; border-bottom:1px solid #1d2631; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; max-width:260px; }
  td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
  .mono { font-family: ui-monospace, monospace; font-size:12px; }
  .empty { color:var(--dim); padding:6px; }
`;

/** el(tag, attributes, ...children): an element, text children as text (never parsed as HTML); bytes(n): n as B/KiB/MiB. */
const BASE_SCRIPT = `
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
`;

/**
 * One self-contained admin page: its style and script inline, to be served
 * with sendPage (nothing is loaded from elsewhere). `header` goes after the
 * title in the page's header; an element with id "status" there is placed right.
 */
export function adminPage(page: {
  title: string;
  header: string;
  style: string;
  body: string;
  script: string;
}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shoal · ${page.title}</title>
<style>${BASE_STYLE}${page.style}</style>
</head>
<body>
<header><h1>shoal · ${page.title}</h1>${page.header}</header>
${page.body}
<script>${BASE_SCRIPT}${page.script}</script>
</body>
</html>
`;
}
