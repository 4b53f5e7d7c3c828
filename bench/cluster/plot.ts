/**
 * Draws p99 / T_LB against N from bench/cluster/figures.ts's results as an
 * SVG next to bench/RESULTS.md. A point whose run did not finish in its wall
 * time is drawn as a cross at the top, labelled as such.
 *
 *   node bench/cluster/plot.ts [--in bench/cluster-results.jsonl] [--out bench/cluster-p99-over-lb.svg]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { CURVE_NODES } from './figures.ts';

interface Point {
  nodes: number;
  ratio: number | null;
  label: string;
}

export function curveSvg(points: Point[]): string {
  const width = 640;
  const height = 400;
  const left = 70;
  const right = 20;
  const top = 30;
  const bottom = 60;
  const finished = points.filter((p) => p.ratio !== null).map((p) => p.ratio!);
  const yMax = Math.max(2, Math.ceil(Math.max(1, ...finished) * 1.2));
  const xMin = Math.log10(CURVE_NODES[0]!);
  const xMax = Math.log10(CURVE_NODES[CURVE_NODES.length - 1]!);
  const x = (n: number) => round(left + ((Math.log10(n) - xMin) / (xMax - xMin)) * (width - left - right));
  const y = (r: number) => round(top + (1 - r / yMax) * (height - top - bottom));
  function round(v: number): number {
    return Math.round(v * 10) / 10;
  }
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12" role="img">`,
    '<title>p99 / T_LB against the number of nodes, bench/cluster</title>',
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">p99 / T_LB against N (bench/cluster, wide: 500 MB, 125 MB/s nodes, origin 250 MB/s)</text>`,
    `<line x1="${left}" y1="${y(0)}" x2="${width - right}" y2="${y(0)}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${y(0)}" stroke="black"/>`,
    `<line x1="${left}" y1="${y(1)}" x2="${width - right}" y2="${y(1)}" stroke="#999" stroke-dasharray="4 4"/>`,
    `<text x="${width - right}" y="${y(1) - 4}" text-anchor="end" fill="#666">T_LB</text>`,
  ];
  for (let r = 0; r <= yMax; r++)
    parts.push(`<text x="${left - 8}" y="${y(r) + 4}" text-anchor="end">${r}</text>`);
  for (const n of CURVE_NODES)
    parts.push(`<text x="${x(n)}" y="${y(0) + 18}" text-anchor="middle">${n.toLocaleString('en-US')}</text>`);
  parts.push(`<text x="${width / 2}" y="${height - 15}" text-anchor="middle">nodes (log scale)</text>`);
  const done = points.filter((p) => p.ratio !== null).sort((a, b) => a.nodes - b.nodes);
  if (done.length > 1)
    parts.push(
      `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${done.map((p) => `${x(p.nodes)},${y(p.ratio!)}`).join(' ')}"/>`,
    );
  for (const p of points) {
    if (p.ratio !== null) {
      parts.push(`<circle cx="${x(p.nodes)}" cy="${y(p.ratio)}" r="4" fill="#1f77b4"/>`);
      parts.push(`<text x="${x(p.nodes)}" y="${y(p.ratio) - 8}" text-anchor="middle">${p.label}</text>`);
    } else {
      const cx = x(p.nodes);
      const cy = y(yMax) + 10;
      parts.push(
        `<path d="M${cx - 5},${cy - 5}L${cx + 5},${cy + 5}M${cx - 5},${cy + 5}L${cx + 5},${cy - 5}" stroke="#d62728" stroke-width="2"/>`,
      );
      parts.push(`<text x="${cx}" y="${cy + 20}" text-anchor="middle" fill="#d62728">${p.label}</text>`);
    }
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      in: { type: 'string', default: 'bench/cluster-results.jsonl' },
      out: { type: 'string', default: 'bench/cluster-p99-over-lb.svg' },
    },
  });
  const lines = (await readFile(values.in, 'utf8')).split('\n').filter((l) => l.trim());
  const byNodes = new Map<number, Point>();
  for (const line of lines) {
    const r = JSON.parse(line) as {
      name: string;
      nodes: number;
      p99OverLowerBound: number | null;
      virtualSeconds: number;
    };
    const onCurve = r.name === 'wide' || /^n\d+$/.test(r.name);
    if (!onCurve) continue;
    byNodes.set(r.nodes, {
      nodes: r.nodes,
      ratio: r.p99OverLowerBound,
      label:
        r.p99OverLowerBound === null
          ? `did not finish (${r.virtualSeconds} s simulated)`
          : String(r.p99OverLowerBound),
    });
  }
  await writeFile(values.out, curveSvg([...byNodes.values()]));
  process.stderr.write(`[bench] wrote ${values.out} (${byNodes.size} points)\n`);
}
