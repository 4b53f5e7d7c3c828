/**
 * Draws p99 / T_LB against N from bench/cluster/figures.ts's results as an
 * SVG next to bench/RESULTS.md. A point whose run did not finish in its wall
 * time is drawn as a cross at the top, labelled as such.
 *
 *   node bench/cluster/plot.ts [--in bench/cluster-results.jsonl] [--out bench/cluster-p99-over-lb.svg]
 *                              [--compare OTHER.jsonl --label NAME --compare-label NAME]
 *
 * --compare draws a second series (e.g. bench/cluster/forest.ts's model) beside the first.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { CURVE_NODES } from './figures.ts';

interface Point {
  nodes: number;
  ratio: number | null;
  label: string;
}

/** A line of points, and what it is (drawn in a legend when there is more than one). */
export interface Series {
  label: string;
  points: Point[];
}

const COLOURS = ['#1f77b4', '#ff7f0e'];

export function curveSvg(points: Point[], others: Series[] = [], label = 'shoal'): string {
  const series: Series[] = [{ label, points }, ...others];
  const width = 640;
  const height = 400;
  const left = 70;
  const right = 20;
  const top = 30;
  const bottom = 60;
  const finished = series.flatMap((s) => s.points.filter((p) => p.ratio !== null).map((p) => p.ratio!));
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
  // At each N the higher point is labelled above, the lower below, so two series' labels do not collide.
  const highest = new Map<number, number>();
  for (const line of series)
    for (const p of line.points)
      if (p.ratio !== null) highest.set(p.nodes, Math.max(highest.get(p.nodes) ?? 0, p.ratio));
  series.forEach((line, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const done = line.points.filter((p) => p.ratio !== null).sort((a, b) => a.nodes - b.nodes);
    if (done.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${done.map((p) => `${x(p.nodes)},${y(p.ratio!)}`).join(' ')}"/>`,
      );
    for (const p of line.points) {
      if (p.ratio !== null) {
        const dy = p.ratio >= highest.get(p.nodes)! ? -8 : 16;
        parts.push(`<circle cx="${x(p.nodes)}" cy="${y(p.ratio)}" r="4" fill="${colour}"/>`);
        parts.push(
          `<text x="${x(p.nodes)}" y="${y(p.ratio) + dy}" text-anchor="middle" fill="${colour}">${p.label}</text>`,
        );
      } else {
        const cx = x(p.nodes);
        const cy = y(yMax) + 10;
        parts.push(
          `<path d="M${cx - 5},${cy - 5}L${cx + 5},${cy + 5}M${cx - 5},${cy + 5}L${cx + 5},${cy - 5}" stroke="#d62728" stroke-width="2"/>`,
        );
        parts.push(`<text x="${cx}" y="${cy + 20}" text-anchor="middle" fill="#d62728">${p.label}</text>`);
      }
    }
    if (series.length > 1)
      parts.push(
        `<rect x="${left + 12}" y="${top + 8 + 18 * i}" width="12" height="4" fill="${colour}"/>`,
        `<text x="${left + 30}" y="${top + 14 + 18 * i}">${line.label}</text>`,
      );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** The points on the curve (`wide` and the n* runs) of a figures.ts results file. */
async function curvePoints(path: string): Promise<Point[]> {
  const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l.trim());
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
  return [...byNodes.values()];
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      in: { type: 'string', default: 'bench/cluster-results.jsonl' },
      out: { type: 'string', default: 'bench/cluster-p99-over-lb.svg' },
      compare: { type: 'string' },
      label: { type: 'string', default: 'shoal' },
      'compare-label': { type: 'string', default: 'other' },
    },
  });
  const points = await curvePoints(values.in);
  const others = values.compare
    ? [{ label: values['compare-label'], points: await curvePoints(values.compare) }]
    : [];
  await writeFile(values.out, curveSvg(points, others, values.label));
  process.stderr.write(`[bench] wrote ${values.out} (${points.length} points)\n`);
}
