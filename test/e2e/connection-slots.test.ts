import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { request } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcmeWire } from '../support/acme-wire.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';

// Issue 20, point 2, through a running `certmint serve`. One client address could take every
// slot of server.maxConnections (bare TCP connects, or TLS clients trickling a body byte every
// few seconds, each held for requestTimeout), and honest clients were reset. Now one address
// holds at most server.maxConnectionsPerAddress (the excess is closed before TLS), and a body
// must arrive within server.bodyTimeout of its headers.

/** Small enough that the hostile load stays light on a shared 2-core machine. */
const MAX_CONNECTIONS = 200;
const PER_ADDRESS = 40;
const TRICKLING = 20;
const BARE = 300;
const BODY_TIMEOUT_MS = 2_000;
/** The stated bound for an honest request while the hostile connections are open. Measured at 10–40 ms alone. */
const HONEST_WITHIN_MS = 3_000;

let certmint: CertmintProcess;
beforeAll(async () => {
  certmint = await startCertmint({
    config: {
      server: {
        maxConnections: MAX_CONNECTIONS,
        maxConnectionsPerAddress: PER_ADDRESS,
        bodyTimeout: `${BODY_TIMEOUT_MS}ms`,
        headersTimeout: '10s',
        requestTimeout: '60s',
        // A proxy carries every client behind it: not capped per address.
        trustedProxies: ['127.0.0.5'],
      },
      // A challenge POST waits for its validation (here: a server that accepts and never answers) after its body arrived.
      validation: { timeout: '4s', answerWithin: '10s' },
    },
  });
});
afterAll(async () => certmint?.stop());

const port = () => Number(new URL(certmint.baseUrl).port);

function get(path: string, localAddress: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(`${certmint.baseUrl}${path}`, { ca: certmint.rootPem, agent: false, timeout: 10_000, localAddress }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.once('error', reject);
    req.end();
  });
}

