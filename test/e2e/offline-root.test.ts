import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { Agent, get } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import acme from 'acme-client';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { crlNumberOf } from '../../src/ca/crl/info.js';
import { AcmeWire } from '../support/acme-wire.js';
import { startCertmint, type CertmintProcess } from '../support/certmint-process.js';
import { runCli } from '../support/cli.js';
import { startHttp01Responder, type Http01Responder } from '../support/http01-responder.js';
import { opensslVerify } from '../support/issued-certificate.js';
import { parsePrometheusText } from '../support/prometheus-text.js';

// Issue 23, ca.offlineRoot: the root key `ca init` made is moved off the machine; `certmint
// serve` starts and issues without it, serves the root CRL last signed where the key was
// (`certmint crl generate --root`), and the rotations say what to bring back. The real server
// process, the real CLI next to it, acme-client over HTTPS, openssl.

let certmint: CertmintProcess;
let responder: Http01Responder;
let rootKey: string;
let away: string;

/** GET <baseUrl>/crl/root over HTTPS trusting the CA's roots: the DER and its CRL number. */
function rootCrl(): Promise<{ status: number; der: Buffer; crlNumber: bigint | undefined }> {
  return new Promise((resolve, reject) => {
    const fetch = certmint.baseUrl.startsWith('https:') ? get : httpGet;
    fetch(`${certmint.baseUrl}/crl/root`, { ca: certmint.rootPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const der = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, der, crlNumber: res.statusCode === 200 ? crlNumberOf(der) : undefined });
      });
    }).on('error', reject);
  });
}

/** `openssl crl -verify` of a DER CRL against root.pem: its stderr ("verify OK") or the failure. */
function opensslCrlVerify(der: Buffer, file: string): Promise<string> {
  return writeFile(file, der).then(
    () =>
      new Promise((resolve, reject) => {
        execFile('openssl', ['crl', '-inform', 'DER', '-in', file, '-CAfile', path.join(certmint.dataDir, 'ca', 'root.pem'), '-noout'], (err, _out, stderr) =>
          err ? reject(new Error(`openssl crl failed: ${stderr}`)) : resolve(stderr),
        );
      }),
  );
}

const publishedNumber = (stdout: string) => BigInt(/published CRL number (\d+) of the root/.exec(stdout)?.[1] ?? 'x');

let initDir: string;

beforeAll(async () => {
  // The CA is made by `certmint ca init` (with ca.offlineRoot already set: the key is created all the same).
  initDir = await mkdtemp(path.join(tmpdir(), 'certmint-offline-init-'));
  const init = await runCli(['ca', 'init'], { CERTMINT_DATA_DIR: initDir, CERTMINT_CA_OFFLINE_ROOT: 'true' });
  if (init.code !== 0) throw new Error(`certmint ca init failed: ${init.stderr}`);
  certmint = await startCertmint({ seedCaFrom: path.join(initDir, 'ca'), config: { ca: { offlineRoot: true }, crl: { checkInterval: '1s' } } });
  rootKey = path.join(certmint.dataDir, 'ca', 'root.key.pem');
  away = path.join(certmint.tempDir, 'root.key.pem.offline');
  acme.axios.defaults.httpsAgent = new Agent({ ca: certmint.rootPem });
}, 60_000);
afterAll(async () => {
  await responder?.stop();
  await certmint?.stop();
  if (initDir) await rm(initDir, { recursive: true, force: true });
});

