// Before @peculiar/x509: its DI container (tsyringe) throws at import time without it.
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AcmeWire, type WireAccount } from '../support/acme-wire.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { requireBuiltCli, runCli } from '../support/cli.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';
import { freePort } from '../support/ports.js';
import { serveOnTakenPort } from '../support/taken-port.js';

// Issue 24, "Publication over plain HTTP": a real `certmint serve` with publication.listen. Its new
// leaves name an http:// CRL and issuer on that listener, which OpenSSL fetches by itself
// (-crl_download speaks HTTP only), and the listener serves nothing but the publication paths.
let certmint: CertmintProcess;
let responder: Http01Responder;
let wire: AcmeWire;
let account: WireAccount;
let publicationUrl: string;
/** server.maxConnectionsPerAddress, which the plain-HTTP listener keeps too. */
const PER_ADDRESS = 4;

const pemOf = (der: Uint8Array) => new X509Certificate(der).toString();

/** A plain-HTTP GET, as a relying party makes it. */
async function fetchPlain(url: string): Promise<{ status: number; body: Buffer<ArrayBuffer> }> {
  expect(url.startsWith('http://')).toBe(true);
  const res = await fetch(url);
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** CRL distribution point and AIA caIssuers of a certificate. */
function urlsOf(der: Uint8Array): { crl: string; caIssuers: string } {
  const cert = new x509.X509Certificate(Uint8Array.from(der));
  const crl = cert.getExtension(x509.CRLDistributionPointsExtension)!.distributionPoints[0]!.distributionPoint!.fullName![0]!.uniformResourceIdentifier!;
  const caIssuers = cert.getExtension(x509.AuthorityInfoAccessExtension)!.caIssuers[0]!.value;
  return { crl, caIssuers };
}

function openssl(args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('openssl', args, { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }));
  });
}

beforeAll(async () => {
  requireBuiltCli();
  const port = await freePort();
  publicationUrl = `http://127.0.0.1:${port}`;
  // crl.minInterval: a revocation's CRL is published within 200 ms of the one before, not 10 s.
  // The connection bounds are small so the test can see them applied on the plain-HTTP listener.
  certmint = await startCertmint({
    config: {
      publication: { listen: `127.0.0.1:${port}` },
      crl: { minInterval: '200ms' },
      server: { maxConnectionsPerAddress: PER_ADDRESS, headersTimeout: '3s' },
    },
  });
  responder = await startHttp01Responder('127.0.0.1', certmint.http01Port);
  wire = new AcmeWire(certmint.baseUrl, certmint.rootPem);
  account = (await wire.newAccount()).account!;
}, 120_000);

afterAll(async () => {
  await responder?.stop();
  await certmint?.stop();
});

/** A leaf issued through ACME: its DER, the intermediate that followed it, and its serial. */
async function issue(name: string): Promise<{ leaf: Buffer; intermediate: Buffer; serial: string }> {
  const order = await wire.readyOrder(account, [name], responder);
  const fin = await wire.finalize(account, order.finalize, [name]);
  expect(fin.status, fin.body).toBe(200);
  const certUrl = String((JSON.parse(fin.body) as { certificate: string }).certificate);
  const pems = (await wire.postAsGet(account, certUrl)).body.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!;
  const [leaf, intermediate] = pems.map((p) => new X509Certificate(p).raw);
  return { leaf: leaf!, intermediate: intermediate!, serial: certUrl.split('/').pop()! };
}

