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

/** An IPv6 address's dotted IPv4 tail in hex (`::127.0.0.1` → `::7f00:1`): ipaddr.js reads any such tail as IPv4-mapped. */
function hexTail(v6: string): string {
  return v6.replace(/(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, (whole, ...octets: string[]) => {
    const [a, b, c, d] = octets.slice(0, 4).map(Number) as [number, number, number, number];
    if ([a, b, c, d].some((o) => o > 255)) return whole;
    return `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  });
}

function normalize(address: string): Parsed | null {
  let bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (bare.includes(':')) bare = hexTail(bare);
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

/** IANA's global unicast block: every routable IPv6 address is in it. */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3') as [ipaddr.IPv6, number];

/**
 * Globally routable unicast: everything else (loopback, RFC 1918, link-local, CGNAT, ULA,
 * multicast…) is private. ipaddr.js calls every IPv6 address outside its named ranges "unicast",
 * including the deprecated IPv4-compatible `::/96` (`[::7f00:1]` = ::127.0.0.1), so IPv6 must
 * also be in 2000::/3. NAT64 (64:ff9b::/96, 64:ff9b:1::/48), 6to4 (2002::/16) and Teredo
 * (2001::/32), which embed IPv4 addresses, have ranges of their own and are refused.
 */
function isGlobalUnicast(parsed: Parsed): boolean {
  if (parsed.range() !== 'unicast') return false;
  return parsed.kind() === 'ipv4' || (parsed as ipaddr.IPv6).match(GLOBAL_UNICAST_V6);
}

export function isPublicAddress(address: string): boolean {
  const parsed = normalize(address);
  return parsed !== null && isGlobalUnicast(parsed);
}

export function isAddressAllowed(address: string, policy: AddressPolicy): boolean {
  if (policy.allowPrivateNetworks) return true;
  const parsed = normalize(address);
  if (!parsed) return false;
  if (isGlobalUnicast(parsed)) return true;
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
