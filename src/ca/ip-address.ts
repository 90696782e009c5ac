import { isIPv4, isIPv6 } from 'node:net';

/**
 * The canonical text of an IP address, or undefined if `text` is not one: IPv4 dotted decimal
 * (RFC 1123 §2.1), IPv6 compressed and lower case (RFC 5952 §4) as Node's WHATWG URL prints it,
 * which is what RFC 8738 asks ACME clients to send. IPv4-mapped IPv6 addresses keep the hex form
 * URL gives them ("::ffff:c000:201"), so a mapped address never compares equal to an IPv4 one.
 */
export function canonicalIpAddress(text: string): string | undefined {
  // Node's isIPv4 already refuses leading zeros ("010.0.0.1" is octal to some parsers).
  if (isIPv4(text)) return text;
  // Zone ids ("fe80::1%eth0") name an interface of one host; they have no place in a certificate.
  if (!isIPv6(text) || text.includes('%')) return undefined;
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

/**
 * The text @peculiar/asn1-x509 should encode for an iPAddress GeneralName. Its IPv6 parser reads
 * each colon group with parseInt, so it silently mis-encodes mixed notation ("::ffff:1.2.3.4")
 * and trailing junk ("1g"); we hand it only the fully expanded eight-group form it gets right.
 */
export function ipAddressForEncoding(text: string): string {
  const canonical = canonicalIpAddress(text);
  if (canonical === undefined) throw new TypeError(`"${text}" is not an IP address`);
  if (isIPv4(canonical)) return canonical;
  const [head = '', tail] = canonical.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].join(':');
}
