import { isIPv4, isIPv6 } from 'node:net';

/** The eight 16-bit groups of an IPv6 address, "::" expanded (an embedded IPv4 tail kept as two groups). */
function ipv6Groups(address: string): string[] {
  const [head, tail = ''] = address.includes('::') ? address.split('::') : [address, undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').flatMap(ipv4Tail) : []);
  const left = parse(head);
  const right = parse(tail);
  const fill = address.includes('::') ? Array(8 - left.length - right.length).fill('0') : [];
  return [...left, ...fill, ...right].map((group) => parseInt(group, 16).toString(16));
}

function ipv4Tail(group: string): string[] {
  if (!group.includes('.')) return [group];
  const [a, b, c, d] = group.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}

/**
 * The throttling bucket of an address: an IPv4 address itself (also when written IPv4-mapped,
 * ::ffff:a.b.c.d), an IPv6 address its /64 (one subscriber's allocation: rotating the low 64 bits
 * costs an attacker nothing).
 */
export function addressBucket(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return address;
  return `${ipv6Groups(address.split('%')[0]).slice(0, 4).join(':')}::/64`;
}
