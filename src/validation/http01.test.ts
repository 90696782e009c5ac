import { createServer as createHttpsServer } from 'node:https';
import type { RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startChallTestSrv, type ChallTestSrv } from '../../test/support/challtestsrv.js';
import { requireOrSkip } from '../../test/support/clients.js';
import { freePort } from '../../test/support/ports.js';
import { allClosed, closeRecordingServers, listen, serve, type TestServer } from '../../test/support/recording-servers.js';
import { selfSignedCertificate } from '../../test/support/tls.js';
import type { Identifier } from '../core/identifier.js';
import { AcmeProblem, type ProblemType } from '../core/problem.js';
import { validateHttp01, type Http01Options } from './http01.js';
import { ownEndpoint } from './own-endpoint.js';
import { createResolver, type NameResolver } from './resolver.js';

const available = requireOrSkip('pebble-challtestsrv', 'apt-get install pebble');

const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;
const CHALLENGE_PATH = `/.well-known/acme-challenge/${TOKEN}`;

const dns = (value: string): Identifier => ({ type: 'dns', value });

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

async function problemFrom(promise: Promise<unknown>, type: ProblemType, identifier: Identifier): Promise<AcmeProblem> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AcmeProblem);
  const problem = err as AcmeProblem;
  expect({ type: problem.type, detail: problem.detail }).toMatchObject({ type });
  expect(problem.identifier).toEqual(identifier);
  return problem;
}

