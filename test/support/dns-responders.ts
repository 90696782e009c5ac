import { createSocket, type Socket } from 'node:dgram';

/**
 * Two tiny UDP DNS servers for the answers pebble-challtestsrv cannot give: it never says
 * NXDOMAIN and always answers. Both listen on 127.0.0.1 on a port the kernel picks.
 */
export interface DnsResponder {
  /** `127.0.0.1:PORT` */
  readonly address: string;
  stop(): Promise<void>;
}

/** Answers every query with NXDOMAIN (RCODE 3), echoing the question. */
export function startNxdomainDnsServer(): Promise<DnsResponder> {
  return listen((socket, query, rinfo) => {
    const reply = nxdomainReply(query);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
}

/** Reads queries and never answers: a resolver pointed here times out. */
export function startSilentDnsServer(): Promise<DnsResponder> {
  return listen(() => undefined);
}

function listen(
  onQuery: (socket: Socket, query: Buffer, rinfo: { port: number; address: string }) => void,
): Promise<DnsResponder> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.on('message', (msg, rinfo) => onQuery(socket, msg, rinfo));
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve({
        address: `127.0.0.1:${socket.address().port}`,
        stop: () => new Promise<void>((done) => socket.close(() => done())),
      });
    });
  });
}

/** Header + the first question of `query`, flagged as a response with RCODE NXDOMAIN. */
function nxdomainReply(query: Buffer): Buffer | undefined {
  if (query.length < 12) return undefined;
  let offset = 12;
  while (offset < query.length && query[offset] !== 0) offset += (query[offset] ?? 0) + 1;
  const end = offset + 1 + 4; // root label, QTYPE, QCLASS
  if (end > query.length) return undefined;
  const reply = Buffer.from(query.subarray(0, end));
  reply[2] = 0x80 | ((query[2] ?? 0) & 0x79); // QR=1, keep opcode and RD
  reply[3] = 0x80 | 3; // RA=1, RCODE=NXDOMAIN
  reply.writeUInt16BE(1, 4); // QDCOUNT
  reply.writeUInt16BE(0, 6); // ANCOUNT
  reply.writeUInt16BE(0, 8); // NSCOUNT
  reply.writeUInt16BE(0, 10); // ARCOUNT
  return reply;
}
