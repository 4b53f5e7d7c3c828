/**
 * Scheduler addresses as configured, into what the peer dials. Pure.
 *
 * `/dns4/<name>/…`, `/dns6/<name>/…` and `/dns/<name>/…` are resolved by the
 * peer itself (libp2p's resolver asks DNS servers only: no /etc/hosts, no
 * search domains). A name without a peer id stands for every instance behind
 * it (a headless Service has one A record per scheduler): each address is a
 * scheduler of its own. A name with `/p2p/<id>` names one scheduler: its
 * addresses are alternatives, every one keeps the id so that only that
 * scheduler is accepted. Anything else is dialled as written.
 */

/** One scheduler to keep a session with. */
export interface SchedulerTarget {
  /** Stable while the target exists: the configured address, or one resolved address. */
  key: string;
  /** Multiaddrs to dial; several only for the alternatives of one scheduler. */
  addrs: string[];
}

/** A name in a scheduler address and the address families it asks for (0: both). */
export interface DnsName {
  name: string;
  family: 0 | 4 | 6;
}

/** An address a name resolved to, as node:dns lookup() gives it. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

const DNS_ADDRESS = /^\/(dns4|dns6|dns)\/([^/]+)(\/.*)?$/;
const FAMILY = { dns4: 4, dns6: 6, dns: 0 } as const;

/** The name to resolve in a scheduler address, or undefined when it names no host (an IP, a /dnsaddr). */
export function dnsNameOf(address: string): DnsName | undefined {
  const match = DNS_ADDRESS.exec(address);
  if (!match) return undefined;
  return { name: match[2]!, family: FAMILY[match[1] as keyof typeof FAMILY] };
}

function hasPeerId(address: string): boolean {
  return /\/p2p\/[^/]+$/.test(address);
}

/**
 * The targets of one configured address, given what its name resolved to
 * (ignored for an address without a name). No resolved address: no target, for now.
 */
export function expandTarget(address: string, resolved: readonly ResolvedAddress[]): SchedulerTarget[] {
  const match = DNS_ADDRESS.exec(address);
  if (!match) return [{ key: address, addrs: [address] }];
  const rest = match[3] ?? '';
  const wanted = FAMILY[match[1] as keyof typeof FAMILY];
  const addrs = [
    ...new Set(
      resolved
        .filter((r) => (r.family === 4 || r.family === 6) && (wanted === 0 || r.family === wanted))
        .map((r) => `/ip${r.family}/${r.address}${rest}`),
    ),
  ].sort();
  if (addrs.length === 0) return [];
  if (hasPeerId(address)) return [{ key: address, addrs }];
  return addrs.map((addr) => ({ key: addr, addrs: [addr] }));
}
