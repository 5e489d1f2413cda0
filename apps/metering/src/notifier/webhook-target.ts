import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';

/** Addresses a webhook may not reach outside development: this host, private networks, cloud metadata. */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(net, bits, 'ipv6');

/** Whether an IP address is loopback, private, link-local (metadata), multicast or unspecified. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family !== 6) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? PRIVATE.check(mapped[1], 'ipv4') : PRIVATE.check(address, 'ipv6');
}

const bare = (hostname: string) => hostname.replace(/^\[|\]$/g, '');

/** The URL's host as written: an IP literal or a name that always means this host is refused without DNS. */
export function literalTargetRefusal(url: string): string | null {
  const host = bare(new URL(url).hostname).toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal'))
    return `${host} is not a public host`;
  return isIP(host) && isPrivateAddress(host) ? `${host} is a private address` : null;
}

/**
 * Why a webhook must not be POSTed to `url` (a private or local address, resolved now), or null.
 * Checked before every delivery, so a name that later resolves inward is refused then too.
 */
export async function targetRefusal(url: string, resolve = lookup): Promise<string | null> {
  const literal = literalTargetRefusal(url);
  if (literal) return literal;
  const host = bare(new URL(url).hostname);
  if (isIP(host)) return null;
  const addresses = await resolve(host, { all: true, verbatim: true });
  const inward = addresses.find((a) => isPrivateAddress(a.address));
  return inward ? `${host} resolves to the private address ${inward.address}` : null;
}

/** WEBHOOK_PRIVATE_TARGETS: inward targets are for development (a receiver on this machine) only. */
export const privateTargetsAllowed = (config: {
  WEBHOOK_PRIVATE_TARGETS: 'allow' | 'deny' | 'development';
  TALLY_ENV: 'production' | 'development';
}): boolean =>
  config.WEBHOOK_PRIVATE_TARGETS === 'allow' ||
  (config.WEBHOOK_PRIVATE_TARGETS === 'development' && config.TALLY_ENV === 'development');
