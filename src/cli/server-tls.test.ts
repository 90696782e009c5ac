import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type PeerCertificate } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { initCa, loadCa } from '../ca/ca-files.js';
import { rotateRoot } from '../ca/rotation.js';
import { nativeCryptoProvider } from '../ca/crypto-provider.js';
import type { X509CertificateAuthority } from '../ca/x509-authority.js';
import { ManualClock } from '../core/clock.js';
import { loadConfig } from '../config/config.js';
import { SqliteLedger } from '../ledger/sqlite/ledger.js';
import { registrationAuthority } from './composition.js';
import { secureContextTargets, ServerTls, ServerTlsRenewer, renewalTime } from './server-tls.js';
import { openAdminIssuer } from '../ca/admin-issuer.js';
import { request as httpsRequest } from 'node:https';
import { useCaWithLedger } from '../../test/support/ca-with-ledger.js';
import { capturedLogger } from '../../test/support/suite-log.js';
import { SwitchableKeyDevice } from '../../test/support/switchable-key-device.js';

const DAY = 86_400_000;
let dir: string;
let ca: X509CertificateAuthority;
let ledger: SqliteLedger;
const clock = new ManualClock(new Date());
// Logged as certmint serve logs, scanned for this CA's keys in afterAll and with the whole run.
const captured = capturedLogger('server-tls.test');
const log = captured.log;

useCaWithLedger({ prefix: 'tls', name: 'tls test', captured }, (made) => ({ dir, ca, ledger } = made));

/** The RA as `certmint serve` composes it (config defaults, or these CERTMINT_* settings). */
function ra(authority: X509CertificateAuthority = ca, env: Record<string, string> = {}) {
  return registrationAuthority(loadConfig({ env: { CERTMINT_DATA_DIR: dir, ...env } }), { ledger, ca: authority, clock });
}

function serverTls(hostnames = ['localhost', '127.0.0.1', '::1']) {
  return new ServerTls({ dataDir: dir, hostnames, lifetimeMs: 30 * DAY, ra: ra(), ca, clock });
}

/** The certificate a real TLS handshake with the server presents, verified against the root(s). */
function presented(port: number, trusted = ca.rootsPem): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: trusted }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert);
    });
    socket.on('error', reject);
  });
}

