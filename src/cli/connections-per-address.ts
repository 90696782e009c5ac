import type { Server, Socket } from 'node:net';
import { ipRangeContains, parseIpRange, type IpRange } from '../core/ip-range.js';

export interface ConnectionsPerAddressOptions {
  /** Open connections per client address at most (> 0). */
  readonly max: number;
  /** Addresses or CIDR networks never counted (server.trustedProxies: every client behind a proxy arrives from its address). */
  readonly exempt: readonly string[];
  /** Told of the connections closed since it was last told, at most once per `reportEveryMs`. */
  readonly onRefused?: (refused: number, lastAddress: string) => void;
  readonly reportEveryMs?: number;
}

/** What the cap holds now: the tests' and the operator's view. */
export interface ConnectionsPerAddress {
  /** Open connections counted for this address (0 when none, or when exempt). */
  open(address: string): number;
  /** Addresses with at least one counted connection: the map never outlives the connections. */
  readonly addresses: number;
}

/**
 * Caps the TCP connections one client address holds open on `server` (net, http or https). The
 * excess is destroyed as it is accepted, before the server's 'connection' listeners (TLS, HTTP)
 * see it, so it costs neither TLS state nor a parser: one address opening connections as fast as it can,
 * or trickling bytes on each, holds at most `max` of server.maxConnections.
 *
 * Counted per exact address: an IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a "[::]" listener
 * sees of an IPv4 client) counts as its IPv4 address.
 */
export function capConnectionsPerAddress(server: Server, options: ConnectionsPerAddressOptions): ConnectionsPerAddress {
  const exempt: IpRange[] = options.exempt.map((text) => {
    const range = parseIpRange(text);
    if (!range) throw new Error(`not an IP address or CIDR network: ${text}`);
    return range;
  });
  const counts = new Map<string, number>();
  const isExempt = (address: string) => exempt.some((range) => ipRangeContains(range, address));
  const reportEveryMs = options.reportEveryMs ?? 60_000;
  let refused = 0;
  let reportedAt = -Infinity;

  /** False when `socket` is over the cap: destroyed, and no 'connection' listener is to see it. */
  const admit = (socket: Socket): boolean => {
    const remote = socket.remoteAddress;
    // Reset before Node looked at it: nothing to count; its own listeners see it close.
    if (remote === undefined) return true;
    const address = clientAddress(remote);
    if (isExempt(address)) return true;
    const open = counts.get(address) ?? 0;
    if (open >= options.max) {
      socket.destroy();
      refused += 1;
      // Only spaces the warnings out: a monotonic interval, not a time anything records.
      const now = performance.now();
      if (options.onRefused && now - reportedAt >= reportEveryMs) {
        options.onRefused(refused, address);
        refused = 0;
        reportedAt = now;
      }
      return false;
    }
    counts.set(address, open + 1);
    socket.once('close', () => {
      const left = (counts.get(address) ?? 1) - 1;
      if (left === 0) counts.delete(address);
      else counts.set(address, left);
    });
    return true;
  };
  // tls.Server and http.Server listen to 'connection' themselves (a TLSSocket with its OpenSSL
  // state, an HTTP parser). A listener of ours, even the first, cannot stop the others from
  // running on a destroyed socket (each refusal would still cost a TLSSocket, a 'socket hang up'
  // error and a clientError), so the event itself is not emitted for a refused connection.
  const emit = server.emit.bind(server) as (event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = ((event: string | symbol, ...args: unknown[]) =>
    event === 'connection' && !admit(args[0] as Socket) ? false : emit(event, ...args)) as typeof server.emit;
  return {
    open: (address) => counts.get(clientAddress(address)) ?? 0,
    get addresses() {
      return counts.size;
    },
  };
}

function clientAddress(remote: string): string {
  const mapped = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(remote);
  return mapped ? mapped[1]! : remote;
}
