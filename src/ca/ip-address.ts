import { isIPv4 } from 'node:net';
import { canonicalIpAddress } from '../core/ip-address.js';

export { canonicalIpAddress };

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
