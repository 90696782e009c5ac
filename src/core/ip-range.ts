import { isIPv4, isIPv6 } from 'node:net';

/** A network in CIDR notation (RFC 4632 §3.1, RFC 4291 §2.3): an address and a prefix length. */
export interface IpRange {
  readonly family: 'ipv4' | 'ipv6';
  /** The network's bytes (4 or 16), host bits cleared. */
  readonly bytes: Uint8Array;
  readonly prefix: number;
  /** As an operator reads it: `10.0.0.0/8`, `fd00::/8`. */
  readonly text: string;
}

/**
 * `10.0.0.0/8`, `fd00::/8`, or a bare address (one host: /32 or /128). Host bits past the prefix
 * are cleared (`10.1.2.3/8` is `10.0.0.0/8`), as Go's net.ParseCIDR and Node's BlockList read it.
 * Undefined when it is neither.
 */
export function parseIpRange(input: string): IpRange | undefined {
  const text = input.trim();
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const bytes = ipBytes(address);
  if (!bytes || address.includes('%')) return undefined;
  const max = bytes.length * 8;
  let prefix = max;
  if (slash !== -1) {
    const digits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(digits)) return undefined;
    prefix = Number(digits);
    if (prefix > max) return undefined;
  }
  const network = bytes.map((byte, i) => byte & maskByte(prefix, i));
  const family = bytes.length === 4 ? 'ipv4' : 'ipv6';
  return { family, bytes: network, prefix, text: `${formatIp(network)}/${prefix}` };
}

/** True when `address` (an IP literal; an IPv6 zone is ignored) lies in `range`. */
export function ipRangeContains(range: IpRange, address: string): boolean {
  const bytes = ipBytes(address);
  return bytes !== undefined && ipRangeContainsBytes(range, bytes);
}

/** ipRangeContains for an address already parsed by ipBytes, for callers that test it against many ranges. */
export function ipRangeContainsBytes(range: IpRange, bytes: Uint8Array): boolean {
  if (bytes.length !== range.bytes.length) return false;
  return bytes.every((byte, i) => (byte & maskByte(range.prefix, i)) === range.bytes[i]);
}

function maskByte(prefix: number, index: number): number {
  const bits = Math.min(8, Math.max(0, prefix - index * 8));
  return (0xff << (8 - bits)) & 0xff;
}

/** 4 bytes for an IPv4 literal, 16 for IPv6 (zone id dropped), undefined for anything else. */
export function ipBytes(address: string): Uint8Array | undefined {
  if (isIPv4(address)) return Uint8Array.from(address.split('.').map(Number));
  const bare = address.replace(/%.*$/, '');
  if (!isIPv6(bare)) return undefined;
  let text = bare;
  // An IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...zeros, ...tailGroups].map((g) => parseInt(g, 16));
  return Uint8Array.from(groups.flatMap((g) => [g >> 8, g & 0xff]));
}

/** 1.2.3.4, or an IPv6 address in hex groups with the longest run of zero groups as "::" (RFC 5952 §4). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start === -1) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}
