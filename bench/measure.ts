/** Measurements shared by the benchmarks: medians, and CPU and memory of processes from /proc. */

import { readFile } from 'node:fs/promises';

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Figure {
  median: number;
  samples: number[];
}

export const round = (v: number, digits = 3) => Number(v.toFixed(digits));

export function figure(samples: number[], digits = 1): Figure {
  return { median: round(median(samples), digits), samples: samples.map((v) => round(v, digits)) };
}

export async function procStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

export const kibToMB = (kib: number) => (kib * 1024) / 1e6;

/** VmRSS of a process now, MB. */
export async function rssMB(pid: number): Promise<number> {
  return kibToMB(await procStatusKiB(pid, 'VmRSS'));
}

/** Resident memory of a process by kind of mapping, MB (from /proc/<pid>/smaps). */
export interface RssByKind {
  /** glibc's main arena (the brk heap): small native allocations */
  brkHeap: number;
  /** anonymous mappings: V8's heap pages, large native allocations and other arenas, thread stacks */
  anonymous: number;
  /** mapped files: the node binary, shared libraries */
  files: number;
}

export async function rssByKind(pid: number): Promise<RssByKind> {
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8');
  const kib = { brkHeap: 0, anonymous: 0, files: 0 };
  let kind: keyof RssByKind = 'anonymous';
  for (const line of text.split('\n')) {
    // A mapping's header: address range, perms, offset, device, inode, and a path if any.
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) {
      const path = header[1]!;
      kind = path === '[heap]' ? 'brkHeap' : path === '' || path.startsWith('[') ? 'anonymous' : 'files';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kib[kind] += Number(rss[1]);
  }
  return {
    brkHeap: round(kibToMB(kib.brkHeap), 1),
    anonymous: round(kibToMB(kib.anonymous), 1),
    files: round(kibToMB(kib.files), 1),
  };
}

/** User+system CPU seconds a process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
export async function machineJiffies(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU seconds of this process's finished (waited-for) children so far. */
export async function childrenCpuSeconds(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime are fields 16 and 17.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** Samples VmRSS of a process until stopped; also reads VmHWM (the kernel's peak since start) at the end. */
export function watchRss(
  pid: number,
  intervalMs = 20,
): { stop(): Promise<{ sampledPeakMB: number; hwmMB: number }> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await procStatusKiB(pid, 'VmRSS').catch(() => 0));
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { sampledPeakMB: kibToMB(peak), hwmMB: kibToMB(await procStatusKiB(pid, 'VmHWM')) };
    },
  };
}