describe('ca.offlineRoot with the root key moved away', () => {
  let signed: bigint;
  let latest: bigint;

  it('ca init created the root key; crl generate --root signs the root CRL with it there', async () => {
    expect(existsSync(rootKey)).toBe(true);
    // The server signs no root CRL: until one is signed where the key is, /crl/root says how to get one.
    const none = await rootCrl();
    expect(none.status).toBe(503);
    expect(none.der.toString()).toContain('kept offline (ca.offlineRoot) and no CRL of it has been signed yet: run certmint crl generate --root');
    const r = await certmint.cli(['crl', 'generate', '--root']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    signed = publishedNumber(r.stdout);
    expect(signed).toBeGreaterThan(0n);
  });

  it('serve starts without the key, serves the root CRL signed before, and issues', { timeout: 120_000 }, async () => {
    certmint = await certmint.restart(() => rename(rootKey, away));
    expect(existsSync(rootKey)).toBe(false);
    const crl = await rootCrl();
    expect(crl.status).toBe(200);
    expect(crl.crlNumber).toBe(signed);

    responder = await startHttp01Responder('127.0.0.1', certmint.http01Port);
    const client = new acme.Client({ directoryUrl: certmint.directoryUrl, accountKey: await acme.crypto.createPrivateKey() });
    const [, csr] = await acme.crypto.createCsr({ altNames: ['offline-root.test'] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
    const pem = await client.auto({
      csr,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        responder.set(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async () => {},
    });
    const fullchain = path.join(certmint.tempDir, 'offline-root.fullchain.pem');
    await writeFile(fullchain, pem);
    await expect(opensslVerify(certmint.rootFile, fullchain, fullchain)).resolves.toMatch(/: OK$/m);
    expect(certmint.output()).not.toMatch(/published a CRL.*"issuer":"root"|"issuer":"root".*published a CRL/);
  });

  it('crl generate --root and the rotations without the key fail naming the file to bring back', async () => {
    const crl = await certmint.cli(['crl', 'generate', '--root']);
    expect(crl.code).not.toBe(0);
    expect(crl.stderr).toContain(rootKey);
    expect(crl.stderr).toMatch(/bring it back for those commands/);
    for (const [command, action] of [
      ['rotate-intermediate', 'rotate the intermediate'],
      ['rotate-root', 'rotate the root'],
    ] as const) {
      const r = await certmint.cli(['ca', command]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`cannot ${action}: it needs the private key of the root CA`);
      expect(r.stderr).toContain(`Bring back the file ${rootKey} for this command`);
    }
    expect((await rootCrl()).crlNumber).toBe(signed);
  });

  it('with the key back, crl generate --root signs a newer CRL that the running server serves and openssl verifies', { timeout: 60_000 }, async () => {
    await rename(away, rootKey);
    const r = await certmint.cli(['crl', 'generate', '--root']);
    expect(r.code).toBe(0);
    const next = publishedNumber(r.stdout);
    expect(next).toBeGreaterThan(signed);
    latest = next;
    await rename(rootKey, away);
    // The server adopts it from the ledger at its next check (crl.checkInterval: 1s).
    await vi.waitFor(async () => expect((await rootCrl()).crlNumber).toBe(next), { timeout: 20_000, interval: 200 });
    const crl = await rootCrl();
    await expect(opensslCrlVerify(crl.der, path.join(certmint.tempDir, 'root.crl'))).resolves.toMatch(/verify OK/);
  });

  it('without ca.offlineRoot, serve refuses to start and its error names the setting', { timeout: 60_000 }, async () => {
    await expect(certmint.restart(undefined, { env: { CERTMINT_CA_OFFLINE_ROOT: 'false' } })).rejects.toThrow(
      /is incomplete: .*root\.key\.pem is missing[\s\S]*set ca\.offlineRoot: true \(CERTMINT_CA_OFFLINE_ROOT=true\)/,
    );
    // The same handle starts it again as configured, for the cleanup.
    certmint = await certmint.restart();
  });

  it('nothing renews the root CRL kept offline: 31 days on, it is stale in /metrics and crl.stale is raised for it', { timeout: 60_000 }, async () => {
    const scrape = async () => parsePrometheusText((await new AcmeWire(certmint.baseUrl, certmint.rootPem).get('/metrics')).body);
    expect((await scrape()).value('certmint_crl_next_update_in_seconds', { issuer: 'root' })).toBeGreaterThan(0);
    const later = new Date(Date.now() + 31 * 24 * 3_600_000).toISOString();
    // Plain HTTP from here: a TLS certificate the server issues itself 31 days ahead is not valid yet for this process.
    certmint = await certmint.restart(undefined, { env: { CERTMINT_FAKE_CLOCK: later, CERTMINT_SERVER_TLS_ENABLED: 'false' } });
    const served = await rootCrl();
    expect(served.crlNumber).toBe(latest);
    expect((await scrape()).value('certmint_crl_next_update_in_seconds', { issuer: 'root' })).toBeLessThan(0);
    const db = new Database(path.join(certmint.dataDir, 'ledger.sqlite3'), { readonly: true });
    try {
      await vi.waitFor(
        () => {
          const rows = db.prepare(`SELECT subject FROM outbox_events WHERE type = 'crl.stale'`).all() as { subject: string }[];
          expect(rows.map((r) => r.subject)).toContain(`crl:root:${latest}`);
        },
        { timeout: 20_000, interval: 200 },
      );
    } finally {
      db.close();
    }
  });
});
