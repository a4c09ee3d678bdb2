// Where a completion webhook may go. The allow-list names destinations, not string prefixes:
// scheme, host and port are compared exactly and the path on segment boundaries, so an entry
// `https://hooks.example.com/cb` admits `https://hooks.example.com/cb/done` but never
// `https://hooks.example.com.evil.com/cb`, port 35100 for 3510, or `/cbevil`. The host is resolved
// once per delivery attempt; every address it resolves to must pass the private-address policy
// (whatever the name: an allow-listed name can be re-pointed at 169.254.169.254), and the
// connection goes to exactly the address that was checked (a second resolution at connect time
// is what DNS rebinding exploits). Redirects are never followed (see webhooks.ts).
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { BlockList, isIP } from 'node:net';
import { AirouteError } from '../errors.ts';

/** One allow-list entry, parsed. */
export interface AllowedDestination {
  protocol: 'http:' | 'https:';
  /** Lower case, no brackets, no trailing dot. */
  host: string;
  port: string;
  /** Path segments an allowed URL's path must start with ([] admits every path). */
  segments: readonly string[];
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has (tests inject their own to play DNS rebinding). */
export type HostResolver = (host: string) => Promise<ResolvedAddress[]>;

export const systemResolver: HostResolver = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** Loopback, private, link-local (cloud metadata), CGNAT, benchmarking, multicast and reserved ranges. */
const NON_PUBLIC: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'], // NAT64: an IPv4 address in disguise
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];
const NON_PUBLIC_LIST = new BlockList();
for (const [net, bits, type] of NON_PUBLIC) NON_PUBLIC_LIST.addSubnet(net, bits, type);

const stripHost = (h: string) => h.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
const defaultPort = (u: URL) => u.port || (u.protocol === 'https:' ? '443' : '80');
const segmentsOf = (pathname: string) => pathname.split('/').filter((s) => s !== '');

/** An allow-list entry as the config gives it; undefined when it is not a plain http(s) URL (no credentials, query or fragment). */
export function parseAllowEntry(raw: string): AllowedDestination | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return undefined;
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password || u.search || u.hash) return undefined;
  return { protocol: u.protocol, host: stripHost(u.hostname), port: defaultPort(u), segments: segmentsOf(u.pathname) };
}

/** A CIDR (`10.0.0.0/8`, `::1/128`) or a single address, as a network; undefined if malformed. */
export function parseNetwork(raw: string): { address: string; prefix: number; type: 'ipv4' | 'ipv6' } | undefined {
  const [address, bits] = raw.trim().split('/') as [string, string | undefined]; // split always yields a first element
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  // Digits only: no sign, no fraction, no blanks (Number() would take ' 8', '+8', '8.0' and '').
  if (bits !== undefined && !/^\d+$/.test(bits)) return undefined;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return undefined;
  return { address, prefix, type: family === 4 ? 'ipv4' : 'ipv6' };
}

export function networkList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const n = parseNetwork(c);
    if (n) list.addSubnet(n.address, n.prefix, n.type);
  }
  return list;
}

/** Whether an address is outside the public internet and not in a network the config opened. An
 *  IPv4 address mapped into IPv6 (`::ffff:127.0.0.1`, `::ffff:7f00:1`) is checked as the IPv4
 *  address it is: BlockList matches IPv4 rules against the mapped form itself (Node's documented
 *  behaviour, pinned by destinations.test.ts). */
export function forbiddenAddress(address: string, opened: BlockList): boolean {
  const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
  return NON_PUBLIC_LIST.check(address, type) && !opened.check(address, type);
}

export function allowedBy(url: URL, entries: readonly AllowedDestination[]): boolean {
  const host = stripHost(url.hostname);
  const port = defaultPort(url);
  const segments = segmentsOf(url.pathname);
  return entries.some((e) => e.protocol === url.protocol && e.host === host && e.port === port && e.segments.every((s, i) => segments[i] === s));
}

export interface DestinationPolicy {
  allow: readonly AllowedDestination[];
  /** Private networks callbacks may reach (`webhooks.privateNetworks`). */
  privateNetworks: BlockList;
  resolve: HostResolver;
}

/** A callback URL checked against the policy, with the one address to connect to. */
export interface CheckedDestination {
  url: URL;
  address: ResolvedAddress;
}

const notAllowed = (url: string, why: string) =>
  new AirouteError('callback_not_allowed', 400, `callback URL ${url.slice(0, 300)} is not allowed: ${why}`, { param: 'Airoute-Callback-Url' });

/** Parses, matches, resolves once and checks every address; throws callback_not_allowed. */
export async function checkDestination(raw: string, policy: DestinationPolicy): Promise<CheckedDestination> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw notAllowed(raw, 'not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw notAllowed(raw, 'only http(s) is allowed');
  if (url.username || url.password) throw notAllowed(raw, 'credentials in the URL are not allowed');
  if (!allowedBy(url, policy.allow)) throw notAllowed(raw, 'it matches no entry of webhooks.allow (scheme, host and port exactly, the path by whole segments)');
  const host = stripHost(url.hostname);
  let addresses: ResolvedAddress[];
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) === 6 ? 6 : 4 }];
  else {
    try {
      addresses = await policy.resolve(host);
    } catch {
      throw notAllowed(raw, `its host ${host} does not resolve`);
    }
    if (addresses.length === 0) throw notAllowed(raw, `its host ${host} does not resolve`);
  }
  // Every address, not just the first: a name with one public and one private address would
  // otherwise reach the private one whenever the client picks it.
  const bad = addresses.find((a) => forbiddenAddress(a.address, policy.privateNetworks));
  if (bad) throw notAllowed(raw, `${host} resolves to ${bad.address}, a private, loopback or link-local address; list its network in webhooks.privateNetworks to allow it`);
  return { url, address: addresses[0]! };
}

/** A `lookup` for net/tls.connect that answers only the checked address, so the connection goes where the check looked. */
export function pinnedLookup(address: ResolvedAddress): LookupFunction {
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: address.address, family: address.family }]);
    else callback(null, address.address, address.family);
  }) as unknown as LookupFunction;
}
