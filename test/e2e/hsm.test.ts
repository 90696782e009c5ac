import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AcmeWire } from '../support/acme-wire.js';
import { requireGoClientOrSkip, requireOrSkip } from '../support/clients.js';
import { requireBuiltCli, runCli } from '../support/cli.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';
import { INTERMEDIATE_URI, issue, openssl, pinFileOf, pkcs11Config, privateKeyObjects, ROOT_URI, servedCrl } from '../support/hsm-serve.js';
import { opensslVerify, splitPem } from '../support/issued-certificate.js';
import { makeSoftHsmToken, SOFTHSM_MODULE, softHsmAvailable, type SoftHsmToken } from '../support/softhsm.js';
import { buildGoClient } from '../interop/go-client.js';

// ca.keyProvider pkcs11 end to end: `certmint serve` as a process with its CA keys on a SoftHSM
// token of the test's own (SOFTHSM2_CONF in a temporary directory).

const available = softHsmAvailable();
const legoFound = requireOrSkip('lego', 'apt-get install lego');
const acmego = await buildGoClient();
const acmegoFound = requireGoClientOrSkip(acmego);

describe.skipIf(!available)('certmint serve with ca.keyProvider pkcs11 (SoftHSM)', () => {
  let hsm: SoftHsmToken | undefined;
  let certmint: CertmintProcess | undefined;
  let responder: Http01Responder | undefined;

  afterEach(async () => {
    await responder?.stop();
    responder = undefined;
    await certmint?.stop();
    certmint = undefined;
    hsm?.remove();
    hsm = undefined;
  });

  async function start(over: Record<string, unknown> = {}): Promise<CertmintProcess> {
    hsm ??= makeSoftHsmToken();
    certmint = await startCertmint({ config: { ca: pkcs11Config(hsm, over) }, env: hsm.env, secrets: [hsm.pin, hsm.soPin] });
    return certmint;
  }

  it('creates both keys on the token at first start (sensitive, never extractable, no key file); lego and acmego issue; leaf and CRL verify against the root', { timeout: 180_000 }, async () => {
    const server = await start();
    const caFiles = readdirSync(path.join(server.dataDir, 'ca'));
    expect(caFiles.filter((f) => f.endsWith('.key.pem'))).toEqual([]);
    expect(caFiles).toEqual(expect.arrayContaining(['root.pem', 'intermediate.pem', 'root.key.pkcs11', 'intermediate.key.pkcs11']));
    const listing = privateKeyObjects(hsm!);
    expect(listing).toMatch(/label:\s+certmint-root/);
    expect(listing).toMatch(/label:\s+certmint-intermediate/);
    expect(listing.match(/Access:\s+sensitive, always sensitive, never extractable, local/g)).toHaveLength(2);

    const issued: string[] = [];
    if (legoFound) {
      const legoDir = path.join(server.tempDir, 'lego');
      await new Promise<void>((resolve, reject) =>
        execFile(
          'lego',
          ['--server', server.directoryUrl, '--email', 'ops@example.internal', '--accept-tos', '--domains', 'web.hsm.test', '--http', '--http.port', `127.0.0.1:${server.http01Port}`, '--path', legoDir, 'run'],
          { env: { ...process.env, LEGO_CA_CERTIFICATES: server.rootFile }, timeout: 90_000 },
          (err, stdout, stderr) => (err ? reject(new Error(`lego: ${err.message}\n${stdout}${stderr}\n${server.output()}`)) : resolve()),
        ),
      );
      const bundle = path.join(legoDir, 'certificates', 'web.hsm.test.crt');
      await expect(opensslVerify(server.rootFile, bundle, path.join(legoDir, 'certificates', 'web.hsm.test.issuer.crt'))).resolves.toMatch(/: OK$/m);
      issued.push(bundle);
    }
    if (acmegoFound) {
      const out = path.join(server.tempDir, 'acmego');
      const stdout = await new Promise<string>((resolve, reject) =>
        execFile(
          acmego!,
          ['-directory', server.directoryUrl, '-ca-bundle', server.rootFile, '-http01-listen', `127.0.0.1:${server.http01Port}`, '-tls-alpn01-listen', `127.0.0.1:${server.tlsAlpn01Port}`, '-mode', 'single', '-names', 'go.hsm.test', '-out', out],
          { timeout: 100_000 },
          (err, so, se) => (err ? reject(new Error(`acmego: ${err.message}\n${so}${se}\n${server.output()}`)) : resolve(so)),
        ),
      );
      const result = JSON.parse(stdout.trim().split('\n').pop()!) as { ok: boolean; chain: string };
      expect(result.ok).toBe(true);
      await expect(opensslVerify(server.rootFile, result.chain, result.chain)).resolves.toMatch(/: OK$/m);
      issued.push(result.chain);
    }

    console.log(`issued by the token key to ${[legoFound ? 'lego' : '', acmegoFound ? 'acmego' : ''].filter(Boolean).join(' and ') || 'no external client'}: ${issued.length}`);
    // A certificate of our own, revoked: the CRL the token key signed lists it and verifies.
    const wire = new AcmeWire(server.baseUrl, server.rootPem);
    const { account } = await wire.newAccount();
    responder = await startHttp01Responder('127.0.0.1', server.http01Port);
    const mine = await issue(wire, account!, responder, ['revoked.hsm.test']);
    const leafFile = path.join(server.tempDir, 'mine.pem');
    await writeFile(leafFile, mine.pem);
    const chainFile = path.join(server.tempDir, 'mine-chain.pem');
    await writeFile(chainFile, splitPem(mine.pem).slice(1).join(''));
    const before = await servedCrl(server, server.tempDir, mine.serial, false);
    expect(openssl(['verify', '-crl_check', '-CRLfile', before, '-CAfile', server.rootFile, '-untrusted', chainFile, leafFile]).out).toMatch(/: OK/);
    const der = Buffer.from(splitPem(mine.pem)[0]!.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const revoked = await wire.post(account!.key, `${server.baseUrl}/acme/revoke-cert`, { certificate: der.toString('base64url'), reason: 4 }, account!.url);
    expect(revoked.status).toBe(200);
    const after = await servedCrl(server, server.tempDir, mine.serial, true);
    const check = openssl(['verify', '-crl_check', '-CRLfile', after, '-CAfile', server.rootFile, '-untrusted', chainFile, leafFile]);
    expect(check.code).not.toBe(0);
    expect(check.out).toMatch(/certificate revoked/);
    for (const bundle of issued) {
      const [leaf, ...chain] = splitPem(readFileSync(bundle, 'utf8'));
      const l = path.join(server.tempDir, 'client-leaf.pem');
      const c = path.join(server.tempDir, 'client-chain.pem');
      await writeFile(l, leaf!);
      await writeFile(c, chain.join(''));
      expect(openssl(['verify', '-crl_check', '-CRLfile', after, '-CAfile', server.rootFile, '-untrusted', c, l]).out).toMatch(/: OK/);
    }
  });

  it.each([
    ['label', 'pkcs11:object=vendor-intermediate'],
    ['id', 'pkcs11:id=%42'],
  ])('uses an existing key made with pkcs11-tool --keypairgen, found by %s', { timeout: 60_000 }, async (_, uri) => {
    hsm = makeSoftHsmToken();
    hsm.pkcs11Tool(['--token-label', hsm.label, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'vendor-intermediate', '--id', '42']);
    const server = await start({ intermediateKey: uri, rootKey: '' });
    // The root key stays a file (no ca.pkcs11.rootKey); the intermediate is the vendor's key.
    expect(readdirSync(path.join(server.dataDir, 'ca'))).toEqual(expect.arrayContaining(['root.key.pem', 'intermediate.key.pkcs11']));
    expect(privateKeyObjects(hsm).match(/Private Key Object/g)).toHaveLength(1);
    // One private key on the token: the vendor's was used (certmint proves it matches intermediate.pem at every load).
    const intermediate = new X509Certificate(readFileSync(path.join(server.dataDir, 'ca', 'intermediate.pem')));
    const wire = new AcmeWire(server.baseUrl, server.rootPem);
    const { account } = await wire.newAccount();
    responder = await startHttp01Responder('127.0.0.1', server.http01Port);
    const cert = await issue(wire, account!, responder, ['vendor.hsm.test']);
    expect(new X509Certificate(splitPem(cert.pem)[0]!).checkIssued(intermediate)).toBe(true);
  });

  it('ca rotate-intermediate creates the new key on the token; a revocation after it is signed by that key', { timeout: 120_000 }, async () => {
    let server = await start();
    server = certmint = await server.restart(async () => {
      const rotated = await server.cli(['ca', 'rotate-intermediate']);
      expect(rotated.code, rotated.stderr).toBe(0);
    });
    expect(privateKeyObjects(hsm!)).toMatch(/label:\s+certmint-intermediate-g2/);
    expect(readdirSync(path.join(server.dataDir, 'ca'))).toEqual(expect.arrayContaining(['intermediate-2.pem', 'intermediate-2.key.pkcs11']));
    const wire = new AcmeWire(server.baseUrl, server.rootPem);
    const { account } = await wire.newAccount();
    responder = await startHttp01Responder('127.0.0.1', server.http01Port);
    const cert = await issue(wire, account!, responder, ['rotated.hsm.test']);
    const leafFile = path.join(server.tempDir, 'rotated.pem');
    const chainFile = path.join(server.tempDir, 'rotated-chain.pem');
    await writeFile(leafFile, splitPem(cert.pem)[0]!);
    await writeFile(chainFile, splitPem(cert.pem).slice(1).join(''));
    const der = Buffer.from(splitPem(cert.pem)[0]!.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const revoked = await wire.post(account!.key, `${server.baseUrl}/acme/revoke-cert`, { certificate: der.toString('base64url'), reason: 1 }, account!.url);
    expect(revoked.status).toBe(200);
    const crl = await servedCrl(server, server.tempDir, cert.serial, true, '/crl/2');
    const check = openssl(['verify', '-crl_check', '-CRLfile', crl, '-CAfile', server.rootFile, '-untrusted', chainFile, leafFile]);
    expect(check.out).toMatch(/certificate revoked/);
  });

  it('finds a token lost while nothing signs: /ready 503 with the reason, then 200 once it is back', { timeout: 90_000 }, async () => {
    const server = await start();
    const wire = new AcmeWire(server.baseUrl, server.rootPem);
    expect((await wire.get('/ready')).status).toBe(200);
    const backup = mkdtempSync(path.join(tmpdir(), 'certmint-token-backup-'));
    try {
      cpSync(hsm!.tokenDir, backup, { recursive: true });
      hsm!.tool('softhsm2-util', ['--delete-token', '--token', hsm!.label]);
      // certmint asks an idle token whether it is there every few seconds.
      await vi.waitFor(async () => expect((await wire.get('/ready')).status).toBe(503), { timeout: 30_000, interval: 200 });
      expect((await wire.get('/ready')).body).toMatch(/PKCS#11|token/);
      rmSync(hsm!.tokenDir, { recursive: true, force: true });
      cpSync(backup, hsm!.tokenDir, { recursive: true });
      await vi.waitFor(async () => expect((await wire.get('/ready')).status).toBe(200), { timeout: 60_000, interval: 200 });
    } finally {
      rmSync(backup, { recursive: true, force: true });
    }
  });

  it('revocation while the token is gone answers 503 with Retry-After and commits nothing; after it is back the revocation goes through and the CRL lists it', { timeout: 120_000 }, async () => {
    const server = await start();
    const wire = new AcmeWire(server.baseUrl, server.rootPem);
    const { account } = await wire.newAccount();
    responder = await startHttp01Responder('127.0.0.1', server.http01Port);
    const cert = await issue(wire, account!, responder, ['revoked-while-lost.hsm.test']);
    const der = Buffer.from(splitPem(cert.pem)[0]!.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    const revoke = () => wire.post(account!.key, `${server.baseUrl}/acme/revoke-cert`, { certificate: der.toString('base64url'), reason: 1 }, account!.url);
    const backup = mkdtempSync(path.join(tmpdir(), 'certmint-token-backup-'));
    try {
      cpSync(hsm!.tokenDir, backup, { recursive: true });
      hsm!.tool('softhsm2-util', ['--delete-token', '--token', hsm!.label]);
      // The idle token's loss is found by the probe; from then on revocation refuses up front.
      await vi.waitFor(async () => expect((await wire.get('/ready')).status).toBe(503), { timeout: 30_000, interval: 200 });
      for (let i = 0; i < 3; i++) {
        const refused = await revoke();
        expect(refused.status, refused.body).toBe(503);
        expect(refused.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
        expect(JSON.parse(refused.body)).toMatchObject({ type: 'urn:ietf:params:acme:error:serverInternal', detail: expect.stringMatching(/the CA key is unavailable/) as unknown });
      }
      expect(await server.showCertificate(cert.serial)).toMatchObject({ status: 'valid' });

      rmSync(hsm!.tokenDir, { recursive: true, force: true });
      cpSync(backup, hsm!.tokenDir, { recursive: true });
      // Retried as a client honouring Retry-After would, until the token is found again.
      let answer = await revoke();
      for (let i = 0; answer.status === 503 && i < 60; i++) {
        await new Promise((r) => setTimeout(r, 500));
        answer = await revoke();
      }
      expect(answer.status, answer.body).toBe(200);
    } finally {
      rmSync(backup, { recursive: true, force: true });
    }
    expect(await server.showCertificate(cert.serial)).toMatchObject({ status: 'revoked' });
    await servedCrl(server, server.tempDir, cert.serial, true);
    // One warning for the outage, not one per refused request (the token's own lost/reconnected lines aside).
    const refusals = server.output().split('\n').filter((line) => line.includes('"msg":"the CA key is unavailable: '));
    expect(refusals, refusals.join('\n')).toHaveLength(1);
  });

  it('loses the token during a load and gets it back: 503 with Retry-After meanwhile, issuance resumes without a restart, every certificate received is in the ledger', { timeout: 180_000 }, async () => {
    const server = await start();
    const wire = new AcmeWire(server.baseUrl, server.rootPem);
    responder = await startHttp01Responder('127.0.0.1', server.http01Port);
    const backup = mkdtempSync(path.join(tmpdir(), 'certmint-token-backup-'));
    cpSync(hsm!.tokenDir, backup, { recursive: true });
    const received: string[] = [];
    const retryAfters: string[] = [];
    let stop = false;
    const worker = async (n: number): Promise<void> => {
      const { account } = await wire.newAccount();
      for (let i = 0; !stop; i++) {
        const cert = await issue(wire, account!, responder!, [`w${n}-${i}.hsm.test`], async (retryAfter) => {
          retryAfters.push(String(retryAfter));
          await new Promise((r) => setTimeout(r, 200));
        });
        received.push(cert.serial);
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    try {
      await vi.waitFor(() => expect(received.length).toBeGreaterThanOrEqual(4), { timeout: 30_000, interval: 100 });
      hsm!.tool('softhsm2-util', ['--delete-token', '--token', hsm!.label]);
      await vi.waitFor(() => expect(retryAfters.length).toBeGreaterThan(0), { timeout: 30_000, interval: 100 });
      await vi.waitFor(async () => expect((await wire.get('/ready')).status).toBe(503), { timeout: 15_000, interval: 100 });
      const ready = await wire.get('/ready');
      expect(ready.body).toMatch(/PKCS#11|token/);
      const atLoss = received.length;
      rmSync(hsm!.tokenDir, { recursive: true, force: true });
      cpSync(backup, hsm!.tokenDir, { recursive: true });
      await vi.waitFor(() => expect(received.length).toBeGreaterThanOrEqual(atLoss + 8), { timeout: 60_000, interval: 200 });
      await vi.waitFor(async () => expect((await wire.get('/ready')).status).toBe(200), { timeout: 15_000, interval: 100 });
    } finally {
      stop = true;
      await Promise.allSettled(workers);
      rmSync(backup, { recursive: true, force: true });
    }
    await Promise.all(workers);
    expect(retryAfters.every((v) => /^[1-9][0-9]*$/.test(v))).toBe(true);
    for (const serial of received) expect(await server.showCertificate(serial)).toMatchObject({ status: 'valid' });
    expect(server.output()).toMatch(/PKCS#11 token .{1,4}certmint.{1,4} lost: signing with/);
    expect(server.output()).toMatch(/PKCS#11 token .{1,4}certmint.{1,4} reconnected/);
    // Also scanned with every log line of the run (registered secret); here in so many words.
    expect(server.output()).not.toContain(hsm!.pin);
  });
});

describe.skipIf(!available)('certmint serve with ca.keyProvider pkcs11 refuses to start, creating nothing', () => {
  let hsm: SoftHsmToken | undefined;
  let dir: string | undefined;
  afterEach(() => {
    hsm?.remove();
    hsm = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function serveOnce(pkcs11: Record<string, unknown>): Promise<{ code: number; stderr: string; dataDir: string }> {
    requireBuiltCli();
    dir = mkdtempSync(path.join(tmpdir(), 'certmint-hsm-refusal-'));
    const dataDir = path.join(dir, 'data');
    const configFile = path.join(dir, 'certmint.yaml');
    writeFileSync(configFile, toYaml({ dataDir, server: { listen: '127.0.0.1:0' }, ca: { keyProvider: 'pkcs11', pkcs11 } }));
    const result = await runCli(['serve', '--config', configFile], hsm!.env);
    return { ...result, dataDir };
  }

  const base = (h: SoftHsmToken) => ({ module: SOFTHSM_MODULE, token: h.label, pinFile: pinFileOf(h), intermediateKey: INTERMEDIATE_URI, rootKey: ROOT_URI });

  it.each([
    ['a wrong PIN', (h: SoftHsmToken) => ({ pinFile: pinFileOf(h, 'not-the-pin') }), /CKR_PIN_INCORRECT/],
    ['an unknown token', () => ({ token: 'no-such-token' }), /no-such-token/],
    ['a missing module', () => ({ module: '/nonexistent/libvendor-pkcs11.so' }), /\/nonexistent\/libvendor-pkcs11\.so/],
    ['two keys matching one URI', (h: SoftHsmToken) => {
      for (const id of ['01', '02']) h.pkcs11Tool(['--token-label', h.label, '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'twin', '--id', id]);
      return { intermediateKey: 'pkcs11:object=twin' };
    }, /twin/],
  ])('refuses %s with a one-line reason', { timeout: 60_000 }, async (_, over, reason) => {
    hsm = makeSoftHsmToken();
    const config = { ...base(hsm), ...over(hsm) };
    const objectsBefore = (privateKeyObjects(hsm).match(/Private Key Object/g) ?? []).length;
    const result = await serveOnce(config);
    expect(result.code).not.toBe(0);
    const lines = result.stderr.trim().split('\n');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^certmint: /);
    expect(lines[0]).toMatch(reason);
    expect(lines[0]).not.toContain(hsm.pin);
    // No ledger, no CA directory: the token is checked before either is opened.
    expect(existsSync(result.dataDir) ? readdirSync(result.dataDir, { recursive: true }) : []).toEqual([]);
    expect((privateKeyObjects(hsm).match(/Private Key Object/g) ?? []).length).toBe(objectsBefore);
    console.log(`refused ${_}: ${lines[0]}`);
  });
});
