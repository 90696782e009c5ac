import { readdir, readFile, readlink } from 'node:fs/promises';
import { Agent as HttpAgent, createServer as createHttpServer, request as httpRequest, type Server as HttpServer } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import acme from 'acme-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { startFaultyDnsServer, startSilentDnsServer, type FaultyDnsServer } from '../support/dns-responders.js';
import { freePort } from '../support/ports.js';

// Validation faults through a running `certmint serve`: its DNS resolver is down, drops queries or
// answers late; an http-01 or tls-alpn-01 peer accepts and then stalls. Each ends in the RFC 8555
// problem within validation.timeout, the server answers /directory meanwhile, and it holds no
// socket afterwards. And certmint never validates against its own listener: a redirect or a name
// pointed at the CA does not read /metrics into a problem detail.

const TIMEOUT_MS = 2_000;
/** What a fault may take beyond validation.timeout: the JWS round trips and the ledger write. */
const MARGIN_MS = 1_500;
const DIRECTORY_WITHIN_MS = 1_000;
const ERROR = 'urn:ietf:params:acme:error:';

type ChallengeType = 'http-01' | 'dns-01' | 'tls-alpn-01';
type Identifier = { type: 'dns' | 'ip'; value: string };

interface Problem {
  readonly type: string;
  readonly detail: string;
}

interface ChallengeBody {
  readonly type: string;
  readonly url: string;
  readonly status: string;
  readonly error?: Problem;
}

/** What a challenge POST came back with, and what the authorization and order say afterwards. */
interface Attempt {
  readonly challenge: ChallengeBody;
  readonly authorization: { status: string; challenges: ChallengeBody[] };
  readonly order: { status: string };
  /** The challenge POST, from sending to its answer. */
  readonly ms: number;
  /** GET /directory sent once the fault had the validation's attention. */
  readonly directoryDuringMs: number;
  /** That GET was answered before the challenge POST was: the server answered during the validation. */
  readonly directoryWhileValidating: boolean;
  readonly socketsDuring: Sockets;
}

// acme-client talks through one axios instance: trust every test CA, and close each connection
// after its response, so the server's socket count is not padded by a client's keep-alive pool.
const trustedRoots: string[] = [];
function trust(certmint: CertmintProcess): void {
  trustedRoots.push(certmint.rootPem);
  acme.axios.defaults.httpsAgent = new HttpsAgent({ ca: trustedRoots, keepAlive: false });
  acme.axios.defaults.httpAgent = new HttpAgent({ keepAlive: false });
}

async function newClient(certmint: CertmintProcess): Promise<acme.Client> {
  const client = new acme.Client({ directoryUrl: certmint.directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey() });
  await client.createAccount({ termsOfServiceAgreed: true });
  return client;
}

/** GET <baseUrl>/directory on a connection of its own; resolves with the time it took. */
function timedDirectory(certmint: CertmintProcess): Promise<number> {
  const started = performance.now();
  const url = `${certmint.baseUrl}/directory`;
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: certmint.rootPem, agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.once('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`GET /directory: ${res.statusCode}`))));
    });
    req.once('timeout', () => req.destroy(new Error('GET /directory timed out')));
    req.once('error', reject);
    req.end();
  });
}

/** The server's sockets, from its fd table and /proc/<pid>/net. */
interface Sockets {
  readonly total: number;
  readonly listening: number;
  /** TCP sockets in any other state: clients' connections and validation connections. */
  readonly connections: number;
  readonly udp: number;
  readonly unix: number;
  /** In no table: a TCP socket whose connection is over but whose fd is not closed yet. */
  readonly closing: number;
}

