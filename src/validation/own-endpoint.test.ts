import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ownEndpoint } from './own-endpoint.js';

/** A machine with loopback and one LAN interface, as os.networkInterfaces() describes it. */
function machine(lan: { v4: string; v6: string }): () => NodeJS.Dict<NetworkInterfaceInfo[]> {
  const info = (address: string, family: 'IPv4' | 'IPv6', internal: boolean): NetworkInterfaceInfo =>
    family === 'IPv4'
      ? { address, family, internal, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: null }
      : { address, family, internal, netmask: 'ffff:ffff:ffff:ffff::', mac: '00:00:00:00:00:00', cidr: null, scopeid: 0 };
  return () => ({
    lo: [info('127.0.0.1', 'IPv4', true), info('::1', 'IPv6', true)],
    eth0: [info(lan.v4, 'IPv4', false), info(lan.v6, 'IPv6', false)],
  });
}

const LAN = { v4: '10.20.30.40', v6: 'fd00::40' };

describe('ownEndpoint', () => {
  it('on a wildcard listener ([::]:443, 0.0.0.0:443 or a name), is every loopback and interface address on that port', () => {
    for (const host of ['::', '0.0.0.0', '', 'ca.internal']) {
      const own = ownEndpoint({ host, port: 443 }, machine(LAN));
      for (const address of ['127.0.0.1', '127.0.0.53', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '0.0.0.0', '::', LAN.v4, LAN.v6, `::ffff:${LAN.v4}`]) {
        expect(own(address, 443), `${address} with listen ${host}`).toBe(true);
      }
      // Other ports of this machine, and other machines, are the applicants'.
      expect(own('127.0.0.1', 80)).toBe(false);
      expect(own(LAN.v4, 8443)).toBe(false);
      expect(own('10.20.30.41', 443)).toBe(false);
      expect(own('fd00::41', 443)).toBe(false);
    }
  });

  it('reads the interfaces at each call, so an address added later counts', () => {
    let lan = { v4: '10.0.0.1', v6: 'fd00::1' };
    const own = ownEndpoint({ host: '::', port: 8443 }, () => machine(lan)());
    expect(own('10.0.0.2', 8443)).toBe(false);
    lan = { v4: '10.0.0.2', v6: 'fd00::2' };
    expect(own('10.0.0.2', 8443)).toBe(true);
  });

  it('on one address, is that address alone (and 0.0.0.0 and :: when it is loopback)', () => {
    const lanOnly = ownEndpoint({ host: LAN.v4, port: 8443 }, machine(LAN));
    expect(lanOnly(LAN.v4, 8443)).toBe(true);
    expect(lanOnly(`::ffff:${LAN.v4}`, 8443)).toBe(true);
    expect(lanOnly('127.0.0.1', 8443)).toBe(false);
    expect(lanOnly('0.0.0.0', 8443)).toBe(false);

    const loopback = ownEndpoint({ host: '127.0.0.1', port: 8443 }, machine(LAN));
    for (const address of ['127.0.0.1', '::ffff:127.0.0.1', '0.0.0.0', '::']) expect(loopback(address, 8443), address).toBe(true);
    // Another loopback address is another listener (an applicant's responder on 127.0.0.2 in tests).
    expect(loopback('127.0.0.2', 8443)).toBe(false);
    expect(loopback(LAN.v4, 8443)).toBe(false);

    const v6 = ownEndpoint({ host: '[::1]', port: 8443 }, machine(LAN));
    expect(v6('0:0:0:0:0:0:0:1', 8443)).toBe(true);
    expect(v6('127.0.0.1', 8443)).toBe(false);
  });

  it('answers false for anything that is not an IP address', () => {
    const own = ownEndpoint({ host: '::', port: 443 }, machine(LAN));
    expect(own('localhost', 443)).toBe(false);
    expect(own('', 443)).toBe(false);
  });
});
