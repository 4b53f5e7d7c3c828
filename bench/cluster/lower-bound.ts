/**
 * The time no design can beat for N nodes fetching S bytes: the fluid bound
 * of Kumar & Ross (the origin must send S once, each node take in S, and all
 * N·S bytes leave the origin or some node's uplink) plus the pipeline term of
 * discrete pieces (Mundinger, Weber & Weiss): a piece reaches the last of N
 * nodes after at least ⌈log2 N⌉ piece times.
 *
 *   T_LB = max(S/B_origin, S/B_down, N·S/(B_origin + Σ B_up)) + ⌈log2 N⌉ · piece/B_node
 */
export function lowerBoundSeconds(p: {
  nodes: number;
  imageBytes: number;
  pieceBytes: number;
  originRate: number;
  downRate: number;
  upRate: number;
}): number {
  const fluid = Math.max(
    p.imageBytes / p.originRate,
    p.imageBytes / p.downRate,
    (p.nodes * p.imageBytes) / (p.originRate + p.nodes * p.upRate),
  );
  return fluid + (Math.ceil(Math.log2(Math.max(1, p.nodes))) * p.pieceBytes) / Math.min(p.downRate, p.upRate);
}
