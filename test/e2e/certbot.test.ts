import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { CLIENT_AUTH, SERVER_AUTH, dnsNames, opensslVerify, splitPem } from '../support/issued-certificate.js';
import { requireOrSkip } from '../support/clients.js';

const available = requireOrSkip('certbot', 'apt-get install certbot');
const NAMES = ['web.certbot.test', 'api.certbot.test'];

interface CertbotRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

describe.skipIf(!available)('certbot against certmint', () => {
  let certmint: CertmintProcess;
  let certbotDir: string;

  beforeAll(async () => {
    certmint = await startCertmint();
    certbotDir = path.join(certmint.tempDir, 'certbot');
  });
  afterAll(async () => {
    await certmint?.stop();
  });

  function certbot(extraArgs: readonly string[]): Promise<CertbotRun> {
    const args = [
      'certonly', '--standalone', '--non-interactive', '--agree-tos', '--register-unsafely-without-email',
      '--server', certmint.directoryUrl,
      ...NAMES.flatMap((name) => ['-d', name]),
      '--http-01-port', String(certmint.http01Port),
      '--http-01-address', '127.0.0.1',
      '--config-dir', path.join(certbotDir, 'config'),
      '--work-dir', path.join(certbotDir, 'work'),
      '--logs-dir', path.join(certbotDir, 'logs'),
      ...extraArgs,
    ];
    const started = performance.now();
    return new Promise((resolve, reject) => {
      execFile(
        'certbot',
        args,
        { env: { ...process.env, REQUESTS_CA_BUNDLE: certmint.rootFile }, timeout: 90_000 },
        (err, stdout, stderr) => {
          const ms = Math.round(performance.now() - started);
          if (err) {
            reject(new Error(`certbot ${args.join(' ')} failed after ${ms} ms: ${err.message}\n${stdout}\n${stderr}\n--- certmint ---\n${certmint.output()}`));
            return;
          }
          console.log(`certbot ${extraArgs.join(' ') || 'certonly'}: ${ms} ms`);
          resolve({ stdout, stderr, ms });
        },
      );
    });
  }

  const live = (file: 'cert.pem' | 'chain.pem' | 'fullchain.pem'): string => path.join(certbotDir, 'config', 'live', NAMES[0]!, file);

  async function liveFiles(): Promise<{ cert: string; chain: string; fullchain: string }> {
    const [cert, chain, fullchain] = await Promise.all([live('cert.pem'), live('chain.pem'), live('fullchain.pem')].map((f) => readFile(f, 'utf8')));
    return { cert: cert!, chain: chain!, fullchain: fullchain! };
  }

  async function expectIssuedByCertmint(): Promise<X509Certificate> {
    await expect(opensslVerify(certmint.rootFile, live('cert.pem'), live('chain.pem'))).resolves.toMatch(/: OK$/m);
    const files = await liveFiles();

    const fullchain = splitPem(files.fullchain);
    expect(fullchain).toHaveLength(2);
    const leaf = new X509Certificate(fullchain[0]!);
    const intermediate = new X509Certificate(fullchain[1]!);
    const root = new X509Certificate(certmint.rootPem);
    expect(leaf.raw.equals(new X509Certificate(files.cert).raw)).toBe(true);
    expect(intermediate.raw.equals(new X509Certificate(files.chain).raw)).toBe(true);
    expect(leaf.checkIssued(intermediate)).toBe(true);
    expect(intermediate.ca).toBe(true);
    expect(intermediate.checkIssued(root)).toBe(true);
    expect(intermediate.verify(root.publicKey)).toBe(true);

    expect(dnsNames(leaf)).toEqual([...NAMES].sort());
    expect(leaf.keyUsage).toEqual(expect.arrayContaining([SERVER_AUTH, CLIENT_AUTH]));
    expect(leaf.ca).toBe(false);
    return leaf;
  }

  it('gets a certificate for two names with http-01 (standalone)', { timeout: 120_000 }, async () => {
    await certbot([]);
    await expectIssuedByCertmint();
  });

  it('renews it with --force-renewal on the same account', { timeout: 120_000 }, async () => {
    const before = new X509Certificate((await liveFiles()).cert);
    const accounts = path.join(certbotDir, 'config', 'accounts');
    const run = await certbot(['--force-renewal']);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/Account registered/i);
    const renewed = await expectIssuedByCertmint();
    expect(renewed.serialNumber).not.toBe(before.serialNumber);
    // Still one account: certbot reused it instead of registering again.
    const accountFiles = await readdir(accounts, { recursive: true });
    expect(accountFiles.filter((entry) => entry.endsWith('regr.json'))).toHaveLength(1);
  });

  function openssl(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile('openssl', args, { timeout: 10_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
    });
  }

  function httpsGet(url: string, ca: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      httpsRequest(url, { ca, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
      })
        .on('error', reject)
        .end();
    });
  }

  it('revokes it with certbot revoke (account key) and refuses it again', { timeout: 120_000 }, async () => {
    const leaf = new X509Certificate((await liveFiles()).cert);
    const revoke = (extra: readonly string[]) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        execFile(
          'certbot',
          [
            'revoke', '--non-interactive', '--no-delete-after-revoke', '--server', certmint.directoryUrl,
            '--cert-path', live('cert.pem'), '--reason', 'superseded',
            '--config-dir', path.join(certbotDir, 'config'), '--work-dir', path.join(certbotDir, 'work'),
            '--logs-dir', path.join(certbotDir, 'logs'), ...extra,
          ],
          { env: { ...process.env, REQUESTS_CA_BUNDLE: certmint.rootFile }, timeout: 90_000 },
          (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }),
        );
      });
    const first = await revoke([]);
    expect(first.code, first.out).toBe(0);
    const shown = await certmint.showCertificate(leaf.serialNumber.toLowerCase());
    expect(shown).toMatchObject({ status: 'revoked', revocationReason: 'superseded' });

    // GET /crl from the server (the leaf's CRL distribution point) lists it within seconds.
    const crlFile = path.join(certbotDir, 'served.crl');
    const bundle = path.join(certbotDir, 'bundle.pem');
    await writeFile(bundle, (await readFile(live('chain.pem'), 'utf8')) + certmint.rootPem);
    await vi.waitFor(
      async () => {
        const der = await httpsGet(`${certmint.baseUrl}/crl`, certmint.rootPem);
        await writeFile(crlFile, der);
        const listed = await openssl(['crl', '-in', crlFile, '-inform', 'DER', '-noout', '-text']);
        expect(listed.stdout).toContain(leaf.serialNumber.toUpperCase());
      },
      { timeout: 10_000, interval: 100 },
    );
    const crlVerify = await openssl(['crl', '-in', crlFile, '-inform', 'DER', '-CAfile', bundle, '-noout']);
    expect(crlVerify.stdout + crlVerify.stderr).toContain('verify OK');
    await openssl(['crl', '-in', crlFile, '-inform', 'DER', '-out', `${crlFile}.pem`]);
    const check = await openssl(['verify', '-crl_check', '-CRLfile', `${crlFile}.pem`, '-CAfile', certmint.rootFile, '-untrusted', live('chain.pem'), live('cert.pem')]);
    expect(check.code).not.toBe(0);
    expect(check.stdout + check.stderr).toMatch(/certificate revoked/);

    const second = await revoke([]);
    expect(second.code).toBe(1);
    // certbot 2.1 (Debian 12) crashes with josepy's "can't set attribute" while printing any ACME
    // error, so the problem certmint sent is read from certbot's own debug log.
    const log = await readFile(path.join(certbotDir, 'logs', 'letsencrypt.log'), 'utf8');
    expect(log).toContain('urn:ietf:params:acme:error:alreadyRevoked');
    const audit = (await certmint.showCertificate(leaf.serialNumber.toLowerCase())).audit as { action: string }[];
    expect(audit.map((e) => e.action)).toEqual(['issue', 'revoke']);
  });
});