describe('publication over plain HTTP (a real certmint serve with publication.listen)', () => {
  it('names the plain-HTTP listener in new leaves and intermediates, and serves what they name there', async () => {
    const { leaf, intermediate } = await issue('pub.publication.test');
    expect(urlsOf(leaf)).toEqual({ crl: `${publicationUrl}/crl`, caIssuers: `${publicationUrl}/intermediate.der` });
    // The leaf's issuer, from its AIA: the intermediate that came with it, byte for byte.
    const issuer = await fetchPlain(urlsOf(leaf).caIssuers);
    expect(issuer.status).toBe(200);
    expect(issuer.body.equals(intermediate)).toBe(true);
    // The intermediate's issuer, from its AIA: the root clients trust.
    expect(urlsOf(intermediate)).toEqual({ crl: `${publicationUrl}/crl/root`, caIssuers: `${publicationUrl}/root.der` });
    const root = await fetchPlain(urlsOf(intermediate).caIssuers);
    expect(root.status).toBe(200);
    expect(root.body.equals(new X509Certificate(certmint.rootPem).raw)).toBe(true);
    // The intermediate's CRL DP: the root's CRL, signed by that root.
    const rootCrl = await fetchPlain(urlsOf(intermediate).crl);
    expect(rootCrl.status).toBe(200);
    const crl = new x509.X509Crl(rootCrl.body);
    expect(await crl.verify({ publicKey: new x509.X509Certificate(root.body).publicKey })).toBe(true);
    expect(crl.issuer).toBe(new x509.X509Certificate(root.body).subject);
  });

  it('openssl verify -crl_check -crl_download accepts a fresh leaf, and rejects it once it is revoked', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'certmint-publication-'));
    try {
      const { leaf, intermediate, serial } = await issue('revoked.publication.test');
      await writeFile(path.join(dir, 'root.pem'), certmint.rootPem);
      await writeFile(path.join(dir, 'intermediate.pem'), pemOf(intermediate));
      await writeFile(path.join(dir, 'leaf.pem'), pemOf(leaf));
      // -crl_download: OpenSSL fetches the CRL from the leaf's own distribution point (HTTP only).
      const verify = () =>
        openssl(['verify', '-crl_check', '-crl_download', '-CAfile', path.join(dir, 'root.pem'), '-untrusted', path.join(dir, 'intermediate.pem'), path.join(dir, 'leaf.pem')]);
      const fresh = await verify();
      expect(fresh.out).toContain(': OK');
      expect(fresh.code).toBe(0);

      const revoked = await wire.post(account.key, `${certmint.baseUrl}/acme/revoke-cert`, { certificate: leaf.toString('base64url'), reason: 4 }, account.url);
      expect(revoked.status, revoked.body).toBe(200);
      // The revocation asks the publisher for a new CRL at once; wait for it where relying parties look.
      await vi.waitFor(
        async () => {
          const served = new x509.X509Crl((await fetchPlain(`${publicationUrl}/crl`)).body);
          expect(served.entries.map((e) => e.serialNumber.toLowerCase())).toContain(serial);
        },
        { timeout: 20_000, interval: 50 },
      );
      const after = await verify();
      expect(after.code).toBe(1);
      expect(after.out).toMatch(/certificate revoked/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('serves nothing else on that listener; the HTTPS listener keeps serving everything', async () => {
    for (const p of ['/directory', '/acme/new-nonce', '/metrics', '/health', '/ready', '/acme/renewal-info/x.y']) {
      expect((await fetchPlain(`${publicationUrl}${p}`)).status, p).toBe(404);
    }
    const nonce = await fetch(`${publicationUrl}/acme/new-nonce`, { method: 'HEAD' });
    expect(nonce.status).toBe(404);
    expect(nonce.headers.get('replay-nonce')).toBeNull();
    for (const p of ['/crl', '/crl/root', '/roots.pem', '/intermediate.der', '/root.der']) {
      expect((await fetchPlain(`${publicationUrl}${p}`)).status, p).toBe(200);
      expect((await wire.get(p)).status, p).toBe(200);
    }
    expect((await wire.get('/directory')).status).toBe(200);
  });
});

describe('a subordinate CA signed while certmint serves with publication.listen', () => {
  it('names the root CRL and root certificate on the plain-HTTP listener; after certmint revoke that CRL lists it', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'certmint-pub-sub-'));
    try {
      // A CA request as Vault's intermediate/generate sends one.
      const key = path.join(dir, 'vault.key');
      const csr = path.join(dir, 'vault.csr');
      const made = await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', '/CN=Vault Intermediate',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-out', csr]);
      expect(made.code, made.out).toBe(0);
      const signed = await certmint.cli(['ca', 'sign-subordinate', '--csr', csr, '--label', 'vault-pub', '--permit', 'vault.example.internal']);
      expect(signed.code, signed.stderr).toBe(0);
      const subordinate = new X509Certificate(signed.stdout.slice(0, signed.stdout.indexOf('-----END CERTIFICATE-----') + 25));
      const urls = urlsOf(new Uint8Array(subordinate.raw));
      expect(urls).toEqual({ crl: `${publicationUrl}/crl/root`, caIssuers: `${publicationUrl}/root.der` });
      // The issuer it names, over plain HTTP, is the root that signed it.
      const root = new X509Certificate((await fetchPlain(urls.caIssuers)).body);
      expect(subordinate.verify(root.publicKey)).toBe(true);

      const revoked = await certmint.cli(['revoke', subordinate.serialNumber, '--reason', 'keyCompromise']);
      expect(revoked.code, revoked.stderr).toBe(0);
      // The running server adopts the root CRL the command signed (crl.checkInterval), and serves it over plain HTTP.
      const crlFile = path.join(dir, 'root.crl');
      await vi.waitFor(
        async () => {
          const crl = await fetchPlain(urls.crl);
          expect(crl.status).toBe(200);
          await writeFile(crlFile, crl.body);
          const text = await openssl(['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text']);
          expect(text.out).toContain(`Serial Number: ${subordinate.serialNumber}`);
        },
        { timeout: 30_000, interval: 250 },
      );
      const rootFile = path.join(dir, 'root.pem');
      await writeFile(rootFile, root.toString());
      const verified = await openssl(['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', rootFile, '-noout']);
      expect(verified.out).toMatch(/verify OK/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A bare TCP connection to the publication listener from `localAddress`, and a promise of its close. */
function bare(localAddress: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(publicationUrl).port), localAddress }, () => resolve({ socket, closed }));
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.once('error', reject);
  });
}

