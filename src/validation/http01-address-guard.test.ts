import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { requireOrSkip } from '../../test/support/clients.js';
import { CHALLENGE_PATH, dns, escape, KEY_AUTHORIZATION, problemFrom, TOKEN, useValidationDns } from '../../test/support/http01-fixture.js';
import { freePort } from '../../test/support/ports.js';
import { serve } from '../../test/support/recording-servers.js';
import { parseIpRange } from '../core/ip-range.js';
import { validateHttp01 } from './http01.js';

const available = requireOrSkip('pebble-challtestsrv', 'apt-get install pebble');

describe.skipIf(!available)('validateHttp01', () => {
  const { options } = useValidationDns();

  describe('link-local addresses and validation.deniedNetworks (issue 19)', () => {
    /**
     * A real HTTP server on host:port that answers every request with the key authorization and
     * counts connections, so a test sees whether the validator connected at all.
     */
    async function countingServer(host = '127.0.0.1', port = 0): Promise<{ port: number; connections: () => number }> {
      let connections = 0;
      const server = createTcpServer((socket) => {
        connections++;
        socket.on('error', () => undefined);
        socket.once('data', () =>
          socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${KEY_AUTHORIZATION.length}\r\nConnection: close\r\n\r\n${KEY_AUTHORIZATION}`),
        );
      });
      await new Promise<void>((resolve) => server.listen(port, host, resolve));
      tcpServers.push(server);
      return { port: (server.address() as AddressInfo).port, connections: () => connections };
    }
    const tcpServers: TcpServer[] = [];
    afterEach(async () => {
      await Promise.all(tcpServers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
    });

    const redirectTo = (location: string) =>
      serve((_req, res) => {
        res.writeHead(302, { Location: location });
        res.end();
      });

    const linkLocal: [location: string, endpoint: string, range: string][] = [
      ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', '169.254.169.254:80', '169.254.0.0/16'],
      ['http://[fe80::1]/', '[fe80::1]:80', 'fe80::/10'],
      ['http://[::ffff:169.254.169.254]/', '[::ffff:a9fe:a9fe]:80', '169.254.0.0/16'],
      ['https://metadata.validation.test/computeMetadata/v1/', '169.254.169.254:443', '169.254.0.0/16'],
      ['http://linklocal6.validation.test/', '[fe80::1]:80', 'fe80::/10'],
    ];
    it.each(linkLocal)('refuses a redirect to %s (%s) without connecting', async (location, endpoint, range) => {
      const server = await redirectTo(location);
      const problem = await problemFrom(
        validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port, { timeoutMs: 5000 })),
        'connection',
        dns('ok.validation.test'),
      );
      const target = new URL(location).href;
      expect(problem.detail).toMatch(new RegExp(`^Fetching ${escape(target)}: ${escape(endpoint)} is link-local \\(${escape(range)}[,)].*validation never connects there$`));
      // Refused before any connection: a connection attempt would have ended in the 5 s deadline
      // or a socket error, both worded otherwise than the detail above, so no clock is needed.
      expect(server.requests).toHaveLength(1);
    });

    it('refuses a link-local identifier or a name resolving only to link-local, for the first request too', async () => {
      for (const identifier of [{ type: 'ip', value: '169.254.169.254' } as const, { type: 'ip', value: 'fe80::1' } as const, dns('metadata.validation.test')]) {
        const problem = await problemFrom(validateHttp01(identifier, TOKEN, KEY_AUTHORIZATION, options(80)), 'connection', identifier);
        expect(problem.detail).toMatch(/:80 is link-local \((169\.254\.0\.0\/16|fe80::\/10)[,)]/);
      }
    });

    it('connects only to the addresses it checked: of a name on link-local and 127.0.0.1, only 127.0.0.1 is asked', async () => {
      const applicant = await countingServer('127.0.0.1');
      await validateHttp01(dns('mixed.validation.test'), TOKEN, KEY_AUTHORIZATION, options(applicant.port));
      expect(applicant.connections()).toBe(1);
    });

    it('refuses validation.deniedNetworks for the first request and for redirects, without connecting', async () => {
      const denied = [parseIpRange('127.0.0.2/32')!];
      const internal = await countingServer('127.0.0.2');
      const identifier = dns('neighbour.validation.test'); // 127.0.0.2
      // Without the setting the validator connects there (and the answer is right).
      await validateHttp01(identifier, TOKEN, KEY_AUTHORIZATION, options(internal.port));
      expect(internal.connections()).toBe(1);

      const first = await problemFrom(
        validateHttp01(identifier, TOKEN, KEY_AUTHORIZATION, options(internal.port, { deniedNetworks: denied })),
        'connection',
        identifier,
      );
      expect(first.detail).toBe(
        `Fetching http://neighbour.validation.test:${internal.port}${CHALLENGE_PATH}: 127.0.0.2:${internal.port} is in a network this CA does not validate (validation.deniedNetworks)`,
      );
      const redirecting = await serve((_req, res) => {
        res.writeHead(302, { Location: `http://[::ffff:127.0.0.2]:${internal.port}/admin` });
        res.end();
      }, '127.0.0.1', internal.port);
      const viaRedirect = await problemFrom(
        validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(redirecting.port, { deniedNetworks: denied })),
        'connection',
        dns('ok.validation.test'),
      );
      expect(viaRedirect.detail).toContain('is in a network this CA does not validate (validation.deniedNetworks)');
      expect(internal.connections()).toBe(1);
      expect(redirecting.requests).toHaveLength(1);
    });

    it('refuses a redirect to another port before connecting: the same words whether something listens there or not', async () => {
      const listening = await countingServer('127.0.0.1');
      const closed = await freePort();
      const details: string[] = [];
      for (const port of [listening.port, closed]) {
        for (const scheme of ['http', 'https']) {
          const server = await redirectTo(`${scheme}://ok.validation.test:${port}/probe`);
          const problem = await problemFrom(
            validateHttp01(dns('ok.validation.test'), TOKEN, KEY_AUTHORIZATION, options(server.port)),
            'connection',
            dns('ok.validation.test'),
          );
          details.push(problem.detail.replaceAll(String(server.port), 'FROM').replaceAll(String(port), 'PORT'));
        }
      }
      expect(listening.connections()).toBe(0);
      expect(details[0]).toBe(
        `Fetching http://ok.validation.test:FROM${CHALLENGE_PATH}: Invalid port in redirect target http://ok.validation.test:PORT/probe. Only ports 80, 443 and FROM are supported, not PORT`,
      );
      expect(details.slice(2)).toEqual(details.slice(0, 2));
    });

    it('follows a redirect to http or https on 80, 443 or validation.http01Port', async () => {
      const applicant = await countingServer('127.0.0.1');
      const server = await serve((req, res) => {
        if (req.url === CHALLENGE_PATH) res.writeHead(302, { Location: `http://127.0.0.1:${applicant.port}/moved` }).end();
      }, '127.0.0.2', applicant.port);
      await validateHttp01(dns('neighbour.validation.test'), TOKEN, KEY_AUTHORIZATION, options(applicant.port));
      expect(server.requests).toHaveLength(1);
      expect(applicant.connections()).toBe(1);
    });
  });
});
