import { describe, expect, it } from 'vitest';
import { canonicalIpAddress, ipAddressForEncoding } from './ip-address.js';

describe('canonicalIpAddress', () => {
  it('keeps IPv4 dotted decimal and refuses leading zeros', () => {
    expect(canonicalIpAddress('192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalIpAddress('010.0.0.1')).toBeUndefined();
    expect(canonicalIpAddress('256.0.0.1')).toBeUndefined();
  });

  it('compresses IPv6 the RFC 5952 way, lower case', () => {
    expect(canonicalIpAddress('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalIpAddress('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIpAddress('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(canonicalIpAddress('::1')).toBe('::1');
    expect(canonicalIpAddress('::ffff:192.0.2.1')).toBe('::ffff:c000:201');
  });

  it('refuses names, zone ids and junk', () => {
    expect(canonicalIpAddress('example.com')).toBeUndefined();
    expect(canonicalIpAddress('fe80::1%eth0')).toBeUndefined();
    expect(canonicalIpAddress('2001:db8::1g')).toBeUndefined();
  });
});

describe('ipAddressForEncoding', () => {
  it('expands IPv6 to eight groups', () => {
    expect(ipAddressForEncoding('2001:db8::1')).toBe('2001:db8:0:0:0:0:0:1');
    expect(ipAddressForEncoding('::')).toBe('0:0:0:0:0:0:0:0');
    expect(ipAddressForEncoding('::ffff:192.0.2.1')).toBe('0:0:0:0:0:ffff:c000:201');
    expect(ipAddressForEncoding('fe80::')).toBe('fe80:0:0:0:0:0:0:0');
    expect(ipAddressForEncoding('192.0.2.1')).toBe('192.0.2.1');
  });

  it('throws on something that is not an address', () => {
    expect(() => ipAddressForEncoding('nope')).toThrow(/not an IP address/);
  });
});
