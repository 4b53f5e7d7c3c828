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

/**
 * A Range header naming both ends (`bytes=a-b`) of at most `maxLength` bytes, before the blob's size is
 * known: what a lazy puller asks for a chunk. Undefined for any other form. Pure.
 */
export function boundedRange(header: string | undefined, maxLength: number): ByteRange | undefined {
  const match = header === undefined ? null : SINGLE_RANGE.exec(header.trim());
  if (!match || match[1] === '' || match[2] === '') return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  return end >= start && end - start + 1 <= maxLength ? { start, end } : undefined;
}

/**
 * The blob's size from upstream's answer to `asked`, when that answer is exactly the range a client
 * gets for it: `Content-Range` starting at the asked start and ending at the asked end (or the blob's
 * last byte), and a `Content-Length` of that many bytes. Undefined for any other answer. Pure.
 */
export function answeredRange(
  asked: ByteRange,
  contentRange: string | undefined,
  contentLength: string | undefined,
): { range: ByteRange; size: number } | undefined {
  const match = /^bytes (\d{1,16})-(\d{1,16})\/(\d{1,16})$/.exec(contentRange ?? '');
  if (!match) return undefined;
  const [start, end, size] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (start !== asked.start || end !== Math.min(asked.end, size - 1) || end < start) return undefined;
  if (Number(contentLength) !== end - start + 1) return undefined;
  return { range: { start, end }, size };
}
