import { isIP } from 'node:net';
import { canonicalIpAddress } from './ip-address.js';

/** An IP network as config lists name it: "10.0.0.0/8", "fd00::/8", or one address (a /32 or /128). */
export interface IpNetwork {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** Reads an address or CIDR network; undefined for anything else (a name, a zone id, a prefix out of range). */
export function parseIpNetwork(text: string): IpNetwork | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);
  const family = isIP(address);
  if (family === 0 || canonicalIpAddress(address) === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: family === 4 ? 'ipv4' : 'ipv6' };
}