describe.skipIf(!available)('validateHttp01', () => {
  let srv: ChallTestSrv;
  let resolver: NameResolver;
  const options = (port: number, extra: Partial<Http01Options> = {}): Http01Options => ({
    port,
    timeoutMs: 2000,
    resolver,
    ...extra,
  });

  beforeAll(async () => {
    srv = await startChallTestSrv({ defaultIPv4: '', defaultIPv6: '' });
    for (const name of ['ok.validation.test', 'hop.validation.test', 'final.validation.test', 'tls.validation.test']) {
      await srv.addA(name, '127.0.0.1');
    }
    // 127.0.0.2 refuses every port, so the validation has to move on to 127.0.0.1.
    await srv.addA('fallback.validation.test', ['127.0.0.2', '127.0.0.1']);
    // An applicant's host beside the CA (127.0.0.1) on the same port, and a name on both.
    await srv.addA('neighbour.validation.test', '127.0.0.2');
    await srv.addA('both.validation.test', ['127.0.0.1', '127.0.0.2']);
    resolver = createResolver([srv.dnsAddress], 2000);
  });
  afterEach(closeRecordingServers);
  afterAll(async () => {
    await srv?.stop();
  });

  it('accepts the key authorization (a trailing newline is fine) and asks as certmint-va for the name', async () => {
    const server = await serve((_req, res) => res.end(`${KEY_AUTHORIZATION}\n`));
    await validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port));
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.url).toBe(CHALLENGE_PATH);
    expect(server.requests[0]?.headers.host).toBe(`ok.validation.test:${server.port}`);
    expect(server.requests[0]?.headers['user-agent']).toBe('certmint-va');
  });

  it('rejects a different body as incorrectResponse, quoting both', async () => {
    const server = await serve((_req, res) => res.end('something else'));
    const problem = await problemFrom(
      validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port)),
      'incorrectResponse',
      dns('ok.validation.test'),
    );
    expect(problem.detail).toBe(
      `The key authorization file from the server did not match this challenge: expected "${KEY_AUTHORIZATION}", got "something else"`,
    );
  });

  it('truncates a long wrong body in the detail', async () => {
    const server = await serve((_req, res) => res.end('x'.repeat(5000)));
    const problem = await problemFrom(
      validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port)),
      'incorrectResponse',
      dns('ok.validation.test'),
    );
    expect(problem.detail).toContain(`got "${'x'.repeat(100)}…"`);
    expect(problem.detail.length).toBeLessThan(400);
  });

  it('reports a 404 as unauthorized, naming the URL and status', async () => {
    const server = await serve((_req, res) => {
      res.statusCode = 404;
      res.end('not found');
    });
    const problem = await problemFrom(
      validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port)),
      'unauthorized',
      dns('ok.validation.test'),
    );
    expect(problem.detail).toBe(`Invalid response from http://ok.validation.test:${server.port}${CHALLENGE_PATH}: 404`);
  });

  /** Redirects /hop/n to /hop/n+1 (through changing names and an IP literal) until `hops`, then answers. */
  function redirectChain(hops: number): RequestListener {
    return (req, res) => {
      const port = (req.socket.address() as { port: number }).port;
      const n = req.url === CHALLENGE_PATH ? 0 : Number(/^\/hop\/(\d+)$/.exec(req.url ?? '')?.[1]);
      if (n >= hops) {
        res.end(KEY_AUTHORIZATION);
        return;
      }
      const host = ['hop.validation.test', '127.0.0.1', 'final.validation.test'][n % 3];
      res.writeHead(n % 2 === 0 ? 302 : 301, { Location: `http://${host}:${port}/hop/${n + 1}` });
      res.end();
    };
  }

  it('follows 10 redirects, resolving each new name and sending its Host', async () => {
    const server = await serve(redirectChain(10));
    await validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port));
    expect(server.requests).toHaveLength(11);
    expect(server.requests.map((r) => r.headers.host)).toContain(`hop.validation.test:${server.port}`);
    expect(server.requests.map((r) => r.headers.host)).toContain(`127.0.0.1:${server.port}`);
    expect(server.requests.at(-1)?.url).toBe('/hop/10');
  });

  it('follows a relative redirect', async () => {
    const server = await serve((req, res) => {
      if (req.url === CHALLENGE_PATH) {
        res.writeHead(307, { Location: '/moved' });
        res.end();
      } else {
        res.end(KEY_AUTHORIZATION);
      }
    });
    await validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port));
    expect(server.requests.map((r) => r.url)).toEqual([CHALLENGE_PATH, '/moved']);
  });

  it('stops after more than 10 redirects', async () => {
    const server = await serve(redirectChain(11));
    const problem = await problemFrom(
      validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port)),
      'connection',
      dns('ok.validation.test'),
    );
    expect(problem.detail).toContain('Too many redirects');
    expect(server.requests).toHaveLength(11);
  });

  it('refuses redirects to other ports and schemes', async () => {
    const cases: [string, string][] = [
      ['http://ok.validation.test:8080/x', 'Invalid port in redirect target http://ok.validation.test:8080/x'],
      ['https://ok.validation.test:8443/x', 'Invalid port in redirect target https://ok.validation.test:8443/x'],
      ['ftp://ok.validation.test/x', 'Invalid protocol scheme in redirect target ftp://ok.validation.test/x'],
    ];
    for (const [location, expected] of cases) {
      const redirecting = await serve((_req, res) => {
        res.writeHead(302, { Location: location });
        res.end();
      });
      const problem = await problemFrom(
        validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(redirecting.port)),
        'connection',
        dns('ok.validation.test'),
      );
      expect(problem.detail).toContain(expected);
      expect(problem.detail).toContain(`http://ok.validation.test:${redirecting.port}${CHALLENGE_PATH}`);
    }
  });

  it('follows a redirect to https on 443 without checking the certificate, sending SNI', async (ctx) => {
    const { certPem, keyPem } = await selfSignedCertificate(['someone-else.test']);
    const sockets = new Set<Socket>();
    const requests: TestServer['requests'] = [];
    let servername: string | false | null | undefined;
    const tlsServer = createHttpsServer({ cert: certPem, key: keyPem }, (req, res) => {
      servername = (req.socket as TLSSocket).servername;
      requests.push({ url: req.url ?? '', headers: req.headers });
      res.end(KEY_AUTHORIZATION);
    });
    try {
      await listen(tlsServer, '127.0.0.1', 443, requests, sockets);
    } catch {
      ctx.skip(); // port 443 needs privileges or is taken
      return;
    }
    const server = await serve((_req, res) => {
      res.writeHead(301, { Location: 'https://tls.validation.test/secure' });
      res.end();
    });
    await validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port));
    expect(requests).toEqual([{ url: '/secure', headers: expect.objectContaining({ host: 'tls.validation.test' }) }]);
    expect(servername).toBe('tls.validation.test');
  });

  describe("the CA's own endpoint", () => {
    const METRICS = '# HELP certmint_certificates_issued_total Certificates issued\ncertmint_certificates_issued_total 42\n';

    /** certmint's listener on 127.0.0.1:port, as plain HTTP behind a proxy: /metrics answers anyone. */
    async function caListener(port = 0) {
      return serve((req, res) => res.end(req.url === '/metrics' ? METRICS : 'not found'), '127.0.0.1', port);
    }

    it('is not fetched through a redirect that the port rule allows (the leak it prevents is shown first)', async () => {
      const ca = await caListener();
      // The applicant's server on the same port on another address redirects to the CA's /metrics.
      const applicant = await serve((_req, res) => {
        res.writeHead(302, { Location: `http://127.0.0.1:${ca.port}/metrics` });
        res.end();
      }, '127.0.0.2', ca.port);
      const identifier = dns('neighbour.validation.test');
      // Without the guard, the body of /metrics comes back in the problem detail.
      const leaked = await problemFrom(validateHttp01(identifier, TOKEN, KEY_AUTHORIZATION, options(ca.port)), 'incorrectResponse', identifier);
      expect(leaked.detail).toContain('certmint_certificates_issued_total');
      expect(ca.requests).toHaveLength(1);

      const guarded = options(ca.port, { isOwnEndpoint: ownEndpoint({ host: '127.0.0.1', port: ca.port }) });
      const problem = await problemFrom(validateHttp01(identifier, TOKEN, KEY_AUTHORIZATION, guarded), 'connection', identifier);
      expect(problem.detail).toBe(
        `Fetching http://127.0.0.1:${ca.port}/metrics: 127.0.0.1:${ca.port} is this CA's own endpoint; validation does not connect to it`,
      );
      expect(ca.requests).toHaveLength(1);
      expect(applicant.requests).toHaveLength(2);
    });

    it('is refused on 443 when the CA listens there, though redirects to https on 443 are allowed', async () => {
      const applicant = await serve((_req, res) => {
        res.writeHead(301, { Location: 'https://ok.validation.test/metrics' });
        res.end();
      });
      // Production: certmint on [::]:443; ok.validation.test resolves to this host's loopback.
      const guarded = options(applicant.port, { isOwnEndpoint: ownEndpoint({ host: '::', port: 443 }) });
      const problem = await problemFrom(
        validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, guarded),
        'connection',
        dns('ok.validation.test'),
      );
      expect(problem.detail).toBe(
        "Fetching https://ok.validation.test/metrics: 127.0.0.1:443 is this CA's own endpoint; validation does not connect to it",
      );
      expect(applicant.requests).toHaveLength(1);
    });

    it('is refused for the first request too, and another address of the name is tried', async () => {
      const ca = await caListener();
      const guarded = options(ca.port, { isOwnEndpoint: ownEndpoint({ host: '127.0.0.1', port: ca.port }) });
      const problem = await problemFrom(
        validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, guarded),
        'connection',
        dns('ok.validation.test'),
      );
      expect(problem.detail).toContain(`127.0.0.1:${ca.port} is this CA's own endpoint`);

      const applicant = await serve((_req, res) => res.end(KEY_AUTHORIZATION), '127.0.0.2', ca.port);
      await validateHttp01(dns('both.validation.test'), TOKEN, KEY_AUTHORIZATION, guarded);
      expect(applicant.requests).toHaveLength(1);
      expect(ca.requests).toHaveLength(0);
    });
  });

  it('rejects a body larger than maxBodyBytes, with or without Content-Length', async () => {
    const big = 'a'.repeat(9000);
    const withLength = await serve((_req, res) => res.end(big));
    const chunked = await serve((_req, res) => {
      res.write(big.slice(0, 4500));
      res.write(big.slice(4500));
      res.end();
    });
    for (const server of [withLength, chunked]) {
      const problem = await problemFrom(
        validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port)),
        'incorrectResponse',
        dns('ok.validation.test'),
      );
      expect(problem.detail).toContain('too large');
      expect(problem.detail).toContain(`http://ok.validation.test:${server.port}${CHALLENGE_PATH}`);
    }
  });

  it('reports a refused connection, naming the address', async () => {
    const port = await freePort();
    const problem = await problemFrom(
      validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(port)),
      'connection',
      dns('ok.validation.test'),
    );
    expect(problem.detail).toBe(
      `Fetching http://ok.validation.test:${port}${CHALLENGE_PATH}: Error connecting to 127.0.0.1:${port}: Connection refused`,
    );
  });

  it('tries the next address when the first refuses', async () => {
    const server = await serve((_req, res) => res.end(KEY_AUTHORIZATION));
    await validateHttp01(dns('fallback.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port));
    expect(server.requests).toHaveLength(1);
  });

  it('gives up on a server that accepts and never answers after timeoutMs, leaving no socket open', async () => {
    const server = await serve(() => undefined);
    const timersBefore = activeTimers();
    const started = Date.now();
    const problem = await problemFrom(
      validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port, { timeoutMs: 300 })),
      'connection',
      dns('ok.validation.test'),
    );
    expect(Date.now() - started).toBeLessThan(1500);
    expect(problem.detail).toBe(
      `Fetching http://ok.validation.test:${server.port}${CHALLENGE_PATH}: Timeout after 0.3s waiting for a response from 127.0.0.1:${server.port}`,
    );
    // The validator hung up: the server's side of the connection closes without our help,
    // and the deadline timer is gone.
    await allClosed(server.sockets);
    expect(activeTimers()).toBeLessThanOrEqual(timersBefore);
  });

  it('gives up on a body that never ends', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write(KEY_AUTHORIZATION.slice(0, 10));
    });
    const problem = await problemFrom(
      validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port, { timeoutMs: 300 })),
      'connection',
      dns('ok.validation.test'),
    );
    expect(problem.detail).toContain(`Timeout after 0.3s reading the response from 127.0.0.1:${server.port}`);
  });

  it('reports a name without addresses as a dns problem', async () => {
    const problem = await problemFrom(
      validateHttp01(dns('unknown.validation.test'), TOKEN, KEY_AUTHORIZATION, options(80)),
      'dns',
      dns('unknown.validation.test'),
    );
    expect(problem.detail).toContain('unknown.validation.test');
  });

  it('uses the system resolver for localhost', async () => {
    const server = await serve((_req, res) => res.end(KEY_AUTHORIZATION));
    await validateHttp01(dns('localhost'), TOKEN, KEY_AUTHORIZATION, {
      port: server.port,
      timeoutMs: 2000,
      resolver: createResolver([], 2000),
    });
    expect(server.requests[0]?.headers.host).toBe(`localhost:${server.port}`);
  });

  it('validates an IPv6 identifier at [::1]', async () => {
    const server = await serve((_req, res) => res.end(KEY_AUTHORIZATION), '::1');
    const identifier: Identifier = { type: 'ip', value: '::1' };
    await validateHttp01(identifier, TOKEN, KEY_AUTHORIZATION, options(server.port));
    expect(server.requests[0]?.headers.host).toBe(`[::1]:${server.port}`);

    const wrong = await serve((_req, res) => res.end('nope'), '::1');
    const problem = await problemFrom(
      validateHttp01(identifier, TOKEN, KEY_AUTHORIZATION, options(wrong.port)),
      'incorrectResponse',
      identifier,
    );
    expect(problem.detail).toContain('got "nope"');
  });
});
