import { SingleBar } from 'cli-progress';
import { formatSize } from './sizes.ts';

/** Byte progress of a long command: a bar on a terminal, a few plain lines otherwise. */
export interface Progress {
  /** `done` of `total` bytes; `detail` says what is going on, e.g. "3/8 blobs". */
  update(done: number, total: number, detail: string): void;
  /** Clears the bar (a terminal) or writes the last line; the caller prints its summary after. */
  stop(): void;
}

/** A plain line at most this often when the output is no terminal (logs, CI). */
const PLAIN_LINE_INTERVAL_MS = 2_000;

export function createProgress(stream: NodeJS.WriteStream = process.stdout): Progress {
  return stream.isTTY ? new BarProgress(stream) : new PlainProgress(stream);
}

class BarProgress implements Progress {
  readonly #bar: SingleBar;
  #started = false;

  constructor(stream: NodeJS.WriteStream) {
    this.#bar = new SingleBar({
      stream,
      format: '{bar} {percentage}% | {doneSize} / {totalSize} | {detail}',
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
    });
  }

  update(done: number, total: number, detail: string): void {
    const payload = { doneSize: formatSize(done), totalSize: formatSize(total), detail };
    if (!this.#started) {
      this.#started = true;
      this.#bar.start(Math.max(total, 1), done, payload);
      return;
    }
    this.#bar.setTotal(Math.max(total, 1));
    this.#bar.update(done, payload);
  }

  stop(): void {
    if (this.#started) this.#bar.stop();
  }
}

class PlainProgress implements Progress {
  readonly #stream: NodeJS.WriteStream;
  #lastLineAt = 0;
  #lastLine = '';
  #pending = '';

  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream;
  }

  update(done: number, total: number, detail: string): void {
    const percent = total > 0 ? Math.floor((done / total) * 100) : 0;
    const line = `${String(percent).padStart(3)}% ${formatSize(done)} / ${formatSize(total)}  ${detail}`;
    this.#pending = line;
    const now = Date.now();
    if (now - this.#lastLineAt < PLAIN_LINE_INTERVAL_MS) return;
    this.#write(line, now);
  }

  stop(): void {
    if (this.#pending && this.#pending !== this.#lastLine) this.#write(this.#pending, Date.now());
  }

  #write(line: string, now: number): void {
    if (line === this.#lastLine) return;
    this.#stream.write(`${line}\n`);
    this.#lastLine = line;
    this.#lastLineAt = now;
  }
}
