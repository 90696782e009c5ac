import { createSocket, type Socket } from 'node:dgram';

/**
 * Tiny UDP DNS servers for the answers pebble-challtestsrv cannot give: it never says NXDOMAIN,
 * always answers and never late. They listen on 127.0.0.1 on a port the kernel picks.
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

/** Which names a faulty resolver mistreats: by suffix, e.g. `.silent.test`. */
export interface DnsFaults {
  /** Queries for these names are read and never answered (a resolver that drops them). */
  readonly silentSuffix: string;
  /** Queries for these names are answered after slowMs. */
  readonly slowSuffix: string;
  readonly slowMs: number;
}

export interface FaultyDnsServer extends DnsResponder {
  /** Resolves once a query for `name` (lower case, no trailing dot) has arrived. */
  askedFor(name: string): Promise<void>;
  /** Every name asked for so far (lower case, no trailing dot). */
  readonly asked: ReadonlySet<string>;
  /** The UDP source ports the queries for each name came from. */
  readonly sourcePorts: ReadonlyMap<string, ReadonlySet<number>>;
}

/**
 * A resolver with faults on chosen names. Every other name gets what pebble-challtestsrv's
 * default gives: A 127.0.0.1, and NODATA for any other type.
 */
export async function startFaultyDnsServer(faults: DnsFaults, at: ListenAt = {}): Promise<FaultyDnsServer> {
  const asked = new Set<string>();
  const sourcePorts = new Map<string, Set<number>>();
  const waiting: { name: string; resolve: () => void }[] = [];
  const late = new Set<NodeJS.Timeout>();
  const responder = await listen((socket, query, rinfo) => {
    const name = questionName(query);
    if (name === undefined) return;
    asked.add(name);
    sourcePorts.set(name, (sourcePorts.get(name) ?? new Set<number>()).add(rinfo.port));
    for (const w of waiting.filter((w) => w.name === name)) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
    if (name.endsWith(faults.silentSuffix)) return;
    const reply = localhostReply(query);
    if (!reply) return;
    if (!name.endsWith(faults.slowSuffix)) {
      socket.send(reply, rinfo.port, rinfo.address);
      return;
    }
    const timer = setTimeout(() => {
      late.delete(timer);
      socket.send(reply, rinfo.port, rinfo.address);
    }, faults.slowMs);
    late.add(timer);
  }, at);
  return {
    ...responder,
    askedFor: (name) => (asked.has(name) ? Promise.resolve() : new Promise((resolve) => waiting.push({ name, resolve }))),
    asked,
    sourcePorts,
    stop: () => {
      for (const timer of late) clearTimeout(timer);
      return responder.stop();
    },
  };
}

/**
 * Where a responder listens: 127.0.0.1 on a port the kernel picks unless told. A system resolver
 * (resolv.conf) only asks port 53, so a test that stands in for the machine's nameserver takes
 * port 53 on an address of its own in 127.0.0.0/8 (as root).
 */
export interface ListenAt {
  readonly host?: string;
  readonly port?: number;
}

function listen(
  onQuery: (socket: Socket, query: Buffer, rinfo: { port: number; address: string }) => void,
  at: ListenAt = {},
): Promise<DnsResponder> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.on('message', (msg, rinfo) => onQuery(socket, msg, rinfo));
    const host = at.host ?? '127.0.0.1';
    socket.bind(at.port ?? 0, host, () => {
      socket.off('error', reject);
      resolve({
        address: `${host}:${socket.address().port}`,
        stop: () => new Promise<void>((done) => socket.close(() => done())),
      });
    });
  });
}

/** Header + the first question of `query`, flagged as a response with RCODE NXDOMAIN. */
function nxdomainReply(query: Buffer): Buffer | undefined {
  return replyTo(query, 3);
}

/** NOERROR: for an A question one answer, 127.0.0.1; for any other type none (NODATA). */
function localhostReply(query: Buffer): Buffer | undefined {
  const end = questionEnd(query);
  const reply = replyTo(query, 0);
  if (end === undefined || !reply || query.readUInt16BE(end - 4) !== 1) return reply;
  const answer = Buffer.alloc(16);
  answer.writeUInt16BE(0xc00c, 0); // NAME: a pointer to the question's name
  answer.writeUInt16BE(1, 2); // TYPE A
  answer.writeUInt16BE(1, 4); // CLASS IN
  answer.writeUInt32BE(0, 6); // TTL
  answer.writeUInt16BE(4, 10); // RDLENGTH
  Buffer.from([127, 0, 0, 1]).copy(answer, 12);
  const out = Buffer.concat([reply, answer]);
  out.writeUInt16BE(1, 6); // ANCOUNT
  return out;
}

/** Header + the first question of `query`, flagged as a response with `rcode` and no records. */
function replyTo(query: Buffer, rcode: number): Buffer | undefined {
  const end = questionEnd(query);
  if (end === undefined) return undefined;
  const reply = Buffer.from(query.subarray(0, end));
  reply[2] = 0x80 | ((query[2] ?? 0) & 0x79); // QR=1, keep opcode and RD
  reply[3] = 0x80 | rcode; // RA=1
  reply.writeUInt16BE(1, 4); // QDCOUNT
  reply.writeUInt16BE(0, 6); // ANCOUNT
  reply.writeUInt16BE(0, 8); // NSCOUNT
  reply.writeUInt16BE(0, 10); // ARCOUNT
  return reply;
}

/** Where the first question ends: after its name, QTYPE and QCLASS. */
function questionEnd(query: Buffer): number | undefined {
  if (query.length < 12) return undefined;
  let offset = 12;
  while (offset < query.length && query[offset] !== 0) offset += (query[offset] ?? 0) + 1;
  const end = offset + 1 + 4; // root label, QTYPE, QCLASS
  return end > query.length ? undefined : end;
}

/** The first question's name, lower case, without the trailing dot. */
function questionName(query: Buffer): string | undefined {
  if (questionEnd(query) === undefined) return undefined;
  const labels: string[] = [];
  for (let offset = 12; query[offset] !== 0; offset += (query[offset] ?? 0) + 1) {
    labels.push(query.toString('latin1', offset + 1, offset + 1 + (query[offset] ?? 0)));
  }
  return labels.join('.').toLowerCase();
}