describe('the plain-HTTP listener\'s connection bounds (those of server.*)', () => {
  it('closes connections beyond server.maxConnectionsPerAddress at once, and idle ones after server.headersTimeout', { timeout: 30_000 }, async () => {
    const held = [];
    for (let i = 0; i < PER_ADDRESS; i++) held.push(await bare('127.0.0.9'));
    const excess = [await bare('127.0.0.9'), await bare('127.0.0.9')];
    await Promise.all(excess.map((c) => c.closed));
    expect(held.every((c) => !c.socket.destroyed)).toBe(true);
    // Another address is not held up by that one.
    expect((await fetchPlain(`${publicationUrl}/roots.pem`)).status).toBe(200);
    // Nothing sent: each held connection is closed once server.headersTimeout (3s) has passed.
    await Promise.all(held.map((c) => c.closed));
  });
});

// Last: it stops the server the tests above share.
describe('stopping certmint serve', () => {
  it('closes the plain-HTTP listener with the HTTPS one, open connections included, and exits 0 (SIGTERM)', { timeout: 30_000 }, async () => {
    // A connection that never sent a request is not cut at once (a request may be on its way):
    // server.headersTimeout closes it, and the shutdown waits for that at most.
    const idle = await bare('127.0.0.1');
    await certmint.stop();
    expect(certmint.process.signalCode).toBeNull();
    expect(certmint.process.exitCode).toBe(0);
    await idle.closed;
    await expect(fetch(`${publicationUrl}/roots.pem`)).rejects.toThrow();
  });
});

describe('certmint serve with a publication config it cannot use', () => {
  it('exits 1 with one line naming the key, before creating anything', { timeout: 60_000 }, async () => {
    requireBuiltCli();
    const base = await mkdtemp(path.join(tmpdir(), 'certmint-publication-config-'));
    try {
      const dataDir = path.join(base, 'data');
      for (const [env, message] of [
        [{ CERTMINT_PUBLICATION_BASE_URL: 'https://pki.example.internal' }, /publication\.baseUrl "https:\/\/pki\.example\.internal" must start with http:\/\//],
        [{ CERTMINT_PUBLICATION_LISTEN: '[::]:8080' }, /publication\.listen "\[::\]:8080" binds every address.*set publication\.baseUrl/],
        [{ CERTMINT_PUBLICATION_LISTEN: '127.0.0.1:99999' }, /publication\.listen port 99999 is out of range/],
        [{ CERTMINT_PUBLICATION_BASE_URL: 'http://pki.example.internal/crl?x=1' }, /must not have a query or fragment/],
      ] as const) {
        const r = await runCli(['serve'], { CERTMINT_DATA_DIR: dataDir, CERTMINT_SERVER_LISTEN: '127.0.0.1:0', ...env });
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
        expect(r.stderr).toMatch(message);
        expect(existsSync(dataDir)).toBe(false);
      }
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it('exits 1 with one line naming publication.listen when its port is taken', { timeout: 60_000 }, async () => {
    const { port, result: r } = await serveOnTakenPort((port) => ({ CERTMINT_PUBLICATION_LISTEN: `127.0.0.1:${port}` }));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^certmint: publication\\.listen: listen EADDRINUSE.*127\\.0\\.0\\.1:${port}`));
  });
});
