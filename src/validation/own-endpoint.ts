import { BlockList, isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

/** True when a validation connecting to address:port would reach certmint's own listener. */
export type OwnEndpoint = (address: string, port: number) => boolean;

/** What `server.listen` says: a host (an address, a wildcard or a name) and a port. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export type InterfaceList = () => NodeJS.Dict<NetworkInterfaceInfo[]>;

/**
 * An SSRF guard: an http-01 redirect, or a name an applicant points at the CA's host, must not
 * make the validator fetch certmint's own endpoints (/metrics, /ready, …) and quote what they say
 * in a problem detail. Listening on one address, that address is ours (and, for a loopback one,
 * 0.0.0.0 and ::, which connect() sends to loopback). Listening on a wildcard (0.0.0.0, ::) or on
 * a name, every loopback address and every address of the machine's interfaces is; the interfaces
 * are read at each call, as addresses come and go while the server runs.
 */
export function ownEndpoint(listen: ListenAddress, interfaces: InterfaceList = networkInterfaces): OwnEndpoint {
  const bare = listen.host.replace(/^\[(.*)\]$/, '$1');
  // The zone id ("fe80::1%eth0"); indexOf, not /%.*$/, which rescans the rest at every "%".
  const zone = bare.indexOf('%');
  const host = zone === -1 ? bare : bare.slice(0, zone);
  const hostFamily = familyOf(host);
  const unspecified = addresses([['0.0.0.0', 'ipv4'], ['::', 'ipv6']]);
  const loopback = addresses([['::1', 'ipv6']]);
  loopback.addSubnet('127.0.0.0', 8, 'ipv4');
  if (hostFamily === undefined || unspecified.check(host, hostFamily)) {
    return (address, port) => {
      const family = familyOf(address);
      if (port !== listen.port || family === undefined) return false;
      const local = Object.values(interfaces())
        .flat()
        .flatMap((info): [string, Family][] => (info ? [[info.address, info.family === 'IPv6' ? 'ipv6' : 'ipv4']] : []));
      // BlockList matches an IPv4-mapped IPv6 address (::ffff:127.0.0.1) against the IPv4 rules.
      return [unspecified, loopback, addresses(local)].some((list) => list.check(address, family));
    };
  }
  const own = [addresses([[host, hostFamily]]), ...(loopback.check(host, hostFamily) ? [unspecified] : [])];
  return (address, port) => {
    const family = familyOf(address);
    return port === listen.port && family !== undefined && own.some((list) => list.check(address, family));
  };
}

type Family = 'ipv4' | 'ipv6';

function familyOf(address: string): Family | undefined {
  const version = isIP(address);
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined;
}

function addresses(list: readonly (readonly [string, Family])[]): BlockList {
  const out = new BlockList();
  for (const [address, family] of list) out.addAddress(address, family);
  return out;
}
