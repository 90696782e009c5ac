import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAcmeApp, type TestAcmeApp } from '../../test/support/acme-app.js';
import { InjectAcmeClient, newAccountKey } from '../../test/support/jws-client.js';
import { freePort } from '../../test/support/ports.js';
import { closeRecordingServers, serve } from '../../test/support/recording-servers.js';

// Issue 19, point 3, through the ACME API: what a client reads back from a challenge and its
// authorization after http-01 was led to an internal page, to a link-local address (cloud
// metadata), to a denied network or to another port. The validator, ledger and HTTP are real;
// only DNS answers come from pebble-challtestsrv.

const ERR = 'urn:ietf:params:acme:error:';
const SECRET = 'AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

describe('http-01 reads nothing internal back through the API (issue 19)', () => {
  let t: TestAcmeApp;
  let internal: TcpServer;
  let internalConnections = 0;
  let closedPort: number;

  beforeAll(async () => {
    // The applicant's server: what it does depends on the name it is asked for.
    const port = await freePort();
    closedPort = await freePort();
    await serve((req, res) => {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      const redirect = (location: string) => res.writeHead(302, { Location: location }).end();
      if (host === 'secret.ssrf.test') res.end(`<html>${SECRET}</html>`);
      else if (host === 'metadata.ssrf.test') redirect('http://169.254.169.254/latest/meta-data/iam/security-credentials/');
      else if (host === 'v6.ssrf.test') redirect('http://[fe80::a9fe:a9fe]/');
      else if (host === 'name.ssrf.test') redirect('http://linklocal.ssrf.test/');
      // The app's own http-01 responder listens on 127.0.0.1, on a port redirects may not use.
      else if (host === 'open-port.ssrf.test') redirect(`http://secret.ssrf.test:${t.responder.port}/probe`);
      else if (host === 'closed-port.ssrf.test') redirect(`http://secret.ssrf.test:${closedPort}/probe`);
      else res.writeHead(404).end();
    }, '127.0.0.1', port);
    // An internal service on 127.0.0.2 (validation.deniedNetworks) that would answer anything.
    internal = createTcpServer((socket) => {
      internalConnections++;
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${SECRET.length}\r\nConnection: close\r\n\r\n${SECRET}`));
    });
    await new Promise<void>((resolve) => internal.listen(port, '127.0.0.2', resolve));
    t = await startTestAcmeApp({
      env: { CERTMINT_VALIDATION_HTTP01_PORT: String(port), CERTMINT_VALIDATION_DENIED_NETWORKS: '127.0.0.2/32, 10.0.0.0/8' },
    });
    await t.dns.addA('linklocal.ssrf.test', '169.254.169.254');
    await t.dns.addA('denied.ssrf.test', '127.0.0.2');
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((resolve) => internal?.close(resolve));
    await closeRecordingServers();
  });

  /** newOrder for `name`, the client says ready for http-01; the challenge and authorization as the client reads them. */
  async function attempt(name: string) {
    const client = new InjectAcmeClient(t.app, t.baseUrl, await newAccountKey());
    await client.register();
    const order = (await client.post(`${t.baseUrl}/acme/new-order`, { identifiers: [{ type: 'dns', value: name }] })).json();
    const authzUrl = order.authorizations[0] as string;
    const challenge = ((await client.post(authzUrl, '')).json().challenges as { type: string; url: string }[]).find((c) => c.type === 'http-01')!;
    const posted = await client.post(challenge.url, {});
    await t.ra.settled();
    const after = (await client.post(challenge.url, '')).json();
    const authz = (await client.post(authzUrl, '')).json();
    return { posted: posted.body, after, authz, text: `${posted.body}${JSON.stringify(after)}${JSON.stringify(authz)}` };
  }

  it('a mismatching body is never quoted: the challenge and authorization say its size and status only', async () => {
    const { after, authz, text } = await attempt('secret.ssrf.test');
    expect(authz.status).toBe('invalid');
    expect(after.error.type).toBe(`${ERR}incorrectResponse`);
    expect(after.error.detail).toContain(`got a different body of ${`<html>${SECRET}</html>`.length} bytes from http://secret.ssrf.test:`);
    expect(after.error.detail).toMatch(/ \(status 200\)$/);
    for (const piece of ['AKIA', 'wJalr', 'EXAMPLE', '<html>']) expect(text).not.toContain(piece);
    expect(t.logText()).not.toContain('wJalr');
  });

  it.each([
    ['metadata.ssrf.test', '169.254.169.254:80 is link-local (169.254.0.0/16'],
    ['v6.ssrf.test', '[fe80::a9fe:a9fe]:80 is link-local (fe80::/10)'],
    ['name.ssrf.test', '169.254.169.254:80 is link-local (169.254.0.0/16'],
  ])('a redirect from %s to a link-local address is refused: connection, saying so', async (name, words) => {
    const { after, authz } = await attempt(name);
    expect(authz.status).toBe('invalid');
    expect(after.error.type).toBe(`${ERR}connection`);
    expect(after.error.detail).toContain(words);
    expect(after.error.detail).toContain('validation never connects there');
  });

  it('validation.deniedNetworks is refused without connecting, and the detail does not name the range', async () => {
    const before = internalConnections;
    const { after } = await attempt('denied.ssrf.test');
    expect(after.error).toMatchObject({
      type: `${ERR}connection`,
      detail: expect.stringContaining('127.0.0.2:'),
    });
    expect(after.error.detail).toContain('is in a network this CA does not validate (validation.deniedNetworks)');
    expect(after.error.detail).not.toContain('/32');
    expect(internalConnections).toBe(before);
  });

  it('a redirect to another port is refused with the same words whether something listens there or not', async () => {
    const requests = t.responder.requests;
    const open = await attempt('open-port.ssrf.test');
    const closed = await attempt('closed-port.ssrf.test');
    const words = (e: { detail: string }, port: number) => e.detail.replace(/open-port|closed-port/, 'X').replace(/acme-challenge\/[\w-]+/, 'acme-challenge/TOKEN').replaceAll(String(port), 'PORT');
    expect(open.after.error.type).toBe(`${ERR}connection`);
    expect(words(open.after.error, t.responder.port)).toBe(words(closed.after.error, closedPort));
    expect(t.responder.requests).toBe(requests);
    expect(open.after.error.detail).toContain('Invalid port in redirect target');
  });
});
