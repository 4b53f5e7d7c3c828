import type { PreheatScope } from './job.ts';

export interface CandidatePeer {
  id: string;
  labels: Record<string, string>;
}

/**
 * The peers a preheat asks: all of them, or `seeds` of them spread over as
 * many zones (`zone` label) as there are, so one zone going down does not
 * take every seeded copy with it. `random` in [0, 1) picks within a zone.
 */
export function choosePreheatPeers(
  candidates: readonly CandidatePeer[],
  scope: PreheatScope,
  seeds: number,
  random: () => number = Math.random,
): string[] {
  if (scope === 'all') return candidates.map((peer) => peer.id);
  const byZone = new Map<string, string[]>();
  for (const peer of candidates) {
    const zone = peer.labels.zone ?? '';
    const members = byZone.get(zone) ?? [];
    members.push(peer.id);
    byZone.set(zone, members);
  }
  const zones = [...byZone.values()].map((members) => shuffle(members, random));
  const chosen: string[] = [];
  for (let round = 0; chosen.length < seeds && zones.some((z) => z.length > round); round++) {
    for (const members of zones) {
      const peer = members[round];
      if (peer !== undefined && chosen.length < seeds) chosen.push(peer);
    }
  }
  return chosen;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
