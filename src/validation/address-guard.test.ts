import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIp, parseIpRange, type IpRange } from '../core/ip-range.js';
import { addressGuard } from './address-guard.js';

const RUNS = Number(process.env.CERTMINT_PROPERTY_RUNS ?? 1000);

const range = (text: string): IpRange => parseIpRange(text)!;
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIp(b));
/** Every spelling of an IPv6 address that getaddrinfo, c-ares or a URL may hand over. */
const v6Spellings = (bytes: Uint8Array): string[] => {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  return [formatIp(bytes), groups.join(':'), groups.map((g) => g.padStart(4, '0')).join(':').toUpperCase()];
};

describe('addressGuard', () => {
  const guard = addressGuard();

  it('refuses every link-local address, IPv4 and IPv6, however it is spelt (mapped, NAT64, zone id)', () => {
    for (const address of [
      '169.254.169.254',
      '169.254.0.0',
      '169.254.255.255',
      '::ffff:169.254.169.254',
      '::ffff:a9fe:a9fe',
      '0:0:0:0:0:ffff:a9fe:1',
      '64:ff9b::169.254.169.254',
      '::169.254.169.254',
      'fe80::1',
      'fe80::1%eth0',
      'FE80::ABCD',
      'febf:ffff::1',
    ]) {
      expect(guard(address), address).toMatch(/is link-local/);
    }
    fc.assert(
      fc.property(fc.nat(255), fc.nat(255), (c, d) => {
        expect(guard(`169.254.${c}.${d}`)).toMatch(/link-local \(169\.254\.0\.0\/16/);
        expect(guard(`::ffff:169.254.${c}.${d}`)).toMatch(/link-local \(169\.254\.0\.0\/16/);
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        bytes[0] = 0xfe;
        bytes[1] = 0x80 | (bytes[1]! & 0x3f);
        for (const spelling of v6Spellings(bytes)) expect(guard(spelling), spelling).toMatch(/link-local \(fe80::\/10\)/);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses the unspecified address (connect() takes it to this host); allows loopback, private and public ones unless denied', () => {
    for (const address of ['0.0.0.0', '::', '::ffff:0.0.0.0', '0.1.2.3']) expect(guard(address), address).toMatch(/unspecified/);
    for (const address of ['127.0.0.1', '::1', '10.0.0.1', '192.168.1.1', 'fd00::1', '8.8.8.8', '2001:db8::1', 'fec0::1', '169.253.255.255', '169.255.0.0']) {
      expect(guard(address), address).toBeUndefined();
    }
    expect(guard('example.com')).toMatch(/not an IP address/);
  });

  it('refuses deniedNetworks exactly, IPv4 also in its IPv4-mapped form, without naming the range to the applicant', () => {
    const denied = [range('10.0.0.0/8'), range('192.0.2.7'), range('fd00::/8')];
    const withDenied = addressGuard(denied);
    for (const address of ['10.0.0.1', '10.255.255.255', '::ffff:10.1.2.3', '192.0.2.7', 'fd12::1', '64:ff9b::10.0.0.1']) {
      expect(withDenied(address), address).toBe('is in a network this CA does not validate (validation.deniedNetworks)');
    }
    for (const address of ['11.0.0.1', '9.255.255.255', '192.0.2.8', 'fe00::1', '127.0.0.1']) expect(withDenied(address), address).toBeUndefined();
    // Link-local is refused on top of any list, and says so.
    expect(withDenied('169.254.169.254')).toMatch(/link-local/);
    // And the other way: an IPv4 address is in an IPv6 range that holds its mapped form, as BlockList reads it.
    const mappedRange = new BlockList();
    mappedRange.addSubnet('::ffff:10.0.0.0', 104, 'ipv6');
    for (const address of ['10.1.2.3', '11.1.2.3']) {
      expect(addressGuard([range('::ffff:10.0.0.0/104')])(address) !== undefined, address).toBe(mappedRange.check(address, 'ipv4'));
    }
    expect(addressGuard([range('::ffff:10.0.0.0/104')])('10.1.2.3')).toBe('is in a network this CA does not validate (validation.deniedNetworks)');
  });

  it('agrees with Node’s BlockList on random ranges and addresses', () => {
    const cidr = fc.oneof(
      fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([a, p]) => ({ a, p, family: 'ipv4' as const })),
      fc.tuple(ipv6, fc.integer({ min: 0, max: 128 })).map(([a, p]) => ({ a, p, family: 'ipv6' as const })),
    );
    fc.assert(
      fc.property(cidr, fc.oneof(ipv4, ipv6), ({ a, p, family }, address) => {
        const list = new BlockList();
        list.addSubnet(a, p, family);
        const expected = list.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
        const guarded = addressGuard([range(`${a}/${p}`)])(address);
        // Only the denied verdict is compared: the always-refused ranges answer first.
        if (guarded === undefined || guarded.includes('deniedNetworks')) {
          // BlockList also matches an IPv4-mapped address against IPv4 rules; so does the guard.
          expect(guarded !== undefined, `${a}/${p} ∋ ${address}`).toBe(expected);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
