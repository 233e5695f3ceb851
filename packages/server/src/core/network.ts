import ipaddr from 'ipaddr.js';

/**
 * Outbound address policy (SSRF guard). Pure: callers resolve names and ask about addresses.
 * Only globally routable unicast addresses are allowed unless private networks are allowed.
 */

export interface AddressPolicy {
  allowPrivateNetworks: boolean;
  /** CIDRs that are allowed even though they are private (e.g. "10.1.2.0/24"). */
  allowCidrs: readonly string[];
}

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

function normalize(address: string): Parsed | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!ipaddr.isValid(bare)) return null;
  const parsed = ipaddr.parse(bare);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed;
}

/** True when `address` is a literal IPv4/IPv6 address (in any spelling ipaddr.js accepts, e.g. 127.1, 0x7f.1). */
export function isIpLiteral(host: string): boolean {
  return normalize(host) !== null;
}

/** Globally routable unicast: everything else (loopback, RFC 1918, link-local, CGNAT, ULA, multicast…) is private. */
export function isPublicAddress(address: string): boolean {
  const parsed = normalize(address);
  if (!parsed) return false;
  return parsed.range() === 'unicast';
}

export function isAddressAllowed(address: string, policy: AddressPolicy): boolean {
  if (policy.allowPrivateNetworks) return true;
  const parsed = normalize(address);
  if (!parsed) return false;
  if (parsed.range() === 'unicast') return true;
  return policy.allowCidrs.some((cidr) => {
    const [range, bits] = ipaddr.parseCIDR(cidr);
    return range.kind() === parsed.kind() && parsed.match([range, bits] as [Parsed, number]);
  });
}

/** Host names that always mean this machine, whatever DNS says. */
export function isLocalName(host: string): boolean {
  const name = host.toLowerCase().replace(/\.+$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || name === 'localhost.localdomain';
}