async function socketsOf(pid: number): Promise<Sockets> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(m[1]!);
  }
  const rows = async (table: string, inodeColumn = 9) =>
    (await readFile(`/proc/${pid}/net/${table}`, 'utf8'))
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((cols) => inodes.has(cols[inodeColumn] ?? ''));
  const tcp = [...(await rows('tcp')), ...(await rows('tcp6'))];
  const udp = [...(await rows('udp')), ...(await rows('udp6'))].length;
  const unix = (await rows('unix', 6)).length;
  const listening = tcp.filter((cols) => cols[3] === '0A').length;
  const total = inodes.size;
  return { total, listening, connections: tcp.length - listening, udp, unix, closing: total - tcp.length - udp - unix };
}

/**
 * The server's sockets once no connection is open: a client's connection closes a moment after
 * its response (the server closes, then sees the client's FIN), so this waits up to 3 s for it.
 */
async function idleSockets(certmint: CertmintProcess): Promise<Sockets> {
  const deadline = performance.now() + 3_000;
  for (;;) {
    const now = await socketsOf(certmint.process.pid!);
    if ((now.connections === 0 && now.udp === 0 && now.closing === 0) || performance.now() > deadline) return now;
    await delay(20);
  }
}

/**
 * newOrder for one identifier, then the client says it is ready for `type`. Once `stuck` resolves
 * (the fault has the validation's attention), /directory is timed and the sockets counted.
 */
async function attempt(
  certmint: CertmintProcess,
  client: acme.Client,
  identifier: Identifier,
  type: ChallengeType,
  stuck: () => Promise<unknown>,
): Promise<Attempt> {
  const order = await client.createOrder({ identifiers: [identifier] });
  const [authz] = await client.getAuthorizations(order);
  const offered = authz!.challenges.find((c) => c.type === type);
  if (!offered) throw new Error(`no ${type} challenge offered: ${JSON.stringify(authz)}`);
  const started = performance.now();
  let answered = false;
  const posted = client.completeChallenge(offered).then((body) => {
    answered = true;
    return { body: body as unknown as ChallengeBody, ms: performance.now() - started };
  });
  const during = stuck().then(async () => {
    const socketsDuring = await socketsOf(certmint.process.pid!);
    const directoryDuringMs = await timedDirectory(certmint);
    return { socketsDuring, directoryDuringMs, directoryWhileValidating: !answered };
  });
  const [{ body, ms }, { directoryDuringMs, directoryWhileValidating, socketsDuring }] = await Promise.all([posted, during]);
  const [authorization] = await client.getAuthorizations(order);
  const after = await client.getOrder(order);
  return {
    challenge: body,
    authorization: authorization as unknown as Attempt['authorization'],
    order: after,
    ms,
    directoryDuringMs,
    directoryWhileValidating,
    socketsDuring,
  };
}

