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