function bare(localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ port: port(), host: '127.0.0.1', localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

function tls(localAddress: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    // From a given loopback address: tls.connect takes a socket connected from it.
    const socket = netConnect({ port: port(), host: '127.0.0.1', localAddress });
    const s = tlsConnect({ socket, ca: certmint.rootPem, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the server wrote on `socket` until it closed it, and when (ms after the call). */
function untilClosed(socket: Socket): Promise<{ text: string; ms: number }> {
  const started = performance.now();
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('close', () => resolve({ text, ms: performance.now() - started })));
}

const POST_HEAD = (length: number) =>
  `POST /acme/new-account HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/jose+json\r\nContent-Length: ${length}\r\n\r\n`;

describe('connection slots (issue 20, point 2)', () => {
  it(`one address holds at most server.maxConnectionsPerAddress (${PER_ADDRESS}) of ${MAX_CONNECTIONS} connections, the excess closed at once; another address is served meanwhile`, async () => {
    const hostile = '127.0.0.1';
    const honest = '127.0.0.2';
    // TLS clients that trickle a body, then bare TCP connects as fast as they go through.
    const trickling: TLSSocket[] = [];
    for (let i = 0; i < TRICKLING; i++) {
      const s = await tls(hostile);
      s.write(POST_HEAD(1000));
      trickling.push(s);
    }
    const trickle = setInterval(() => {
      for (const s of trickling) if (!s.destroyed) s.write('a');
    }, 500);
    const connects = await Promise.allSettled(Array.from({ length: BARE }, () => bare(hostile)));
    const opened = connects.flatMap((c) => (c.status === 'fulfilled' ? [c.value] : []));
    const closings = opened.map((s) => untilClosed(s));
    try {
      // Another address is served at once, repeatedly, while one address holds its share (before
      // the cap: the hostile connections held every slot and these were reset).
      const honestAnswers: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await get('/directory', honest).catch((e: Error) => ({ status: e.message, ms: 0 }));
        honestAnswers.push(r.status === 200 && r.ms < HONEST_WITHIN_MS ? 'served' : `${r.status} after ${Math.round(r.ms)} ms`);
      }
      expect(honestAnswers).toEqual(Array(5).fill('served'));
      // The kernel accepts them all; the server closes all but its cap's worth at once.
      const closedAtOnce = await Promise.race([
        Promise.all(closings.slice(PER_ADDRESS - TRICKLING)),
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5_000)),
      ]);
      expect(closedAtOnce, `connections of one address closed within 5 s (of ${opened.length} opened, ${BARE} tried)`).not.toBe('timeout');
      const stillOpen = opened.filter((s) => !s.destroyed && !s.readableEnded).length;
      expect(stillOpen).toBe(PER_ADDRESS - TRICKLING);
      // A new connection from the hostile address is still refused, before TLS.
      const refused = await untilClosed(await bare(hostile));
      expect(refused.text).toBe('');
    } finally {
      clearInterval(trickle);
      for (const s of [...trickling, ...opened]) s.destroy();
    }
    // Closed connections give their slots back: the address is served again.
    let served = false;
    for (let i = 0; i < 50 && !served; i++) {
      served = await get('/directory', hostile).then((r) => r.status === 200, () => false);
    }
    expect(served).toBe(true);
  });

  it('a proxy listed in server.trustedProxies is not capped per address', async () => {
    const proxied = await Promise.all(Array.from({ length: PER_ADDRESS + 10 }, () => bare('127.0.0.5')));
    const closings = proxied.map((s) => untilClosed(s));
    try {
      // Each connection is still open once the server has answered a request made after all of them.
      expect((await get('/health', '127.0.0.5')).status).toBe(200);
      expect(proxied.filter((s) => !s.destroyed && !s.readableEnded)).toHaveLength(PER_ADDRESS + 10);
    } finally {
      for (const s of proxied) s.destroy();
      await Promise.all(closings);
    }
  });

  it(`a body trickled slower than server.bodyTimeout (${BODY_TIMEOUT_MS} ms) is cut off with 408; a 64 kB body sent in pieces passes`, async () => {
    const slow = await tls('127.0.0.3');
    const closed = untilClosed(slow);
    slow.write(POST_HEAD(1000));
    const trickle = setInterval(() => slow.write('a'), 200);
    let result: { text: string; ms: number };
    try {
      result = await Promise.race([closed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the slow body was not cut off within 10 s')), 10_000))]);
    } finally {
      clearInterval(trickle);
      slow.destroy();
    }
    expect(result.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(result.text).toContain('urn:ietf:params:acme:error:malformed');
    // RFC 8555 §6.5: error responses carry a fresh nonce too.
    expect(result.text).toMatch(/\r\nreplay-nonce: [A-Za-z0-9_-]{22,}\r\n/i);
    expect(result.ms).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 100);

    // 64 kB in 16 pieces over about a second: well within the bound, so it reaches the JWS checks (400, not 408).
    const body = `{"protected":"${'a'.repeat(64 * 1024 - 32)}"}`;
    const ok = await tls('127.0.0.3');
    const answered = untilClosed(ok);
    ok.write(POST_HEAD(Buffer.byteLength(body)).replace('HTTP/1.1\r\n', 'HTTP/1.1\r\nConnection: close\r\n'));
    const piece = Math.ceil(body.length / 16);
    for (let i = 0; i < body.length; i += piece) {
      ok.write(body.slice(i, i + piece));
      await new Promise((r) => setTimeout(r, 60));
    }
    const answer = await answered;
    expect(answer.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer.text).toContain('urn:ietf:params:acme:error:malformed');
  });

  it('a challenge POST still waits for its validation after its body arrived (longer than server.bodyTimeout)', async () => {
    // Accepts the validation's connection and never answers: the validation takes validation.timeout (4 s).
    const held: Socket[] = [];
    const silent: Server = createServer((s) => held.push(s));
    await new Promise<void>((resolve) => silent.listen(certmint.http01Port, '127.0.0.1', resolve));
    try {
      const wire = new AcmeWire(certmint.baseUrl, certmint.rootPem, { localAddress: '127.0.0.4' });
      const { account, res } = await wire.newAccount();
      if (!account) throw new Error(`newAccount: ${res.status} ${res.body}`);
      const created = await wire.newOrder(account, ['held.example.test']);
      expect(created.status).toBe(201);
      const authzUrl = (JSON.parse(created.body) as { authorizations: string[] }).authorizations[0]!;
      const authz = JSON.parse((await wire.postAsGet(account, authzUrl)).body) as { challenges: { type: string; url: string }[] };
      const challenge = authz.challenges.find((c) => c.type === 'http-01')!;
      const started = performance.now();
      const answered = await wire.post(account.key, challenge.url, {}, account.url);
      const ms = performance.now() - started;
      expect(answered.status, answered.body).toBe(200);
      expect(ms).toBeGreaterThan(BODY_TIMEOUT_MS);
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
