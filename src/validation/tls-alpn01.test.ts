import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTlsAlpn01Responder, type TlsAlpn01Responder } from '../../test/support/tls-alpn01-responder.js';
import { freePort } from '../../test/support/ports.js';
import { AcmeProblem } from '../core/problem.js';
import type { Identifier } from '../core/identifier.js';
import { parseIpRange } from '../core/ip-range.js';
import { ownEndpoint } from './own-endpoint.js';
import type { NameResolver } from './resolver.js';
import { reverseDnsName, validateTlsAlpn01 } from './tls-alpn01.js';

/** DNS answers are the one thing faked here: every name is 127.0.0.1, as pebble-challtestsrv answers. */
const loopback: NameResolver = {
  resolve: async (name) => [/^[\d.]+$/.test(name) ? name : '127.0.0.1'],
  resolveTxt: async () => [],
  resolveCaa: async () => [],
};

const KEY_AUTH = 'token-abc.thumbprint-xyz';
const dns = (value: string): Identifier => ({ type: 'dns', value });

async function failure(p: Promise<unknown>): Promise<AcmeProblem> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AcmeProblem);
  return err as AcmeProblem;
}

describe('reverseDnsName (RFC 8738 §6)', () => {
  it('writes IPv4 under in-addr.arpa and IPv6 as 32 nibbles under ip6.arpa', () => {
    expect(reverseDnsName('192.0.2.5')).toBe('5.2.0.192.in-addr.arpa');
    expect(reverseDnsName('2001:db8::567:89ab')).toBe('b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
    expect(reverseDnsName('::1')).toBe(`1.${'0.'.repeat(31)}ip6.arpa`);
    expect(reverseDnsName('::ffff:c000:205')).toBe('5.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa');
  });
});

describe('validateTlsAlpn01 (RFC 8737) against a real TLS responder', () => {
  let responder: TlsAlpn01Responder;
  const options = () => ({ port: responder.port, timeoutMs: 3000, resolver: loopback });
  beforeAll(async () => {
    responder = await startTlsAlpn01Responder();
  });
  afterAll(async () => responder?.stop());

  it('accepts a challenge certificate for a name, asked for with SNI = the name', async () => {
    await responder.set(dns('svc.alpn.test'), KEY_AUTH);
    await validateTlsAlpn01(dns('svc.alpn.test'), KEY_AUTH, options());
    expect(responder.seen.at(-1)).toBe('svc.alpn.test');
  });

  it('accepts an IP identifier, with SNI the reverse-DNS name and an iPAddress SAN', async () => {
    await responder.set({ type: 'ip', value: '127.0.0.1' }, KEY_AUTH);
    await validateTlsAlpn01({ type: 'ip', value: '127.0.0.1' }, KEY_AUTH, options());
    expect(responder.seen.at(-1)).toBe('1.0.0.127.in-addr.arpa');
  });

  it('refuses a digest of another key authorization: incorrectResponse naming both values', async () => {
    await responder.set(dns('digest.alpn.test'), KEY_AUTH, { digestOf: 'something-else' });
    const p = await failure(validateTlsAlpn01(dns('digest.alpn.test'), KEY_AUTH, options()));
    expect(p.type).toBe('incorrectResponse');
    expect(p.detail).toMatch(/acmeIdentifier extension holds [0-9a-f]{64}, expected SHA-256 of the key authorization [0-9a-f]{64}/);
    expect(p.identifier).toEqual(dns('digest.alpn.test'));
  });

  it('refuses link-local addresses (whatever name leads there) and validation.deniedNetworks without connecting (issue 19)', async () => {
    await responder.set(dns('guarded.alpn.test'), KEY_AUTH);
    const seen = responder.seen.length;
    const to = (addresses: string[]): NameResolver => ({ ...loopback, resolve: async () => addresses });
    for (const [addresses, words] of [
      [['169.254.169.254'], `169.254.169.254:${responder.port} is link-local (169.254.0.0/16`],
      [['fe80::1'], `[fe80::1]:${responder.port} is link-local (fe80::/10)`],
      [['::ffff:169.254.169.254'], `[::ffff:169.254.169.254]:${responder.port} is link-local (169.254.0.0/16`],
    ] as const) {
      const p = await failure(validateTlsAlpn01(dns('guarded.alpn.test'), KEY_AUTH, { ...options(), resolver: to([...addresses]) }));
      expect(p.type).toBe('connection');
      expect(p.detail).toContain(words);
    }
    const denied = await failure(
      validateTlsAlpn01(dns('guarded.alpn.test'), KEY_AUTH, { ...options(), deniedNetworks: [parseIpRange('127.0.0.0/8')!] }),
    );
    expect(denied.detail).toBe(`127.0.0.1:${responder.port} is in a network this CA does not validate (validation.deniedNetworks) (tls-alpn-01)`);
    expect(responder.seen.length).toBe(seen);
    // The address checked is the one connected to: of link-local and loopback, loopback answers.
    await validateTlsAlpn01(dns('guarded.alpn.test'), KEY_AUTH, { ...options(), resolver: to(['169.254.169.254', '127.0.0.1']) });
    expect(responder.seen.length).toBe(seen + 1);
  });

  it('refuses a certificate with a second SAN, a non-critical or missing extension: unauthorized', async () => {
    await responder.set(dns('two.alpn.test'), KEY_AUTH, { sans: [dns('two.alpn.test'), dns('other.alpn.test')] });
    const twoSans = await failure(validateTlsAlpn01(dns('two.alpn.test'), KEY_AUTH, options()));
    expect(twoSans.type).toBe('unauthorized');
    // The certificate's other names are not read back: the identifier may be an internal host's.
    expect(twoSans.detail).toContain('the only subjectAltName must be dns:two.alpn.test; it has 2 (dns:two.alpn.test and 1 other)');
    expect(twoSans.detail).not.toContain('other.alpn.test');
    await responder.set(dns('else.alpn.test'), KEY_AUTH, { sans: [dns('internal.corp.test')] });
    const elsewhere = await failure(validateTlsAlpn01(dns('else.alpn.test'), KEY_AUTH, options()));
    expect(elsewhere.detail).toContain('the only subjectAltName must be dns:else.alpn.test; it has 1 (none of them dns:else.alpn.test)');
    expect(elsewhere.detail).not.toContain('internal.corp.test');

    await responder.set(dns('soft.alpn.test'), KEY_AUTH, { critical: false });
    const soft = await failure(validateTlsAlpn01(dns('soft.alpn.test'), KEY_AUTH, options()));
    expect(soft.detail).toContain('the acmeIdentifier extension must be critical');

    await responder.set(dns('bare.alpn.test'), KEY_AUTH, { omitExtension: true });
    const bare = await failure(validateTlsAlpn01(dns('bare.alpn.test'), KEY_AUTH, options()));
    expect(bare.detail).toContain('the acmeIdentifier extension (1.3.6.1.5.5.7.1.31) is missing');
  });

  it('refuses a certificate for another name (what a server without the challenge presents)', async () => {
    const p = await failure(validateTlsAlpn01(dns('unknown.alpn.test'), KEY_AUTH, options()));
    expect(p.type).toBe('unauthorized');
    expect(p.detail).toContain('it has 1 (none of them dns:unknown.alpn.test)');
    expect(p.detail).not.toContain('fallback.invalid');
  });

  it('refuses a server that does not negotiate acme-tls/1', async () => {
    const plain = await startTlsAlpn01Responder({ alpn: [] });
    try {
      await plain.set(dns('noalpn.alpn.test'), KEY_AUTH);
      const p = await failure(validateTlsAlpn01(dns('noalpn.alpn.test'), KEY_AUTH, { ...options(), port: plain.port }));
      expect(p.type).toBe('unauthorized');
      expect(p.detail).toMatch(/Cannot negotiate ALPN protocol "acme-tls\/1" .*server chose none/);
    } finally {
      await plain.stop();
    }
  });

  it("never connects to the CA's own endpoint (certmint listening on the tls-alpn-01 port), trying the name's other addresses", async () => {
    await responder.set(dns('own.alpn.test'), KEY_AUTH);
    const seen = responder.seen.length;
    // certmint on [::]:<port>, the port tls-alpn-01 is validated on (443 in production).
    const isOwnEndpoint = ownEndpoint({ host: '::', port: responder.port });
    const p = await failure(validateTlsAlpn01(dns('own.alpn.test'), KEY_AUTH, { ...options(), isOwnEndpoint }));
    expect(p.type).toBe('connection');
    expect(p.detail).toBe(`127.0.0.1:${responder.port} is this CA's own endpoint; tls-alpn-01 validation does not connect to it`);
    expect(p.identifier).toEqual(dns('own.alpn.test'));
    expect(responder.seen.length).toBe(seen);

    // The name at the CA's address first (certmint on 127.0.0.2, silent to TLS here) and at the
    // applicant's: the CA's is skipped, not waited on, and the applicant's is validated.
    let reachedCa = 0;
    const ca: Server = createTcpServer((s) => {
      reachedCa++;
      s.resume();
    });
    await new Promise<void>((resolve) => ca.listen(responder.port, '127.0.0.2', resolve));
    try {
      const twoHomes: NameResolver = { ...loopback, resolve: async () => ['127.0.0.2', '127.0.0.1'] };
      const caOnSecondLoopback = ownEndpoint({ host: '127.0.0.2', port: responder.port });
      await validateTlsAlpn01(dns('own.alpn.test'), KEY_AUTH, { ...options(), resolver: twoHomes, isOwnEndpoint: caOnSecondLoopback });
      expect(responder.seen.length).toBe(seen + 1);
      expect(reachedCa).toBe(0);
    } finally {
      await new Promise<void>((resolve) => ca.close(() => resolve()));
    }
  });

  it('reports a refused connection as connection, naming the address and port', async () => {
    const port = await freePort();
    const p = await failure(validateTlsAlpn01(dns('closed.alpn.test'), KEY_AUTH, { ...options(), port }));
    expect(p.type).toBe('connection');
    expect(p.detail).toBe(`Error connecting to 127.0.0.1:${port} (tls-alpn-01): Connection refused`);
  });

  it('gives up on a peer that accepts and never speaks TLS within the timeout, leaving no socket open', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createTcpServer((s) => {
      sockets.add(s);
      s.resume(); // read, so our side's FIN is seen
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const p = await failure(validateTlsAlpn01(dns('silent.alpn.test'), KEY_AUTH, { ...options(), port, timeoutMs: 300 }));
      expect(p.type).toBe('connection');
      expect(p.detail).toBe(`Timeout during the TLS handshake with 127.0.0.1:${port} (tls-alpn-01)`);
      // Our side closed: the server sees its socket end.
      await new Promise<void>((resolve) => (sockets.size === 0 ? resolve() : [...sockets][0]!.once('close', () => resolve())));
    } finally {
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