describe('certmint\'s own HTTPS certificate', () => {
  it('after ca rotate-root, verifies for clients that trust only the old root and for those that trust only the new one', async () => {
    const o = { dir: path.join(dir, 'ca-rotated'), name: 'tls rr', crlUrl: 'https://x/crl', caIssuersUrl: 'https://x/i.der', crypto: nativeCryptoProvider() };
    await initCa(o);
    const rotated = (await rotateRoot(o)).ca;
    const tlsDir = path.join(dir, 'rotated');
    const m = await new ServerTls({ dataDir: tlsDir, hostnames: ['localhost'], lifetimeMs: 30 * DAY, ra: ra(rotated), ca: rotated, clock }).current();
    const server: Server = createServer({ key: m.key, cert: m.cert }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const [oldRoot, newRoot] = rotated.roots.map((r) => r.pem);
      const byOld = await presented(port, oldRoot);
      const byNew = await presented(port, newRoot);
      expect(byOld.serialNumber).toBe(byNew.serialNumber);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('is issued by the intermediate for the configured names and recorded in the ledger', async () => {
    const m = await serverTls().current();
    const { X509Certificate } = await import('node:crypto');
    const leaf = new X509Certificate(m.cert);
    expect(leaf.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(leaf.checkIssued(new X509Certificate(ca.chainPem))).toBe(true);
    expect(await ledger.getCertificate(leaf.serialNumber.toLowerCase())).toBeDefined();
  });

  it('is reused by a restart before its renewal time, replaced after it, and when the names change', async () => {
    const first = await serverTls().current();
    expect((await serverTls().current()).cert).toBe(first.cert);
    expect((await serverTls(['localhost', 'certmint.internal']).current()).cert).not.toBe(first.cert);
    const stored = await serverTls(['localhost', 'certmint.internal']).current();
    clock.set(new Date(renewalTime(stored).getTime() + 1000));
    expect((await serverTls(['localhost', 'certmint.internal']).current()).cert).not.toBe(stored.cert);
    clock.set(new Date());
  });

  it('is not reused when its key file no longer matches it (a crash between the two writes), and its files are whole and private', async () => {
    const first = await serverTls().current();
    const tlsDir = path.join(dir, 'tls');
    expect(readdirSync(tlsDir).sort()).toEqual(['server.key.pem', 'server.pem']);
    expect(statSync(path.join(tlsDir, 'server.key.pem')).mode & 0o777).toBe(0o600);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    writeFileSync(path.join(tlsDir, 'server.key.pem'), other, { mode: 0o600 });
    const next = await serverTls().current();
    expect(next.cert).not.toBe(first.cert);
    expect(new X509Certificate(next.cert).checkPrivateKey(createPrivateKey(next.key))).toBe(true);
  });

  it('is renewed once by several workers: a later one serves the pair the first stored (server.workers)', async () => {
    const initial = await serverTls().current();
    const served: string[][] = [[], []];
    const renewers = [0, 1].map((i) => new ServerTlsRenewer(serverTls(), { setSecureContext: (c) => served[i]!.push(String(c.cert)) }, initial, clock, log, { staggerMs: i * 60_000 }));
    clock.set(new Date(renewalTime(initial).getTime() + 1000));
    try {
      const first = await renewers[0]!.renewDue();
      expect(first.cert).not.toBe(initial.cert);
      clock.set(new Date(renewalTime(initial).getTime() + 61_000));
      const second = await renewers[1]!.renewDue();
      expect(second.cert).toBe(first.cert);
      expect(served).toEqual([[first.cert], [first.cert]]);
    } finally {
      clock.set(new Date());
      // Issued on the moved clock (not valid yet now): the next tests start without it.
      rmSync(path.join(dir, 'tls'), { recursive: true, force: true });
    }
  });

  it('is swapped into a listening server without a restart', async () => {
    const tls = serverTls();
    const initial = await tls.current();
    const server: Server = createServer({ key: initial.key, cert: initial.cert }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const renewer = new ServerTlsRenewer(tls, server, initial, clock, log);
      const before = await presented(port);
      const next = await renewer.renewNow();
      const after = await presented(port);
      expect(after.serialNumber).not.toBe(before.serialNumber);
      const { X509Certificate } = await import('node:crypto');
      expect(after.serialNumber).toBe(new X509Certificate(next.cert).serialNumber);
      expect(renewer.material).toBe(next);
    } finally {
      server.close();
    }
  });

  it("keeps the admin listener's client CA (admin.clientCertificates) across a renewal", async () => {
    const tls = serverTls();
    const initial = await tls.current();
    const { issuer } = await openAdminIssuer({ dataDir: path.join(dir, 'admin-issuer'), caName: 'tls test', crypto: nativeCryptoProvider(), now: clock.now() });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const cert = await issuer.issue({ name: 'alice', spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })), notBefore: clock.now(), notAfter: new Date(clock.now().getTime() + DAY) });
    const client = { cert: cert.toString('pem'), key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
    const server: Server = createServer(
      { key: initial.key, cert: initial.cert, requestCert: true, rejectUnauthorized: false, ca: [issuer.certificatePem] },
      (req, res) => res.end(String((req.socket as import('node:tls').TLSSocket).authorized)),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const authorized = () =>
      new Promise<string>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.rootsPem, agent: false, ...client }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      expect(await authorized()).toBe('true');
      // The server alone as the target loses the client CA: what a renewal did before the CA was carried.
      await new ServerTlsRenewer(tls, server, initial, clock, log).renewNow();
      expect(await authorized()).toBe('false');
      await new ServerTlsRenewer(tls, secureContextTargets([{ server, ca: issuer.certificatePem }, { server: undefined }]), initial, clock, log).renewNow();
      expect(await authorized()).toBe('true');
    } finally {
      server.close();
    }
  });

  it('waits for a CA key that cannot sign (a token reconnecting) with one warn line and no stack, then renews', async () => {
    const o = { dir: path.join(dir, 'ca'), name: 'tls test', crlUrl: 'https://x/crl', caIssuersUrl: 'https://x/i.der', crypto: nativeCryptoProvider() };
    const device = new SwitchableKeyDevice();
    const onDevice = await loadCa({ ...o, keyProvider: device.provider(o) });
    const tls = new ServerTls({ dataDir: path.join(dir, 'device'), hostnames: ['localhost'], lifetimeMs: 30 * DAY, ra: ra(onDevice), ca: onDevice, clock });
    const initial = await tls.current();
    const lines: { level: string; o: object; m: string }[] = [];
    const recording = {
      info: (obj: object, m: string) => lines.push({ level: 'info', o: obj, m }),
      warn: (obj: object, m: string) => lines.push({ level: 'warn', o: obj, m }),
      error: (obj: object, m: string) => lines.push({ level: 'error', o: obj, m }),
    };
    let swapped: (value: unknown) => void = () => undefined;
    const renewed = new Promise((resolve) => (swapped = resolve));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const renewer = new ServerTlsRenewer(tls, { setSecureContext: swapped }, initial, clock, recording);
      clock.set(new Date(renewalTime(initial).getTime() + 1000));
      device.switchOff();
      renewer.start();
      vi.advanceTimersByTime(0);
      await vi.waitFor(() => expect(lines.map((l) => l.level)).toEqual(['warn']));
      expect(lines[0]!.m).toBe(`server TLS certificate renewal waits for the CA key: ${device.reason}; retrying in 30 s`);
      expect(JSON.stringify(lines[0]!.o)).not.toMatch(/stack|err/);
      device.switchOn();
      vi.advanceTimersByTime(30_000);
      await renewed;
      await vi.waitFor(() => expect(lines.at(-1)!.m).toBe('renewed the server TLS certificate'));
      renewer.stop();
    } finally {
      vi.useRealTimers();
      clock.set(new Date());
    }
  });

  it('schedules its own renewal for two thirds of the lifetime', async () => {
    const tls = serverTls();
    const initial = await tls.current();
    const swapped = new Promise<{ key: string; cert: string }>((resolve) => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const renewer = new ServerTlsRenewer(tls, { setSecureContext: resolve }, initial, clock, log);
      clock.set(new Date(renewalTime(initial).getTime() - 5000));
      renewer.start();
      vi.advanceTimersByTime(4999);
      expect(vi.getTimerCount()).toBe(1); // not yet due
      vi.advanceTimersByTime(1);
      expect(vi.getTimerCount()).toBe(0); // fired
      vi.useRealTimers();
    });
    const next = await swapped;
    expect(next.cert).not.toBe(initial.cert);
    clock.set(new Date());
  });

  it('is issued under the default profile\'s and the server\'s lifetime cap, as a finalize is', async () => {
    const tls = new ServerTls({ dataDir: path.join(dir, 'capped'), hostnames: ['localhost'], lifetimeMs: 30 * DAY, ra: ra(ca, { CERTMINT_CA_LEAF_LIFETIME: '7d', CERTMINT_POLICY_MAX_LIFETIME: '10d' }), ca, clock });
    const m = await tls.issue();
    const leaf = new X509Certificate(m.cert);
    const lifetime = new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime();
    expect(lifetime).toBeLessThanOrEqual(10 * DAY);
    expect(lifetime).toBeGreaterThan(9 * DAY);
  });

  it('never outlives the intermediate that signs it', async () => {
    const short = await initCa({ dir: path.join(dir, 'ca-short'), name: 'tls short', crlUrl: 'https://x/crl', caIssuersUrl: 'https://x/i.der', crypto: nativeCryptoProvider(), intermediateLifetimeMs: 5 * DAY });
    const m = await new ServerTls({ dataDir: path.join(dir, 'short'), hostnames: ['localhost'], lifetimeMs: 30 * DAY, ra: ra(short), ca: short, clock }).issue();
    const intermediate = new X509Certificate(short.chainPem);
    expect(new Date(new X509Certificate(m.cert).validTo).getTime()).toBeLessThanOrEqual(new Date(intermediate.validTo).getTime());
  });

  it('is in the inventory (certs list), as ACME certificates are, and an operator can revoke it', async () => {
    const m = await serverTls(['localhost', 'inventory.internal']).issue();
    const serial = new X509Certificate(m.cert).serialNumber.toLowerCase();
    const listed = await ledger.listCertificates({ now: clock.now(), identifier: 'inventory.internal', limit: 10 });
    expect(listed.map((c) => [c.serial, c.profile ?? 'default', c.status])).toEqual([[serial, 'default', 'valid']]);
    const der = new X509Certificate(m.cert).raw.toString('base64url');
    await ra().revokeCertificate(der, 4, { kind: 'operator', name: 'server-tls.test' });
    expect((await ledger.getCertificate(serial))?.status).toBe('revoked');
  });

  it('has no issuance code of its own in cli/: certificates are signed and recorded through ra/ only', () => {
    const cliDir = path.dirname(fileURLToPath(import.meta.url));
    const sources = readdirSync(cliDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    const issuing = sources.filter((f) => /\.(issueLeaf|insertCertificate|completeFinalize)\(/.test(readFileSync(path.join(cliDir, f), 'utf8')));
    expect(issuing).toEqual([]);
  });

  it('renews at two thirds of its lifetime', () => {
    const notBefore = new Date('2026-01-01T00:00:00Z');
    const notAfter = new Date(notBefore.getTime() + 30 * DAY);
    expect(renewalTime({ notBefore, notAfter }).toISOString()).toBe('2026-01-21T00:00:00.000Z');
  });
});