/** What every fault must come to: the RFC problem on an invalid challenge, authorization and order, in time. */
function expectFailed(a: Attempt, problemType: string, type: ChallengeType): Problem {
  expect(a.challenge.status).toBe('invalid');
  expect(a.challenge.error?.type).toBe(`${ERROR}${problemType}`);
  expect(a.authorization.status).toBe('invalid');
  expect(a.authorization.challenges.find((c) => c.type === type)).toMatchObject({ status: 'invalid', error: a.challenge.error });
  expect(a.order.status).toBe('invalid');
  expect(a.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
  expect(a.directoryDuringMs).toBeLessThan(DIRECTORY_WITHIN_MS);
  return a.challenge.error!;
}

/**
 * While the fault held the validation, the server answered /directory, and it held the sockets
 * the fault explains: the lookup's UDP socket, or the client's connection and the validator's.
 * (So the counts compared afterwards are ones that would show a socket left open.)
 */
function expectStuckMeanwhile(a: Attempt, held: { udp?: number; connections?: number }): void {
  expect(a.directoryWhileValidating).toBe(true);
  expect(a.socketsDuring.udp).toBeGreaterThanOrEqual(held.udp ?? 0);
  expect(a.socketsDuring.connections).toBeGreaterThanOrEqual(held.connections ?? 0);
}

/** A TCP peer that accepts, reads what it is sent, and never says a word. */
interface StallingPeer {
  /** The first bytes of the first connection: the HTTP request, the TLS ClientHello. */
  readonly firstBytes: Promise<Buffer>;
  /** Resolves when every connection it was given has been closed (by the validator). */
  allClosed(): Promise<void>;
  stop(): Promise<void>;
}

async function startStallingPeer(port: number, host = '127.0.0.1'): Promise<StallingPeer> {
  const sockets = new Set<Socket>();
  let gotBytes!: (b: Buffer) => void;
  const firstBytes = new Promise<Buffer>((resolve) => (gotBytes = resolve));
  const server: Server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once('data', gotBytes);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    firstBytes,
    allClosed: () => Promise.all([...sockets].map((s) => new Promise((resolve) => s.once('close', resolve)))).then(() => undefined),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Logged so a run shows how long each fault took against validation.timeout. */
function report(label: string, a: Attempt, before: Sockets, after: Sockets): void {
  console.log(
    `${label}: ${a.challenge.error?.type.slice(ERROR.length)} after ${Math.round(a.ms)} ms (validation.timeout ${TIMEOUT_MS} ms); ` +
      `/directory meanwhile ${Math.round(a.directoryDuringMs)} ms; sockets before ${JSON.stringify(before)}, ` +
      `during ${JSON.stringify(a.socketsDuring)}, after ${JSON.stringify(after)}; detail: ${a.challenge.error?.detail}`,
  );
}

async function expectNoSocketLeft(certmint: CertmintProcess, before: Sockets): Promise<Sockets> {
  const after = await idleSockets(certmint);
  expect(after).toEqual(before);
  expect(await timedDirectory(certmint)).toBeLessThan(DIRECTORY_WITHIN_MS);
  return after;
}

describe('validation faults through a running certmint (validation.timeout 2s)', () => {
  let certmint: CertmintProcess;
  let dns: FaultyDnsServer;
  let client: acme.Client;

  beforeAll(async () => {
    // Names under .silent.test are never answered, those under .slow.test only after the time a
    // fault may take (so a validation that waited for the answer fails the test); every other
    // name is 127.0.0.1.
    dns = await startFaultyDnsServer({ silentSuffix: '.silent.test', slowSuffix: '.slow.test', slowMs: TIMEOUT_MS + MARGIN_MS });
    certmint = await startCertmint({ config: { validation: { timeout: `${TIMEOUT_MS / 1000}s`, dnsResolvers: [dns.address] } } });
    trust(certmint);
    client = await newClient(certmint);
  });
  afterAll(async () => {
    await certmint?.stop();
    await dns?.stop();
  });

  it('a resolver that drops queries: dns-01 and http-01 end in a dns problem within the timeout', async () => {
    for (const type of ['dns-01', 'http-01'] as const) {
      const before = await idleSockets(certmint);
      const name = `${type}.drop.silent.test`;
      const lookedUp = type === 'dns-01' ? `_acme-challenge.${name}` : name;
      const a = await attempt(certmint, client, { type: 'dns', value: name }, type, () => dns.askedFor(lookedUp));
      const problem = expectFailed(a, 'dns', type);
      expect(problem.detail).toBe(`DNS problem: query timed out looking up ${type === 'dns-01' ? 'TXT' : 'A'} for ${lookedUp}`);
      expectStuckMeanwhile(a, { udp: 1 });
      report(`silent resolver, ${type}`, a, before, await expectNoSocketLeft(certmint, before));
    }
  });

  it('a resolver that answers after the timeout: a dns problem at the timeout, not at the late answer', async () => {
    const before = await idleSockets(certmint);
    const name = '_acme-challenge.late.slow.test';
    const a = await attempt(certmint, client, { type: 'dns', value: 'late.slow.test' }, 'dns-01', () => dns.askedFor(name));
    const problem = expectFailed(a, 'dns', 'dns-01');
    expect(problem.detail).toBe(`DNS problem: query timed out looking up TXT for ${name}`);
    expectStuckMeanwhile(a, { udp: 1 });
    report('slow resolver, dns-01', a, before, await expectNoSocketLeft(certmint, before));
  });

  it('an http-01 peer that accepts and never answers: a connection problem at the timeout', async () => {
    const peer = await startStallingPeer(certmint.http01Port);
    try {
      const before = await idleSockets(certmint);
      const a = await attempt(certmint, client, { type: 'dns', value: 'stall.http.test' }, 'http-01', () => peer.firstBytes);
      const problem = expectFailed(a, 'connection', 'http-01');
      expectStuckMeanwhile(a, { connections: 2 });
      expect((await peer.firstBytes).toString('latin1')).toMatch(/^GET \/\.well-known\/acme-challenge\/\S+ HTTP\/1\.1\r\n/);
      expect(problem.detail).toMatch(
        new RegExp(`^Fetching http://stall\\.http\\.test:${certmint.http01Port}/\\.well-known/acme-challenge/\\S+: Timeout after 2s waiting for a response from 127\\.0\\.0\\.1:${certmint.http01Port}$`),
      );
      expect(a.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      // certmint hung up on the peer.
      await peer.allClosed();
      report('stalled http-01 peer', a, before, await expectNoSocketLeft(certmint, before));
    } finally {
      await peer.stop();
    }
  });

  it('a tls-alpn-01 peer that reads the ClientHello and never answers: a connection problem at the timeout', async () => {
    const peer = await startStallingPeer(certmint.tlsAlpn01Port);
    try {
      const before = await idleSockets(certmint);
      const a = await attempt(certmint, client, { type: 'dns', value: 'stall.alpn.test' }, 'tls-alpn-01', () => peer.firstBytes);
      // Boulder's reading, and certmint's: a timeout is a connection problem whatever the phase; tls is for a TLS error.
      const problem = expectFailed(a, 'connection', 'tls-alpn-01');
      expectStuckMeanwhile(a, { connections: 2 });
      const hello = await peer.firstBytes;
      expect([hello[0], hello[5]]).toEqual([0x16, 0x01]); // a TLS handshake record holding a ClientHello
      expect(problem.detail).toBe(`Timeout during the TLS handshake with 127.0.0.1:${certmint.tlsAlpn01Port} (tls-alpn-01)`);
      expect(a.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      await peer.allClosed();
      report('stalled tls-alpn-01 peer', a, before, await expectNoSocketLeft(certmint, before));
    } finally {
      await peer.stop();
    }
  });
});

describe('validation when nothing listens where validation.dnsResolvers points', () => {
  let certmint: CertmintProcess;
  let client: acme.Client;

  beforeAll(async () => {
    // A UDP port that was just closed: on loopback a query there gets ICMP port unreachable.
    const gone = await startSilentDnsServer();
    await gone.stop();
    certmint = await startCertmint({ config: { validation: { timeout: `${TIMEOUT_MS / 1000}s`, dnsResolvers: [gone.address] } } });
    trust(certmint);
    client = await newClient(certmint);
  });
  afterAll(async () => certmint?.stop());

  it('dns-01 and http-01 end at once in a dns problem saying the CA cannot reach its resolver', async () => {
    for (const type of ['dns-01', 'http-01'] as const) {
      const before = await idleSockets(certmint);
      const name = `${type}.down.test`;
      // Nothing to wait for: the refusal comes at once, so /directory is timed as the POST is sent.
      const a = await attempt(certmint, client, { type: 'dns', value: name }, type, async () => undefined);
      const problem = expectFailed(a, 'dns', type);
      expect(problem.detail).toBe(
        `DNS problem: the CA's DNS resolver is unreachable (connection refused) looking up ${type === 'dns-01' ? `TXT for _acme-challenge.${name}` : `A for ${name}`}`,
      );
      // "At once" is read from the detail: waiting out validation.timeout would say "timed out".
      report(`refused resolver, ${type}`, a, before, await expectNoSocketLeft(certmint, before));
    }
  });
});

describe("certmint never validates against its own listener", () => {
  it('http-01: a redirect the port rule allows (to certmint behind a proxy, on the http-01 port) does not read /metrics', async () => {
    // certmint without TLS behind a proxy, listening on 127.0.0.1:<port>, and validating http-01
    // on that same port number: the applicant's host (127.0.0.2) is on that port too.
    const port = await freePort();
    const certmint = await startCertmint({
      config: {
        server: { listen: `127.0.0.1:${port}`, baseUrl: `http://127.0.0.1:${port}`, tls: { enabled: false } },
        validation: { timeout: `${TIMEOUT_MS / 1000}s`, http01Port: port },
      },
    });
    let redirecting: HttpServer | undefined;
    try {
      trust(certmint);
      await certmint.dns.addA('neighbour.ssrf.test', '127.0.0.2');
      redirecting = createHttpServer((_req, res) => {
        res.writeHead(302, { Location: `http://127.0.0.1:${port}/metrics` });
        res.end();
      });
      await new Promise<void>((resolve) => redirecting!.listen(port, '127.0.0.2', resolve));
      // What a leak would look like: /metrics answers anyone who reaches the listener.
      const metrics = await getBody(`http://127.0.0.1:${port}/metrics`);
      expect(metrics).toMatch(/^# HELP certmint_/m);

      const client = await newClient(certmint);
      const before = await idleSockets(certmint);
      const a = await attempt(certmint, client, { type: 'dns', value: 'neighbour.ssrf.test' }, 'http-01', async () => undefined);
      const problem = expectFailed(a, 'connection', 'http-01');
      expect(problem.detail).toBe(
        `Fetching http://127.0.0.1:${port}/metrics: 127.0.0.1:${port} is this CA's own endpoint; validation does not connect to it`,
      );
      expect(problem.detail).not.toMatch(/certmint_|# HELP|# TYPE/);
      report('redirect to own /metrics', a, before, await expectNoSocketLeft(certmint, before));

      // A name pointed straight at the CA (challtestsrv's default answer, 127.0.0.1) is refused too.
      const direct = await attempt(certmint, client, { type: 'dns', value: 'ca-host.ssrf.test' }, 'http-01', async () => undefined);
      expect(expectFailed(direct, 'connection', 'http-01').detail).toContain(`127.0.0.1:${port} is this CA's own endpoint`);
    } finally {
      await new Promise<void>((resolve) => (redirecting ? redirecting.close(() => resolve()) : resolve()));
      await certmint.stop();
    }
  });

  it('tls-alpn-01: certmint listening on the tls-alpn-01 port (443 in production) is not handshaken with', async () => {
    const port = await freePort();
    const certmint = await startCertmint({
      config: {
        server: { listen: `127.0.0.1:${port}` },
        validation: { timeout: `${TIMEOUT_MS / 1000}s`, tlsAlpn01Port: port },
      },
    });
    try {
      trust(certmint);
      const client = await newClient(certmint);
      const before = await idleSockets(certmint);
      const a = await attempt(certmint, client, { type: 'ip', value: '127.0.0.1' }, 'tls-alpn-01', async () => undefined);
      const problem = expectFailed(a, 'connection', 'tls-alpn-01');
      expect(problem.detail).toBe(`127.0.0.1:${port} is this CA's own endpoint; tls-alpn-01 validation does not connect to it`);
      report('tls-alpn-01 on own port', a, before, await expectNoSocketLeft(certmint, before));
    } finally {
      await certmint.stop();
    }
  });
});

function getBody(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.once('end', () => resolve(body));
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.once('error', reject);
    req.end();
  });
}
