/** Pure scoring of candidate parents for one requester. Higher is better. */

export interface ParentView {
  id: string;
  uploadSlots: number;
  /** upload slots taken by assignments in flight (the scheduler's host record is a view as it is) */
  activeUploads: number;
  /** measured piece throughput towards others, bytes/s (0 = not measured yet) */
  speed: number;
  labels: Readonly<Record<string, string>>;
}

/**
 * Labels whose equality means "close": a shared rack implies a shared zone, so rack weighs more.
 * All of them together (0.4) stay below the speed weight (1) and the capacity weight (2), so
 * locality only decides between parents that are otherwise close.
 */
export const LOCALITY_WEIGHTS: Readonly<Record<string, number>> = {
  zone: 0.1,
  rack: 0.2,
  'topology.kubernetes.io/zone': 0.1,
};

const LOCALITY_ENTRIES = Object.entries(LOCALITY_WEIGHTS);

/** Upload slots not taken by assignments in flight. */
export function freeSlotsOf(parent: ParentView): number {
  return Math.max(0, parent.uploadSlots - parent.activeUploads);
}

/**
 * Free capacity first (an idle parent beats a busy one), then measured speed
 * relative to the fastest known, then locality. Unmeasured parents get the
 * median weight so newcomers are tried. `freeSlots`: the parent's free slots
 * as the caller counts them (a decision that already took some).
 */
export function scoreParent(
  parent: ParentView,
  requesterLabels: Readonly<Record<string, string>>,
  fastestSpeed: number,
  freeSlots = freeSlotsOf(parent),
): number {
  const capacity = parent.uploadSlots > 0 ? freeSlots / parent.uploadSlots : 0;
  const speed = fastestSpeed > 0 ? (parent.speed > 0 ? parent.speed / fastestSpeed : 0.5) : 0.5;
  let locality = 0;
  for (const [label, weight] of LOCALITY_ENTRIES) {
    const mine = requesterLabels[label];
    if (mine !== undefined && parent.labels[label] === mine) locality += weight;
  }
  return 2 * capacity + speed + locality;
}
