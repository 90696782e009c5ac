import { createServer as createHttpsServer } from 'node:https';
import type { RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import type { Identifier } from '../core/identifier.js';
import { requireOrSkip } from '../../test/support/clients.js';
import { activeTimers, CHALLENGE_PATH, dns, KEY_AUTHORIZATION, problemFrom, TOKEN, useValidationDns } from '../../test/support/http01-fixture.js';
import { freePort } from '../../test/support/ports.js';
import { allClosed, listen, serve, type TestServer } from '../../test/support/recording-servers.js';
import { selfSignedCertificate } from '../../test/support/tls.js';
import { validateHttp01 } from './http01.js';
import { ownEndpoint } from './own-endpoint.js';
import { createResolver } from './resolver.js';

const available = requireOrSkip('pebble-challtestsrv', 'apt-get install pebble');

// Link-local addresses and validation.deniedNetworks: http01-address-guard.test.ts.
describe.skipIf(!available)('validateHttp01', () => {
  const { options } = useValidationDns();

  it('accepts the key authorization (a trailing newline is fine) and asks as certmint-va for the name', async () => {
    const server = await serve((_req, res) => res.end(`${KEY_AUTHORIZATION}\n`));
    await validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port));
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.url).toBe(CHALLENGE_PATH);
    expect(server.requests[0]?.headers.host).toBe(`ok.validation.test:${server.port}`);
    expect(server.requests[0]?.headers['user-agent']).toBe('certmint-va');
  });

  it('rejects a different body as incorrectResponse, naming its size and status, never its content', async () => {
    // An internal page a name or a redirect led to: what it says must not reach the applicant.
    const secret = 'aws_secret_access_key=SECRET-wJalrXUtnFEMI/K7MDENG';
    const server = await serve((_req, res) => res.end(`${secret}\n`));
    const problem = await problemFrom(
      validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port)),
      'incorrectResponse',
      dns('ok.validation.test'),
    );
    expect(problem.detail).toBe(
      `The key authorization file from the server did not match this challenge: expected "${KEY_AUTHORIZATION}" (87 bytes), got a different body of ${secret.length + 1} bytes from http://ok.validation.test:${server.port}${CHALLENGE_PATH} (status 200)`,
    );
    for (const piece of ['SECRET', 'aws_secret', secret.slice(0, 3)]) expect(JSON.stringify(problem)).not.toContain(piece);
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

  // On the configured http-01 port rather than 443, which needs root and may be taken: the TLS
  // fetch (no certificate check, SNI) is the same code on any allowed port, and the https → 443
  // default is covered by "is refused on 443 when the CA listens there" below.
  it('follows a redirect to https without checking the certificate, sending SNI', async () => {
    const { certPem, keyPem } = await selfSignedCertificate(['someone-else.test']);
    const sockets = new Set<Socket>();
    const requests: TestServer['requests'] = [];
    let servername: string | false | null | undefined;
    const tlsServer = createHttpsServer({ cert: certPem, key: keyPem }, (req, res) => {
      servername = (req.socket as TLSSocket).servername;
      requests.push({ url: req.url ?? '', headers: req.headers });
      res.end(KEY_AUTHORIZATION);
    });
    // tls.validation.test is 127.0.0.1; the applicant's plain HTTP server is on 127.0.0.2, same port.
    const { port } = await listen(tlsServer, '127.0.0.1', 0, requests, sockets);
    const applicant = await serve((_req, res) => {
      res.writeHead(301, { Location: `https://tls.validation.test:${port}/secure` });
      res.end();
    }, '127.0.0.2', port);
    await validateHttp01(dns('neighbour.validation.test'), TOKEN, KEY_AUTHORIZATION, options(port));
    expect(applicant.requests).toHaveLength(1);
    expect(requests).toEqual([{ url: '/secure', headers: expect.objectContaining({ host: `tls.validation.test:${port}` }) }]);
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
      // Without the guard /metrics is fetched (though, since issue 19, its body is not quoted).
      const unguarded = await problemFrom(validateHttp01(identifier, TOKEN, KEY_AUTHORIZATION, options(ca.port)), 'incorrectResponse', identifier);
      expect(unguarded.detail).not.toContain('certmint_certificates_issued_total');
      expect(unguarded.detail).toContain(`got a different body of ${METRICS.length} bytes from http://127.0.0.1:${ca.port}/metrics (status 200)`);
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
    expect(problem.detail).toContain('got a different body of 4 bytes');
    expect(problem.detail).not.toContain('nope');
  });
});
