/** An inclusive byte range of a blob, as in `Content-Range`. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeResult =
  | { kind: 'whole' }
  | { kind: 'partial'; range: ByteRange }
  | { kind: 'unsatisfiable' }
  | { kind: 'malformed'; reason: string };

const SINGLE_RANGE = /^bytes=(\d{0,16})-(\d{0,16})$/;

/**
 * Interprets a Range header against a blob of `size` bytes (RFC 9110): one
 * `bytes=a-b`, `bytes=a-` or suffix `bytes=-n` range. Several ranges are not
 * supported and count as malformed. Pure.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'whole' };
  const match = SINGLE_RANGE.exec(header.trim());
  if (!match)
    return {
      kind: 'malformed',
      reason: `unsupported Range "${header.slice(0, 80)}": expected bytes=start-end`,
    };
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '')
    return { kind: 'malformed', reason: 'Range needs a start or a suffix length' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start)
    return { kind: 'malformed', reason: 'Range end is before its start' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end } };
}
